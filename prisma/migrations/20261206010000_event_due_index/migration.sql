-- The dispatcher's due index holds pending deliveries only (issue 15, cost): the claim and the idle probe look for
-- `state = 'pending' AND next_attempt_at <= now()` oldest first, and a delivered or failed delivery (nearly every
-- row) no longer has an entry: one index entry fewer per completion, and a small index.

DROP INDEX "event_deliveries_state_next_attempt_at_idx";
CREATE INDEX "event_deliveries_due_idx" ON "event_deliveries"("next_attempt_at") WHERE "state" = 'pending';
