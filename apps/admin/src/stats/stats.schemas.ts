import { z } from 'zod';
import { apiModel } from '../docs/api-doc';

/** Row counts by state (only the states that occur). */
const countsByState = z.record(z.string(), z.number().int());

/** A tenant's statistics as the API shows them. */
export const statsSchema = z.object({
  tenant: z.string().meta({ description: "The tenant's slug.", example: 'acme' }),
  outbound: countsByState.meta({
    description: 'Outbound messages by state (queued, sending, unknown, sent, delivered, read, failed).',
    example: { queued: 2, delivered: 120 },
  }),
  inbound: countsByState.meta({
    description: 'Inbound messages by state (pending, processed, failed, ignored, revoked).',
    example: { processed: 98, pending: 1 },
  }),
  contacts: z.object({
    total: z.number().int(),
    opted_out: z.number().int(),
  }),
  queues: z.record(z.string(), z.record(z.string(), z.number().int()).nullable()).meta({
    description:
      'Job counts (waiting, active, delayed, failed, completed, prioritized, waiting-children) of the `inbound`, `outbound` and `status` ' +
      'queues. They are shared by all tenants (BullMQ has no per-tenant count); null when Redis did not answer.',
  }),
  paused_providers: z
    .array(
      z.object({
        team: z.string(),
        phone_number_id: z.string(),
        paused_at: z.date(),
        paused_reason: z.string().nullable(),
      }),
    )
    .meta({ description: 'The numbers whose sending is paused (resume with POST …/provider/resume).' }),
  limit_usage: z
    .array(
      z.object({
        team: z.string(),
        phone_number_id: z.string(),
        tier: z.enum(['1', '2', '3', 'unlimited']),
        tier_counting: z.enum(['messages', 'recipients']).meta({
          description:
            '`messages`: every message sent counts; `recipients`: unique recipients of business-initiated messages (TIER_COUNTING).',
        }),
        tier_window_seconds: z.number().meta({ description: 'The moving window the tier limit applies to.' }),
        tier_limit: z
          .number()
          .int()
          .nullable()
          .meta({ description: "The tier's limit in the window; null for `unlimited`." }),
        tier_used: z
          .number()
          .int()
          .meta({ description: 'Counted as the sender counts it, over the window.' }),
        throughput_mps: z.number().int(),
      }),
    )
    .meta({ description: "Each number's use of its messaging limit tier." }),
});

/** The answer schema of the statistics, in the document. */
export const StatsModel = apiModel('Stats', statsSchema);

/** Minutes of sends `…/provider/usage` shows. */
export const USAGE_MINUTES = 15;

/** One number's use of its limits now: the figures an operator watches. */
export const providerUsageSchema = z.object({
  team: z.string(),
  phone_number_id: z.string(),
  paused: z.boolean(),
  paused_at: z.date().nullable(),
  paused_reason: z.string().nullable(),
  throughput_mps: z
    .number()
    .int()
    .meta({ description: 'Messages per second the number may send (its limit).' }),
  tier: z.enum(['1', '2', '3', 'unlimited']),
  tier_limit: z
    .number()
    .int()
    .nullable()
    .meta({ description: "The tier's limit over the moving window; null for `unlimited`." }),
  tier_used: z.number().int().meta({ description: 'Counted as the sender counts it, over the window.' }),
  tier_window_seconds: z.number(),
  queued: z.number().int().meta({ description: 'Messages of this number waiting to be sent.' }),
  sending: z.number().int().meta({ description: 'Messages being sent now (or whose outcome is unknown).' }),
  failed_24h: z.number().int().meta({ description: 'Messages that failed in the last 24 hours.' }),
  per_minute: z
    .array(z.object({ minute: z.date(), sent: z.number().int(), failed: z.number().int() }))
    .meta({
      description: `Messages sent and failed in each of the last ${USAGE_MINUTES} minutes (UTC), oldest first, the current minute last.`,
    }),
});

/** The answer schema of a number's usage, in the document. */
export const ProviderUsageModel = apiModel('ProviderUsage', providerUsageSchema);
