import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { SecretBox, TtlCache } from '@gtc/db';
import { IngressStore } from './ingress.store';

/** What ingress needs to know about a team's WhatsApp number. */
export interface WebhookTarget {
  tenantId: string;
  providerId: string;
  phoneNumberId: string;
  verifyToken: string;
  /** Decrypted app secret; null when none is configured. */
  appSecret: string | null;
  insecureSkipSignature: boolean;
  enabled: boolean;
}

const TTL_MS = 5_000;

/**
 * Resolves /webhook/whatsapp/:tenant/:team to the team's provider, cached for a few seconds so the hot path
 * costs no query (a changed secret or verify token applies within TTL_MS). A provider's insecure_skip_signature
 * is honoured outside production only; with NODE_ENV=production every webhook must be signed.
 */
@Injectable()
export class ProviderService implements OnApplicationBootstrap {
  private readonly log = new Logger(ProviderService.name);
  private readonly cache = new TtlCache<WebhookTarget | null>(TTL_MS);
  private readonly secrets: SecretBox;
  private readonly warned = new Set<string>();
  private readonly production: boolean;

  constructor(
    private readonly store: IngressStore,
    config: AppConfig,
  ) {
    this.secrets = new SecretBox(config.secretsKey);
    this.production = config.env.NODE_ENV === 'production';
  }

  /** Says loudly at boot which teams skip signature checks (or, in production, that their setting is ignored). */
  async onApplicationBootstrap(): Promise<void> {
    // Postgres away at boot: /health says so; the per-request warning below still applies.
    const teams = (await this.store.insecureTeams().catch(() => [])).join(', ');
    if (!teams) return;
    if (this.production) this.log.error(`insecure_skip_signature is set for ${teams} and IGNORED in production: their webhooks must be signed`);
    else this.log.warn(`INSECURE: webhooks for ${teams} are accepted WITHOUT signature checks (insecure_skip_signature). Local development only.`);
  }

  /** The provider of tenant/team, or null when the tenant, team or provider doesn't exist. */
  find(tenantSlug: string, teamSlug: string): Promise<WebhookTarget | null> {
    return this.cache.get(`${tenantSlug}\u0000${teamSlug}`, () => this.load(tenantSlug, teamSlug));
  }

  private async load(tenantSlug: string, teamSlug: string): Promise<WebhookTarget | null> {
    const key = `${tenantSlug}/${teamSlug}`;
    const row = await this.store.webhookProvider(tenantSlug, teamSlug);
    const target: WebhookTarget | null = row
      ? {
          tenantId: row.tenant_id,
          providerId: row.id,
          phoneNumberId: row.phone_number_id,
          verifyToken: row.verify_token,
          appSecret: row.app_secret_enc ? this.secrets.decrypt(row.app_secret_enc) : null,
          insecureSkipSignature: row.insecure_skip_signature && !this.production,
          enabled: row.enabled,
        }
      : null;
    if (target?.insecureSkipSignature && !this.warned.has(key)) {
      this.warned.add(key);
      this.log.warn(
        `INSECURE: webhooks for ${tenantSlug}/${teamSlug} are accepted WITHOUT signature checks (insecure_skip_signature). Local development only.`,
      );
    }
    return target;
  }
}
