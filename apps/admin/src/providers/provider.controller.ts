import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { openApiSchema, parseInput } from '../common/validation';
import { patchProviderSchema, putProviderSchema } from './provider.schemas';
import { ProviderService } from './provider.service';

/** /v1/tenants/:tenant/teams/:team/provider: the team's WhatsApp Cloud API connection (answers.json options). */
@ApiTags('provider')
@ApiBearerAuth()
@Controller('v1/tenants/:tenant/teams/:team/provider')
export class ProviderController {
  constructor(private readonly providers: ProviderService) {}

  @Put()
  @ApiBody({ schema: openApiSchema(putProviderSchema) })
  async put(
    @Param('tenant') tenant: string,
    @Param('team') team: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.providers.upsert(tenant, team, parseInput(putProviderSchema, body), 'put');
    void reply.status(result.created ? 201 : 200);
    return { ...result.provider, changed: result.changed };
  }

  @Get()
  get(@Param('tenant') tenant: string, @Param('team') team: string) {
    return this.providers.get(tenant, team);
  }

  @Patch()
  @ApiBody({ schema: openApiSchema(patchProviderSchema) })
  async patch(@Param('tenant') tenant: string, @Param('team') team: string, @Body() body: unknown) {
    const result = await this.providers.upsert(tenant, team, parseInput(patchProviderSchema, body), 'patch');
    return { ...result.provider, changed: result.changed };
  }

  @Post('resume')
  @HttpCode(200)
  resume(@Param('tenant') tenant: string, @Param('team') team: string) {
    return this.providers.resume(tenant, team);
  }

  @Delete()
  @HttpCode(204)
  async remove(@Param('tenant') tenant: string, @Param('team') team: string): Promise<void> {
    await this.providers.remove(tenant, team);
  }
}
