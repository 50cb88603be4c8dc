import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { PrismaService, SecretBox, TtlCache } from '@gtc/db';

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
    private readonly prisma: PrismaService,
    config: AppConfig,
  ) {
    this.secrets = new SecretBox(config.secretsKey);
    this.production = config.env.NODE_ENV === 'production';
  }

  /** Says loudly at boot which teams skip signature checks (or, in production, that their setting is ignored). */
  async onApplicationBootstrap(): Promise<void> {
    const rows = await this.prisma.client.whatsAppProvider
      .findMany({ where: { insecureSkipSignature: true }, select: { team: { select: { slug: true, tenant: { select: { slug: true } } } } } })
      .catch(() => []); // Postgres away at boot: /health says so; the per-request warning below still applies
    if (!rows.length) return;
    const teams = rows.map((r) => `${r.team.tenant.slug}/${r.team.slug}`).join(', ');
    if (this.production) this.log.error(`insecure_skip_signature is set for ${teams} and IGNORED in production: their webhooks must be signed`);
    else this.log.warn(`INSECURE: webhooks for ${teams} are accepted WITHOUT signature checks (insecure_skip_signature). Local development only.`);
  }

  /** The provider of tenant/team, or null when the tenant, team or provider doesn't exist. */
  find(tenantSlug: string, teamSlug: string): Promise<WebhookTarget | null> {
    return this.cache.get(`${tenantSlug}\u0000${teamSlug}`, () => this.load(tenantSlug, teamSlug));
  }

  private async load(tenantSlug: string, teamSlug: string): Promise<WebhookTarget | null> {
    const key = `${tenantSlug}/${teamSlug}`;
    const row = await this.prisma.client.whatsAppProvider.findFirst({
      where: { team: { slug: teamSlug, tenant: { slug: tenantSlug } } },
    });
    const target: WebhookTarget | null = row && {
      tenantId: row.tenantId,
      providerId: row.id,
      phoneNumberId: row.phoneNumberId,
      verifyToken: row.verifyToken,
      appSecret: row.appSecretEnc ? this.secrets.decrypt(row.appSecretEnc) : null,
      insecureSkipSignature: row.insecureSkipSignature && !this.production,
      enabled: row.enabled,
    };
    if (target?.insecureSkipSignature && !this.warned.has(key)) {
      this.warned.add(key);
      this.log.warn(
        `INSECURE: webhooks for ${tenantSlug}/${teamSlug} are accepted WITHOUT signature checks (insecure_skip_signature). Local development only.`,
      );
    }
    return target;
  }
}
