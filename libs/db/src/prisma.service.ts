import { Global, Injectable, Module, OnModuleDestroy, Optional } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { HealthService } from '@gtc/observability';
import type { Pool } from 'pg';
import { PrismaClient } from './generated/prisma/client';
import { createPgPool, createPrismaClient } from './prisma.client';

/**
 * The database of a Nest service: one node-postgres pool per process, used by the Prisma client (model calls: the
 * cold paths) and directly by the app's one store (`*.store.ts`), where all of the app's plain SQL lives
 * (libs/db/README.md, "One SQL convention"). Closed on shutdown.
 */
@Injectable()
export class PrismaService implements OnModuleDestroy {
  readonly pool: Pool;
  readonly client: PrismaClient;

  constructor(config: AppConfig, @Optional() health?: HealthService) {
    this.pool = createPgPool(config.env.DATABASE_URL, { max: config.env.DATABASE_POOL_SIZE });
    this.client = createPrismaClient(config.env.DATABASE_URL, {}, this.pool);
    health?.register('postgres', () => this.ping());
  }

  /** Resolves when Postgres answers `SELECT 1`. */
  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async onModuleDestroy(): Promise<void> {
    await this.client.$disconnect();
    await this.pool.end();
  }
}

/** Provides PrismaService to a Nest app. */
@Global()
@Module({ providers: [PrismaService], exports: [PrismaService] })
export class DbModule {}
