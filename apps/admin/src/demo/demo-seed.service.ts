import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { PrismaService } from '@gtc/db';
import { FlowsService } from '../flows/flows.service';
import { ProviderService } from '../providers/provider.service';
import { TeamsService } from '../teams/teams.service';
import { TenantsService } from '../tenants/tenants.service';

/** The demo tenant, team and number (also in the README's walkthrough). */
export const DEMO = {
  tenant: 'demo',
  team: 'support',
  phoneNumberId: '100000000000001',
  accessToken: 'demo-access-token',
  appSecret: 'demo-app-secret',
  verifyToken: 'demo-verify-token',
  businessAccountId: '102290129340398',
} as const;

const EXAMPLES = resolve(__dirname, '../../../../examples/flows');

/**
 * With DEMO_SEED=true (docker compose, pnpm start): creates or updates the demo tenant/team, its provider and the
 * examples/ bundle, and registers the number in graph-sim with ingress as its webhook. Idempotent; never fatal.
 */
@Injectable()
export class DemoSeedService implements OnApplicationBootstrap {
  private readonly log = new Logger(DemoSeedService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly tenants: TenantsService,
    private readonly teams: TeamsService,
    private readonly providers: ProviderService,
    private readonly flows: FlowsService,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.env.DEMO_SEED) return;
    void this.seed().catch((err: Error) => this.log.error(`demo seed failed: ${err.message}`));
  }

  /**
   * Seeds tenant, team and flows, registers the number in graph-sim (retrying while graph-sim starts), then creates
   * the provider: the admin API checks with the Graph API that the token owns the number, so graph-sim must know it first.
   */
  async seed(): Promise<void> {
    if (!(await this.prisma.client.tenant.findUnique({ where: { slug: DEMO.tenant } }))) {
      await this.tenants.create({ slug: DEMO.tenant, name: 'Demo' });
    }
    const tenant = await this.prisma.client.tenant.findUniqueOrThrow({ where: { slug: DEMO.tenant } });
    if (!(await this.prisma.client.team.findFirst({ where: { tenantId: tenant.id, slug: DEMO.team } }))) {
      await this.teams.create(DEMO.tenant, { slug: DEMO.team, name: 'Support' });
    }
    for (const file of readdirSync(EXAMPLES).filter((f) => f.endsWith('.ygtc')).sort()) {
      await this.flows.upload(DEMO.tenant, DEMO.team, readFileSync(resolve(EXAMPLES, file), 'utf8'), file, true);
    }
    const publicBaseUrl = this.config.env.PUBLIC_BASE_URL.replace(/\/+$/, '');
    const webhookUrl = `${publicBaseUrl}/webhook/whatsapp/${DEMO.tenant}/${DEMO.team}`;
    const registered = await this.registerInGraphSim(webhookUrl);
    await this.providers.upsert(
      DEMO.tenant,
      DEMO.team,
      {
        enabled: true,
        public_base_url: publicBaseUrl,
        phone_number_id: DEMO.phoneNumberId,
        access_token: DEMO.accessToken,
        verify_token: DEMO.verifyToken,
        app_secret: DEMO.appSecret,
        business_account_id: DEMO.businessAccountId,
        tier: 'unlimited',
      } as Parameters<ProviderService['upsert']>[2],
      'put',
    );
    if (registered) this.log.log(`demo ready: tenant "${DEMO.tenant}", team "${DEMO.team}", number ${DEMO.phoneNumberId} → ${webhookUrl}`);
  }

  /** Registers the demo number in graph-sim with ingress as its webhook; false if graph-sim stays unreachable. */
  private async registerInGraphSim(webhookUrl: string): Promise<boolean> {
    for (let attempt = 1; attempt <= 60; attempt++) {
      try {
        const res = await fetch(`${this.config.env.GRAPH_API_BASE_URL}/sim/phone-numbers`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            phone_number_id: DEMO.phoneNumberId,
            access_token: DEMO.accessToken,
            app_secret: DEMO.appSecret,
            webhook_url: webhookUrl,
            waba_id: DEMO.businessAccountId,
          }),
        });
        if (res.ok) return true;
      } catch {
        /* graph-sim not up yet */
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
    this.log.warn('graph-sim could not be reached to register the demo number');
    return false;
  }
}
