import type { TestProvider } from './fixtures';
import { ServiceProcess, startService } from './service-process';

/** Options of a whole running stack for a test. */
export interface StackOptions {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  senders?: number;
  flowRunners?: number;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Extra environment for graph-sim only. */
  graphSimEnv?: Record<string, string>;
}

/** graph-sim, ingress, flow-runner(s) and sender(s) as real processes, wired to each other. */
export class Stack {
  constructor(
    readonly graphSim: ServiceProcess,
    public ingress: ServiceProcess,
    readonly flowRunners: ServiceProcess[],
    readonly senders: ServiceProcess[],
    readonly env: Record<string, string>,
  ) {}

  /** kill -9 of one of the stack's processes, then the same app again on the same port (webhook URLs stay valid). */
  async crashAndRestart(target: ServiceProcess, pauseMs = 800): Promise<ServiceProcess> {
    await target.kill();
    await new Promise((r) => setTimeout(r, pauseMs));
    const next = await startService(target.name, this.env, { port: target.port });
    if (this.ingress === target) this.ingress = next;
    for (const list of [this.flowRunners, this.senders]) {
      const i = list.indexOf(target);
      if (i >= 0) list[i] = next;
    }
    return next;
  }

  /** Registers the provider's number in graph-sim: its token, app secret, and ingress as its webhook URL. */
  async register(p: TestProvider): Promise<void> {
    await this.sim('POST', '/sim/phone-numbers', {
      phone_number_id: p.phoneNumberId,
      access_token: p.accessToken,
      app_secret: p.appSecret,
      webhook_url: `${this.ingress.url}/webhook/whatsapp/${p.tenantSlug}/${p.teamSlug}`,
    });
  }

  /** Calls a graph-sim control endpoint and returns its JSON. */
  async sim<T = any>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.graphSim.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`graph-sim ${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  /** The last lines each process wrote, to explain a failed run. */
  logTail(lines = 15): string {
    const all = [this.graphSim, this.ingress, ...this.flowRunners, ...this.senders];
    return all.map((s) => `--- ${s.name} (pid ${s.child.pid}):\n${s.logs.slice(-lines).join('\n')}`).join('\n');
  }

  /** Kills every process. */
  async stop(): Promise<void> {
    await Promise.all([this.graphSim, this.ingress, ...this.flowRunners, ...this.senders].map((s) => s.kill()));
  }
}

/** Starts graph-sim first (services call it), then ingress, flow-runners and senders, all pointed at each other. */
export async function startStack(o: StackOptions): Promise<Stack> {
  const graphSim = await startService('graph-sim', { ...o.env, ...o.graphSimEnv });
  const env = {
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: o.redisUrl,
    REDIS_PREFIX: o.redisPrefix,
    GRAPH_API_BASE_URL: graphSim.url,
    ...o.env,
  };
  const [ingress, flowRunners, senders] = await Promise.all([
    startService('ingress', env),
    Promise.all(Array.from({ length: o.flowRunners ?? 1 }, () => startService('flow-runner', env))),
    Promise.all(Array.from({ length: o.senders ?? 1 }, () => startService('sender', env))),
  ]);
  return new Stack(graphSim, ingress, flowRunners, senders, env);
}
