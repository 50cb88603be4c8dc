import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppConfig, safeEqual } from '@gtc/config';
import { PrismaService } from '@gtc/db';
import { HealthController } from '@gtc/observability';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, notFound } from '../common/api-error';
import { ADMIN_ONLY, Principal } from './auth.decorators';
import { hashApiKey } from './api-key.hash';
import { FailedAuthThrottle } from './failed-auth.throttle';

/** The request as the guard leaves it: with the caller attached. */
export type AuthedRequest = FastifyRequest & { principal?: Principal };

/** Reads the bearer token of a request (`Authorization: Bearer <key>`). */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value ?? '');
  return m?.[1];
}

/**
 * Authenticates every /v1 route: the bootstrap admin key (constant-time compare) or a tenant API key (SHA-256 lookup).
 * No or unknown key → 401 (429 once the client is over its failed-authentication limit); a tenant key on an
 * admin-only route → 403; a tenant key under another tenant's path → 404.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly throttle: FailedAuthThrottle,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getClass() === HealthController) return true;
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const key = bearerToken(req.headers.authorization);
    if (!key) throw await this.throttle.failure(req, reply, 'missing API key: send Authorization: Bearer <key>');
    if (safeEqual(key, this.config.adminApiKey)) {
      req.principal = { kind: 'admin' };
      return true;
    }
    const row = await this.prisma.client.apiKey.findUnique({ where: { hash: hashApiKey(key) }, include: { tenant: true } });
    if (!row || row.revokedAt) throw await this.throttle.failure(req, reply, 'invalid or revoked API key');
    req.principal = { kind: 'tenant', tenantId: row.tenantId, tenantSlug: row.tenant.slug, keyId: row.id };
    void this.prisma.client.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => undefined);

    const adminOnly = this.reflector.getAllAndOverride<boolean>(ADMIN_ONLY, [context.getHandler(), context.getClass()]);
    const params = (req.params ?? {}) as Record<string, string | undefined>;
    // Another tenant's resources do not exist for this key, whatever the route.
    if (params.tenant !== undefined && params.tenant !== row.tenant.slug) throw notFound(`tenant '${params.tenant}' not found`);
    if (adminOnly) throw new ApiError(403, 'forbidden', 'this route needs the admin key');
    if (params.tenant === undefined) throw new ApiError(403, 'forbidden', 'this route needs the admin key');
    return true;
  }
}
