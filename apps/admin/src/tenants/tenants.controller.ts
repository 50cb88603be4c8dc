import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../auth/auth.decorators';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom, openApiSchema, parseInput } from '../common/validation';
import { createTenantSchema, updateTenantSchema } from './tenants.schemas';
import { TenantsService } from './tenants.service';

/** /v1/tenants: creating and listing tenants is admin-only; a tenant key may read and rename its own tenant. */
@ApiTags('tenants')
@ApiBearerAuth()
@Controller('v1/tenants')
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  @Post()
  @AdminOnly()
  @ApiBody({ schema: openApiSchema(createTenantSchema) })
  create(@Body() body: unknown) {
    return this.tenants.create(parseInput(createTenantSchema, body));
  }

  @Get()
  @AdminOnly()
  @ApiQueryFrom(pageQuerySchema)
  list(@Query() query: Record<string, unknown>) {
    return this.tenants.list(pageRequest(query));
  }

  @Get(':tenant')
  get(@Param('tenant') tenant: string) {
    return this.tenants.get(tenant);
  }

  @Patch(':tenant')
  @ApiBody({ schema: openApiSchema(updateTenantSchema) })
  update(@Param('tenant') tenant: string, @Body() body: unknown) {
    return this.tenants.update(tenant, parseInput(updateTenantSchema, body));
  }

  @Delete(':tenant')
  @AdminOnly()
  @HttpCode(204)
  async remove(@Param('tenant') tenant: string): Promise<void> {
    await this.tenants.remove(tenant);
  }
}
