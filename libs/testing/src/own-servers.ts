import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** Runs a Postgres binary as the postgres OS user when we are root (Postgres refuses to run as root). */
function pgRun(bin: string, args: string[]): void {
  const root = userInfo().uid === 0;
  const cmd = root ? 'runuser' : bin;
  const full = root ? ['-u', 'postgres', '--', bin, ...args] : args;
  execFileSync(cmd, full, { stdio: 'pipe' });
}

function pgBin(name: string): string {
  const base = '/usr/lib/postgresql';
  const version = readdirSync(base).sort().reverse()[0];
  return join(base, version, 'bin', name);
}

/**
 * A Postgres server of the test's own (temporary data directory, its own port), for fault tests that stop and
 * restart the database without touching the machine's shared one.
 */
export class TempPostgres {
  readonly dir: string;

  constructor(readonly port: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'gtc-pg-'));
    if (userInfo().uid === 0) chownSync(this.dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), Number(execFileSync('id', ['-g', 'postgres']).toString().trim()));
    pgRun(pgBin('initdb'), ['-D', this.dir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  }

  /** postgresql://postgres@127.0.0.1:<port>/<database> */
  url(database = 'gtc'): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Starts the server and waits until it accepts connections. */
  start(): void {
    pgRun(pgBin('pg_ctl'), ['-D', this.dir, '-l', join(this.dir, 'server.log'), '-w', '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`, 'start']);
  }

  /** Stops it at once (like a crash: no checkpoint; recovery from the WAL at the next start). */
  crash(): void {
    pgRun(pgBin('pg_ctl'), ['-D', this.dir, '-m', 'immediate', '-w', 'stop']);
  }

  /** Stops it and removes its data. */
  destroy(): void {
    try {
      pgRun(pgBin('pg_ctl'), ['-D', this.dir, '-m', 'immediate', '-w', 'stop']);
    } catch {
      /* not running */
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Redis server of the test's own that keeps nothing on disk: a restart loses every key, as a failed Redis would. */
export class TempRedis {
  private child?: ChildProcess;

  constructor(readonly port: number) {}

  /** redis://127.0.0.1:<port> */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts an empty server and waits until it answers. */
  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try {
        execFileSync('redis-cli', ['-p', String(this.port), 'ping'], { stdio: 'pipe' });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`redis-server on ${this.port} did not start`);
  }

  /** kill -9: everything in it is gone. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await once(this.child, 'exit');
  }
}
