import { Body, Controller, Get, Headers, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBody, ApiExtension, ApiHeader, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom, openApiSchema, parseInput } from '../common/validation';
import { IDEMPOTENCY_HEADER, idempotencyKey } from '../common/idempotency';
import { ApiDoc, EXTRA_ERRORS } from '../docs/api-doc';
import { MessageDetailModel, MessagePageModel, messageQuerySchema, sendMessageSchema, SendResultModel } from './messages.schemas';
import { MessagesService } from './messages.service';

/** /v1/tenants/:tenant/messages: list with filters, one with its status timeline, send, inbound media. */
@ApiTags('messages')
@Controller('v1/tenants/:tenant/messages')
export class MessagesController {
  constructor(private readonly messages: MessagesService) {}

  @Get()
  @ApiDoc({ summary: 'List messages', description: 'Outbound (default) or inbound, newest first; filters combine.', returns: MessagePageModel })
  @ApiQueryFrom(messageQuerySchema, pageQuerySchema)
  list(@Param('tenant') tenant: string, @Query() query: Record<string, unknown>) {
    return this.messages.list(tenant, parseInput(messageQuerySchema, query, 'query'), pageRequest(query));
  }

  @Get(':id')
  @ApiDoc({ summary: 'Get a message', description: 'An outbound message with its status timeline (sent, delivered, read, failed with Meta\'s errors), or an inbound one with its edits and revokes.', returns: MessageDetailModel })
  get(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.messages.get(tenant, id);
  }

  @Post()
  @ApiDoc({
    summary: 'Send a message',
    description:
      'Queues `content` to `to` through the team\'s number, in order after the contact\'s earlier messages. The same `Idempotency-Key` sends once (200 with the first message). 409 `contact_opted_out` for a contact that opted out; 400 `template_mismatch` for a template that the synced templates refuse.',
    returns: SendResultModel,
    status: 201,
    alsoStatus: [{ status: 200, description: 'Sent already under this Idempotency-Key: the first message.' }],
    errors: [409],
  })
  @ApiBody({ schema: openApiSchema(sendMessageSchema) })
  @ApiHeader(IDEMPOTENCY_HEADER)
  async send(
    @Param('tenant') tenant: string,
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const result = await this.messages.send(tenant, parseInput(sendMessageSchema, body), idempotencyKey(key));
    void reply.status(result.created ? 201 : 200);
    return result;
  }

  @Get(':id/media')
  @ApiOperation({ summary: "Download an inbound message's media", description: "Streamed from the Graph API with the number's token, resolved now (Meta's media URLs are short-lived). 404 when the message has no media or Meta no longer has it; 502 when the Graph API fails." })
  @ApiProduces('application/octet-stream')
  @ApiResponse({ status: 200, description: 'The media bytes, with their content type.', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } })
  @ApiExtension(EXTRA_ERRORS, [502])
  async media(@Param('tenant') tenant: string, @Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    const media = await this.messages.media(tenant, id);
    void reply.header('content-type', media.contentType).header('cache-control', 'private, no-store');
    if (media.contentLength) void reply.header('content-length', media.contentLength);
    await reply.send(media.stream);
  }
}
