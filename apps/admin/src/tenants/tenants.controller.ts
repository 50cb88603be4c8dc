import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../auth/auth.decorators';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom, openApiSchema, parseInput } from '../common/validation';
import { apiPage, ApiDoc } from '../docs/api-doc';
import { createTenantSchema, TenantModel, updateTenantSchema } from './tenants.schemas';
import { TenantsService } from './tenants.service';

/** /v1/tenants: creating and listing tenants is admin-only; a tenant key may read and rename its own tenant. */
@ApiTags('tenants')
@Controller('v1/tenants')
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  @Post()
  @ApiDoc({ summary: 'Create a tenant', returns: TenantModel, status: 201, errors: [409] })
  @AdminOnly()
  @ApiBody({ schema: openApiSchema(createTenantSchema) })
  create(@Body() body: unknown) {
    return this.tenants.create(parseInput(createTenantSchema, body));
  }

  @Get()
  @ApiDoc({ summary: 'List tenants', description: 'Newest first.', returns: apiPage(TenantModel) })
  @AdminOnly()
  @ApiQueryFrom(pageQuerySchema)
  list(@Query() query: Record<string, unknown>) {
    return this.tenants.list(pageRequest(query));
  }

  @Get(':tenant')
  @ApiDoc({ summary: 'Get a tenant', returns: TenantModel })
  get(@Param('tenant') tenant: string) {
    return this.tenants.get(tenant);
  }

  @Patch(':tenant')
  @ApiDoc({ summary: 'Rename a tenant', description: 'Changes its name and/or slug; writes nothing when nothing changes.', returns: TenantModel, errors: [409] })
  @ApiBody({ schema: openApiSchema(updateTenantSchema) })
  update(@Param('tenant') tenant: string, @Body() body: unknown) {
    return this.tenants.update(tenant, parseInput(updateTenantSchema, body));
  }

  @Delete(':tenant')
  @ApiDoc({ summary: 'Delete a tenant', description: 'With everything it owns: teams, numbers, flows, contacts, messages, keys.', status: 204 })
  @AdminOnly()
  @HttpCode(204)
  async remove(@Param('tenant') tenant: string): Promise<void> {
    await this.tenants.remove(tenant);
  }
}
