import { Body, Controller, Delete, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { AdminOnly } from '../auth/auth.decorators';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom, openApiSchema, parseInput, pgText } from '../common/validation';
import { ApiKeysService } from './api-keys.service';

const createKeySchema = z.strictObject({ name: pgText().trim().min(1).max(200).optional() });

/** /v1/tenants/:tenant/api-keys (admin key only): tenant-scoped keys, shown once, stored hashed. */
@ApiTags('api-keys')
@ApiBearerAuth()
@AdminOnly()
@Controller('v1/tenants/:tenant/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @ApiBody({ schema: openApiSchema(createKeySchema), required: false })
  create(@Param('tenant') tenant: string, @Body() body: unknown) {
    return this.keys.create(tenant, parseInput(createKeySchema, body ?? {}).name);
  }

  @Get()
  @ApiQueryFrom(pageQuerySchema)
  list(@Param('tenant') tenant: string, @Query() query: Record<string, unknown>) {
    return this.keys.list(tenant, pageRequest(query));
  }

  @Delete(':id')
  revoke(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.keys.revoke(tenant, id);
  }
}
