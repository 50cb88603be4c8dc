// Loading and validating flow files: error positions, all errors at once, warnings, compiled form, JSON Schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flowJsonSchema } from './flow.schema';
import { formatIssue, loadFlow } from './flow.loader';
import type { FlowIssue } from './flow.types';

const errorsOf = (source: string): FlowIssue[] => {
  const r = loadFlow(source, 'f.ygtc');
  if (r.ok) throw new Error('expected errors');
  return r.errors;
};
const brief = (i: FlowIssue) => `${i.line}:${i.column} ${i.path}: ${i.message}`;

const good = `name: demo
version: "1.0"
nodes:
  - id: start
    type: reply
    config:
      message: "Hi {{contact.name}}"
    next: done
  - id: done
    type: end
triggers:
  - type: message
    keyword: hi
    target: start
`;

describe('loadFlow', () => {
  it('compiles a valid flow into plain JSON that survives a round trip', () => {
    const r = loadFlow(good, 'demo.ygtc');
    expect(r).toMatchObject({ ok: true, warnings: [] });
    if (!r.ok) return;
    expect(r.flow).toEqual({
      name: 'demo',
      version: '1.0',
      order: ['start', 'done'],
      nodes: {
        start: { id: 'start', type: 'reply', content: { message: 'Hi {{contact.name}}' }, retryOnRateLimit: true, next: 'done' },
        done: { id: 'done', type: 'end' },
      },
      triggers: [{ type: 'message', target: 'start', keywords: ['hi'] }],
    });
    expect(JSON.parse(JSON.stringify(r.flow))).toEqual(r.flow);
  });

  it('points at a bad next, a bad expression and a too-long button title, all at once', () => {
    const src = `name: bad
version: "1"
nodes:
  - id: ask
    type: reply
    config:
      interactive:
        type: button
        body:
          text: "Pick one"
        action:
          buttons:
            - type: reply
              reply:
                id: "a"
                title: "This title is far too long for WhatsApp"
    next: route
  - id: route
    type: branch
    config:
      conditions:
        - expression: "button.id = 'a'"
          next: nowhere
      default: ask
triggers:
  - type: any
    target: ask
`;
    expect(errorsOf(src).map(brief)).toEqual([
      '16:24 nodes[0].config.interactive.action.buttons[0].reply.title: at most 20 characters (has 39)',
      expect.stringMatching(/^22:23 nodes\[1\]\.config\.conditions\[0\]\.expression: invalid expression/),
      '23:17 nodes[1].config.conditions[0].next: unknown node "nowhere": no node with this id in the flow',
    ]);
  });

  it('reports schema errors with paths: unknown field, unknown node type, missing field, duplicate id, bad trigger', () => {
    const src = `name: s
version: "1"
colour: blue
nodes:
  - id: a
    type: reply
    config:
      message: "x"
    nxt: b
  - id: a
    type: teleport
  - id: w
    type: wait
    config:
      var: answer
triggers:
  - type: message
    target: a
    keyword: hi
    regex: "^hi$"
  - type: smoke_signal
    target: a
`;
    expect(errorsOf(src).map(brief)).toEqual([
      '3:1 colour: unknown field "colour"',
      '9:5 nodes[0].nxt: unknown field "nxt"',
      '10:9 nodes[1].id: duplicate node id "a" (first defined at nodes[0])',
      '11:11 nodes[1].type: unknown node type "teleport": expected one of reply, branch, set, wait, handoff, end',
      '12:5 nodes[2].next: missing required field "next"',
      '17:5 triggers[0]: a message trigger takes keyword or regex, not both',
      '21:11 triggers[1].type: unknown trigger type "smoke_signal": expected one of interactive, button, message, media, location, any, default',
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const errors = errorsOf('name: x\nnodes:\n  - id: a\n   type: reply\n');
    expect(errors[0]).toMatchObject({ file: 'f.ygtc', line: 4 });
    expect(errors[0].message).toMatch(/^YAML:/);
  });

  it('reports a quote left open where it opens, not where the file ends', () => {
    const src = 'name: x\nversion: "1"\nnodes:\n  - id: a\n    type: reply\n    config:\n      message: "unclosed\n    next: b\n  - id: b\n    type: end\ntriggers:\n  - type: any\n    target: a\n';
    expect(errorsOf(src).map(brief)).toEqual(['7:16 : YAML: missing closing quote of the string that starts here']);
    expect(errorsOf("name: x\nversion: 'open\nnodes: []\n").map(brief)).toEqual(["2:10 : YAML: missing closing quote of the string that starts here"]);
  });

  it('names a missing version (a union type) as a missing field, not "Invalid input"', () => {
    const src = 'name: x\nnodes:\n  - id: a\n    type: end\ntriggers:\n  - type: any\n    target: a\n';
    expect(errorsOf(src).map(brief)).toEqual(['1:1 version: missing required field "version"']);
  });

  it('checks placeholders and reply content shape', () => {
    const src = `name: p
version: "1"
nodes:
  - id: a
    type: reply
    config:
      template:
        name: t
        language: en
        components:
          - type: body
            parameters:
              - type: text
                text: "{{order id}}"
              - type: text
                text: "{{contact.phone}}"
              - type: text
                text: "{{unclosed"
  - id: b
    type: reply
    config:
      message: "x"
      media:
        type: image
triggers:
  - type: any
    target: a
`;
    expect(errorsOf(src).map(brief)).toEqual([
      expect.stringMatching(/^14:23 nodes\[0\]\.config\.template\.components\[0\]\.parameters\[0\]\.text: malformed placeholder/),
      expect.stringMatching(/^16:23 .*parameters\[1\]\.text: unknown placeholder "\{\{contact\.phone\}\}"/),
      expect.stringMatching(/^18:23 .*parameters\[2\]\.text: unclosed placeholder/),
      expect.stringMatching(/^22:7 nodes\[1\]\.config: reply config must have exactly one of .*found message, media/),
    ]);
  });

  it('compile errors of set expressions point at the variable', () => {
    const src = `name: s
version: 1
nodes:
  - id: s
    type: set
    config:
      vars:
        total: "vars.a +"
        ok: "1 + 2"
`;
    expect(errorsOf(src).map(brief)).toEqual([expect.stringMatching(/^8:16 nodes\[0\]\.config\.vars\.total: invalid expression/)]);
  });

  it('refuses unsafe trigger regexes', () => {
    const src = `name: r
version: "1"
nodes:
  - id: a
    type: end
triggers:
  - type: message
    regex: "^(a)\\\\1$"
    target: a
`;
    expect(errorsOf(src).map(brief)).toEqual([expect.stringMatching(/^8:12 triggers\[0\]\.regex: backreferences are not supported/)]);
  });

  it('warns (without failing) about unreachable nodes, branches without default and flows without triggers', () => {
    const src = `name: w
version: "1"
nodes:
  - id: a
    type: branch
    config:
      conditions:
        - expression: "true"
          next: b
  - id: b
    type: end
  - id: orphan
    type: end
`;
    const r = loadFlow(src, 'w.ygtc');
    expect(r.ok).toBe(true);
    expect(r.warnings.map(brief)).toEqual([
      expect.stringMatching(/^4:3 nodes: flow has no triggers/),
      expect.stringMatching(/^7:7 nodes\[0\]\.config: branch has no default/),
      '12:9 nodes[2].id: node "orphan" is unreachable: no trigger or node leads to it',
    ]);
  });

  it('refuses non-mapping documents and oversized files', () => {
    expect(errorsOf('just a string')[0].message).toMatch(/YAML mapping/);
    expect(errorsOf(`name: x\n# ${'x'.repeat(600 * 1024)}\n`)[0].message).toMatch(/larger than/);
  });

  it('formats issues as file:line:column path: message', () => {
    expect(formatIssue({ file: 'a.ygtc', line: 3, column: 5, path: 'nodes[0].next', message: 'm' })).toBe('a.ygtc:3:5 nodes[0].next: m');
  });
});

describe('JSON Schema for editors', () => {
  it('the committed schema/ygtc.schema.json equals the one generated from the zod schema (UPDATE_SCHEMA=1 rewrites it)', () => {
    const file = join(__dirname, '..', 'schema', 'ygtc.schema.json');
    const generated = `${JSON.stringify(flowJsonSchema(), null, 2)}\n`;
    if (process.env.UPDATE_SCHEMA === '1') writeFileSync(file, generated);
    expect(readFileSync(file, 'utf8')).toBe(generated);
    const schema = JSON.parse(generated);
    expect(schema.required).toEqual(['name', 'version', 'nodes']);
  });
});
