// What the dispatcher's tests share: the dispatcher as a process of its own, a receiver (a real HTTP server on
// 127.0.0.1 that records what it gets), and endpoints written straight to the database.
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { loadConfig, SERVICE_NODE_FLAGS } from '@gtc/config';
import { PrismaClient, SecretBox } from '@gtc/db';
import { AppName, freePort, ServiceProcess } from '@gtc/testing';

/** One request a receiver got. */
export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Parsed body. */
  json: { id: string; type: string; created_at: string; tenant: string; team: string | null; data: { contact: { id: string | null }; n: number } };
  /** The status it was answered with. */
  status: number;
  /** Order of arrival among every receiver of the test process. */
  n: number;
}

let arrivals = 0;

/** How a receiver answers a request: a status, or 'hang' (never answers; the dispatcher's timeout ends it). */
export type Answer = number | 'hang';

/** An HTTP server on 127.0.0.1 that records every request and answers as `answer` says (200 by default). */
export class Receiver {
  readonly got: Received[] = [];
  private server!: Server;
  url = '';

  /** `delayMs`: how long each answer takes. */
  constructor(
    public answer: (r: Omit<Received, 'status' | 'n'>, index: number) => Answer = () => 200,
    private readonly delayMs = 0,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const r = { path: req.url ?? '/', headers: req.headers, body, json: JSON.parse(body) };
        const answer = this.answer(r, this.got.length);
        if (answer === 'hang') {
          this.got.push({ ...r, status: 0, n: ++arrivals });
          return;
        }
        const reply = () => {
          this.got.push({ ...r, status: answer, n: ++arrivals });
          res.writeHead(answer, { 'content-type': 'text/plain' });
          res.end(answer >= 300 ? `answer ${answer}` : 'ok');
        };
        if (this.delayMs) setTimeout(reply, this.delayMs);
        else reply();
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Requests answered 2xx. */
  get acknowledged(): Received[] {
    return this.got.filter((r) => r.status >= 200 && r.status < 300);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

/** A tenant's endpoint written to the database, with its plaintext secret. */
export interface TestEndpoint {
  id: string;
  url: string;
  secret: string;
  previousSecret?: string;
}

const box = new SecretBox(loadConfig({}).secretsKey);

/** A `whsec_` secret as the admin API makes them. */
export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** Writes an enabled endpoint subscribed to every event (optionally with a rotated-out secret still valid). */
export async function createEndpoint(
  prisma: PrismaClient,
  tenantId: string,
  url: string,
  opts: { previousSecret?: boolean; teamId?: string } = {},
): Promise<TestEndpoint> {
  const secret = newSecret();
  const previousSecret = opts.previousSecret ? newSecret() : undefined;
  const row = await prisma.eventEndpoint.create({
    data: {
      tenantId,
      teamId: opts.teamId,
      url,
      events: ['*'],
      secretEnc: box.encrypt(secret),
      previousSecretEnc: previousSecret ? box.encrypt(previousSecret) : undefined,
      previousSecretExpiresAt: previousSecret ? new Date(Date.now() + 3_600_000) : undefined,
    },
  });
  return { id: row.id, url, secret, previousSecret };
}

const ROOT = resolve(__dirname, '../../..');

// A test process that ends takes its dispatchers with it.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Starts the dispatcher from its build as a process of its own (as libs/testing's startService does for the apps it
 * knows) and waits until it is live.
 */
export async function startDispatcher(env: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, resolve(ROOT, 'apps/event-dispatcher/dist/main.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', NODE_ENV: 'test', ...env, EVENT_DISPATCHER_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const service = new ServiceProcess('event-dispatcher' as AppName, port, child);
  await service.ready();
  return service;
}
