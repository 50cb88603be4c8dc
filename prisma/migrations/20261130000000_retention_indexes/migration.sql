-- CreateIndex
CREATE INDEX "outbound_messages_state_updated_at_idx" ON "outbound_messages"("state", "updated_at");

-- CreateIndex
CREATE INDEX "status_events_outbound_id_received_at_idx" ON "status_events"("outbound_id", "received_at");
