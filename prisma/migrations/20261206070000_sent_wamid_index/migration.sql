-- An outbound message has no wamid until it is sent, and the unique index on (provider_id, wamid) took an entry for
-- that NULL at every insert, then another at the send (issue 14: WAL records). Now only messages with a wamid have
-- one. Lookups by wamid (an `=`, which no NULL meets) use it as before; uniqueness is the same (NULLs never collide).
DROP INDEX "outbound_messages_provider_id_wamid_key";
CREATE UNIQUE INDEX "outbound_messages_wamid_key" ON "outbound_messages"("provider_id", "wamid") WHERE "wamid" IS NOT NULL;
