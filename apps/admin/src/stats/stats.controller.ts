import { Controller, Get, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../docs/api-doc';
import { ProviderUsageModel, StatsModel, USAGE_MINUTES } from './stats.schemas';
import { StatsService } from './stats.service';

/** GET /v1/tenants/:tenant/stats. */
@ApiTags('stats')
@Controller('v1/tenants/:tenant/stats')
export class StatsController {
  constructor(private readonly stats: StatsService) {}

  @Get()
  @ApiDoc({
    summary: "Get the tenant's statistics",
    description:
      'Message counts by state, contacts, paused numbers and tier usage of the tenant; queue depths of the shared queues (all tenants), ' +
      'null when Redis is down.',
    returns: StatsModel,
  })
  get(@Param('tenant') tenant: string) {
    return this.stats.forTenant(tenant);
  }
}

/** GET /v1/tenants/:tenant/teams/:team/provider/usage. */
@ApiTags('provider')
@Controller('v1/tenants/:tenant/teams/:team/provider/usage')
export class ProviderUsageController {
  constructor(private readonly stats: StatsService) {}

  @Get()
  @ApiDoc({
    summary: "Get a number's usage now",
    description: `Pause state and reason, tier use over the moving window against its limit, messages queued and being sent, failures of the last 24 hours, and messages sent and failed in each of the last ${USAGE_MINUTES} minutes (to set against \`throughput_mps\`). 404 when the team has no number.`,
    returns: ProviderUsageModel,
  })
  get(@Param('tenant') tenant: string, @Param('team') team: string) {
    return this.stats.forProvider(tenant, team);
  }
}
