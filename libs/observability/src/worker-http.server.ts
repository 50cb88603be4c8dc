import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { HealthService } from './health.service';
import { metricsAllowed } from './metrics-access';
import { MetricsService } from './metrics.service';

/** The small HTTP server of a worker process: `/health`, `/health/live` and `/metrics` (loopback or METRICS_TOKEN). */
export class WorkerHttpServer {
  private server?: Server;

  constructor(
    private readonly health: HealthService,
    private readonly metrics: MetricsService,
    private readonly metricsToken?: string,
  ) {}

  /** Listens on the host and port (0 = any free port) and returns the port taken. */
  async listen(port: number, host: string): Promise<number> {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const send = (code: number, type: string, body: string) => {
        res.writeHead(code, { 'content-type': type });
        res.end(body);
      };
      if (req.method !== 'GET') return send(405, 'application/json', '{"message":"method not allowed"}');
      if (path === '/health/live') return send(200, 'application/json', '{"status":"ok"}');
      if (path === '/health') {
        return void this.health.report().then((r) => send(r.status === 'ok' ? 200 : 503, 'application/json', JSON.stringify(r)));
      }
      if (path === '/metrics') {
        if (!metricsAllowed(req.socket.remoteAddress, req.headers.authorization, this.metricsToken)) {
          return send(401, 'application/json', '{"message":"metrics need a loopback peer or Authorization: Bearer <METRICS_TOKEN>"}');
        }
        return void this.metrics.render().then((t) => send(200, 'text/plain; version=0.0.4; charset=utf-8', t));
      }
      send(404, 'application/json', '{"message":"not found"}');
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops accepting connections. */
  async close(): Promise<void> {
    if (!this.server) return;
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server.closeAllConnections?.();
  }
}
