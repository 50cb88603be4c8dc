-- CreateTable
CREATE TABLE "tenants" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "tenants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "teams" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "teams_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "whatsapp_providers" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "team_id" UUID NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "public_base_url" TEXT NOT NULL,
    "phone_number_id" TEXT NOT NULL,
    "access_token_enc" TEXT NOT NULL,
    "app_secret_enc" TEXT,
    "verify_token" TEXT NOT NULL,
    "business_account_id" TEXT,
    "api_version" TEXT NOT NULL DEFAULT 'v18.0',
    "tier" TEXT NOT NULL DEFAULT '1',
    "throughput_mps" INTEGER NOT NULL DEFAULT 80,
    "ordering" TEXT NOT NULL DEFAULT 'delivered',
    "ordering_timeout_ms" INTEGER NOT NULL DEFAULT 30000,
    "opt_out_keywords" TEXT[] NOT NULL DEFAULT ARRAY['STOP', 'UNSUBSCRIBE']::TEXT[],
    "opt_in_keywords" TEXT[] NOT NULL DEFAULT ARRAY['START']::TEXT[],
    "opt_out_confirmation" TEXT NOT NULL DEFAULT 'You have been unsubscribed. Reply START to subscribe again.',
    "opt_in_confirmation" TEXT NOT NULL DEFAULT 'You are subscribed again.',
    "insecure_skip_signature" BOOLEAN NOT NULL DEFAULT false,
    "paused_at" TIMESTAMP(3),
    "paused_reason" TEXT,
    "templates_synced_at" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "whatsapp_providers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "message_templates" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "provider_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "language" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "category" TEXT,
    "components" JSONB NOT NULL,
    "synced_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "message_templates_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "name" TEXT,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMP(3),
    "revoked_at" TIMESTAMP(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "flows" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "team_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "revision" INTEGER NOT NULL,
    "file_name" TEXT,
    "source" TEXT NOT NULL,
    "compiled" JSONB NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "flows_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "contacts" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "provider_id" UUID NOT NULL,
    "wa_id" TEXT,
    "user_id" TEXT,
    "profile_name" TEXT,
    "last_inbound_at" TIMESTAMP(3),
    "opted_out" BOOLEAN NOT NULL DEFAULT false,
    "opted_out_at" TIMESTAMP(3),
    "next_seq" INTEGER NOT NULL DEFAULT 1,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "contacts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sessions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "contact_id" UUID NOT NULL,
    "flow_id" UUID,
    "node_id" TEXT,
    "status" TEXT NOT NULL DEFAULT 'idle',
    "vars" JSONB NOT NULL DEFAULT '{}',
    "last_error" TEXT,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "inbound_messages" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "provider_id" UUID NOT NULL,
    "contact_id" UUID,
    "wamid" TEXT NOT NULL,
    "arrival" BIGSERIAL NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "sent_at" TIMESTAMP(3),
    "received_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "state" TEXT NOT NULL DEFAULT 'pending',
    "processed_at" TIMESTAMP(3),
    "flow_run" JSONB,
    "error" TEXT,

    CONSTRAINT "inbound_messages_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_events" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "provider_id" UUID NOT NULL,
    "field" TEXT NOT NULL,
    "digest" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "received_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "outbound_messages" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "provider_id" UUID NOT NULL,
    "contact_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "cause_id" TEXT,
    "ordinal" INTEGER NOT NULL DEFAULT 0,
    "type" TEXT NOT NULL,
    "body" JSONB NOT NULL,
    "business_initiated" BOOLEAN NOT NULL DEFAULT false,
    "retry_on_rate_limit" BOOLEAN NOT NULL DEFAULT true,
    "state" TEXT NOT NULL DEFAULT 'queued',
    "wamid" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "error_class" TEXT,
    "error_code" INTEGER,
    "last_error" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "next_attempt_at" TIMESTAMP(3),
    "sending_at" TIMESTAMP(3),
    "sent_at" TIMESTAMP(3),
    "delivered_at" TIMESTAMP(3),
    "read_at" TIMESTAMP(3),
    "failed_at" TIMESTAMP(3),
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "outbound_messages_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "status_events" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "provider_id" UUID NOT NULL,
    "wamid" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "callback_id" TEXT,
    "outbound_id" UUID,
    "timestamp" TIMESTAMP(3) NOT NULL,
    "recipient_id" TEXT,
    "errors" JSONB,
    "payload" JSONB NOT NULL,
    "received_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "applied_at" TIMESTAMP(3),

    CONSTRAINT "status_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "tenants_slug_key" ON "tenants"("slug");

-- CreateIndex
CREATE UNIQUE INDEX "teams_tenant_id_slug_key" ON "teams"("tenant_id", "slug");

-- CreateIndex
CREATE UNIQUE INDEX "whatsapp_providers_team_id_key" ON "whatsapp_providers"("team_id");

-- CreateIndex
CREATE UNIQUE INDEX "whatsapp_providers_phone_number_id_key" ON "whatsapp_providers"("phone_number_id");

-- CreateIndex
CREATE INDEX "whatsapp_providers_tenant_id_idx" ON "whatsapp_providers"("tenant_id");

-- CreateIndex
CREATE UNIQUE INDEX "message_templates_provider_id_name_language_key" ON "message_templates"("provider_id", "name", "language");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_hash_key" ON "api_keys"("hash");

-- CreateIndex
CREATE INDEX "api_keys_tenant_id_idx" ON "api_keys"("tenant_id");

-- CreateIndex
CREATE INDEX "flows_team_id_active_idx" ON "flows"("team_id", "active");

-- CreateIndex
CREATE UNIQUE INDEX "flows_team_id_name_revision_key" ON "flows"("team_id", "name", "revision");

-- CreateIndex
CREATE INDEX "contacts_tenant_id_idx" ON "contacts"("tenant_id");

-- CreateIndex
CREATE UNIQUE INDEX "contacts_provider_id_wa_id_key" ON "contacts"("provider_id", "wa_id");

-- CreateIndex
CREATE UNIQUE INDEX "contacts_provider_id_user_id_key" ON "contacts"("provider_id", "user_id");

-- CreateIndex
CREATE UNIQUE INDEX "sessions_contact_id_key" ON "sessions"("contact_id");

-- CreateIndex
CREATE INDEX "inbound_messages_state_received_at_idx" ON "inbound_messages"("state", "received_at");

-- CreateIndex
CREATE INDEX "inbound_messages_contact_id_state_arrival_idx" ON "inbound_messages"("contact_id", "state", "arrival");

-- CreateIndex
CREATE UNIQUE INDEX "inbound_messages_provider_id_wamid_key" ON "inbound_messages"("provider_id", "wamid");

-- CreateIndex
CREATE INDEX "webhook_events_provider_id_received_at_idx" ON "webhook_events"("provider_id", "received_at");

-- CreateIndex
CREATE UNIQUE INDEX "webhook_events_provider_id_digest_key" ON "webhook_events"("provider_id", "digest");

-- CreateIndex
CREATE UNIQUE INDEX "outbound_messages_wamid_key" ON "outbound_messages"("wamid");

-- CreateIndex
CREATE INDEX "outbound_messages_state_created_at_idx" ON "outbound_messages"("state", "created_at");

-- CreateIndex
CREATE INDEX "outbound_messages_tenant_id_created_at_idx" ON "outbound_messages"("tenant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "outbound_messages_contact_id_seq_key" ON "outbound_messages"("contact_id", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "outbound_messages_cause_id_ordinal_key" ON "outbound_messages"("cause_id", "ordinal");

-- CreateIndex
CREATE INDEX "status_events_applied_at_received_at_idx" ON "status_events"("applied_at", "received_at");

-- CreateIndex
CREATE INDEX "status_events_callback_id_idx" ON "status_events"("callback_id");

-- CreateIndex
CREATE UNIQUE INDEX "status_events_wamid_status_key" ON "status_events"("wamid", "status");

-- AddForeignKey
ALTER TABLE "teams" ADD CONSTRAINT "teams_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "whatsapp_providers" ADD CONSTRAINT "whatsapp_providers_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "message_templates" ADD CONSTRAINT "message_templates_provider_id_fkey" FOREIGN KEY ("provider_id") REFERENCES "whatsapp_providers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "flows" ADD CONSTRAINT "flows_team_id_fkey" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "contacts" ADD CONSTRAINT "contacts_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "contacts" ADD CONSTRAINT "contacts_provider_id_fkey" FOREIGN KEY ("provider_id") REFERENCES "whatsapp_providers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_contact_id_fkey" FOREIGN KEY ("contact_id") REFERENCES "contacts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_flow_id_fkey" FOREIGN KEY ("flow_id") REFERENCES "flows"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "inbound_messages" ADD CONSTRAINT "inbound_messages_provider_id_fkey" FOREIGN KEY ("provider_id") REFERENCES "whatsapp_providers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "inbound_messages" ADD CONSTRAINT "inbound_messages_contact_id_fkey" FOREIGN KEY ("contact_id") REFERENCES "contacts"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "outbound_messages" ADD CONSTRAINT "outbound_messages_provider_id_fkey" FOREIGN KEY ("provider_id") REFERENCES "whatsapp_providers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "outbound_messages" ADD CONSTRAINT "outbound_messages_contact_id_fkey" FOREIGN KEY ("contact_id") REFERENCES "contacts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "status_events" ADD CONSTRAINT "status_events_outbound_id_fkey" FOREIGN KEY ("outbound_id") REFERENCES "outbound_messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;
