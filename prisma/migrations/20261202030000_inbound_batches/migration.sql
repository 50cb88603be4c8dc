-- The inbound job that carries a row: ingress enqueues one job per group-commit batch (job id i_<batch_id>), so the
-- reconciler can tell whether a pending row's job is still live. NULL for rows enqueued on their own (i_<id>).
ALTER TABLE "inbound_messages" ADD COLUMN "batch_id" UUID;
