// Checks a template send against the business's synced, approved templates (pure). Used at flow upload
// (admin API), for API sends, and by the sender before it calls Meta.

/** A synced template (a message_templates row, or the Graph API's listing). */
export interface SyncedTemplate {
  name: string;
  language: string;
  status: string;
  components: unknown;
}

/** What a template send fills in: name, language and the parameters per component. */
export interface TemplateSend {
  name: string;
  language: string | { code: string };
  components?: Array<{ type: string; sub_type?: string; index?: number | string; parameters?: unknown[] }>;
}

/** Counts the distinct `{{1}}` / `{{name}}` placeholders of a template text. */
export function countPlaceholders(text: unknown): number {
  if (typeof text !== 'string') return 0;
  return new Set([...text.matchAll(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g)].map((m) => m[1])).size;
}

/** The parameters a template expects: body, header (text placeholder or media) and per-button counts. */
export function expectedParameters(components: unknown): { body: number; header: number; buttons: Map<number, number> } {
  const out = { body: 0, header: 0, buttons: new Map<number, number>() };
  if (!Array.isArray(components)) return out;
  for (const c of components as Array<Record<string, unknown>>) {
    const type = String(c?.type ?? '').toUpperCase();
    if (type === 'BODY') out.body = countPlaceholders(c.text);
    else if (type === 'HEADER') {
      const format = String(c.format ?? 'TEXT').toUpperCase();
      out.header = format === 'TEXT' ? countPlaceholders(c.text) : ['IMAGE', 'VIDEO', 'DOCUMENT', 'LOCATION'].includes(format) ? 1 : 0;
    } else if (type === 'BUTTONS' && Array.isArray(c.buttons)) {
      (c.buttons as Array<Record<string, unknown>>).forEach((b, i) => {
        const n = countPlaceholders(b?.url) + (String(b?.type).toUpperCase() === 'COPY_CODE' ? 1 : 0);
        if (n) out.buttons.set(i, n);
      });
    }
  }
  return out;
}

/**
 * Checks one template send against the synced templates: the name exists, in that language, approved,
 * with as many body (and header) parameters as the template has placeholders. Returns the problems (empty = fine).
 */
export function checkTemplateSend(send: TemplateSend, synced: SyncedTemplate[]): string[] {
  const language = typeof send.language === 'string' ? send.language : send.language?.code;
  const byName = synced.filter((t) => t.name === send.name);
  if (!byName.length) {
    const names = [...new Set(synced.map((t) => t.name))].sort();
    return [`unknown template "${send.name}" (synced templates: ${names.length ? names.join(', ') : 'none'})`];
  }
  const tpl = byName.find((t) => t.language === language);
  if (!tpl) {
    return [`template "${send.name}" has no language "${language}" (synced languages: ${byName.map((t) => t.language).sort().join(', ')})`];
  }
  const problems: string[] = [];
  if (tpl.status.toUpperCase() !== 'APPROVED') problems.push(`template "${send.name}" (${language}) is ${tpl.status}, not APPROVED`);
  const expected = expectedParameters(tpl.components);
  const given = (type: string) =>
    (send.components ?? []).filter((c) => c.type?.toLowerCase() === type).reduce((n, c) => n + (c.parameters?.length ?? 0), 0);
  const body = given('body');
  if (body !== expected.body) {
    problems.push(`template "${send.name}" (${language}) takes ${expected.body} body parameter(s), the send gives ${body}`);
  }
  const header = given('header');
  if (header !== expected.header) {
    problems.push(`template "${send.name}" (${language}) takes ${expected.header} header parameter(s), the send gives ${header}`);
  }
  for (const c of send.components ?? []) {
    if (c.type?.toLowerCase() !== 'button' || c.sub_type?.toLowerCase() === 'quick_reply') continue;
    const want = expected.buttons.get(Number(c.index ?? 0)) ?? 0;
    const got = c.parameters?.length ?? 0;
    if (want !== got) problems.push(`template "${send.name}" (${language}) button ${c.index ?? 0} takes ${want} parameter(s), the send gives ${got}`);
  }
  return problems;
}
