import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom } from '../common/validation';
import { ApiDoc } from '../docs/api-doc';
import { MessagePageModel } from '../messages/messages.schemas';
import { ContactsService } from '../contacts/contacts.service';
import { ConversationsService } from './conversations.service';
import { LiveStreamsService, MAX_STREAMS_PER_TENANT } from './live-streams.service';

/** /v1/tenants/:tenant/contacts/:id/{conversation,live}: one contact's messages both ways, and their changes live. */
@ApiTags('contacts')
@Controller('v1/tenants/:tenant/contacts/:id')
export class ConversationsController {
  constructor(
    private readonly conversations: ConversationsService,
    private readonly contacts: ContactsService,
    private readonly live: LiveStreamsService,
  ) {}

  @Get('conversation')
  @ApiDoc({
    summary: "List a contact's conversation",
    description:
      'Inbound and outbound messages merged, latest first (outbound by when it was written, inbound by when it arrived).',
    returns: MessagePageModel,
  })
  @ApiQueryFrom(pageQuerySchema)
  conversation(
    @Param('tenant') tenant: string,
    @Param('id') id: string,
    @Query() query: Record<string, unknown>,
  ) {
    return this.conversations.page(tenant, id, pageRequest(query));
  }

  @Get('live')
  @ApiOperation({
    summary: "Follow a contact's conversation live",
    description:
      'Server-sent events (`text/event-stream`): `event: message` with a message (as in the conversation) each time one is written or ' +
      'changes state (sent, delivered, read, failed with its error), `event: contact` with the contact when it changes (opt-out, ' +
      `handoff, 24-hour window), and a \`: ping\` comment every 15 s. The last 10 s of changes come first. At most ${MAX_STREAMS_PER_TENANT} ` +
      'open per tenant (429 `too_many_streams`). Send the key in the Authorization header (read the stream with fetch; never put a key in a URL).',
  })
  @ApiProduces('text/event-stream')
  @ApiResponse({
    status: 200,
    description: 'The event stream.',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  async follow(
    @Param('tenant') tenant: string,
    @Param('id') id: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const contact = await this.contacts.find(tenant, id);
    this.live.admit(contact.tenantId);
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    await this.live.run(reply.raw, contact.tenantId, contact.id);
  }
}
