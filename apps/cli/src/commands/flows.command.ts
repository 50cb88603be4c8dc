import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { flowJsonSchema, loadFlow } from '@gtc/flows';
import { AdminClient, AdminOptions } from '../admin-client';
import { CliError } from '../errors';
import { err, formatIssue, out, table } from '../output';

/** `gtc flows validate <files…>`: every error as file:line:col; fails if any file is invalid. */
export function validateFiles(files: string[]): void {
  let bad = 0;
  for (const file of files) {
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch (e) {
      err(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      bad++;
      continue;
    }
    const result = loadFlow(source, file);
    for (const w of result.warnings) err(`warning: ${formatIssue(w)}`);
    if (result.ok)
      out(
        `${file}: ok (flow ${result.flow.name}, version ${result.flow.version}, ${result.flow.order.length} nodes)`,
      );
    else {
      bad++;
      for (const e of result.errors) err(formatIssue(e));
    }
  }
  if (bad) throw new CliError(`${bad} of ${files.length} file(s) invalid`);
}

/** Registers `gtc flows …`. */
export function flowsCommand(program: Command, admin: () => AdminOptions): void {
  const flows = program.command('flows').description('validate, upload and list flows (.ygtc)');
  flows
    .command('schema')
    .description('print the JSON Schema of .ygtc files (for editors: `# yaml-language-server: $schema=<file>` on a flow\'s first line)')
    .action(() => out(JSON.stringify(flowJsonSchema(), null, 2)));
  flows
    .command('validate')
    .description('validate flow files locally; prints file:line:col for every error')
    .argument('<files...>', '.ygtc files')
    .action((files: string[]) => validateFiles(files));
  flows
    .command('list')
    .description("list a team's flows (latest revision of each, with the active one)")
    .requiredOption('--tenant <slug>', 'tenant slug')
    .requiredOption('--team <slug>', 'team slug')
    .option('--json', 'print JSON')
    .action(async (o: { tenant: string; team: string; json?: boolean }) => {
      const c = AdminClient.from(admin());
      const res = await c.call(
        c.api.GET('/v1/tenants/{tenant}/teams/{team}/flows', {
          params: { path: { tenant: o.tenant, team: o.team } },
        }),
      );
      if (o.json) out(JSON.stringify(res.data, null, 2));
      else
        table(res.data, [
          'name',
          'version',
          'revision',
          'active_revision',
          'revisions',
          'file_name',
          'created_at',
        ]);
    });
  flows
    .command('upload')
    .description('validate and upload flow files to a team (a new revision only when the source changed)')
    .argument('<files...>', '.ygtc files')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .requiredOption('--team <slug>', 'team slug')
    .option('--no-activate', 'store the revision without making it active')
    .action(async (files: string[], o: { tenant: string; team: string; activate: boolean }) => {
      validateFiles(files);
      const c = AdminClient.from(admin());
      for (const file of files) {
        const body = { file_name: file, source: readFileSync(file, 'utf8'), activate: o.activate };
        const r = await c.call(
          c.api.POST('/v1/tenants/{tenant}/teams/{team}/flows', {
            params: { path: { tenant: o.tenant, team: o.team } },
            body,
          }),
        );
        out(`${file}: ${r.flow.name} revision ${r.flow.revision}${r.created ? ' (new)' : ' (unchanged)'}`);
      }
    });
}
