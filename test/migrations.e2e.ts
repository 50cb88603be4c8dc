import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { getDMMF } from '@prisma/internals';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, createPrismaClient, ensureDatabase, readMigrations, withDefaultUser } from '@gtc/db';
import { testEnv, withDatabase } from '@gtc/testing';

// Proves the hand-run migrations produce exactly the database schema.prisma describes.
const schema = readFileSync(resolve(__dirname, '../prisma/schema.prisma'), 'utf8');
const PG_TYPE: Record<string, string> = {
  String: 'text',
  Int: 'integer',
  BigInt: 'bigint',
  Boolean: 'boolean',
  DateTime: 'timestamp without time zone',
  Json: 'jsonb',
  Bytes: 'bytea',
};

describe('migrations', () => {
  const url = withDatabase(testEnv().databaseUrl, `${new URL(testEnv().databaseUrl).pathname.slice(1)}_mig`);
  let pg: Client;

  beforeAll(async () => {
    await ensureDatabase(url);
    pg = new Client({ connectionString: withDefaultUser(url) });
    await pg.connect();
  });
  afterAll(async () => {
    await pg.end();
    const admin = new Client({ connectionString: withDefaultUser(withDatabase(url, 'postgres')) });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${new URL(url).pathname.slice(1)}" WITH (FORCE)`);
    await admin.end();
  });

  it('apply on an empty database, then are a no-op', async () => {
    const first = await applyMigrations(url);
    expect(first.applied).toEqual(readMigrations().map((m) => m.name));
    const second = await applyMigrations(url);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual(first.applied);
  });

  it('are recorded the way prisma migrate records them', async () => {
    const { rows } = await pg.query('SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name');
    expect(rows.map((r) => [r.migration_name, r.checksum])).toEqual(readMigrations().map((m) => [m.name, m.checksum]));
    for (const r of rows) {
      expect(r.finished_at).toBeInstanceOf(Date);
      expect(r.applied_steps_count).toBe(1);
    }
  });

  it('produce every model, column, type, nullability, unique index and foreign key of schema.prisma', async () => {
    const dmmf = await getDMMF({ datamodel: schema });
    const { rows: cols } = await pg.query(
      `SELECT table_name, column_name, data_type, udt_name, is_nullable FROM information_schema.columns WHERE table_schema = 'public'`,
    );
    const { rows: idx } = await pg.query(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'`);
    const { rows: fks } = await pg.query(
      `SELECT conrelid::regclass::text AS tbl, conname FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace`,
    );
    const tables = new Set(cols.map((c) => c.table_name));
    for (const model of dmmf.datamodel.models) {
      const table = model.dbName ?? model.name;
      expect(tables.has(table), `table ${table}`).toBe(true);
      const colOf = (name: string) => {
        const f = model.fields.find((x) => x.name === name)!;
        return f.dbName ?? f.name;
      };
      for (const f of model.fields.filter((x) => x.kind === 'scalar')) {
        const col = cols.find((c) => c.table_name === table && c.column_name === (f.dbName ?? f.name));
        expect(col, `${table}.${f.dbName ?? f.name}`).toBeDefined();
        const expected = f.nativeType?.[0] === 'Uuid' ? 'uuid' : PG_TYPE[f.type];
        if (f.isList) expect(col.data_type, `${table}.${col.column_name}`).toBe('ARRAY');
        else expect(col.data_type, `${table}.${col.column_name}`).toBe(expected);
        expect(col.is_nullable === 'NO', `${table}.${col.column_name} required`).toBe(f.isRequired);
      }
      const tableCols = cols.filter((c) => c.table_name === table).map((c) => c.column_name);
      expect(tableCols.length, `${table} has no extra columns`).toBe(model.fields.filter((x) => x.kind === 'scalar').length);
      const uniques = [
        ...model.fields.filter((f) => f.isUnique).map((f) => [f.name]),
        ...model.uniqueIndexes.map((u) => u.fields),
      ];
      for (const u of uniques) {
        const cs = u.map(colOf);
        const def = idx.find((i) => i.tablename === table && i.indexdef.startsWith('CREATE UNIQUE INDEX') && i.indexdef.endsWith(`(${cs.join(', ')})`));
        expect(def, `unique ${table}(${cs.join(', ')})`).toBeDefined();
      }
      for (const rel of model.fields.filter((f) => f.kind === 'object' && f.relationFromFields?.length)) {
        const name = `${table}_${rel.relationFromFields!.map(colOf).join('_')}_fkey`;
        expect(fks.some((k) => k.tbl === table && k.conname === name), name).toBe(true);
      }
    }
    for (const index of dmmf.datamodel.indexes.filter((i) => i.type === 'normal')) {
      const model = dmmf.datamodel.models.find((m) => m.name === index.model)!;
      const table = model.dbName ?? model.name;
      const cs = index.fields.map((f) => model.fields.find((x) => x.name === f.name)!.dbName ?? f.name);
      expect(idx.some((i) => i.tablename === table && i.indexdef.endsWith(`(${cs.join(', ')})`)), `index ${table}(${cs})`).toBe(true);
    }
  });

  it('give a database every model of the Prisma client can use', async () => {
    const prisma = createPrismaClient(url);
    try {
      const tenant = await prisma.tenant.create({ data: { slug: 'mig', name: 'Mig' } });
      const team = await prisma.team.create({ data: { tenantId: tenant.id, slug: 'support', name: 'Support' } });
      const provider = await prisma.whatsAppProvider.create({
        data: { tenantId: tenant.id, teamId: team.id, publicBaseUrl: 'https://x', phoneNumberId: '1', accessTokenEnc: 'e', verifyToken: 'v' },
      });
      expect(provider.apiVersion).toBe('v18.0');
      expect(provider.optOutKeywords).toEqual(['STOP', 'UNSUBSCRIBE']);
      const contact = await prisma.contact.create({ data: { tenantId: tenant.id, providerId: provider.id, waId: '15550001' } });
      const a = await prisma.inboundMessage.create({ data: { tenantId: tenant.id, providerId: provider.id, contactId: contact.id, wamid: 'w1', type: 'text', payload: {} } });
      const b = await prisma.inboundMessage.create({ data: { tenantId: tenant.id, providerId: provider.id, contactId: contact.id, wamid: 'w2', type: 'text', payload: {} } });
      expect(b.arrival > a.arrival).toBe(true);
      await expect(
        prisma.inboundMessage.create({ data: { tenantId: tenant.id, providerId: provider.id, wamid: 'w1', type: 'text', payload: {} } }),
      ).rejects.toThrow();
      const out = await prisma.outboundMessage.create({
        data: { tenantId: tenant.id, providerId: provider.id, contactId: contact.id, seq: 1, type: 'text', body: { text: { body: 'hi' } } },
      });
      await prisma.statusEvent.create({
        data: { tenantId: tenant.id, providerId: provider.id, wamid: 'wo', status: 'sent', timestamp: new Date(), payload: {}, outboundId: out.id },
      });
      await prisma.session.create({ data: { tenantId: tenant.id, contactId: contact.id } });
      await prisma.flow.create({ data: { tenantId: tenant.id, teamId: team.id, name: 'f', version: '1', revision: 1, source: '', compiled: {} } });
      await prisma.apiKey.create({ data: { tenantId: tenant.id, prefix: 'gtc_', hash: 'h' } });
      await prisma.messageTemplate.create({ data: { tenantId: tenant.id, providerId: provider.id, name: 't', language: 'en', status: 'APPROVED', components: [] } });
      await prisma.webhookEvent.create({ data: { tenantId: tenant.id, providerId: provider.id, field: 'account_update', digest: 'd', payload: {} } });
      const counts = await Promise.all([prisma.session.count(), prisma.flow.count(), prisma.apiKey.count(), prisma.messageTemplate.count(), prisma.webhookEvent.count()]);
      expect(counts).toEqual([1, 1, 1, 1, 1]);
    } finally {
      await prisma.$disconnect();
    }
  });
});
