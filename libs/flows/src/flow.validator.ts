// Semantic checks of a parsed flow: unique ids, references, expressions, reply content limits, placeholders, reachability.
import { compileExpression } from './expression';
import { checkPlaceholders } from './interpolate';
import { unsafeRegexReason } from './safe-regex';
import { REPLY_CONTENT_KEYS, isRecord, validateReplyContent } from './whatsapp.contract';

/** A path inside the YAML document: keys and sequence indexes. */
export type DocPath = Array<string | number>;

/** A finding before positions are attached; `at: 'key'` points at a mapping key rather than its value. */
export interface PathIssue {
  path: DocPath;
  message: string;
  at?: 'key' | 'value';
}

/** Errors and warnings of the semantic checks. */
export interface ValidationReport {
  errors: PathIssue[];
  warnings: PathIssue[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Splits a dotted/bracketed path (`a.b[0].c`) into segments. */
export function splitPath(path: string): DocPath {
  const out: DocPath = [];
  for (const part of path.split('.')) {
    if (part === '') continue;
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const idx of m[2].matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/** Runs every semantic check on raw (possibly schema-invalid) data; `nodes` is the node list, `triggers` the trigger list. */
export function validateFlowData(nodesRaw: unknown, triggersRaw: unknown, base: DocPath, isFragment: boolean): ValidationReport {
  const errors: PathIssue[] = [];
  const warnings: PathIssue[] = [];
  const nodes = Array.isArray(nodesRaw) ? nodesRaw : [];
  const triggers = Array.isArray(triggersRaw) ? triggersRaw : [];
  const at = (...p: DocPath): DocPath => [...base, ...p];

  // Unique ids.
  const firstIndex = new Map<string, number>();
  nodes.forEach((n, i) => {
    const id = isRecord(n) ? str(n.id) : undefined;
    if (id === undefined) return;
    const seen = firstIndex.get(id);
    if (seen !== undefined) {
      errors.push({ path: at(i, 'id'), message: `duplicate node id "${id}" (first defined at nodes[${seen}])` });
    } else firstIndex.set(id, i);
  });

  const edges = new Map<string, string[]>();
  const ref = (from: string | undefined, target: unknown, path: DocPath) => {
    const t = str(target);
    if (t === undefined) return;
    if (!firstIndex.has(t)) errors.push({ path, message: `unknown node "${t}": no node with this id in the flow` });
    else if (from !== undefined) edges.set(from, [...(edges.get(from) ?? []), t]);
  };

  nodes.forEach((n, i) => {
    if (!isRecord(n)) return;
    const id = str(n.id);
    const config = isRecord(n.config) ? n.config : undefined;
    ref(id, n.next, at(i, 'next'));
    switch (n.type) {
      case 'reply': {
        if (!config) break;
        const contentKey = REPLY_CONTENT_KEYS.find((k) => config[k] !== undefined);
        if (!contentKey) break;
        const content = { [contentKey]: config[contentKey] };
        for (const e of validateReplyContent(content)) {
          let p = splitPath(e.path);
          if (p[0] !== contentKey) p = [contentKey, ...p];
          errors.push({ path: at(i, 'config', ...p), message: e.message });
        }
        for (const e of checkPlaceholders(content)) errors.push({ path: at(i, 'config', ...splitPath(e.path)), message: e.message });
        break;
      }
      case 'branch': {
        if (!config) break;
        const conditions = Array.isArray(config.conditions) ? config.conditions : [];
        conditions.forEach((c, k) => {
          if (!isRecord(c)) return;
          const expr = str(c.expression);
          if (expr !== undefined) {
            const r = compileExpression(expr, 'bool');
            if (!r.ok) errors.push({ path: at(i, 'config', 'conditions', k, 'expression'), message: r.message });
          }
          ref(id, c.next, at(i, 'config', 'conditions', k, 'next'));
        });
        if (config.default === undefined) {
          warnings.push({
            path: at(i, 'config'),
            message: 'branch has no default: when no condition is true the run ends without a reply',
          });
        } else ref(id, config.default, at(i, 'config', 'default'));
        break;
      }
      case 'set': {
        const vars = config && isRecord(config.vars) ? config.vars : {};
        for (const [name, expr] of Object.entries(vars)) {
          if (typeof expr !== 'string') continue;
          const r = compileExpression(expr);
          if (!r.ok) errors.push({ path: at(i, 'config', 'vars', name), message: r.message });
        }
        break;
      }
      default:
        break;
    }
  });

  triggers.forEach((t, k) => {
    if (!isRecord(t)) return;
    ref(undefined, t.target, [`triggers`, k, 'target']);
    if (t.type === 'message') {
      if (t.keyword !== undefined && t.regex !== undefined) {
        errors.push({ path: ['triggers', k], message: 'a message trigger takes keyword or regex, not both' });
      }
      const regex = str(t.regex);
      if (regex !== undefined) {
        const reason = unsafeRegexReason(regex);
        if (reason) errors.push({ path: ['triggers', k, 'regex'], message: reason });
      }
      const keywords = typeof t.keyword === 'string' ? [t.keyword] : Array.isArray(t.keyword) ? t.keyword : [];
      keywords.forEach((kw, j) => {
        if (typeof kw === 'string' && kw.trim() === '') {
          errors.push({ path: ['triggers', k, 'keyword', ...(Array.isArray(t.keyword) ? [j] : [])], message: 'keyword is blank' });
        }
      });
    }
  });

  if (!isFragment) {
    if (triggers.length === 0) {
      warnings.push({
        path: ['nodes'],
        message: 'flow has no triggers: it runs only when started explicitly (e.g. a notification), at its first node',
      });
    }
    // Reachability from the entry (first node) and every trigger target.
    const start = [str(isRecord(nodes[0]) ? nodes[0].id : undefined), ...triggers.map((t) => (isRecord(t) ? str(t.target) : undefined))];
    const seen = new Set<string>();
    const queue = start.filter((s): s is string => s !== undefined && firstIndex.has(s));
    while (queue.length > 0) {
      const id = queue.pop() as string;
      if (seen.has(id)) continue;
      seen.add(id);
      queue.push(...(edges.get(id) ?? []));
    }
    nodes.forEach((n, i) => {
      const id = isRecord(n) ? str(n.id) : undefined;
      if (id !== undefined && firstIndex.get(id) === i && !seen.has(id)) {
        warnings.push({ path: at(i, 'id'), message: `node "${id}" is unreachable: no trigger or node leads to it` });
      }
    });
  }
  return { errors, warnings };
}
