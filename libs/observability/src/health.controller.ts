import { Controller, Get, Header, HttpCode, Req, Res } from '@nestjs/common';
import { AppConfig } from '@gtc/config';
import { HealthService } from './health.service';
import { metricsAllowed } from './metrics-access';
import { MetricsService } from './metrics.service';

/** Minimal reply interface shared by Fastify's reply (we only set the status code). */
interface StatusReply {
  status(code: number): unknown;
}

/** What the metrics route reads of the request (Fastify's request has both). */
interface PeerRequest {
  socket: { remoteAddress?: string };
  headers: { authorization?: string };
}

/** `/health` (readiness: Postgres, Redis, …), `/health/live` (liveness) and `/metrics` (Prometheus; loopback or METRICS_TOKEN only) of an HTTP app. */
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthService,
    private readonly metrics: MetricsService,
    private readonly config: AppConfig,
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
  async metricsText(@Req() req: PeerRequest, @Res({ passthrough: true }) reply: StatusReply): Promise<string> {
    if (!metricsAllowed(req.socket.remoteAddress, req.headers.authorization, this.config.env.METRICS_TOKEN)) {
      reply.status(401);
      return 'metrics are served to this machine or with Authorization: Bearer <METRICS_TOKEN>\n';
    }
    return this.metrics.render();
  }
}
