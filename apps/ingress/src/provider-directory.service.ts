import { Injectable, Logger } from '@nestjs/common';
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
 * costs no query (a changed secret or verify token applies within TTL_MS).
 */
@Injectable()
export class ProviderDirectory {
  private readonly log = new Logger(ProviderDirectory.name);
  private readonly cache = new TtlCache<WebhookTarget | null>(TTL_MS);
  private readonly secrets: SecretBox;
  private readonly warned = new Set<string>();

  constructor(
    private readonly prisma: PrismaService,
    config: AppConfig,
  ) {
    this.secrets = new SecretBox(config.secretsKey);
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
      insecureSkipSignature: row.insecureSkipSignature,
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
