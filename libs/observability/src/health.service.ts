import { Injectable } from '@nestjs/common';

/** A readiness check: resolves when the dependency is usable, rejects (or times out) otherwise. */
export type HealthCheck = () => Promise<void>;

/** The outcome of /health. */
export interface HealthReport {
  status: 'ok' | 'error';
  checks: Record<string, { status: 'up' | 'down'; error?: string }>;
  info?: Record<string, unknown>;
}

const CHECK_TIMEOUT_MS = 2_000;

/** Readiness of the service: every registered check (Postgres, Redis, …) must pass. */
@Injectable()
export class HealthService {
  private readonly checks = new Map<string, HealthCheck>();
  private readonly infos = new Map<string, () => Promise<unknown> | unknown>();
  private draining = false;

  /** Adds a named readiness check. */
  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  /** Adds named information shown in /health without affecting readiness (e.g. paused providers). */
  registerInfo(name: string, info: () => Promise<unknown> | unknown): void {
    this.infos.set(name, info);
  }

  /** Marks the service as shutting down: readiness fails so load balancers stop sending work. */
  markDraining(): void {
    this.draining = true;
  }

  /** Runs every check in parallel, each bounded in time. */
  async report(): Promise<HealthReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          await withTimeout(check(), CHECK_TIMEOUT_MS);
          return [name, { status: 'up' as const }] as const;
        } catch (err) {
          return [name, { status: 'down' as const, error: (err as Error).message }] as const;
        }
      }),
    );
    const checks: HealthReport['checks'] = Object.fromEntries(entries);
    if (this.draining) checks.shutdown = { status: 'down', error: 'shutting down' };
    const info: Record<string, unknown> = {};
    for (const [name, fn] of this.infos) info[name] = await Promise.resolve(fn()).catch((e: Error) => e.message);
    const ok = Object.values(checks).every((c) => c.status === 'up');
    return { status: ok ? 'ok' : 'error', checks, ...(this.infos.size ? { info } : {}) };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}
