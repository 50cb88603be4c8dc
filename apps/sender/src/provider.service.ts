import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { SecretBox, TtlCache } from '@gtc/db';
import { HealthService } from '@gtc/observability';
import type { NumberLimits } from '@gtc/queue';
import type { SyncedTemplate } from '@gtc/whatsapp';
import { OutboundStore } from './outbound.store';
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
    private readonly store: OutboundStore,
    private readonly health: HealthService,
    config: AppConfig,
  ) {
    this.secrets = new SecretBox(config.secretsKey);
  }

  onModuleInit(): void {
    // Surfaced in /health (without failing readiness): numbers whose credentials or account Meta rejected.
    this.health.registerInfo('paused_providers', () => this.store.pausedProviders());
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
    return this.templates.get(id, () => this.store.syncedTemplates(id));
  }

  /**
   * Stops sending from a provider whose credentials or account Meta refused; its messages stay queued until an
   * admin resumes it. The first cause is kept (a provider already paused stays paused for its first reason). The
   * pause and its `provider.paused` event (for the tenant's endpoints that subscribe) are one statement.
   */
  async pause(id: string, cause: PauseCause): Promise<void> {
    const phoneNumberId = await this.store.pauseProvider(id, cause);
    this.cache.delete(id);
    if (!phoneNumberId) return;
    const what = cause.errorClass === 'auth' ? 'its credentials' : 'its business account or number';
    this.log.error(`paused provider ${phoneNumberId}: Meta refused ${what} (${cause.reason}); its messages stay queued until resumed`);
  }

  /** Pauses the number when a status failed with a code that says the number, not the message, is broken (failedStatusPause). */
  async pauseOnFailedStatus(applied: { providerId: string; state: string; errorCode: number | null; lastError: string | null }): Promise<void> {
    const cause = failedStatusPause(applied);
    if (cause) await this.pause(applied.providerId, cause);
  }

  private async load(id: string): Promise<SendingProvider | null> {
    const p = await this.store.sendingProvider(id);
    if (!p) return null;
    return {
      id: p.id,
      tenantId: p.tenant_id,
      phoneNumberId: p.phone_number_id,
      apiVersion: p.api_version,
      accessToken: this.secrets.decrypt(p.access_token_enc),
      limits: { phoneNumberId: p.phone_number_id, tier: p.tier, throughputMps: p.throughput_mps },
      ordering: p.ordering,
      orderingTimeoutMs: p.ordering_timeout_ms,
      pausedAt: p.paused_at,
    };
  }
}
