import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Res } from '@nestjs/common';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { openApiSchema, parseInput } from '../common/validation';
import { ApiDoc } from '../docs/api-doc';
import {
  patchProviderSchema,
  ProviderModel,
  ProviderUpsertModel,
  providerUpsertSchema,
  putProviderSchema,
} from './provider.schemas';
import { ProviderService } from './provider.service';

/** What PUT and PATCH say of the Graph API check and the secrets. */
const WRITE_NOTES =
  'Only options whose value differs are written (secrets compared after decryption), so the same request twice writes nothing ' +
  '(`changed: false`, `updated_at` kept). Secrets (`access_token`, `app_secret`) are write-only: answers show `***`; left out, the ' +
  'stored value is kept; `app_secret: null` clears it.\n\n' +
  'A new `phone_number_id` or `access_token` is checked with the Graph API (`GET /{version}/{phone_number_id}` with the token): ' +
  'a refused token or a number the token cannot see answers 400 `phone_number_not_owned`; the Graph API failing answers 502. ' +
  'A provider paused for its credentials (`paused_class: auth`) resumes when given a new access token.';

/** /v1/tenants/:tenant/teams/:team/provider: the team's WhatsApp Cloud API connection (answers.json options). */
@ApiTags('provider')
@Controller('v1/tenants/:tenant/teams/:team/provider')
export class ProviderController {
  constructor(private readonly providers: ProviderService) {}

  @Put()
  @ApiDoc({
    summary: "Create or replace the team's WhatsApp number",
    description:
      'Creates the provider (201) or updates it (200). Options left out take their defaults (`api_version` v18.0, `tier` "1", ' +
      '`throughput_mps` 80, `ordering` delivered, `ordering_timeout_ms` 30000, opt-out `STOP`/`UNSUBSCRIBE`, opt-in `START`, ' +
      'the default confirmations); `business_account_id` left out is cleared. Creating needs `access_token`. ' +
      'A `phone_number_id` connected to another team answers 409.\n\n' +
      WRITE_NOTES,
    returns: ProviderUpsertModel,
    status: 201,
    alsoStatus: [{ status: 200, description: 'Updated (or already as given: `changed: false`).' }],
    errors: [409, 502, 503],
  })
  @ApiBody({ schema: openApiSchema(putProviderSchema) })
  async put(
    @Param('tenant') tenant: string,
    @Param('team') team: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.providers.upsert(tenant, team, parseInput(putProviderSchema, body), 'put');
    void reply.status(result.created ? 201 : 200);
    return { ...result.provider, changed: result.changed } satisfies z.input<typeof providerUpsertSchema>;
  }

  @Get()
  @ApiDoc({
    summary: "Get the team's WhatsApp number",
    description: 'Secrets redacted; with the webhook URL to give Meta and the pause state.',
    returns: ProviderModel,
  })
  get(@Param('tenant') tenant: string, @Param('team') team: string) {
    return this.providers.get(tenant, team);
  }

  @Patch()
  @ApiDoc({
    summary: "Change some options of the team's WhatsApp number",
    description:
      'Any subset of the options; the others keep their values. 404 when the team has no provider yet (create it with PUT).\n\n' +
      WRITE_NOTES,
    returns: ProviderUpsertModel,
    errors: [409, 502, 503],
  })
  @ApiBody({ schema: openApiSchema(patchProviderSchema) })
  async patch(@Param('tenant') tenant: string, @Param('team') team: string, @Body() body: unknown) {
    const result = await this.providers.upsert(tenant, team, parseInput(patchProviderSchema, body), 'patch');
    return { ...result.provider, changed: result.changed } satisfies z.input<typeof providerUpsertSchema>;
  }

  @Post('resume')
  @ApiDoc({
    summary: 'Resume a paused number',
    description:
      'Clears the pause (`paused_at`, reason, class, code): the sender sends again and the messages held queued go out. ' +
      'A number that was paused gets a `provider.resumed` event. Resuming a number that is not paused changes nothing.',
    returns: ProviderModel,
  })
  @HttpCode(200)
  resume(@Param('tenant') tenant: string, @Param('team') team: string) {
    return this.providers.resume(tenant, team);
  }

  @Delete()
  @ApiDoc({
    summary: "Delete the team's WhatsApp number",
    description: "With the number's contacts, messages and templates.",
    status: 204,
  })
  @HttpCode(204)
  async remove(@Param('tenant') tenant: string, @Param('team') team: string): Promise<void> {
    await this.providers.remove(tenant, team);
  }
}
