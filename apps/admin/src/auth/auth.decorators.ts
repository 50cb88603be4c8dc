import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

/** Metadata key of admin-only routes. */
export const ADMIN_ONLY = 'gtc:admin-only';

/** Marks a route or controller as reachable with the bootstrap admin key only (tenant keys get 403); the document says so. */
export const AdminOnly = () => applyDecorators(SetMetadata(ADMIN_ONLY, true), ApiExtension('x-gtc-key', 'admin'));

/** Who made the request: the bootstrap admin, or a tenant's API key. */
export type Principal = { kind: 'admin' } | { kind: 'tenant'; tenantId: string; tenantSlug: string; keyId: string };
