import { Module, RequestMethod } from '@nestjs/common';
import { GtcConfigModule } from '@gtc/config';
import { HealthController, ObservabilityModule } from '@gtc/observability';
import { GraphApiController } from './graph-api.controller';
import { InboundService } from './inbound.service';
import { SimControlController } from './sim-control.controller';
import { SimStateService } from './sim-state.service';
import { StatusEmitterService } from './status-emitter.service';
import { WebhookDeliveryService } from './webhook-delivery.service';

/** Request logs for the control routes (/sim/*); the Graph API's own answer every request (sends: hundreds a second). */
const REQUEST_LOGS = [{ path: 'sim/*path', method: RequestMethod.ALL }];

/** graph-sim: a stand-in for Meta's Graph API and webhooks, for development and tests. */
@Module({
  imports: [GtcConfigModule, ObservabilityModule.forService('graph-sim', REQUEST_LOGS)],
  // SimControlController first: its static /sim/* routes are registered before the Graph API's parametric ones.
  controllers: [HealthController, SimControlController, GraphApiController],
  providers: [SimStateService, WebhookDeliveryService, StatusEmitterService, InboundService],
})
export class GraphSimModule {}
