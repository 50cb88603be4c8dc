import { runWorkerService } from '@gtc/observability';
import { EventDispatcherModule } from './event-dispatcher.module';

void runWorkerService(EventDispatcherModule, { service: 'event-dispatcher', port: (c) => c.env.EVENT_DISPATCHER_PORT });
