import { Controller, Get, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiDoc } from '../docs/api-doc';
import { StatsModel } from './stats.schemas';
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
