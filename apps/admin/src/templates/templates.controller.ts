import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom } from '../common/validation';
import { TemplatesService } from './templates.service';

/** /v1/tenants/:tenant/teams/:team/templates: the team's approved message templates. */
@ApiTags('templates')
@ApiBearerAuth()
@Controller('v1/tenants/:tenant/teams/:team/templates')
export class TemplatesController {
  constructor(private readonly templates: TemplatesService) {}

  @Post('sync')
  @HttpCode(200)
  sync(@Param('tenant') tenant: string, @Param('team') team: string) {
    return this.templates.sync(tenant, team);
  }

  @Get()
  @ApiQueryFrom(pageQuerySchema)
  list(@Param('tenant') tenant: string, @Param('team') team: string, @Query() query: Record<string, unknown>) {
    return this.templates.list(tenant, team, pageRequest(query));
  }
}
