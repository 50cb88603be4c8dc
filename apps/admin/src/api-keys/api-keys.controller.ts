import { Body, Controller, Delete, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../auth/auth.decorators';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom, openApiSchema, parseInput } from '../common/validation';
import { apiPage, ApiDoc } from '../docs/api-doc';
import { ApiKeyModel, ApiKeyWithSecretModel, createKeySchema } from './api-keys.schemas';
import { ApiKeysService } from './api-keys.service';

/** /v1/tenants/:tenant/api-keys (admin key only): tenant-scoped keys, shown once, stored hashed. */
@ApiTags('api-keys')
@AdminOnly()
@Controller('v1/tenants/:tenant/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @ApiDoc({ summary: 'Create an API key', description: 'The answer is the only time the key is shown: store it now. Only its SHA-256 hash is kept.', returns: ApiKeyWithSecretModel, status: 201 })
  @ApiBody({ schema: openApiSchema(createKeySchema), required: false })
  create(@Param('tenant') tenant: string, @Body() body: unknown) {
    return this.keys.create(tenant, parseInput(createKeySchema, body ?? {}).name);
  }

  @Get()
  @ApiDoc({ summary: 'List API keys', description: 'Newest first, revoked ones included; never the keys themselves.', returns: apiPage(ApiKeyModel) })
  @ApiQueryFrom(pageQuerySchema)
  list(@Param('tenant') tenant: string, @Query() query: Record<string, unknown>) {
    return this.keys.list(tenant, pageRequest(query));
  }

  @Delete(':id')
  @ApiDoc({ summary: 'Revoke an API key', description: 'It stops working at once; revoking twice is harmless.', returns: ApiKeyModel })
  revoke(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.keys.revoke(tenant, id);
  }
}
