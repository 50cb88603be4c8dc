import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom, openApiSchema, parseInput } from '../common/validation';
import { apiPage, ApiDoc } from '../docs/api-doc';
import { createTeamSchema, TeamModel, updateTeamSchema } from './teams.schemas';
import { TeamsService } from './teams.service';

/** /v1/tenants/:tenant/teams: a tenant's teams, by slug. */
@ApiTags('teams')
@Controller('v1/tenants/:tenant/teams')
export class TeamsController {
  constructor(private readonly teams: TeamsService) {}

  @Post()
  @ApiDoc({ summary: 'Create a team', returns: TeamModel, status: 201, errors: [409] })
  @ApiBody({ schema: openApiSchema(createTeamSchema) })
  create(@Param('tenant') tenant: string, @Body() body: unknown) {
    return this.teams.create(tenant, parseInput(createTeamSchema, body));
  }

  @Get()
  @ApiDoc({ summary: 'List teams', description: 'Oldest first.', returns: apiPage(TeamModel) })
  @ApiQueryFrom(pageQuerySchema)
  list(@Param('tenant') tenant: string, @Query() query: Record<string, unknown>) {
    return this.teams.list(tenant, pageRequest(query));
  }

  @Get(':team')
  @ApiDoc({ summary: 'Get a team', returns: TeamModel })
  get(@Param('tenant') tenant: string, @Param('team') team: string) {
    return this.teams.get(tenant, team);
  }

  @Patch(':team')
  @ApiDoc({ summary: 'Rename a team', description: 'Changes its name and/or slug (the webhook URL follows the slug).', returns: TeamModel, errors: [409] })
  @ApiBody({ schema: openApiSchema(updateTeamSchema) })
  update(@Param('tenant') tenant: string, @Param('team') team: string, @Body() body: unknown) {
    return this.teams.update(tenant, team, parseInput(updateTeamSchema, body));
  }

  @Delete(':team')
  @ApiDoc({ summary: 'Delete a team', description: 'With its number, flows, contacts and messages.', status: 204 })
  @HttpCode(204)
  async remove(@Param('tenant') tenant: string, @Param('team') team: string): Promise<void> {
    await this.teams.remove(tenant, team);
  }
}
