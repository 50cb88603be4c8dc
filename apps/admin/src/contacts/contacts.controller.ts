import { Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom, parseInput } from '../common/validation';
import { ContactsService, contactQuerySchema } from './contacts.service';

/** /v1/tenants/:tenant/contacts: search, opt-out state, 24-hour window, session; release a handoff. */
@ApiTags('contacts')
@ApiBearerAuth()
@Controller('v1/tenants/:tenant/contacts')
export class ContactsController {
  constructor(private readonly contacts: ContactsService) {}

  @Get()
  @ApiQueryFrom(contactQuerySchema, pageQuerySchema)
  list(@Param('tenant') tenant: string, @Query() query: Record<string, unknown>) {
    return this.contacts.list(tenant, parseInput(contactQuerySchema, query, 'query'), pageRequest(query));
  }

  @Get(':id')
  get(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.contacts.get(tenant, id);
  }

  @Post(':id/release')
  @HttpCode(200)
  release(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.contacts.release(tenant, id);
  }

  @Post(':id/opt-out')
  @HttpCode(200)
  optOut(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.contacts.setOptOut(tenant, id, true);
  }

  @Post(':id/opt-in')
  @HttpCode(200)
  optIn(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.contacts.setOptOut(tenant, id, false);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('tenant') tenant: string, @Param('id') id: string): Promise<void> {
    await this.contacts.remove(tenant, id);
  }
}
