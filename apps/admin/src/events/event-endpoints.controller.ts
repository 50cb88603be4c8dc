import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom, openApiSchema, parseInput } from '../common/validation';
import { createEndpointSchema, deliveriesQuerySchema, updateEndpointSchema } from './event-endpoints.schemas';
import { EventEndpointsService } from './event-endpoints.service';

/** /v1/tenants/:tenant/event-endpoints: where a tenant's systems hear of events (signed as Standard Webhooks). */
@ApiTags('event-endpoints')
@ApiBearerAuth()
@Controller('v1/tenants/:tenant/event-endpoints')
export class EventEndpointsController {
  constructor(private readonly endpoints: EventEndpointsService) {}

  @Post()
  @ApiOperation({ summary: 'Create an endpoint; the answer holds its signing secret (whsec_…), shown only here' })
  @ApiBody({ schema: openApiSchema(createEndpointSchema) })
  create(@Param('tenant') tenant: string, @Body() body: unknown) {
    return this.endpoints.create(tenant, parseInput(createEndpointSchema, body));
  }

  @Get()
  @ApiOperation({ summary: "The tenant's endpoints (never their secrets)" })
  @ApiQueryFrom(pageQuerySchema)
  list(@Param('tenant') tenant: string, @Query() query: Record<string, unknown>) {
    return this.endpoints.list(tenant, pageRequest(query));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One endpoint (never its secret)' })
  get(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.endpoints.get(tenant, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change url, events, description or enabled (enabled: true clears an automatic disable)' })
  @ApiBody({ schema: openApiSchema(updateEndpointSchema) })
  update(@Param('tenant') tenant: string, @Param('id') id: string, @Body() body: unknown) {
    return this.endpoints.update(tenant, id, parseInput(updateEndpointSchema, body));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an endpoint with its deliveries' })
  async remove(@Param('tenant') tenant: string, @Param('id') id: string): Promise<void> {
    await this.endpoints.remove(tenant, id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ApiOperation({ summary: 'A new signing secret, shown only in this answer; the previous one keeps signing for 24 hours' })
  rotateSecret(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.endpoints.rotateSecret(tenant, id);
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: "The endpoint's deliveries, newest first: each event with its state and attempts (time, status code, latency, error)" })
  @ApiQueryFrom(deliveriesQuerySchema)
  deliveries(@Param('tenant') tenant: string, @Param('id') id: string, @Query() query: Record<string, unknown>) {
    return this.endpoints.deliveries(tenant, id, parseInput(deliveriesQuerySchema, query, 'query'));
  }

  @Post(':id/deliveries/:eventId/retry')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a failed or pending delivery again now' })
  retry(@Param('tenant') tenant: string, @Param('id') id: string, @Param('eventId') eventId: string) {
    return this.endpoints.retry(tenant, id, eventId);
  }

  @Post(':id/test')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a ping event to this endpoint; answers the event id' })
  test(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.endpoints.test(tenant, id);
  }
}
