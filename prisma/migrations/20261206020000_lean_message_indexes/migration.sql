-- Fewer index entries per answered message (issue 14: WAL records). Every status is a new row and every state change
-- of a message a new row version with an entry in each of its table's indexes, so an index only a few rows need is
-- made partial, and one whose work another index does is dropped:
-- - statuses: the reconciler's sweep of unapplied statuses and the lookup of unmatched statuses by our id (callback
--   data) only need the rows they look for: applied or matched ones (nearly all) get no entry.
-- - outbound messages: retention finds finished messages through (state, created_at) (created_at <= updated_at), so
--   (state, updated_at), which took an entry at every state change, goes.
-- - inbound messages: only edits and revokes have an original wamid.

DROP INDEX "status_events_applied_at_received_at_idx";
CREATE INDEX "status_events_unapplied_idx" ON "status_events"("received_at", "id") WHERE "applied_at" IS NULL;

DROP INDEX "status_events_callback_id_idx";
CREATE INDEX "status_events_unmatched_callback_idx" ON "status_events"("callback_id") WHERE "outbound_id" IS NULL;

DROP INDEX "outbound_messages_state_updated_at_idx";

DROP INDEX "inbound_messages_provider_id_original_wamid_idx";
CREATE INDEX "inbound_messages_original_wamid_idx" ON "inbound_messages"("provider_id", "original_wamid") WHERE "original_wamid" IS NOT NULL;
