import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import { pageQuerySchema, pageRequest } from '../common/pagination';
import { ApiQueryFrom, openApiSchema, parseInput } from '../common/validation';
import { apiPage, ApiDoc } from '../docs/api-doc';
import {
  createEndpointSchema,
  deliveriesQuerySchema,
  EventDeliveryModel,
  EventDeliveryRetryModel,
  EventEndpointModel,
  EventEndpointWithSecretModel,
  EventPingModel,
  updateEndpointSchema,
} from './event-endpoints.schemas';
import { EventEndpointsService } from './event-endpoints.service';

/** /v1/tenants/:tenant/event-endpoints: where a tenant's systems hear of events (signed as Standard Webhooks). */
@ApiTags('event-endpoints')
@Controller('v1/tenants/:tenant/event-endpoints')
export class EventEndpointsController {
  constructor(private readonly endpoints: EventEndpointsService) {}

  @Post()
  @ApiDoc({
    summary: 'Create an event endpoint',
    description:
      'Events of the subscribed types are POSTed to `url`, signed as Standard Webhooks (`webhook-id`, `webhook-timestamp`, ' +
      '`webhook-signature`), at least once, in order per contact, retried on a schedule. The answer holds the signing secret ' +
      '(`whsec_…`): it is shown only here and by rotate-secret. A `team` that does not exist answers 400 naming `team`.',
    returns: EventEndpointWithSecretModel,
    status: 201,
  })
  @ApiBody({ schema: openApiSchema(createEndpointSchema) })
  create(@Param('tenant') tenant: string, @Body() body: unknown) {
    return this.endpoints.create(tenant, parseInput(createEndpointSchema, body));
  }

  @Get()
  @ApiDoc({ summary: 'List event endpoints', description: 'Oldest first; never their secrets.', returns: apiPage(EventEndpointModel) })
  @ApiQueryFrom(pageQuerySchema)
  list(@Param('tenant') tenant: string, @Query() query: Record<string, unknown>) {
    return this.endpoints.list(tenant, pageRequest(query));
  }

  @Get(':id')
  @ApiDoc({ summary: 'Get an event endpoint', description: 'Never its secret.', returns: EventEndpointModel })
  get(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.endpoints.get(tenant, id);
  }

  @Patch(':id')
  @ApiDoc({
    summary: 'Change an event endpoint',
    description:
      'Its url, events, description or enabled; writes nothing when nothing changes. `enabled: false` stops deliveries: pending ones ' +
      'wait, and no new events are recorded for it meanwhile. ' +
      '`enabled: true` also clears an automatic disable (410 Gone, or failing too long) and makes the waiting deliveries due now.',
    returns: EventEndpointModel,
  })
  @ApiBody({ schema: openApiSchema(updateEndpointSchema) })
  update(@Param('tenant') tenant: string, @Param('id') id: string, @Body() body: unknown) {
    return this.endpoints.update(tenant, id, parseInput(updateEndpointSchema, body));
  }

  @Delete(':id')
  @ApiDoc({ summary: 'Delete an event endpoint', description: 'With its deliveries and their attempts.', status: 204 })
  @HttpCode(204)
  async remove(@Param('tenant') tenant: string, @Param('id') id: string): Promise<void> {
    await this.endpoints.remove(tenant, id);
  }

  @Post(':id/rotate-secret')
  @ApiDoc({
    summary: "Rotate an event endpoint's signing secret",
    description:
      'A new secret, shown only in this answer. For 24 hours the previous one signs deliveries too (`webhook-signature` carries both ' +
      'signatures; see `previous_secret_expires_at`), so the receiver can switch without missing any.',
    returns: EventEndpointWithSecretModel,
  })
  @HttpCode(200)
  rotateSecret(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.endpoints.rotateSecret(tenant, id);
  }

  @Get(':id/deliveries')
  @ApiDoc({
    summary: "List an event endpoint's deliveries",
    description: 'Newest first: each event with its state and every attempt (time, status code, latency, error).',
    returns: apiPage(EventDeliveryModel),
  })
  @ApiQueryFrom(deliveriesQuerySchema)
  deliveries(@Param('tenant') tenant: string, @Param('id') id: string, @Query() query: Record<string, unknown>) {
    return this.endpoints.deliveries(tenant, id, parseInput(deliveriesQuerySchema, query, 'query'));
  }

  @Post(':id/deliveries/:eventId/retry')
  @ApiDoc({
    summary: 'Retry a delivery now',
    description:
      'Makes a failed or pending delivery due now and wakes the dispatcher; one being attempted right now is left to that attempt ' +
      '(`in_flight: true`). 404 when the event has no delivery to this endpoint; 409 `already_delivered`, or 409 `endpoint_disabled` ' +
      '(enable it first).',
    returns: EventDeliveryRetryModel,
    status: 202,
    errors: [409],
  })
  @HttpCode(202)
  retry(@Param('tenant') tenant: string, @Param('id') id: string, @Param('eventId') eventId: string) {
    return this.endpoints.retry(tenant, id, eventId);
  }

  @Post(':id/test')
  @ApiDoc({
    summary: 'Send a test event to an event endpoint',
    description: 'Records a `ping` event (`data` `{}`) for this endpoint only; the dispatcher sends it like any event. 409 `endpoint_disabled` when disabled.',
    returns: EventPingModel,
    status: 202,
    errors: [409],
  })
  @HttpCode(202)
  test(@Param('tenant') tenant: string, @Param('id') id: string) {
    return this.endpoints.test(tenant, id);
  }
}
