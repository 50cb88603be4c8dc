import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom } from '../common/validation';
import { apiPage, ApiDoc } from '../docs/api-doc';
import { TemplateModel, TemplateSyncModel } from './templates.schemas';
import { TemplatesService } from './templates.service';

/** /v1/tenants/:tenant/teams/:team/templates: the team's message templates, synced from Meta. */
@ApiTags('templates')
@Controller('v1/tenants/:tenant/teams/:team/templates')
export class TemplatesController {
  constructor(private readonly templates: TemplatesService) {}

  @Post('sync')
  @ApiDoc({
    summary: "Sync the team's templates from Meta",
    description:
      "Replaces the team's templates with the list the Graph API gives for the provider's `business_account_id` " +
      '(409 `business_account_id_missing` without one; 404 when the team has no WhatsApp number). Flow uploads check template replies ' +
      'against them. Meta refusing or failing the request answers 502 and keeps the templates as they were.',
    returns: TemplateSyncModel,
    errors: [409, 502],
  })
  @HttpCode(200)
  sync(@Param('tenant') tenant: string, @Param('team') team: string) {
    return this.templates.sync(tenant, team);
  }

  @Get()
  @ApiDoc({
    summary: "List the team's templates",
    description: 'As last synced, by name then language. 404 when the team has no WhatsApp number.',
    returns: apiPage(TemplateModel),
  })
  @ApiQueryFrom(pageQuerySchema)
  list(@Param('tenant') tenant: string, @Param('team') team: string, @Query() query: Record<string, unknown>) {
    return this.templates.list(tenant, team, pageRequest(query));
  }
}
