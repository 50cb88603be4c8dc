import { Injectable } from '@nestjs/common';
import { PrismaService, TtlCache } from '@gtc/db';
import type { CompiledFlow } from '@gtc/flows';
import type { NumberLimits } from '@gtc/queue';

/** What a step needs to know about the contact's business number and its team's active flows. */
export interface TeamFlows {
  providerId: string;
  /** Send limits of the number (for slot reservation). */
  limits: NumberLimits;
  tenantId: string;
  enabled: boolean;
  optOutKeywords: string[];
  optInKeywords: string[];
  optOutConfirmation: string;
  optInConfirmation: string;
  flows: CompiledFlow[];
  /** Row id of each active flow, by name (sessions point at the revision they run). */
  flowIds: Map<string, string>;
}

/** How long a team's flows are cached: an uploaded or (de)activated flow is picked up within this time, no restart. */
const TTL_MS = 2_000;

/** Active flows per provider, read from the database and cached briefly. */
@Injectable()
export class FlowCatalog {
  private readonly cache = new TtlCache<TeamFlows | null>(TTL_MS);

  constructor(private readonly prisma: PrismaService) {}

  /** The provider's settings and its team's active flows (null if the provider is gone). */
  get(providerId: string): Promise<TeamFlows | null> {
    return this.cache.get(providerId, () => this.load(providerId));
  }

  private async load(providerId: string): Promise<TeamFlows | null> {
    const p = await this.prisma.client.whatsAppProvider.findUnique({ where: { id: providerId } });
    if (!p) return null;
    const flows = await this.prisma.client.flow.findMany({
      where: { teamId: p.teamId, active: true },
      select: { id: true, name: true, compiled: true },
      orderBy: { name: 'asc' },
    });
    return {
      providerId: p.id,
      limits: { phoneNumberId: p.phoneNumberId, tier: p.tier, throughputMps: p.throughputMps },
      tenantId: p.tenantId,
      enabled: p.enabled,
      optOutKeywords: p.optOutKeywords,
      optInKeywords: p.optInKeywords,
      optOutConfirmation: p.optOutConfirmation,
      optInConfirmation: p.optInConfirmation,
      flows: flows.map((f) => f.compiled as unknown as CompiledFlow),
      flowIds: new Map(flows.map((f) => [f.name, f.id])),
    };
  }
}
