import { Module } from '@nestjs/common';
import { GtcConfigModule } from '@gtc/config';
import { DbModule } from '@gtc/db';
import { ObservabilityModule } from '@gtc/observability';
import { QueueModule } from '@gtc/queue';
import { FlowCatalogService } from './flow-catalog.service';
import { FlowEngineService } from './flow-engine.service';
import { FlowRunnerMetrics } from './flow-runner.metrics';
import { FlowRunnerStore } from './flow-runner.store';
import { FlowStepService } from './flow-step.service';
import { InboundWorker } from './inbound.worker';
import { RetentionService } from './retention.service';

/** flow-runner: runs each inbound message through the team's flows, one step at a time per contact. */
@Module({
  imports: [GtcConfigModule, ObservabilityModule.forService('flow-runner'), DbModule, QueueModule],
  providers: [FlowCatalogService, FlowEngineService, FlowRunnerMetrics, FlowRunnerStore, FlowStepService, InboundWorker, RetentionService],
})
export class FlowRunnerModule {}
