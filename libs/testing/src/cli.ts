import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** What one run of the `gtc` CLI did. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `gtc` CLI (apps/cli/dist/main.js) in `cwd` with only PATH and `env` in its environment. */
export function runGtc(args: string[], cwd: string, env: Record<string, string>): Promise<CliRun> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [resolve(__dirname, '../../../apps/cli/dist/main.js'), ...args], {
      cwd,
      env: { PATH: process.env.PATH, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}
