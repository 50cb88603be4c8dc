import { Injectable } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { Prisma, PrismaService, SecretBox, Team, Tenant, WhatsAppProvider } from '@gtc/db';
import { jobIds, QueueName, QueueService } from '@gtc/queue';
import { GraphApiError } from '@gtc/whatsapp';
import { GraphApiClient } from '@gtc/whatsapp/graph-api.client';
import { z } from 'zod';
import { AdminStore } from '../admin.store';
import { ApiError, conflict, notFound } from '../common/api-error';
import { TenantScopeService } from '../common/tenant-scope.service';
import { PROVIDER_DEFAULTS, ProviderInput, providerSchema } from './provider.schemas';

/** Shown instead of a stored secret. */
export const REDACTED = '***';

/** The webhook callback URL to paste into Meta: `{public_base_url}/webhook/whatsapp/{tenant}/{team}`. */
export function webhookUrl(publicBaseUrl: string, tenantSlug: string, teamSlug: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/webhook/whatsapp/${encodeURIComponent(tenantSlug)}/${encodeURIComponent(teamSlug)}`;
}

/** The view of a provider; tier, ordering and paused_class are text columns holding the values the schema names. */
type ProviderView = z.input<typeof providerSchema>;

/** A provider as the API shows it: secrets redacted, webhook URL and pause state included. */
export function providerView(p: WhatsAppProvider, tenant: Tenant, team: Team): ProviderView {
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
    tier: p.tier as ProviderView['tier'],
    throughput_mps: p.throughputMps,
    ordering: p.ordering as ProviderView['ordering'],
    ordering_timeout_ms: p.orderingTimeoutMs,
    opt_out_keywords: p.optOutKeywords,
    opt_in_keywords: p.optInKeywords,
    opt_out_confirmation: p.optOutConfirmation,
    opt_in_confirmation: p.optInConfirmation,
    insecure_skip_signature: p.insecureSkipSignature,
    paused: p.pausedAt !== null,
    paused_at: p.pausedAt,
    paused_reason: p.pausedReason,
    paused_class: p.pausedClass as ProviderView['paused_class'],
    paused_code: p.pausedCode,
    templates_synced_at: p.templatesSyncedAt,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  };
}

/** The columns of a provider that is not paused. */
const NOT_PAUSED = { pausedAt: null, pausedReason: null, pausedClass: null, pausedCode: null };
/** Most held messages woken at once on resume (more go out at the sender's recheck). */
const MAX_WOKEN = 10_000;

const sameArray = (a: string[], b: string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** A team's WhatsApp provider: create/replace, patch, read, delete, resume; secrets sealed with SecretBox. */
@Injectable()
export class ProviderService {
  private readonly box: SecretBox;

  constructor(
    private readonly prisma: PrismaService,
    private readonly store: AdminStore,
    private readonly scope: TenantScopeService,
    private readonly graph: GraphApiClient,
    private readonly queues: QueueService,
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
      // A provider paused because Meta refused its token resumes with a new one (an account pause needs `resume`).
      if (existing?.pausedAt && existing.pausedClass !== 'account') Object.assign(data, NOT_PAUSED);
    }
    if (input.app_secret === null && existing?.appSecretEnc) data.appSecretEnc = null;
    if (typeof input.app_secret === 'string' && (!existing?.appSecretEnc || this.safeReveal(existing.appSecretEnc) !== input.app_secret)) {
      data.appSecretEnc = this.box.encrypt(input.app_secret);
    }

    const numberChanged = data.phoneNumberId !== undefined;
    if (numberChanged || data.accessTokenEnc !== undefined) {
      const accessToken = input.access_token ?? this.safeReveal(existing!.accessTokenEnc);
      if (accessToken === undefined) {
        throw new ApiError(400, 'validation_failed', 'access_token: the stored token cannot be read (SECRETS_KEY changed?): send it again', [
          { path: 'access_token', message: 'required with a new phone_number_id: the stored token cannot be read' },
        ]);
      }
      await this.checkOwnership({
        phoneNumberId: input.phone_number_id ?? existing!.phoneNumberId,
        accessToken,
        apiVersion: input.api_version ?? existing?.apiVersion ?? PROVIDER_DEFAULTS.api_version,
        blame: numberChanged ? 'phone_number_id' : 'access_token',
      });
    }

    let row: WhatsAppProvider;
    if (!existing) {
      row = await this.prisma.client.whatsAppProvider.create({
        data: { ...(data as Prisma.WhatsAppProviderUncheckedCreateInput), tenantId: tenant.id, teamId: team.id },
      });
    } else if (Object.keys(data).length) {
      // A new token that lifts a pause resumes the number: its event is written in the same transaction.
      const resumes = existing.pausedAt !== null && data.pausedAt === null;
      row = await this.prisma.client.$transaction(async (tx) => {
        const updated = await tx.whatsAppProvider.update({ where: { id: existing.id }, data });
        if (resumes) {
          await this.store.recordResumed(tx, existing.id);
        }
        return updated;
      });
      if (existing.pausedAt && !row.pausedAt) await this.wakeHeld(existing.id);
    } else {
      row = existing;
    }
    return { created: !existing, changed: !existing || Object.keys(data).length > 0, provider: providerView(row, tenant, team) };
  }

  /**
   * Clears the pause (paused_at, reason, class, code) so the sender resumes sending; queued messages then go out.
   * A number that was paused gets a `provider.resumed` event, written by the statement that resumes it.
   */
  async resume(tenantSlug: string, teamSlug: string) {
    const { tenant, team, provider } = await this.scope.provider(tenantSlug, teamSlug);
    const { changed, wasPaused } = await this.store.resumeProvider(provider.id);
    if (wasPaused) await this.wakeHeld(provider.id);
    const row = changed ? await this.prisma.client.whatsAppProvider.findUniqueOrThrow({ where: { id: provider.id } }) : provider;
    return providerView(row, tenant, team);
  }

  /**
   * Wakes the messages a paused number held: their jobs wait in the delayed set for the sender's recheck, and are
   * moved to waiting now. Best effort: with Redis away they go out at the recheck instead.
   */
  private async wakeHeld(providerId: string): Promise<void> {
    const held = await this.prisma.client.outboundMessage.findMany({
      // wamid null: the unsent messages' partial index (unsentRowSql).
      where: { providerId, state: 'queued', wamid: null },
      select: { id: true },
      orderBy: [{ createdAt: 'asc' }],
      take: MAX_WOKEN,
    });
    await this.queues.wakeDelayed(QueueName.Outbound, held.map((m) => jobIds.outbound(m.id))).catch(() => 0);
  }

  /** Deletes the provider (and with it the team's contacts and messages). */
  async remove(tenantSlug: string, teamSlug: string): Promise<void> {
    const { provider } = await this.scope.provider(tenantSlug, teamSlug);
    await this.prisma.client.whatsAppProvider.delete({ where: { id: provider.id } });
  }

  /**
   * Asks the Graph API (`GET /{version}/{phone_number_id}` with the given token) whether the token may act for the
   * number, so that no tenant can claim a number it does not own. A refused token → 400 naming access_token; a
   * number the token cannot see → 400 naming `blame`; the Graph API unreachable or failing → 503/502. Nothing is
   * written in any of these cases.
   */
  private async checkOwnership(o: { phoneNumberId: string; accessToken: string; apiVersion: string; blame: 'phone_number_id' | 'access_token' }): Promise<void> {
    let ownerId: string;
    try {
      ownerId = (await this.graph.getPhoneNumber({ apiVersion: o.apiVersion, phoneNumberId: o.phoneNumberId, accessToken: o.accessToken })).id;
    } catch (err) {
      if (!(err instanceof GraphApiError)) throw err;
      if (err.httpStatus === undefined) {
        throw new ApiError(503, 'graph_api_unavailable', `could not reach the Graph API to check that the access token owns phone number ${o.phoneNumberId}; nothing was changed, try again`);
      }
      if (err.httpStatus >= 500 || err.errorClass === 'throttled') {
        throw new ApiError(502, 'graph_api_error', `the Graph API failed while checking phone number ${o.phoneNumberId} (HTTP ${err.httpStatus}); nothing was changed, try again`);
      }
      const path = err.code === 190 || err.httpStatus === 401 ? 'access_token' : o.blame;
      const message =
        path === 'access_token'
          ? `the Graph API refused the access token for phone number ${o.phoneNumberId} (code ${err.code ?? err.httpStatus})`
          : `phone number ${o.phoneNumberId} does not exist or is not accessible with this access token (code ${err.code ?? err.httpStatus})`;
      throw new ApiError(400, 'phone_number_not_owned', `${path}: ${message}`, [{ path, message }]);
    }
    if (ownerId !== o.phoneNumberId) {
      const message = `the Graph API answered for phone number ${ownerId}, not ${o.phoneNumberId}`;
      throw new ApiError(400, 'phone_number_not_owned', `phone_number_id: ${message}`, [{ path: 'phone_number_id', message }]);
    }
  }

  private safeReveal(sealed: string): string | undefined {
    try {
      return this.box.decrypt(sealed);
    } catch {
      return undefined;
    }
  }
}
