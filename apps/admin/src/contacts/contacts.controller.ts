import { Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom, parseInput } from '../common/validation';
import { apiPage, ApiDoc } from '../docs/api-doc';
import { ContactModel, contactQuerySchema } from './contacts.schemas';
import { ContactsService } from './contacts.service';

/** /v1/tenants/:tenant/contacts: search, opt-out state, 24-hour window, session; release a handoff. */
@ApiTags('contacts')
@Controller('v1/tenants/:tenant/contacts')
export class ContactsController {
  constructor(private readonly contacts: ContactsService) {}

  @Get()
  @ApiDoc({
    summary: 'Search contacts',
    description: 'Newest first; filters combine.',
    returns: apiPage(ContactModel),
  })
  @ApiQueryFrom(contactQuerySchema, pageQuerySchema)
  list(@Param('tenant') tenant: string, @Query() query: Record<string, unknown>) {
    return this.contacts.list(tenant, parseInput(contactQuerySchema, query, 'query'), pageRequest(query));
  }

  @Get(':id')
  @ApiDoc({ summary: 'Get a contact', returns: ContactModel })
  get(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.contacts.get(tenant, id);
  }

  @Post(':id/release')
  @ApiDoc({
    summary: 'Release a handoff',
    description:
      'The session goes back to idle, so the flows answer the contact again; writes a `conversation.handoff` event (`released`). 409 `not_in_handoff` otherwise.',
    returns: ContactModel,
    errors: [409],
  })
  @HttpCode(200)
  release(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.contacts.release(tenant, id);
  }

  @Post(':id/opt-out')
  @ApiDoc({
    summary: 'Opt a contact out',
    description:
      'No business message reaches it until it opts in again; writes a `contact.opted_out` event when the state changes.',
    returns: ContactModel,
  })
  @HttpCode(200)
  optOut(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.contacts.setOptOut(tenant, id, true);
  }

  @Post(':id/opt-in')
  @ApiDoc({
    summary: 'Opt a contact back in',
    description: 'Writes a `contact.opted_in` event when the state changes.',
    returns: ContactModel,
  })
  @HttpCode(200)
  optIn(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.contacts.setOptOut(tenant, id, false);
  }

  @Delete(':id')
  @ApiDoc({ summary: 'Delete a contact', description: 'With its session and messages.', status: 204 })
  @HttpCode(204)
  async remove(@Param('tenant') tenant: string, @Param('id') id: string): Promise<void> {
    await this.contacts.remove(tenant, id);
  }
}
