import { randomBytes, randomUUID } from 'node:crypto';
import { loadConfig } from '@gtc/config';
import { PrismaClient, SecretBox } from '@gtc/db';

/** A tenant, team and WhatsApp provider written straight to the database for a test. */
export interface TestProvider {
  tenantId: string;
  teamId: string;
  providerId: string;
  tenantSlug: string;
  teamSlug: string;
  phoneNumberId: string;
  accessToken: string;
  appSecret: string;
  verifyToken: string;
}

/**
 * Creates a uniquely named tenant/team/provider. Secrets are encrypted with the development SECRETS_KEY,
 * which services started without SECRETS_KEY use too.
 */
export async function createTestProvider(
  prisma: PrismaClient,
  overrides: { appSecret?: string | null; enabled?: boolean; ordering?: string; throughputMps?: number; tier?: string; orderingTimeoutMs?: number } = {},
): Promise<TestProvider> {
  const box = new SecretBox(loadConfig({}).secretsKey);
  const id = randomBytes(4).toString('hex');
  const tenantSlug = `t-${id}`;
  const teamSlug = 'support';
  const phoneNumberId = String(100000000000000 + Math.floor(Math.random() * 899999999999999));
  const accessToken = `EAA${randomBytes(12).toString('hex')}`;
  const appSecret = overrides.appSecret === undefined ? randomBytes(16).toString('hex') : overrides.appSecret;
  const verifyToken = randomUUID();
  const tenant = await prisma.tenant.create({ data: { slug: tenantSlug, name: `Tenant ${id}` } });
  const team = await prisma.team.create({ data: { tenantId: tenant.id, slug: teamSlug, name: 'Support' } });
  const provider = await prisma.whatsAppProvider.create({
    data: {
      tenantId: tenant.id,
      teamId: team.id,
      enabled: overrides.enabled ?? true,
      publicBaseUrl: 'http://127.0.0.1',
      phoneNumberId,
      accessTokenEnc: box.encrypt(accessToken),
      appSecretEnc: appSecret ? box.encrypt(appSecret) : null,
      verifyToken,
      ordering: overrides.ordering,
      orderingTimeoutMs: overrides.orderingTimeoutMs,
      throughputMps: overrides.throughputMps,
      tier: overrides.tier,
    },
  });
  return {
    tenantId: tenant.id,
    teamId: team.id,
    providerId: provider.id,
    tenantSlug,
    teamSlug,
    phoneNumberId,
    accessToken,
    appSecret: appSecret ?? '',
    verifyToken,
  };
}
