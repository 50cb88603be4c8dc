-- Webhook conformance: parent BSUIDs on contacts, edits and revokes linked to the message they change, and events
-- (link clicks) bound to their contact and message.

-- AlterTable
ALTER TABLE "contacts" ADD COLUMN "parent_user_id" TEXT;

-- AlterTable
ALTER TABLE "inbound_messages" ADD COLUMN "original_wamid" TEXT,
ADD COLUMN "edited_at" TIMESTAMP(3),
ADD COLUMN "revoked_at" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "webhook_events" ADD COLUMN "contact_id" UUID,
ADD COLUMN "wamid" TEXT;

-- CreateIndex
CREATE INDEX "inbound_messages_provider_id_original_wamid_idx" ON "inbound_messages"("provider_id", "original_wamid");

-- CreateIndex
CREATE INDEX "webhook_events_contact_id_idx" ON "webhook_events"("contact_id");

-- AddForeignKey
ALTER TABLE "webhook_events" ADD CONSTRAINT "webhook_events_contact_id_fkey" FOREIGN KEY ("contact_id") REFERENCES "contacts"("id") ON DELETE SET NULL ON UPDATE CASCADE;
