import { Body, Controller, Get, Headers, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom, openApiSchema, parseInput } from '../common/validation';
import { IDEMPOTENCY_HEADER, idempotencyKey } from '../common/idempotency';
import { messageQuerySchema, sendMessageSchema } from './messages.schemas';
import { MessagesService } from './messages.service';

/** /v1/tenants/:tenant/messages: list with filters, one with its status timeline, send, inbound media. */
@ApiTags('messages')
@ApiBearerAuth()
@Controller('v1/tenants/:tenant/messages')
export class MessagesController {
  constructor(private readonly messages: MessagesService) {}

  @Get()
  @ApiQueryFrom(messageQuerySchema, pageQuerySchema)
  list(@Param('tenant') tenant: string, @Query() query: Record<string, unknown>) {
    return this.messages.list(tenant, parseInput(messageQuerySchema, query, 'query'), pageRequest(query));
  }

  @Get(':id')
  get(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.messages.get(tenant, id);
  }

  @Post()
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
  @ApiProduces('application/octet-stream')
  async media(@Param('tenant') tenant: string, @Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    const media = await this.messages.media(tenant, id);
    void reply.header('content-type', media.contentType).header('cache-control', 'private, no-store');
    if (media.contentLength) void reply.header('content-length', media.contentLength);
    await reply.send(media.stream);
  }
}
