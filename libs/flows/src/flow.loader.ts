// Loads a .ygtc file: YAML with source positions → schema check → semantic checks → CompiledFlow (plain JSON).
import { type Document, LineCounter, type YAMLError, isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { flowFileSchema, fragmentSchema, type FlowFile, type FlowNodeInput, type FlowTriggerInput } from './flow.schema';
import type { CompiledFlow, CompiledNode, CompiledTrigger, FlowIssue, LoadResult, MediaType } from './flow.types';
import { type DocPath, type PathIssue, validateFlowData } from './flow.validator';
import { normalizeText } from './trigger.matcher';
import { formatPath, type ReplyContent } from './whatsapp.contract';

/** Largest flow file accepted, in characters. */
export const MAX_FLOW_SOURCE = 512 * 1024;

/** Result of loading a fragment (a bare list of nodes). */
export type FragmentResult =
  | { ok: true; nodes: CompiledNode[]; warnings: FlowIssue[] }
  | { ok: false; errors: FlowIssue[]; warnings: FlowIssue[] };

interface Parsed {
  doc: Document;
  lc: LineCounter;
  data: unknown;
  errors: FlowIssue[];
}

/**
 * Where a quoted string that is never closed begins: the parser reports it where the file ends, which is of no help
 * (a quote left open on line 7 of a 16-line file reads "16:1").
 */
function unclosedQuoteStart(doc: Document, e: YAMLError): number | undefined {
  if (e.code !== 'MISSING_CHAR' || !/quote/i.test(e.message)) return undefined;
  let start: number | undefined;
  visit(doc, {
    Scalar(_, node) {
      const [from, to] = node.range ?? [];
      if ((node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') && from !== undefined && to !== undefined && to >= e.pos[0] - 1) {
        if (start === undefined || from < start) start = from;
      }
    },
  });
  return start;
}

function parse(source: string, file: string): Parsed {
  const lc = new LineCounter();
  if (source.length > MAX_FLOW_SOURCE) {
    const doc = parseDocument('', { lineCounter: lc });
    return {
      doc,
      lc,
      data: undefined,
      errors: [{ file, line: 1, column: 1, path: '', message: `file is larger than ${MAX_FLOW_SOURCE} characters` }],
    };
  }
  const doc = parseDocument(source, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const errors: FlowIssue[] = doc.errors.map((e) => {
    const at = unclosedQuoteStart(doc, e);
    const pos = at !== undefined ? lc.linePos(at) : (e.linePos?.[0] ?? lc.linePos(e.pos[0]));
    const message = at !== undefined ? `missing closing quote of the string that starts here` : e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    return { file, line: pos.line, column: pos.col, path: '', message: `YAML: ${message}` };
  });
  let data: unknown;
  if (errors.length === 0) {
    try {
      data = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      errors.push({ file, line: 1, column: 1, path: '', message: `YAML: ${(e as Error).message}` });
    }
  }
  return { doc, lc, data, errors };
}

/** Finds the line/column of the YAML node at `path` (or of its nearest existing ancestor). */
function locate(p: Parsed, path: DocPath, at: 'key' | 'value' = 'value'): { line: number; column: number } {
  let node: unknown = p.doc.contents;
  let best: unknown = node;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((it) => String(isScalar(it.key) ? it.key.value : it.key) === String(seg));
      if (!pair) break;
      if (pair.value === null || pair.value === undefined || (i === path.length - 1 && at === 'key')) {
        best = pair.key;
        break;
      }
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) break;
      node = item;
    } else break;
    best = node;
  }
  const range = (best as { range?: [number, number, number] } | null)?.range;
  const pos = p.lc.linePos(range ? range[0] : 0);
  return { line: pos.line, column: pos.col };
}

function toIssue(p: Parsed, file: string, issue: PathIssue): FlowIssue {
  const pos = locate(p, issue.path, issue.at);
  return { file, line: pos.line, column: pos.column, path: formatPath(issue.path), message: issue.message };
}

function valueAt(data: unknown, path: DocPath): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/** Turns zod issues into path issues with messages a flow author understands. */
function schemaIssues(error: z.ZodError, data: unknown, base: DocPath): PathIssue[] {
  const out: PathIssue[] = [];
  for (const issue of error.issues) {
    const path = [...base, ...(issue.path as DocPath)];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: [...path, key], message: `unknown field "${key}"`, at: 'key' });
      continue;
    }
    const last = path[path.length - 1];
    const value = valueAt(data, path);
    const options = (issue as { options?: unknown }).options;
    if (issue.code === 'invalid_union' && Array.isArray(options)) {
      const what = path.includes('triggers') ? 'trigger' : 'node';
      const expected = options.map(String).join(', ');
      out.push({
        path,
        message:
          value === undefined
            ? `${what} is missing "type" (one of ${expected})`
            : `unknown ${what} type "${String(value)}": expected one of ${expected}`,
      });
      continue;
    }
    // A missing field, whatever type it expects (a union such as version's string | number reads "Invalid input").
    if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && value === undefined && typeof last === 'string') {
      out.push({ path, message: `missing required field "${last}"` });
      continue;
    }
    out.push({ path, message: issue.message });
  }
  return out;
}

function list(v: string | string[] | undefined): string[] | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v : [v];
}

function compileNode(n: FlowNodeInput): CompiledNode {
  switch (n.type) {
    case 'reply': {
      const { retry_on_rate_limit, ...content } = n.config;
      return {
        id: n.id,
        type: 'reply',
        content: content as ReplyContent,
        retryOnRateLimit: retry_on_rate_limit ?? true,
        ...(n.next !== undefined ? { next: n.next } : {}),
      };
    }
    case 'branch':
      return {
        id: n.id,
        type: 'branch',
        conditions: n.config.conditions.map((c) => ({ expression: c.expression, next: c.next })),
        ...(n.config.default !== undefined ? { default: n.config.default } : {}),
      };
    case 'set':
      return {
        id: n.id,
        type: 'set',
        vars: Object.entries(n.config.vars).map(([name, expression]) => ({ name, expression })),
        ...(n.next !== undefined ? { next: n.next } : {}),
      };
    case 'wait':
      return { id: n.id, type: 'wait', var: n.config.var, next: n.next };
    case 'handoff':
      return { id: n.id, type: 'handoff', ...(n.config?.reason !== undefined ? { reason: n.config.reason } : {}) };
    case 'end':
      return { id: n.id, type: 'end' };
  }
}

function compileTrigger(t: FlowTriggerInput): CompiledTrigger {
  switch (t.type) {
    case 'interactive':
      return {
        type: 'interactive',
        target: t.target,
        ...(t.id !== undefined ? { ids: list(t.id) } : {}),
        ...(t.reply_type !== undefined ? { replyType: t.reply_type } : {}),
      };
    case 'button':
      return { type: 'button', target: t.target, ...(t.payload !== undefined ? { payloads: list(t.payload) } : {}) };
    case 'message':
      return {
        type: 'message',
        target: t.target,
        ...(t.keyword !== undefined ? { keywords: (list(t.keyword) as string[]).map(normalizeText) } : {}),
        ...(t.regex !== undefined ? { regex: t.regex } : {}),
      };
    case 'media':
      return {
        type: 'media',
        target: t.target,
        ...(t.media_type !== undefined ? { mediaTypes: list(t.media_type) as MediaType[] } : {}),
      };
    case 'location':
      return { type: 'location', target: t.target };
    case 'any':
    case 'default':
      return { type: 'any', target: t.target };
  }
}

/** Compiles a schema-valid flow file into its stored form. */
function compileFlow(f: FlowFile): CompiledFlow {
  const nodes: Record<string, CompiledNode> = {};
  for (const n of f.nodes) nodes[n.id] = compileNode(n);
  return {
    name: f.name,
    version: String(f.version),
    order: f.nodes.map((n) => n.id),
    nodes,
    triggers: (f.triggers ?? []).map(compileTrigger),
  };
}

function dedupe(issues: PathIssue[]): PathIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${formatPath(i.path)}\u0000${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function byPosition(a: FlowIssue, b: FlowIssue): number {
  return a.line - b.line || a.column - b.column;
}

/** Loads and validates a flow file; returns every error (with file, line, column, path) at once, plus warnings. */
export function loadFlow(source: string, file: string): LoadResult {
  const p = parse(source, file);
  if (p.errors.length > 0) return { ok: false, errors: p.errors, warnings: [] };
  if (Array.isArray(p.data)) {
    return {
      ok: false,
      errors: [
        {
          file,
          line: 1,
          column: 1,
          path: '',
          message:
            'this is a bare list of nodes (a fragment); a flow file needs name, version, nodes and triggers: put the list under "nodes:"',
        },
      ],
      warnings: [],
    };
  }
  if (p.data === null || typeof p.data !== 'object') {
    return {
      ok: false,
      errors: [{ file, line: 1, column: 1, path: '', message: 'a flow file must be a YAML mapping with name, version, nodes, triggers' }],
      warnings: [],
    };
  }
  const parsed = flowFileSchema.safeParse(p.data);
  const data = p.data as Record<string, unknown>;
  const report = validateFlowData(data.nodes, data.triggers, ['nodes'], false);
  const errors = dedupe([...(parsed.success ? [] : schemaIssues(parsed.error, p.data, [])), ...report.errors]);
  const warnings = report.warnings.map((w) => toIssue(p, file, w)).sort(byPosition);
  if (errors.length > 0 || !parsed.success) {
    return { ok: false, errors: errors.map((e) => toIssue(p, file, e)).sort(byPosition), warnings };
  }
  return { ok: true, flow: compileFlow(parsed.data), warnings };
}

/** Loads and validates a fragment (a bare list of nodes, as on the provider page); references must resolve inside it. */
export function loadFragment(source: string, file: string): FragmentResult {
  const p = parse(source, file);
  if (p.errors.length > 0) return { ok: false, errors: p.errors, warnings: [] };
  if (!Array.isArray(p.data)) {
    return {
      ok: false,
      errors: [{ file, line: 1, column: 1, path: '', message: 'a fragment must be a YAML list of nodes' }],
      warnings: [],
    };
  }
  const parsed = fragmentSchema.safeParse(p.data);
  const report = validateFlowData(p.data, [], [], true);
  const errors = dedupe([...(parsed.success ? [] : schemaIssues(parsed.error, p.data, [])), ...report.errors]);
  const warnings = report.warnings.map((w) => toIssue(p, file, w)).sort(byPosition);
  if (errors.length > 0 || !parsed.success) {
    return { ok: false, errors: errors.map((e) => toIssue(p, file, e)).sort(byPosition), warnings };
  }
  return { ok: true, nodes: parsed.data.map(compileNode), warnings };
}

/** Formats an issue as `file:line:column path: message`. */
export function formatIssue(issue: FlowIssue): string {
  return `${issue.file}:${issue.line}:${issue.column}${issue.path ? ` ${issue.path}` : ''}: ${issue.message}`;
}
