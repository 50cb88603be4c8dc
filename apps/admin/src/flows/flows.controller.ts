import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { badRequest } from '../common/api-error';
import { IDEMPOTENCY_HEADER, idempotencyKey } from '../common/idempotency';
import { ApiQueryFrom, openApiSchema, parseInput } from '../common/validation';
import { apiPage, ApiDoc } from '../docs/api-doc';
import {
  activateFlowSchema,
  FlowDetailModel,
  FlowModel,
  FlowStartModel,
  FlowSummaryModel,
  FlowUploadModel,
  FlowValidationModel,
  revisionQuerySchema,
  startFlowByTenantSchema,
  startFlowSchema,
  uploadFlowSchema,
  uploadQuerySchema,
} from './flows.schemas';
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

/** How an upload may be sent and how it is checked, for the document. */
const UPLOAD_BODY =
  'The body is JSON `{ file_name?, source, activate? }`, or the YAML itself with `Content-Type: text/yaml` (also `application/yaml`, ' +
  '`text/plain`) and `file_name`, `activate` in the query. The flow is checked like the flow-runner loads it, and its template replies ' +
  "against the team's synced templates: any error answers 400 `invalid_flow` with one `details` entry per error " +
  '(`file`, `line`, `column`, `path`, `message`). Findings that do not stop it come back as `warnings`.';

/** What a flow start does, for the document. */
const START_NOTES =
  'Upserts the contact and queues the start for the flow-runner: an inbound row (`type` flow_start, `wamid` `api.<Idempotency-Key>`) ' +
  'that the flow-runner takes in order with the contact\'s messages. The same Idempotency-Key starts it once: a retry answers the first ' +
  'start (`created: false`). 404 when the team has no WhatsApp number or no such flow; 409 `flow_inactive` when no revision of the flow ' +
  'is active, 409 `contact_opted_out` when the contact opted out.';

/** /v1/tenants/:tenant/teams/:team/flows: upload (.ygtc YAML), validate, list, read, revisions, activate, delete, start. */
@ApiTags('flows')
@Controller('v1/tenants/:tenant/teams/:team/flows')
export class FlowsController {
  constructor(private readonly flows: FlowsService) {}

  @Post()
  @ApiDoc({
    summary: 'Upload a flow',
    description:
      'Stores a new revision of the flow its `name:` names (revision = previous + 1) and, unless `activate` is false, makes it the ' +
      'only active revision of that name. Uploading the source of the latest revision again stores nothing and answers 200 ' +
      '(`created: false`; it is activated if asked and not active).\n\n' +
      UPLOAD_BODY,
    returns: FlowUploadModel,
    status: 201,
    alsoStatus: [{ status: 200, description: 'The source is that of the latest revision: nothing new was stored (`created: false`).' }],
    errors: [413],
  })
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
  @ApiDoc({
    summary: 'Validate a flow without storing it',
    description: 'Checks the flow as an upload would and stores nothing.\n\n' + UPLOAD_BODY,
    returns: FlowValidationModel,
    errors: [413],
  })
  @HttpCode(200)
  @ApiConsumes('application/json', 'text/yaml')
  @ApiQueryFrom(uploadQuerySchema)
  @ApiBody({ schema: openApiSchema(uploadFlowSchema) })
  validate(@Param('tenant') tenant: string, @Param('team') team: string, @Body() body: unknown, @Query() query: Record<string, unknown>) {
    const input = readUpload(body, query);
    return this.flows.validate(tenant, team, input.source, input.fileName ?? 'flow.ygtc');
  }

  @Get()
  @ApiDoc({
    summary: "List the team's flows",
    description: 'One entry per flow name (its latest revision), by name. All flows come in one page: `next_cursor` is always null.',
    returns: apiPage(FlowSummaryModel),
  })
  list(@Param('tenant') tenant: string, @Param('team') team: string) {
    return this.flows.list(tenant, team);
  }

  @Get(':name')
  @ApiDoc({ summary: 'Get a flow revision', description: 'The latest revision unless `revision` is given; with its source and compiled form.', returns: FlowDetailModel })
  @ApiQueryFrom(revisionQuerySchema)
  get(@Param('tenant') tenant: string, @Param('team') team: string, @Param('name') name: string, @Query() query: Record<string, unknown>) {
    return this.flows.get(tenant, team, name, parseInput(revisionQuerySchema, query, 'query').revision);
  }

  @Get(':name/versions')
  @ApiDoc({ summary: "List a flow's revisions", description: 'Newest first, all in one page (`next_cursor` is always null).', returns: apiPage(FlowModel) })
  versions(@Param('tenant') tenant: string, @Param('team') team: string, @Param('name') name: string) {
    return this.flows.versions(tenant, team, name);
  }

  @Post(':name/activate')
  @ApiDoc({
    summary: 'Activate a flow revision',
    description: 'Makes the revision (the latest when `revision` is left out) the only active one of the flow; it runs from now on.',
    returns: FlowModel,
  })
  @HttpCode(200)
  @ApiBody({ schema: openApiSchema(activateFlowSchema), required: false })
  activate(@Param('tenant') tenant: string, @Param('team') team: string, @Param('name') name: string, @Body() body: unknown) {
    return this.flows.activate(tenant, team, name, parseInput(activateFlowSchema, body ?? {}).revision);
  }

  @Post(':name/deactivate')
  @ApiDoc({
    summary: 'Deactivate a flow',
    description: 'No revision of the flow is active afterwards: it no longer runs, and starting it answers 409. Answers the latest revision.',
    returns: FlowModel,
  })
  @HttpCode(200)
  deactivate(@Param('tenant') tenant: string, @Param('team') team: string, @Param('name') name: string) {
    return this.flows.deactivate(tenant, team, name);
  }

  @Delete(':name')
  @ApiDoc({
    summary: 'Delete a flow or one of its revisions',
    description: 'Every revision of the flow, or only `revision`. Deleting the active revision leaves the flow with none active.',
    status: 204,
  })
  @HttpCode(204)
  @ApiQueryFrom(revisionQuerySchema)
  async remove(@Param('tenant') tenant: string, @Param('team') team: string, @Param('name') name: string, @Query() query: Record<string, unknown>) {
    await this.flows.remove(tenant, team, name, parseInput(revisionQuerySchema, query, 'query').revision);
  }

  @Post(':name/start')
  @ApiDoc({ summary: 'Start a flow for a contact', description: START_NOTES, returns: FlowStartModel, status: 202, errors: [409] })
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
@Controller('v1/tenants/:tenant/flows')
export class FlowStartController {
  constructor(private readonly flows: FlowsService) {}

  @Post('start')
  @ApiDoc({
    summary: 'Start a flow for a contact, naming team and flow in the body',
    description: 'As `POST …/teams/{team}/flows/{name}/start`. ' + START_NOTES,
    returns: FlowStartModel,
    status: 202,
    errors: [409],
  })
  @HttpCode(202)
  @ApiBody({ schema: openApiSchema(startFlowByTenantSchema) })
  @ApiHeader(IDEMPOTENCY_HEADER)
  start(@Param('tenant') tenant: string, @Body() body: unknown, @Headers('idempotency-key') key: string | undefined) {
    const input = parseInput(startFlowByTenantSchema, body);
    return this.flows.start(tenant, input.team, input.flow, input.to, input.variables, idempotencyKey(key));
  }
}
