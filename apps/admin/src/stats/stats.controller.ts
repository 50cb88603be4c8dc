import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { StatsService } from './stats.service';

/** GET /v1/tenants/:tenant/stats. */
@ApiTags('stats')
@ApiBearerAuth()
@Controller('v1/tenants/:tenant/stats')
export class StatsController {
  constructor(private readonly stats: StatsService) {}

  @Get()
  get(@Param('tenant') tenant: string) {
    return this.stats.forTenant(tenant);
  }
}
