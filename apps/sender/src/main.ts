import { runWorkerService } from '@gtc/observability';
import { SenderModule } from './sender.module';

void runWorkerService(SenderModule, { service: 'sender', port: (c) => c.env.SENDER_PORT });
