#!/usr/bin/env node
/** gtc: the operator's command line (talks to the admin API). Exit codes: 0 ok, 1 failure, 2 usage error. */
import { Command, CommanderError } from 'commander';
import { AdminOptions } from './admin-client';
import { completionCommand } from './commands/completion.command';
import { eventsCommand } from './commands/events.command';
import { flowsCommand } from './commands/flows.command';
import { resourceCommands } from './commands/resources.command';
import { setupCommand } from './commands/setup.command';
import { statusCommand } from './commands/status.command';
import { CliError } from './errors';
import { err } from './output';

/** Builds the `gtc` program (exported for tests of the command tree). */
export function buildProgram(): Command {
  const program = new Command('gtc')
    .description('gtc operator command line: setup, flows, status and the admin API')
    .option(
      '--admin-url <url>',
      'admin API base URL (env GTC_ADMIN_URL, default http://localhost:$ADMIN_PORT, else :3001)',
    )
    .option(
      '--admin-key <key>',
      'admin API key (env GTC_ADMIN_KEY, else ADMIN_API_KEY, else the development key)',
    )
    .showHelpAfterError()
    .exitOverride();
  const admin = (): AdminOptions => program.opts<AdminOptions>();
  setupCommand(program, admin);
  flowsCommand(program, admin);
  statusCommand(program, admin);
  resourceCommands(program, admin);
  eventsCommand(program, admin);
  completionCommand(program);
  return program;
}

async function main(): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      if (e.code === 'commander.executeSubCommandAsync') return e.exitCode;
      return 2;
    }
    if (e instanceof CliError) {
      err(`gtc: ${e.message}`);
      return e.exitCode;
    }
    err(`gtc: unexpected error: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

void main().then((code) => {
  process.exitCode = code;
});
