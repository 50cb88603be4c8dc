import { Injectable } from '@nestjs/common';
import { PoolClient, TtlCache } from '@gtc/db';
import type { CompiledFlow } from '@gtc/flows';
import type { NumberLimits } from '@gtc/queue';
import { FlowRunnerStore } from './flow-runner.store';

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

/**
 * Active flows per provider, read from the database and cached briefly. Read on the caller's connection: a step
 * asks from inside its transaction, and must never wait for a second connection from a pool its siblings hold.
 */
@Injectable()
export class FlowCatalogService {
  constructor(private readonly store: FlowRunnerStore) {}

  private readonly cache = new TtlCache<TeamFlows | null>(TTL_MS);

  /** The provider's settings and its team's active flows (null if the provider is gone). */
  get(providerId: string, db: PoolClient): Promise<TeamFlows | null> {
    return this.cache.get(providerId, () => this.load(providerId, db));
  }

  private async load(providerId: string, db: PoolClient): Promise<TeamFlows | null> {
    const p = await this.store.catalog(db, providerId);
    if (!p) return null;
    return {
      providerId: p.id,
      limits: { phoneNumberId: p.phone_number_id, tier: p.tier, throughputMps: p.throughput_mps },
      tenantId: p.tenant_id,
      enabled: p.enabled,
      optOutKeywords: p.opt_out_keywords,
      optInKeywords: p.opt_in_keywords,
      optOutConfirmation: p.opt_out_confirmation,
      optInConfirmation: p.opt_in_confirmation,
      flows: p.flows.map((f) => f.compiled),
      flowIds: new Map(p.flows.map((f) => [f.name, f.id])),
    };
  }
}
