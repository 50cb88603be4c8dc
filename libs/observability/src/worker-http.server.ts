import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { HealthService } from './health.service';
import { answerHealthPath } from './health-answers';
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
      const send = (code: number, type: string, body: string) => {
        res.writeHead(code, { 'content-type': type });
        res.end(body);
      };
      if (req.method !== 'GET') return send(405, 'application/json', '{"message":"method not allowed"}');
      const path = (req.url ?? '/').split('?')[0];
      const peer = { remoteAddress: req.socket.remoteAddress, authorization: req.headers.authorization };
      void answerHealthPath(path, peer, this.health, this.metrics, this.metricsToken).then(
        (a) => (a ? send(a.code, a.contentType, a.body) : send(404, 'application/json', '{"message":"not found"}')),
        () => send(500, 'application/json', '{"message":"internal error"}'),
      );
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
