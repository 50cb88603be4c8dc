/** Writes a line to stdout. */
export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Writes a line to stderr. */
export function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Prints rows as an aligned table with a header. */
export function table(rows: Array<Record<string, unknown>>, columns: string[]): void {
  const cell = (v: unknown) =>
    v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  out(
    columns
      .map((c, i) => c.toUpperCase().padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
  for (const r of rows)
    out(
      columns
        .map((c, i) => cell(r[c]).padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
}

/** Formats a flow issue as `file:line:col path: message`. */
export function formatIssue(i: {
  file?: unknown;
  line?: unknown;
  column?: unknown;
  path?: unknown;
  message?: unknown;
}): string {
  return `${String(i.file ?? '?')}:${String(i.line ?? 1)}:${String(i.column ?? 1)}${i.path ? ` ${String(i.path)}` : ''}: ${String(i.message ?? '')}`;
}
