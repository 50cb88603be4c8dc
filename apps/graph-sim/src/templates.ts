import { z } from 'zod';
import { GraphErrorAnswer, graphError } from './graph-errors';

// Message templates as `GET /{waba-id}/message_templates` returns them, and the checks Meta makes on a template send.
// https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/message_templates/

/** A template component (`HEADER`, `BODY`, `FOOTER`, `BUTTONS`) as the Graph API lists it. */
export const templateComponentSchema = z
  .object({
    type: z.enum(['HEADER', 'BODY', 'FOOTER', 'BUTTONS']),
    format: z.enum(['TEXT', 'IMAGE', 'VIDEO', 'DOCUMENT', 'LOCATION']).optional(),
    text: z.string().optional(),
    buttons: z.array(z.record(z.string(), z.unknown())).optional(),
    example: z.record(z.string(), z.unknown()).optional(),
  })
  .passthrough();

/** A template as listed by the Graph API. */
export const templateSchema = z
  .object({
    name: z.string().min(1).max(512),
    language: z.string().min(2),
    status: z.enum(['APPROVED', 'PENDING', 'REJECTED', 'PAUSED', 'DISABLED']).default('APPROVED'),
    category: z.enum(['UTILITY', 'MARKETING', 'AUTHENTICATION']).default('UTILITY'),
    id: z.string().optional(),
    components: z.array(templateComponentSchema).default([]),
  })
  .passthrough();

/** A template as listed by the Graph API. */
export type SimTemplate = z.infer<typeof templateSchema>;

/** The templates a fresh simulator knows. */
export function defaultTemplates(): SimTemplate[] {
  return [
    {
      name: 'order_confirmation',
      language: 'en',
      status: 'APPROVED',
      category: 'UTILITY',
      id: '1689556908129832',
      components: [
        {
          type: 'BODY',
          text: 'Hi {{1}}, your order {{2}} is confirmed. We will let you know when it ships.',
          example: { body_text: [['Ana', 'A-1042']] },
        },
      ],
    },
    {
      name: 'appointment_reminder',
      language: 'en',
      status: 'APPROVED',
      category: 'UTILITY',
      id: '1689556908129833',
      components: [
        { type: 'HEADER', format: 'IMAGE', example: { header_handle: ['https://example.com/clinic.png'] } },
        {
          type: 'BODY',
          text: 'Hello {{1}}, this is a reminder of your appointment on {{2}}. Will you make it?',
          example: { body_text: [['Ana', 'Monday 10:00']] },
        },
        { type: 'FOOTER', text: 'Reply to confirm or cancel' },
        {
          type: 'BUTTONS',
          buttons: [
            { type: 'QUICK_REPLY', text: 'Confirm' },
            { type: 'QUICK_REPLY', text: 'Cancel' },
          ],
        },
      ],
    },
    {
      name: 'follow_up',
      language: 'en',
      status: 'APPROVED',
      category: 'MARKETING',
      id: '1689556908129834',
      components: [{ type: 'BODY', text: 'Thanks for talking to us! Is there anything else we can help you with?' }],
    },
  ];
}

function placeholders(text: string | undefined): number {
  if (!text) return 0;
  return new Set([...text.matchAll(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g)].map((m) => m[1])).size;
}

interface SentComponent {
  type?: unknown;
  parameters?: unknown;
}

function sentParameters(components: unknown, type: string): unknown[] {
  if (!Array.isArray(components)) return [];
  const found = components.find((c: SentComponent) => typeof c?.type === 'string' && c.type.toLowerCase() === type) as SentComponent | undefined;
  return Array.isArray(found?.parameters) ? found.parameters : [];
}

/**
 * Checks a template send against the known templates as Meta does: unknown name or language → 404 / 132001,
 * wrong number of header or body parameters → 400 / 132000, a header parameter of the wrong kind → 400 / 132012.
 * Returns the template (for the pricing category) or the error answer.
 */
export function checkTemplateSend(
  templates: SimTemplate[],
  template: unknown,
): { ok: true; template: SimTemplate } | { ok: false; error: GraphErrorAnswer } {
  const t = (template ?? {}) as { name?: unknown; language?: unknown; components?: unknown };
  const name = typeof t.name === 'string' ? t.name : '';
  const lang = typeof t.language === 'string' ? t.language : (t.language as { code?: unknown } | undefined)?.code;
  const code = typeof lang === 'string' ? lang : '';
  const known = templates.find((x) => x.name === name && x.language === code && x.status === 'APPROVED');
  if (!known) return { ok: false, error: graphError(404, 132001, { details: `template name (${name}) does not exist in ${code}` }) };

  const body = known.components.find((c) => c.type === 'BODY');
  const header = known.components.find((c) => c.type === 'HEADER');
  const wantBody = placeholders(body?.text);
  const gotBody = sentParameters(t.components, 'body').length;
  if (wantBody !== gotBody) {
    return {
      ok: false,
      error: graphError(400, 132000, {
        details: `body: number of localizable_params (${gotBody}) does not match the expected number of params (${wantBody})`,
      }),
    };
  }
  const headerParams = sentParameters(t.components, 'header');
  const format = header?.format ?? (header ? 'TEXT' : undefined);
  const wantHeader = format === undefined ? 0 : format === 'TEXT' ? placeholders(header?.text) : 1;
  if (wantHeader !== headerParams.length) {
    return {
      ok: false,
      error: graphError(400, 132000, {
        details: `header: number of localizable_params (${headerParams.length}) does not match the expected number of params (${wantHeader})`,
      }),
    };
  }
  if (format && format !== 'TEXT' && headerParams.length === 1) {
    const kind = (headerParams[0] as { type?: unknown })?.type;
    if (typeof kind !== 'string' || kind.toUpperCase() !== format) {
      return {
        ok: false,
        error: graphError(400, 132012, {
          message: '(#132012) Parameter format does not match format in the created template',
          details: `header: Format mismatch, expected ${format}, received ${String(kind).toUpperCase()}`,
        }),
      };
    }
  }
  return { ok: true, template: known };
}
