import { runServerService } from '@gtc/observability';
import { IngressModule } from './ingress.module';
import { serveIngress } from './ingress.server';

void runServerService(IngressModule, { service: 'ingress', serve: serveIngress });
