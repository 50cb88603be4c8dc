export * from './generated/prisma/client';
export * from './prisma.client';
export * from './prisma.service';
export * from './pg-url';
export * from './migrate';
export * from './secrets';
export * from './outbound.repository';
export * from './ttl-cache';
export type { Pool, PoolClient } from 'pg';
