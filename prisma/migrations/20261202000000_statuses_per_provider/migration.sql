-- A status belongs to the phone number whose webhook carried it: its keys are per provider, and so is an outbound
-- message's wamid (a status, or biz_opaque_callback_data, can only name a wamid of its own number).

-- DropIndex
DROP INDEX "status_events_wamid_status_key";

-- CreateIndex
CREATE UNIQUE INDEX "status_events_provider_id_wamid_status_key" ON "status_events"("provider_id", "wamid", "status");

-- DropIndex
DROP INDEX "outbound_messages_wamid_key";

-- CreateIndex
CREATE UNIQUE INDEX "outbound_messages_provider_id_wamid_key" ON "outbound_messages"("provider_id", "wamid");

-- AlterTable
ALTER TABLE "webhook_events" ADD COLUMN "raw_body" BYTEA;
