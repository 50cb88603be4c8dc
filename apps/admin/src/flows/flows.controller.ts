import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { badRequest } from '../common/api-error';
import { IDEMPOTENCY_HEADER, idempotencyKey } from '../common/idempotency';
import { ApiQueryFrom, openApiSchema, parseInput } from '../common/validation';
import { activateFlowSchema, revisionQuerySchema, startFlowByTenantSchema, startFlowSchema, uploadFlowSchema, uploadQuerySchema } from './flows.schemas';
import { FlowsService } from './flows.service';

/** Reads an upload: a JSON `{ file_name?, source, activate? }` or a raw text/yaml body with `?file_name=&activate=`. */
function readUpload(body: unknown, query: Record<string, unknown>): { source: string; fileName?: string; activate: boolean } {
  if (typeof body === 'string') {
    const q = parseInput(uploadQuerySchema, query, 'query');
    if (!body.trim()) throw badRequest('empty flow source', 'validation_failed', [{ path: 'source', message: 'must be the flow YAML' }]);
    const { source } = parseInput(uploadFlowSchema.pick({ source: true }), { source: body });
    return { source, fileName: q.file_name, activate: q.activate };
  }
  const input = parseInput(uploadFlowSchema, body);
  return { source: input.source, fileName: input.file_name, activate: input.activate };
}

/** /v1/tenants/:tenant/teams/:team/flows: upload (.ygtc YAML), validate, list, read, revisions, activate, delete, start. */
@ApiTags('flows')
@ApiBearerAuth()
@Controller('v1/tenants/:tenant/teams/:team/flows')
export class FlowsController {
  constructor(private readonly flows: FlowsService) {}

  @Post()
  @ApiConsumes('application/json', 'text/yaml')
  @ApiQueryFrom(uploadQuerySchema)
  @ApiBody({ schema: openApiSchema(uploadFlowSchema) })
  async upload(
    @Param('tenant') tenant: string,
    @Param('team') team: string,
    @Body() body: unknown,
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const input = readUpload(body, query);
    const result = await this.flows.upload(tenant, team, input.source, input.fileName, input.activate);
    void reply.status(result.created ? 201 : 200);
    return result;
  }

  @Post('validate')
  @HttpCode(200)
  @ApiConsumes('application/json', 'text/yaml')
  @ApiQueryFrom(uploadQuerySchema)
  @ApiBody({ schema: openApiSchema(uploadFlowSchema) })
  validate(@Param('tenant') tenant: string, @Param('team') team: string, @Body() body: unknown, @Query() query: Record<string, unknown>) {
    const input = readUpload(body, query);
    return this.flows.validate(tenant, team, input.source, input.fileName ?? 'flow.ygtc');
  }

  @Get()
  list(@Param('tenant') tenant: string, @Param('team') team: string) {
    return this.flows.list(tenant, team);
  }

  @Get(':name')
  @ApiQueryFrom(revisionQuerySchema)
  get(@Param('tenant') tenant: string, @Param('team') team: string, @Param('name') name: string, @Query() query: Record<string, unknown>) {
    return this.flows.get(tenant, team, name, parseInput(revisionQuerySchema, query, 'query').revision);
  }

  @Get(':name/versions')
  versions(@Param('tenant') tenant: string, @Param('team') team: string, @Param('name') name: string) {
    return this.flows.versions(tenant, team, name);
  }

  @Post(':name/activate')
  @HttpCode(200)
  @ApiBody({ schema: openApiSchema(activateFlowSchema), required: false })
  activate(@Param('tenant') tenant: string, @Param('team') team: string, @Param('name') name: string, @Body() body: unknown) {
    return this.flows.activate(tenant, team, name, parseInput(activateFlowSchema, body ?? {}).revision);
  }

  @Post(':name/deactivate')
  @HttpCode(200)
  deactivate(@Param('tenant') tenant: string, @Param('team') team: string, @Param('name') name: string) {
    return this.flows.deactivate(tenant, team, name);
  }

  @Delete(':name')
  @HttpCode(204)
  @ApiQueryFrom(revisionQuerySchema)
  async remove(@Param('tenant') tenant: string, @Param('team') team: string, @Param('name') name: string, @Query() query: Record<string, unknown>) {
    await this.flows.remove(tenant, team, name, parseInput(revisionQuerySchema, query, 'query').revision);
  }

  @Post(':name/start')
  @HttpCode(202)
  @ApiBody({ schema: openApiSchema(startFlowSchema) })
  @ApiHeader(IDEMPOTENCY_HEADER)
  start(
    @Param('tenant') tenant: string,
    @Param('team') team: string,
    @Param('name') name: string,
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
  ) {
    const input = parseInput(startFlowSchema, body);
    return this.flows.start(tenant, team, name, input.to, input.variables, idempotencyKey(key));
  }
}

/** POST /v1/tenants/:tenant/flows/start: starts a flow for a contact, naming team and flow in the body. */
@ApiTags('flows')
@ApiBearerAuth()
@Controller('v1/tenants/:tenant/flows')
export class FlowStartController {
  constructor(private readonly flows: FlowsService) {}

  @Post('start')
  @HttpCode(202)
  @ApiBody({ schema: openApiSchema(startFlowByTenantSchema) })
  @ApiHeader(IDEMPOTENCY_HEADER)
  start(@Param('tenant') tenant: string, @Body() body: unknown, @Headers('idempotency-key') key: string | undefined) {
    const input = parseInput(startFlowByTenantSchema, body);
    return this.flows.start(tenant, input.team, input.flow, input.to, input.variables, idempotencyKey(key));
  }
}
