// Every YAML snippet of the provider page (testdata/page) loads and behaves as the page says.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFlow, loadFragment, formatIssue } from './index';

const dir = join(__dirname, '..', 'testdata', 'page');
const read = (f: string) => readFileSync(join(dir, f), 'utf8');

describe('provider page snippets', () => {
  const fragments = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  it('has all eleven node snippets', () => {
    expect(fragments.sort()).toEqual(
      ['buttons', 'document', 'image', 'list', 'location', 'notification', 'rate_limit', 'template', 'text', 'window'].map((n) => `${n}.yaml`),
    );
  });

  it.each(fragments)('%s validates as a fragment with no errors', (f) => {
    const r = loadFragment(read(f), f);
    if (!r.ok) throw new Error(r.errors.map(formatIssue).join('\n'));
    expect(r.nodes.length).toBeGreaterThan(0);
  });

  it('on_button.ygtc names exactly the three missing nodes, each at its line and column', () => {
    const r = loadFlow(read('on_button.ygtc'), 'flows/on_button.ygtc');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => [e.path, e.line, e.column, e.message])).toEqual([
      ['nodes[0].config.conditions[1].next', 11, 17, 'unknown node "check_status": no node with this id in the flow'],
      ['nodes[0].config.conditions[2].next', 13, 17, 'unknown node "escalate": no node with this id in the flow'],
      ['nodes[0].config.default', 14, 16, 'unknown node "unknown": no node with this id in the flow'],
    ]);
    expect(r.errors.every((e) => e.file === 'flows/on_button.ygtc')).toBe(true);
    expect(formatIssue(r.errors[0])).toBe(
      'flows/on_button.ygtc:11:17 nodes[0].config.conditions[1].next: unknown node "check_status": no node with this id in the flow',
    );
  });

  it('retry_on_rate_limit: true is kept; it defaults to true', () => {
    const r = loadFragment(read('rate_limit.yaml'), 'r.yaml');
    const t = loadFragment(read('text.yaml'), 't.yaml');
    expect(r.ok && r.nodes[0]).toMatchObject({ type: 'reply', retryOnRateLimit: true, content: { message: 'Response' } });
    expect(t.ok && t.nodes[0]).toMatchObject({ retryOnRateLimit: true });
  });

  it('a bare node list is refused by loadFlow with a hint to wrap it', () => {
    const r = loadFlow(read('text.yaml'), 'text.ygtc');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0].message).toMatch(/fragment/);
  });
});
