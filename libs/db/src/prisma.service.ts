import { Global, Injectable, Module, OnModuleDestroy, Optional } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { HealthService } from '@gtc/observability';
import type { Pool } from 'pg';
import { PrismaClient } from './generated/prisma/client';
import { createPgPool, createPrismaClient } from './prisma.client';

/**
 * The database of a Nest service: one node-postgres pool per process, used directly by the app's one store
 * (`*.store.ts`), where all of the app's plain SQL lives (libs/db/README.md, "One SQL convention"), and by the
 * Prisma client (model calls: the admin's cold paths). The client is made on first use: Prisma's query compiler
 * holds 60-130 MB of native memory in a process that loads it, so the services whose paths are all plain SQL
 * (ingress, flow-runner, sender, event-dispatcher) never do. Closed on shutdown.
 */
@Injectable()
export class PrismaService implements OnModuleDestroy {
  readonly pool: Pool;
  private prisma?: PrismaClient;

  constructor(
    private readonly config: AppConfig,
    @Optional() health?: HealthService,
  ) {
    this.pool = createPgPool(config.env.DATABASE_URL, { max: config.env.DATABASE_POOL_SIZE });
    health?.register('postgres', () => this.ping());
    health?.registerInfo('prisma_client', () => (this.clientLoaded ? 'loaded' : 'unused'));
  }

  /** The Prisma client over this pool, made on first use. */
  get client(): PrismaClient {
    this.prisma ??= createPrismaClient(this.config.env.DATABASE_URL, {}, this.pool);
    return this.prisma;
  }

  /** Whether the Prisma client was made (a plain-SQL service never makes it). */
  get clientLoaded(): boolean {
    return this.prisma !== undefined;
  }

  /** Resolves when Postgres answers `SELECT 1`. */
  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async onModuleDestroy(): Promise<void> {
    await this.prisma?.$disconnect();
    await this.pool.end();
  }
}

/** Provides PrismaService to a Nest app. */
@Global()
@Module({ providers: [PrismaService], exports: [PrismaService] })
export class DbModule {}
