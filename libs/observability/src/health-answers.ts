import { HealthService } from './health.service';
import { metricsAllowed } from './metrics-access';
import { MetricsService } from './metrics.service';

/** A response to one of the health and metrics paths, for whichever server carries it. */
export interface HealthAnswer {
  code: number;
  contentType: string;
  body: string;
}

/** The paths `answerHealthPath` answers. */
export const HEALTH_PATHS = ['/health', '/health/live', '/metrics'] as const;

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The answers of a service's own HTTP server (a worker's, ingress's) to `GET /health` (readiness: 200 or 503 with the
 * report), `/health/live` (liveness) and `/metrics` (Prometheus; to a loopback peer or with `Authorization: Bearer
 * <METRICS_TOKEN>` only, since metrics name tenants). Undefined for any other path.
 */
export async function answerHealthPath(
  path: string,
  peer: { remoteAddress?: string; authorization?: string },
  health: HealthService,
  metrics: MetricsService,
  metricsToken: string | undefined,
): Promise<HealthAnswer | undefined> {
  if (path === '/health/live') return { code: 200, contentType: JSON_TYPE, body: '{"status":"ok"}' };
  if (path === '/health') {
    const report = await health.report();
    return { code: report.status === 'ok' ? 200 : 503, contentType: JSON_TYPE, body: JSON.stringify(report) };
  }
  if (path === '/metrics') {
    if (!metricsAllowed(peer.remoteAddress, peer.authorization, metricsToken)) {
      return { code: 401, contentType: JSON_TYPE, body: '{"message":"metrics need a loopback peer or Authorization: Bearer <METRICS_TOKEN>"}' };
    }
    return { code: 200, contentType: 'text/plain; version=0.0.4; charset=utf-8', body: await metrics.render() };
  }
  return undefined;
}
