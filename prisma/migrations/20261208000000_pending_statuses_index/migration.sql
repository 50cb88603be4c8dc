-- The ingress reconciler's sweep reads only statuses that got a status job (issue 14). It walked every unapplied
-- status, each joined to outbound_messages, until it found a batch of known messages: a number shared with another
-- app (the Business app, another tool) keeps that app's statuses unapplied for as long as retention keeps them, and
-- with 500,000 of them one pass took 765 ms of Postgres every RECONCILE_INTERVAL_MS, for every tenant. A status job is
-- enqueued only for a row left unapplied whose message is known (a follow-up, outbound_id set) or whose callback data
-- has the shape of our ids (RECORD_STATUSES_SQL's `pending`); this index holds only those rows, so a status of
-- another app's message takes no entry here. status_events_unapplied_idx stays for retention's pruning of those.
CREATE INDEX "status_events_pending_idx" ON "status_events"("received_at", "id")
  WHERE "applied_at" IS NULL AND ("outbound_id" IS NOT NULL OR "callback_id" ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');
