-- Why a provider is paused, in a form the admin API can show and act on: the Graph error class ("auth" for broken
-- credentials, "account" for a broken business account or number) and Meta's error code. paused_reason keeps the text.

-- AlterTable
ALTER TABLE "whatsapp_providers" ADD COLUMN "paused_class" TEXT,
ADD COLUMN "paused_code" INTEGER;
