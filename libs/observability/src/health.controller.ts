import { Controller, Get, Header, HttpCode, Res } from '@nestjs/common';
import { HealthService } from './health.service';
import { MetricsService } from './metrics.service';

/** Minimal reply interface shared by Fastify's reply (we only set the status code). */
interface StatusReply {
  status(code: number): unknown;
}

/** `/health` (readiness: Postgres, Redis, …), `/health/live` (liveness) and `/metrics` (Prometheus) of an HTTP app. */
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthService,
    private readonly metrics: MetricsService,
  ) {}

  @Get('health')
  async ready(@Res({ passthrough: true }) reply: StatusReply) {
    const report = await this.health.report();
    reply.status(report.status === 'ok' ? 200 : 503);
    return report;
  }

  @Get('health/live')
  @HttpCode(200)
  live() {
    return { status: 'ok' };
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  metricsText(): Promise<string> {
    return this.metrics.render();
  }
}
