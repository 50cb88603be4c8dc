import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { Prisma, PrismaService, SecretBox, Team, Tenant, WhatsAppProvider } from '@gtc/db';
import { ApiError, conflict, notFound } from '../common/api-error';
import { TenantScope } from '../common/tenant-scope.service';
import { ProviderInput } from './provider.schemas';

/** Shown instead of a stored secret. */
export const REDACTED = '***';

/** The webhook callback URL to paste into Meta: `{public_base_url}/webhook/whatsapp/{tenant}/{team}`. */
export function webhookUrl(publicBaseUrl: string, tenantSlug: string, teamSlug: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/webhook/whatsapp/${encodeURIComponent(tenantSlug)}/${encodeURIComponent(teamSlug)}`;
}

/** A provider as the API shows it: secrets redacted, webhook URL and pause state included. */
export function providerView(p: WhatsAppProvider, tenant: Tenant, team: Team) {
  return {
    id: p.id,
    tenant: tenant.slug,
    team: team.slug,
    enabled: p.enabled,
    public_base_url: p.publicBaseUrl,
    webhook_url: webhookUrl(p.publicBaseUrl, tenant.slug, team.slug),
    verify_token: p.verifyToken,
    phone_number_id: p.phoneNumberId,
    access_token: REDACTED,
    has_access_token: true,
    app_secret: p.appSecretEnc ? REDACTED : null,
    has_app_secret: !!p.appSecretEnc,
    business_account_id: p.businessAccountId,
    api_version: p.apiVersion,
    tier: p.tier,
    throughput_mps: p.throughputMps,
    ordering: p.ordering,
    ordering_timeout_ms: p.orderingTimeoutMs,
    opt_out_keywords: p.optOutKeywords,
    opt_in_keywords: p.optInKeywords,
    opt_out_confirmation: p.optOutConfirmation,
    opt_in_confirmation: p.optInConfirmation,
    insecure_skip_signature: p.insecureSkipSignature,
    paused_at: p.pausedAt,
    paused_reason: p.pausedReason,
    templates_synced_at: p.templatesSyncedAt,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  };
}

const sameArray = (a: string[], b: string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** A team's WhatsApp provider: create/replace, patch, read, delete, resume; secrets sealed with SecretBox. */
@Injectable()
export class ProviderService {
  private readonly box: SecretBox;

  constructor(
    private readonly prisma: PrismaService,
    private readonly scope: TenantScope,
    config: AppConfig,
  ) {
    this.box = new SecretBox(config.secretsKey);
    this.production = config.env.NODE_ENV === 'production';
  }

  private readonly production: boolean;

  /** Decrypts a sealed secret (for Graph API calls made by the admin API). */
  reveal(sealed: string): string {
    return this.box.decrypt(sealed);
  }

  /** The provider of a team, or 404. */
  async get(tenantSlug: string, teamSlug: string) {
    const { tenant, team, provider } = await this.scope.provider(tenantSlug, teamSlug);
    return providerView(provider, tenant, team);
  }

  /**
   * Creates or updates the provider with the given options. Only fields whose value differs are written,
   * so applying the same options twice changes nothing (updated_at stays). `created` tells whether it was new.
   */
  async upsert(tenantSlug: string, teamSlug: string, input: ProviderInput, mode: 'put' | 'patch') {
    const { tenant, team } = await this.scope.team(tenantSlug, teamSlug);
    const existing = await this.prisma.client.whatsAppProvider.findUnique({ where: { teamId: team.id } });
    if (!existing && mode === 'patch') throw notFound(`team '${teamSlug}' has no WhatsApp provider: create it with PUT`);
    if (!existing) {
      const missing = (['enabled', 'public_base_url', 'phone_number_id', 'access_token', 'verify_token'] as const).filter((k) => input[k] === undefined);
      if (missing.length) {
        throw new ApiError(
          400,
          'validation_failed',
          `a new provider needs ${missing.join(', ')}`,
          missing.map((path) => ({ path, message: 'required' })),
        );
      }
    }
    if (input.phone_number_id !== undefined && input.phone_number_id !== existing?.phoneNumberId) {
      const other = await this.prisma.client.whatsAppProvider.findUnique({ where: { phoneNumberId: input.phone_number_id } });
      if (other) throw conflict(`phone_number_id ${input.phone_number_id} is already connected to another team`);
    }

    const data: Prisma.WhatsAppProviderUncheckedUpdateInput = {};
    const set = <K extends keyof Prisma.WhatsAppProviderUncheckedUpdateInput>(key: K, value: unknown, current: unknown) => {
      if (value === undefined) return;
      const same = Array.isArray(value) && Array.isArray(current) ? sameArray(value as string[], current as string[]) : value === current;
      if (!existing || !same) data[key] = value as Prisma.WhatsAppProviderUncheckedUpdateInput[K];
    };
    set('enabled', input.enabled, existing?.enabled);
    set('publicBaseUrl', input.public_base_url, existing?.publicBaseUrl);
    set('phoneNumberId', input.phone_number_id, existing?.phoneNumberId);
    set('verifyToken', input.verify_token, existing?.verifyToken);
    set('businessAccountId', mode === 'put' && input.business_account_id === undefined ? null : input.business_account_id, existing?.businessAccountId);
    set('apiVersion', input.api_version, existing?.apiVersion);
    set('tier', input.tier, existing?.tier);
    set('throughputMps', input.throughput_mps, existing?.throughputMps);
    set('ordering', input.ordering, existing?.ordering);
    set('orderingTimeoutMs', input.ordering_timeout_ms, existing?.orderingTimeoutMs);
    set('optOutKeywords', input.opt_out_keywords, existing?.optOutKeywords);
    set('optInKeywords', input.opt_in_keywords, existing?.optInKeywords);
    set('optOutConfirmation', input.opt_out_confirmation, existing?.optOutConfirmation);
    set('optInConfirmation', input.opt_in_confirmation, existing?.optInConfirmation);
    if (input.insecure_skip_signature && this.production) {
      const message = 'webhooks without signature checks are for local development only; not allowed with NODE_ENV=production';
      throw new ApiError(400, 'validation_failed', `insecure_skip_signature: ${message}`, [{ path: 'insecure_skip_signature', message }]);
    }
    set('insecureSkipSignature', input.insecure_skip_signature, existing?.insecureSkipSignature);
    // Secrets: compare with the decrypted stored value so that re-applying the same token writes nothing.
    if (input.access_token !== undefined && (!existing || this.safeReveal(existing.accessTokenEnc) !== input.access_token)) {
      data.accessTokenEnc = this.box.encrypt(input.access_token);
      // A provider paused because Meta refused its token resumes with a new one.
      if (existing?.pausedAt) Object.assign(data, { pausedAt: null, pausedReason: null });
    }
    if (input.app_secret === null && existing?.appSecretEnc) data.appSecretEnc = null;
    if (typeof input.app_secret === 'string' && (!existing?.appSecretEnc || this.safeReveal(existing.appSecretEnc) !== input.app_secret)) {
      data.appSecretEnc = this.box.encrypt(input.app_secret);
    }

    let row: WhatsAppProvider;
    if (!existing) {
      row = await this.prisma.client.whatsAppProvider.create({
        data: { ...(data as Prisma.WhatsAppProviderUncheckedCreateInput), tenantId: tenant.id, teamId: team.id },
      });
    } else if (Object.keys(data).length) {
      row = await this.prisma.client.whatsAppProvider.update({ where: { id: existing.id }, data });
    } else {
      row = existing;
    }
    return { created: !existing, changed: !existing || Object.keys(data).length > 0, provider: providerView(row, tenant, team) };
  }

  /** Clears paused_at/paused_reason so the sender resumes sending. */
  async resume(tenantSlug: string, teamSlug: string) {
    const { tenant, team, provider } = await this.scope.provider(tenantSlug, teamSlug);
    const row = provider.pausedAt || provider.pausedReason
      ? await this.prisma.client.whatsAppProvider.update({ where: { id: provider.id }, data: { pausedAt: null, pausedReason: null } })
      : provider;
    return providerView(row, tenant, team);
  }

  /** Deletes the provider (and with it the team's contacts and messages). */
  async remove(tenantSlug: string, teamSlug: string): Promise<void> {
    const { provider } = await this.scope.provider(tenantSlug, teamSlug);
    await this.prisma.client.whatsAppProvider.delete({ where: { id: provider.id } });
  }

  private safeReveal(sealed: string): string | undefined {
    try {
      return this.box.decrypt(sealed);
    } catch {
      return undefined;
    }
  }
}
