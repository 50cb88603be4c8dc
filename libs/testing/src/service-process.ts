import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { SERVICE_NODE_FLAGS } from '@gtc/config';

/** The apps that run as processes. */
export type AppName = 'ingress' | 'flow-runner' | 'sender' | 'admin' | 'graph-sim' | 'event-dispatcher';

const PORT_VARIABLE: Record<AppName, string> = {
  ingress: 'INGRESS_PORT',
  'flow-runner': 'FLOW_RUNNER_PORT',
  sender: 'SENDER_PORT',
  admin: 'ADMIN_PORT',
  'graph-sim': 'GRAPH_SIM_PORT',
  'event-dispatcher': 'EVENT_DISPATCHER_PORT',
};

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

/** A service running from its build (apps/<name>/dist/main.js), as in production. */
export class ServiceProcess {
  readonly logs: string[] = [];

  constructor(
    readonly name: AppName,
    readonly port: number,
    readonly child: ChildProcess,
  ) {
    // TEST_LOG_DIR keeps every service's whole output in <dir>/<name>-<pid>.log, to read after a failed run.
    const logDir = process.env.TEST_LOG_DIR;
    if (logDir) mkdirSync(logDir, { recursive: true });
    const keep = (chunk: Buffer) => {
      if (logDir) appendFileSync(resolve(logDir, `${name}-${child.pid}.log`), chunk);
      for (const line of chunk.toString('utf8').split('\n')) if (line) this.logs.push(line);
      if (this.logs.length > 5000) this.logs.splice(0, this.logs.length - 5000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /** http://127.0.0.1:<port> */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits until GET /health/live answers 200 (or the process exits). */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited (${this.child.exitCode}):\n${this.logs.slice(-20).join('\n')}`);
      try {
        const res = await fetch(`${this.url}/health/live`);
        if (res.ok) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.logs.slice(-20).join('\n')}`);
  }

  /** SIGTERM and wait for exit (graceful shutdown). Returns the exit code. */
  async stop(): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.child.kill('SIGTERM');
    await once(this.child, 'exit');
    return this.child.exitCode;
  }

  /** SIGKILL (a crash) and wait for exit. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await once(this.child, 'exit');
  }
}

const ROOT = resolve(__dirname, '../../..');

// A test process that ends (or crashes) takes its services with it: no orphan keeps running after the suite.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Spawns an app from its build with the given environment (plus LOG_LEVEL=warn unless set) and waits until it is live. */
export async function startService(
  name: AppName,
  env: Record<string, string | undefined>,
  options: { port?: number; wait?: boolean } = {},
): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, resolve(ROOT, `apps/${name}/dist/main.js`)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', NODE_ENV: 'test', ...env, [PORT_VARIABLE[name]]: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const service = new ServiceProcess(name, port, child);
  if (options.wait !== false) {
    // One that never became ready is not left running (it would hold its port for the tests after it).
    await service.ready().catch(async (err: unknown) => {
      await service.kill();
      throw err;
    });
  }
  return service;
}
