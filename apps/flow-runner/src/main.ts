import { runWorkerService } from '@gtc/observability';
import { FlowRunnerModule } from './flow-runner.module';

void runWorkerService(FlowRunnerModule, { service: 'flow-runner', port: (c) => c.env.FLOW_RUNNER_PORT });
