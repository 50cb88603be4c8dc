import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { PrismaService, RECORD_EVENTS_CTES, SecretBox, TtlCache } from '@gtc/db';
import { HealthService } from '@gtc/observability';
import type { NumberLimits } from '@gtc/queue';
import type { SyncedTemplate } from '@gtc/whatsapp';
import { failedStatusPause, type PauseCause } from './send-policy';

/** A provider as the sender needs it: credentials (decrypted), limits and ordering policy. */
export interface SendingProvider {
  id: string;
  tenantId: string;
  phoneNumberId: string;
  apiVersion: string;
  accessToken: string;
  limits: NumberLimits;
  /** "delivered" | "sent" | "none" */
  ordering: string;
  orderingTimeoutMs: number;
  pausedAt: Date | null;
}

const TTL_MS = 3_000;

/** Providers by id, cached briefly (credentials and policy changes apply within TTL_MS); pauses a number on auth and account errors. */
@Injectable()
export class ProviderService implements OnModuleInit {
  private readonly log = new Logger(ProviderService.name);
  private readonly cache = new TtlCache<SendingProvider | null>(TTL_MS);
  private readonly templates = new TtlCache<SyncedTemplate[]>(TTL_MS);
  private readonly secrets: SecretBox;

  constructor(
    private readonly prisma: PrismaService,
    private readonly health: HealthService,
    config: AppConfig,
  ) {
    this.secrets = new SecretBox(config.secretsKey);
  }

  onModuleInit(): void {
    // Surfaced in /health (without failing readiness): numbers whose credentials or account Meta rejected.
    this.health.registerInfo('paused_providers', async () =>
      (
        await this.prisma.client.whatsAppProvider.findMany({
          where: { pausedAt: { not: null } },
          select: { phoneNumberId: true, pausedAt: true, pausedReason: true, pausedClass: true, pausedCode: true },
        })
      ).map((p) => ({
        phone_number_id: p.phoneNumberId,
        paused_at: p.pausedAt,
        class: p.pausedClass,
        code: p.pausedCode,
        reason: p.pausedReason,
      })),
    );
  }

  /** The provider, or null if it no longer exists. */
  get(id: string): Promise<SendingProvider | null> {
    return this.cache.get(id, () => this.load(id));
  }

  /** The provider as the database has it now (the cache is refreshed), or null if it no longer exists. */
  fresh(id: string): Promise<SendingProvider | null> {
    this.cache.delete(id);
    return this.get(id);
  }

  /** The provider's synced message templates (empty when none were synced). */
  syncedTemplates(id: string): Promise<SyncedTemplate[]> {
    return this.templates.get(id, () =>
      this.prisma.client.messageTemplate.findMany({ where: { providerId: id }, select: { name: true, language: true, status: true, components: true } }),
    );
  }

  /**
   * Stops sending from a provider whose credentials or account Meta refused; its messages stay queued until an
   * admin resumes it. The first cause is kept (a provider already paused stays paused for its first reason). The
   * pause and its `provider.paused` event (for the tenant's endpoints that subscribe) are one statement.
   */
  async pause(id: string, cause: PauseCause): Promise<void> {
    const { rows } = await this.prisma.pool.query<{ phone_number_id: string }>({
      name: 'sender-pause-provider',
      text: `WITH p AS (
         UPDATE whatsapp_providers SET paused_at = now(), paused_reason = $2, paused_class = $3, paused_code = $4, updated_at = now()
         WHERE id = $1::uuid AND paused_at IS NULL
         RETURNING id, tenant_id, team_id, phone_number_id
       ), ev AS (
         SELECT tenant_id, team_id, 'provider.paused'::text AS type, NULL::uuid AS contact_id,
           jsonb_build_object('provider', jsonb_build_object('id', id, 'phone_number_id', phone_number_id),
                              'reason', jsonb_build_object('class', $3::text, 'code', $4::int, 'text', $2::text)) AS data,
           NULL::uuid AS endpoint_id
         FROM p
       ), ${RECORD_EVENTS_CTES}
       SELECT p.phone_number_id FROM p CROSS JOIN ev_woke`,
      values: [id, cause.reason, cause.errorClass, cause.code ?? null],
    });
    this.cache.delete(id);
    if (!rows.length) return;
    const what = cause.errorClass === 'auth' ? 'its credentials' : 'its business account or number';
    this.log.error(`paused provider ${rows[0].phone_number_id}: Meta refused ${what} (${cause.reason}); its messages stay queued until resumed`);
  }

  /** Pauses the number when a status failed with a code that says the number, not the message, is broken (failedStatusPause). */
  async pauseOnFailedStatus(applied: { providerId: string; state: string; errorCode: number | null; lastError: string | null }): Promise<void> {
    const cause = failedStatusPause(applied);
    if (cause) await this.pause(applied.providerId, cause);
  }

  private async load(id: string): Promise<SendingProvider | null> {
    const p = await this.prisma.client.whatsAppProvider.findUnique({ where: { id } });
    if (!p) return null;
    return {
      id: p.id,
      tenantId: p.tenantId,
      phoneNumberId: p.phoneNumberId,
      apiVersion: p.apiVersion,
      accessToken: this.secrets.decrypt(p.accessTokenEnc),
      limits: { phoneNumberId: p.phoneNumberId, tier: p.tier, throughputMps: p.throughputMps },
      ordering: p.ordering,
      orderingTimeoutMs: p.orderingTimeoutMs,
      pausedAt: p.pausedAt,
    };
  }
}
