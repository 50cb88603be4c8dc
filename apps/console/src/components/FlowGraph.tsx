// A compiled flow (libs/flows CompiledFlow) drawn as a graph: triggers as entry points, nodes by type, edges with
// their branch conditions. Laid out by dagre, drawn as SVG. Loaded only when a flow is opened (dynamic import),
// so the layout library is not part of the first load.
import dagre from '@dagrejs/dagre';
import { useMemo } from 'react';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strs = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
const cut = (s: string, n = 34) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

interface GNode {
  id: string;
  kind: string;
  lines: string[];
  width: number;
  height: number;
  x: number;
  y: number;
}
interface GEdge {
  from: string;
  to: string;
  label?: string;
  kind: 'next' | 'condition' | 'default' | 'trigger';
  points: Array<{ x: number; y: number }>;
  lx?: number;
  ly?: number;
}

const CHAR = 7;
const LINE = 16;

/** What a node does, in a line or two. */
function describe(n: Obj): string[] {
  switch (str(n.type)) {
    case 'reply': {
      const c = obj(n.content);
      if (c.message !== undefined) return [`“${cut(str(c.message) ?? str(obj(c.message).body) ?? '')}”`];
      if (c.template) return [`template ${str(obj(c.template).name) ?? ''}`];
      if (c.interactive) {
        const i = obj(c.interactive);
        const titles = (Array.isArray(obj(i.action).buttons) ? (obj(i.action).buttons as unknown[]) : []).map(
          (b) => str(obj(obj(b).reply).title) ?? '',
        );
        return [
          `“${cut(str(obj(i.body).text) ?? '')}”`,
          ...(titles.length ? [cut(`[${titles.join('] [')}]`, 40)] : str(i.type) === 'list' ? ['list'] : []),
        ];
      }
      if (c.media)
        return [`${str(obj(c.media).type) ?? 'media'} ${cut(str(obj(c.media).caption) ?? '', 24)}`];
      if (c.location) return [`location ${cut(str(obj(c.location).name) ?? '', 24)}`];
      return [];
    }
    case 'set':
      return [
        cut((Array.isArray(n.vars) ? (n.vars as unknown[]) : []).map((v) => str(obj(v).name)).join(', ')),
      ];
    case 'wait':
      return [`→ ${str(n.var) ?? ''}`];
    case 'handoff':
      return str(n.reason) ? [cut(str(n.reason)!)] : [];
    default:
      return [];
  }
}

/** A trigger's filters as a line. */
function triggerLine(t: Obj): string {
  const parts = [
    ...strs(t.keywords).map((k) => `“${k}”`),
    ...strs(t.ids),
    ...strs(t.payloads),
    ...strs(t.mediaTypes),
    ...(str(t.regex) ? [`/${str(t.regex)}/`] : []),
    ...(str(t.replyType) ? [str(t.replyType)!] : []),
  ];
  return cut(parts.join(' '), 40);
}

/** Lays the flow out top to bottom. */
function layout(compiled: unknown): { nodes: GNode[]; edges: GEdge[]; width: number; height: number } {
  const flow = obj(compiled);
  const nodes = obj(flow.nodes);
  const order = strs(flow.order);
  const triggers = Array.isArray(flow.triggers) ? (flow.triggers as unknown[]).map(obj) : [];
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 36, ranksep: 56, edgesep: 16, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));

  const info = new Map<string, { kind: string; lines: string[] }>();
  const add = (id: string, kind: string, lines: string[]) => {
    const width = Math.max(110, ...lines.map((l) => l.length * CHAR + 24));
    const height = 14 + lines.length * LINE;
    info.set(id, { kind, lines });
    g.setNode(id, { width, height });
  };
  triggers.forEach((t, i) =>
    add(`trigger:${i}`, 'trigger', [
      `▶ ${str(t.type) ?? 'trigger'}`,
      ...(triggerLine(t) ? [triggerLine(t)] : []),
    ]),
  );
  const ids = order.length ? order : Object.keys(nodes);
  ids.forEach((id, i) => {
    const n = obj(nodes[id]);
    add(id, str(n.type) ?? 'node', [`${id}${i === 0 ? ' (start)' : ''}`, str(n.type) ?? '', ...describe(n)]);
  });

  const edges: Array<Omit<GEdge, 'points'>> = [];
  const link = (from: string, to: unknown, kind: GEdge['kind'], label?: string) => {
    if (typeof to !== 'string' || !info.has(to)) return;
    edges.push({ from, to, kind, label });
  };
  triggers.forEach((t, i) => link(`trigger:${i}`, t.target, 'trigger'));
  for (const id of ids) {
    const n = obj(nodes[id]);
    if (str(n.type) === 'branch') {
      (Array.isArray(n.conditions) ? (n.conditions as unknown[]) : []).forEach((c) =>
        link(id, obj(c).next, 'condition', cut(str(obj(c).expression) ?? '', 36)),
      );
      link(id, n.default, 'default', 'default');
    } else link(id, n.next, 'next', str(n.type) === 'wait' ? 'next message' : undefined);
  }
  edges.forEach((e, i) => {
    const label = e.label ? { width: e.label.length * 6.2 + 10, height: 16, labelpos: 'c' as const } : {};
    g.setEdge(e.from, e.to, label, `e${i}`);
  });
  dagre.layout(g);

  const placed: GNode[] = [...info.entries()].map(([id, { kind, lines }]) => {
    const n = g.node(id);
    return { id, kind, lines, width: n.width, height: n.height, x: n.x ?? 0, y: n.y ?? 0 };
  });
  const drawn: GEdge[] = edges.map((e, i) => {
    const l = g.edge(e.from, e.to, `e${i}`);
    return { ...e, points: l?.points ?? [], lx: l?.x, ly: l?.y };
  });
  const graph = g.graph();
  return { nodes: placed, edges: drawn, width: graph.width ?? 200, height: graph.height ?? 100 };
}

export default function FlowGraph({ compiled }: { compiled: unknown }) {
  const { nodes, edges, width, height } = useMemo(() => layout(compiled), [compiled]);
  const flowName = str(obj(compiled).name) ?? 'flow';
  return (
    <div className="graph">
      <div className="graph-scroll" tabIndex={0} aria-label={`Graph of ${flowName} (scrollable)`}>
        <svg
          className="flow-graph"
          width={width}
          height={height}
          viewBox={`0 0 ${width} ${height}`}
          role="img"
          aria-label={`Graph of flow ${flowName}: ${nodes.filter((n) => n.kind !== 'trigger').length} nodes, ${nodes.filter((n) => n.kind === 'trigger').length} triggers, ${edges.length} edges`}
        >
          <defs>
            <marker
              id="arrow"
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto-start-reverse"
            >
              <path d="M 0 0 L 10 5 L 0 10 z" className="arrow-head" />
            </marker>
          </defs>
          {edges.map((e, i) => (
            <g key={i} className={`edge edge-${e.kind}`}>
              <path
                d={e.points.map((p, j) => `${j ? 'L' : 'M'} ${p.x} ${p.y}`).join(' ')}
                markerEnd="url(#arrow)"
              />
              {e.label && e.lx !== undefined && e.ly !== undefined && (
                <g className="edge-label">
                  <rect
                    x={e.lx - (e.label.length * 6.2 + 10) / 2}
                    y={e.ly - 8}
                    width={e.label.length * 6.2 + 10}
                    height={16}
                    rx={3}
                  />
                  <text x={e.lx} y={e.ly + 4} textAnchor="middle">
                    {e.label}
                  </text>
                </g>
              )}
            </g>
          ))}
          {nodes.map((n) => (
            <g
              key={n.id}
              className={`node node-${n.kind}`}
              data-node-id={n.id}
              transform={`translate(${n.x - n.width / 2}, ${n.y - n.height / 2})`}
            >
              <rect width={n.width} height={n.height} rx={n.kind === 'trigger' ? n.height / 2 : 6} />
              {n.lines.map((l, i) => (
                <text
                  key={i}
                  x={n.width / 2}
                  y={10 + (i + 1) * LINE - 4}
                  textAnchor="middle"
                  className={
                    i === 0 ? 'node-title' : i === 1 && n.kind !== 'trigger' ? 'node-type' : undefined
                  }
                >
                  {l}
                </text>
              ))}
            </g>
          ))}
        </svg>
      </div>
      <details className="graph-text">
        <summary>The graph as text</summary>
        <ul>
          {nodes.map((n) => (
            <li key={n.id}>
              <strong>{n.kind === 'trigger' ? n.lines.join(' ') : `${n.lines[0]} (${n.kind})`}</strong>
              {edges.filter((e) => e.from === n.id).length > 0 && ' → '}
              {edges
                .filter((e) => e.from === n.id)
                .map(
                  (e) =>
                    `${e.to}${e.kind === 'condition' ? ` if ${e.label}` : e.label ? ` (${e.label})` : ''}`,
                )
                .join('; ')}
            </li>
          ))}
        </ul>
      </details>
    </div>
  );
}
