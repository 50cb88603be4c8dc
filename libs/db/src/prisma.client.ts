import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaClient } from './generated/prisma/client';
import { withDefaultUser } from './pg-url';

/** Options of the Postgres pool behind a Prisma client. */
export interface PrismaPoolOptions {
  /** Most connections this process opens. */
  max?: number;
  /** Per-statement timeout in ms (a hung database must not hang a request). */
  statementTimeoutMs?: number;
  /** How long to wait for a connection, in ms. */
  connectionTimeoutMs?: number;
}

/** A node-postgres pool for a database URL. */
export function createPgPool(databaseUrl: string, options: PrismaPoolOptions = {}): Pool {
  const pool = new Pool({
    connectionString: withDefaultUser(databaseUrl),
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    statement_timeout: options.statementTimeoutMs ?? 15_000,
    // Columns are timestamp without time zone holding UTC (as Prisma writes them): now() must convert to UTC too.
    // No JIT: our statements are short, but a batch's row estimates can pass jit_above_cost, and compiling one
    // then took up to 3 s of CPU (measured: a status batch, 2.9 s of LLVM for 0.3 s of execution).
    // No sequential scan where an index serves: a named statement keeps the plan it got when first prepared, and on a
    // table that was small then (a new database; no ANALYZE since, as with autovacuum off) that plan scanned the whole
    // table on every call once it had grown (auto_explain, BENCH=ingress: contacts and inbound_messages).
    options: '-c TimeZone=UTC -c jit=off -c enable_seqscan=off',
  });
  // A broken idle connection is dropped by the pool; without a listener the error would crash the process.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * A Prisma client over node-postgres (driver adapter: no native engine needed). Pass a pool to share it with
 * hot paths that run plain SQL on the same connections.
 */
export function createPrismaClient(databaseUrl: string, options: PrismaPoolOptions = {}, pool?: Pool): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(pool ?? createPgPool(databaseUrl, options), { disposeExternalPool: !pool }) });
}
