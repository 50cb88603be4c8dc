import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom, openApiSchema, parseInput } from '../common/validation';
import { createTeamSchema, updateTeamSchema } from './teams.schemas';
import { TeamsService } from './teams.service';

/** /v1/tenants/:tenant/teams: a tenant's teams, by slug. */
@ApiTags('teams')
@ApiBearerAuth()
@Controller('v1/tenants/:tenant/teams')
export class TeamsController {
  constructor(private readonly teams: TeamsService) {}

  @Post()
  @ApiBody({ schema: openApiSchema(createTeamSchema) })
  create(@Param('tenant') tenant: string, @Body() body: unknown) {
    return this.teams.create(tenant, parseInput(createTeamSchema, body));
  }

  @Get()
  @ApiQueryFrom(pageQuerySchema)
  list(@Param('tenant') tenant: string, @Query() query: Record<string, unknown>) {
    return this.teams.list(tenant, pageRequest(query));
  }

  @Get(':team')
  get(@Param('tenant') tenant: string, @Param('team') team: string) {
    return this.teams.get(tenant, team);
  }

  @Patch(':team')
  @ApiBody({ schema: openApiSchema(updateTeamSchema) })
  update(@Param('tenant') tenant: string, @Param('team') team: string, @Body() body: unknown) {
    return this.teams.update(tenant, team, parseInput(updateTeamSchema, body));
  }

  @Delete(':team')
  @HttpCode(204)
  async remove(@Param('tenant') tenant: string, @Param('team') team: string): Promise<void> {
    await this.teams.remove(tenant, team);
  }
}
