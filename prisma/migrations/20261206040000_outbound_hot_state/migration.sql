-- An outbound message's state changes without new index entries where it can (issue 14: WAL records). Postgres
-- updates a row in place (HOT: no index entry, no new index page) only when no column of any index, predicates
-- included, changes and its page has room. (state, created_at) made every one of a message's four state changes
-- (sending, sent, delivered, read) write an entry in each of the table's six indexes. Now no index names the state:
-- - retention finds old messages tenant by tenant through (tenant_id, created_at), and reads their state in the row
--   (old ones are nearly all done);
-- - the unsent ones (queued, sending, unknown, which never have a wamid: the send that gets one sets the state
--   sent with it, and nothing moves a message back) are found through a partial index on wamid IS NULL: the
--   reconciler's sweeps, the console's queue depths, the wake of a resumed number. A send (its wamid) still
--   writes index entries; claiming it (sending), delivered and read no longer do.
-- - a fillfactor of 75 leaves each page room for those in-place versions.
-- Measured with `BENCH=e2e BENCH_E2E_REPLICAS=1 pnpm bench`: 56,269 updates of 16,000 messages, 29,384 of them HOT
-- (none before).

DROP INDEX "outbound_messages_state_created_at_idx";
CREATE INDEX "outbound_messages_unsent_idx" ON "outbound_messages"("created_at", "id") WHERE "wamid" IS NULL;
ALTER TABLE "outbound_messages" SET (fillfactor = 75);
