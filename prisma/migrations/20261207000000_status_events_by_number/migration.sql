-- A status event belongs to its phone number, not to its message (issue 14: WAL records). Its index by message
-- (outbound_id, received_at) took an entry at every status, three per answered message, only for the foreign key's
-- cascade and retention's orphan sweep. A bound status carries its message's wamid, so the (provider_id, wamid,
-- status) key finds a message's statuses; retention and a contact's erasure delete them with their message by it,
-- and a number's deletion cascades through this new key (which that unique index serves).
ALTER TABLE "status_events" DROP CONSTRAINT "status_events_outbound_id_fkey";
DROP INDEX "status_events_outbound_id_received_at_idx";
DELETE FROM "status_events" s WHERE NOT EXISTS (SELECT 1 FROM "whatsapp_providers" p WHERE p."id" = s."provider_id");
ALTER TABLE "status_events" ADD CONSTRAINT "status_events_provider_id_fkey" FOREIGN KEY ("provider_id") REFERENCES "whatsapp_providers"("id") ON DELETE CASCADE ON UPDATE CASCADE;
