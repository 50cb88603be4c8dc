import { z } from 'zod';
import type { ContentError, OutboundMediaType } from './outbound.types';
import { formatPath, memoize } from './vocabulary';

// Limits from https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages,
// https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages,
// https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages and
// https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes (132018); see WHATSAPP.md "Sending".
//
// Unit: every length below is counted in Unicode code points (`[...text].length`, what JSON Schema's maxLength
// counts too), not UTF-16 code units and not user-perceived characters (grapheme clusters). So 😀 (U+1F600, two
// UTF-16 units) counts 1, é written as e + U+0301 counts 2, and the family emoji 👨‍👩‍👧‍👦 (4 emoji joined by 3 U+200D
// zero-width joiners) counts 7. Meta documents "characters" without saying which; code points never count less
// than graphemes, so what passes here is not cut by Meta for being longer than it looked.

/** Meta's content limits. Lengths in Unicode code points; counts in items; coordinates in degrees. */
export const CONTENT_LIMITS = {
  /** `text.body`: code points. */
  textBody: 4096,
  /** Media `caption`: code points. */
  caption: 1024,
  /** `interactive.body.text` of a reply-button message: code points. */
  buttonBody: 1024,
  /** `interactive.body.text` of a list message: code points. */
  listBody: 4096,
  /** `interactive.header.text`: code points. */
  headerText: 60,
  /** `interactive.footer.text`: code points. */
  footerText: 60,
  /** Reply buttons per message, at least: items. */
  replyButtonsMin: 1,
  /** Reply buttons per message, at most: items. */
  replyButtonsMax: 3,
  /** Reply button `title` (unique within the message): code points. */
  buttonTitle: 20,
  /** Reply button `id` (unique, no leading/trailing spaces): code points. */
  buttonId: 256,
  /** List `action.button` label: code points. */
  listButton: 20,
  /** Sections per list: items. */
  listSections: 10,
  /** Rows per list, all sections together: items. */
  listRows: 10,
  /** Section `title`: code points. */
  sectionTitle: 24,
  /** Row `id` (unique across the list): code points. */
  rowId: 200,
  /** Row `title`: code points. */
  rowTitle: 24,
  /** Row `description`: code points. */
  rowDescription: 72,
  /** Template `name` (lowercase letters, digits, `_`): code points. */
  templateName: 512,
  /** Consecutive spaces a template text parameter may hold (error 132018): spaces. */
  templateParamSpaces: 4,
  /** `biz_opaque_callback_data`: code points. */
  callbackData: 512,
  /** Latitude, both ways: degrees. */
  latitude: 90,
  /** Longitude, both ways: degrees. */
  longitude: 180,
} as const;

/** Template names: lowercase letters, digits and `_`. */
export const TEMPLATE_NAME_PATTERN = /^[a-z0-9_]+$/;
/** Template language codes as Meta lists them: `en`, `fil`, `en_US`, `pt_BR`, `zh_HK`. */
export const LANGUAGE_CODE_PATTERN = /^[a-z]{2,3}(_[A-Z]{2})?$/;
/** What a template text parameter must not hold (error 132018): newline, tab, or 5 spaces in a row. */
const TEMPLATE_PARAM_FORBIDDEN = new RegExp(`[\\n\\r\\t]| {${CONTENT_LIMITS.templateParamSpaces + 1}}`);

/**
 * How strings are checked: `send` for final text; `draft` for flow content at upload time, where strings may
 * still hold `{{placeholders}}`: lengths then count only the text outside placeholders (the least the rendered
 * text can be) and URLs, names and codes with placeholders are not checked.
 */
export type ContentMode = 'send' | 'draft';

const PLACEHOLDERS = /\{\{[^{}]*\}\}/g;
const HAS_PLACEHOLDER = /\{\{[^{}]*\}\}/;

/** Length in Unicode code points (see the unit note above); in `draft`, of the text outside placeholders. */
function measure(text: string, mode: ContentMode): number {
  return [...(mode === 'draft' ? text.replace(PLACEHOLDERS, '') : text)].length;
}

/**
 * JSON Schema keywords for editors (carried as zod metadata into the `.ygtc` JSON Schema). In `draft` a string
 * holding a `{{placeholder}}` is exempt, since only its rendered value can be judged.
 */
function editorRule(mode: ContentMode, rule: Record<string, unknown>): Record<string, unknown> {
  return mode === 'draft' ? { anyOf: [rule, { pattern: HAS_PLACEHOLDER.source }] } : rule;
}

const requiredOr = (what: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? 'is required' : `must be ${what}`;

/** The Graph-API-shaped content schemas shared by reply content and request bodies, for one mode. */
export interface ContentSchemas {
  /** A string, checked for emptiness (`required`) and length (`max`). */
  text(opts: { max?: number; required?: boolean }): z.ZodType<string>;
  /** Template `name`: lowercase letters, digits and `_`, at most 512. */
  templateName: z.ZodType<string>;
  /** A template language code: `en`, `fil`, `en_US`. */
  languageCode: z.ZodType<string>;
  /** `text` object: `{ body, preview_url? }`. */
  textObject: z.ZodType;
  /** Template `language` object: `{ code, policy? }`. */
  templateLanguage: z.ZodType;
  /** Template `components[]`. */
  templateComponents: z.ZodType;
  /** `interactive` object (button or list). */
  interactive: z.ZodType;
  /** The media object of a message of the given type. */
  mediaObject(type: OutboundMediaType): z.ZodType;
  /** `location` object. */
  location: z.ZodType;
}

interface TextOptions {
  max?: number;
  required?: boolean;
  /** A pattern the whole string must match, and what to say when it does not. */
  format?: { pattern: RegExp; message: string };
}

function buildSchemas(mode: ContentMode): ContentSchemas {
  /** One schema per set of options, built once (a message's check reuses them: building a zod schema is costly). */
  const texts = new Map<string, z.ZodType<string>>();
  const text = (opts: TextOptions): z.ZodType<string> => {
    const key = `${opts.max}|${opts.required}|${opts.format?.pattern.source}|${opts.format?.message}`;
    if (!texts.has(key)) texts.set(key, buildText(opts));
    return texts.get(key)!;
  };
  const buildText = ({ max, required, format }: TextOptions): z.ZodType<string> => {
    const schema = z.string({ error: requiredOr('a string') }).superRefine((value, ctx) => {
      if (required && value.trim() === '') ctx.addIssue({ code: 'custom', message: 'must not be empty' });
      const length = max === undefined ? 0 : measure(value, mode);
      if (max !== undefined && length > max) {
        ctx.addIssue({ code: 'custom', message: `at most ${max} characters (has ${length})` });
      }
      const unchecked = value === '' || (mode === 'draft' && HAS_PLACEHOLDER.test(value));
      if (format && !unchecked && !format.pattern.test(value)) {
        ctx.addIssue({ code: 'custom', message: format.message });
      }
    });
    const rule = {
      ...(max !== undefined && { maxLength: max }),
      ...(format && { pattern: format.pattern.source }),
    };
    const meta = {
      ...(required && { minLength: 1 }),
      ...(Object.keys(rule).length > 0 && editorRule(mode, rule)),
    };
    return Object.keys(meta).length > 0 ? schema.meta(meta) : schema;
  };

  const templateName = text({
    max: CONTENT_LIMITS.templateName,
    required: true,
    format: { pattern: TEMPLATE_NAME_PATTERN, message: 'must be lowercase letters, digits and _ only' },
  });
  const languageCode = text({
    required: true,
    format: { pattern: LANGUAGE_CODE_PATTERN, message: 'must be a language code such as en, fil or en_US' },
  });

  /** A template text parameter: no newline, no tab, at most 4 spaces in a row (Meta error 132018). */
  const templateParamText = text({ required: true })
    .superRefine((value, ctx) => {
      // In a draft a placeholder stands for one unknown word: its value is checked once rendered.
      const bad = TEMPLATE_PARAM_FORBIDDEN.exec(mode === 'draft' ? value.replace(PLACEHOLDERS, 'x') : value);
      if (!bad) return;
      ctx.addIssue({
        code: 'custom',
        params: { graphCode: 132018 },
        message: bad[0].startsWith(' ')
          ? `must not hold more than ${CONTENT_LIMITS.templateParamSpaces} consecutive spaces (Meta error 132018)`
          : 'must not hold a newline or tab (Meta error 132018)',
      });
    })
    .meta({ minLength: 1, not: { pattern: TEMPLATE_PARAM_FORBIDDEN.source } });

  const link = z.string({ error: requiredOr('a string') }).superRefine((value, ctx) => {
    if (mode === 'draft' && HAS_PLACEHOLDER.test(value)) return;
    const url = URL.canParse(value) ? new URL(value) : undefined;
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
    }
  });

  /** Checks `link` xor `id` on a media reference. */
  const linkOrId = (value: { link?: string; id?: string }, ctx: z.RefinementCtx): void => {
    if (value.link === undefined && value.id === undefined) {
      ctx.addIssue({ code: 'custom', message: 'needs link or id' });
    } else if (value.link !== undefined && value.id !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['id'], message: 'give link or id, not both' });
    }
  };

  const mediaRef = (extra: z.ZodRawShape = {}) =>
    z
      .strictObject({ link: link.optional(), id: text({ required: true }).optional(), ...extra })
      .superRefine(linkOrId);

  const mediaObject = memoize((type: OutboundMediaType): z.ZodType =>
    z
      .strictObject({
        link: link.optional(),
        id: text({ required: true }).optional(),
        caption: text({ max: CONTENT_LIMITS.caption }).optional(),
        filename: text({ required: true }).optional(),
      })
      .superRefine((value, ctx) => {
        linkOrId(value, ctx);
        if (value.caption !== undefined && (type === 'audio' || type === 'sticker')) {
          ctx.addIssue({ code: 'custom', path: ['caption'], message: `${type} cannot have a caption` });
        }
        if (value.filename !== undefined && type !== 'document') {
          ctx.addIssue({
            code: 'custom',
            path: ['filename'],
            message: 'only a document can have a filename',
          });
        }
      }),
  );

  const textObject = z.strictObject({
    body: text({ max: CONTENT_LIMITS.textBody, required: true }),
    preview_url: z.boolean({ error: 'must be true or false' }).optional(),
  });

  const templateLanguage = z.strictObject(
    {
      code: languageCode,
      policy: z.literal('deterministic', { error: 'must be "deterministic"' }).optional(),
    },
    { error: requiredOr('an object like { code: "en" }') },
  );

  const parameterValue: Record<string, z.ZodType> = {
    text: templateParamText,
    payload: text({ required: true }),
    image: mediaRef(),
    video: mediaRef(),
    document: mediaRef({ filename: text({ required: true }).optional() }),
    currency: z.looseObject({
      fallback_value: text({ required: true }),
      code: text({ required: true }),
      amount_1000: z.number(),
    }),
    date_time: z.looseObject({ fallback_value: text({ required: true }) }),
  };

  const templateParameter = z
    .looseObject({ type: text({ required: true }) })
    .superRefine((param, ctx) => {
      const schema = parameterValue[param.type];
      if (!schema) return; // other parameter types (location, coupon_code, action, …) are passed to Meta as they are
      const result = schema.safeParse(param[param.type]);
      if (!result.success) {
        for (const issue of result.error.issues) {
          ctx.addIssue({ ...issue, path: [param.type, ...issue.path] } as Parameters<typeof ctx.addIssue>[0]);
        }
      }
    })
    .meta({
      allOf: Object.entries(parameterValue).map(([type, schema]) => ({
        if: { properties: { type: { const: type } }, required: ['type'] },
        then: { properties: { [type]: editorSchema(schema) } },
      })),
    });

  const templateComponents = z.array(
    z
      .strictObject({
        type: z.enum(['header', 'body', 'button'], { error: 'must be header, body or button' }),
        sub_type: text({ required: true }).optional(),
        index: z
          .union([z.number().int().min(0), z.string().regex(/^\d+$/)], {
            error: 'must be a button position (0, 1, …)',
          })
          .optional(),
        parameters: z.array(templateParameter, { error: 'must be a list' }).optional(),
      })
      .superRefine((component, ctx) => {
        if (component.type !== 'button') return;
        if (component.sub_type === undefined) {
          ctx.addIssue({ code: 'custom', path: ['sub_type'], message: 'is required for a button' });
        }
        if (component.index === undefined) {
          ctx.addIssue({ code: 'custom', path: ['index'], message: 'is required for a button' });
        }
      }),
    { error: 'must be a list' },
  );

  const body = (max: number) =>
    z.strictObject({ text: text({ max, required: true }) }, { error: requiredOr('an object') });
  const footer = z.strictObject({ text: text({ max: CONTENT_LIMITS.footerText, required: true }) });
  const textHeader = z.strictObject({
    type: z.literal('text'),
    text: text({ max: CONTENT_LIMITS.headerText, required: true }),
  });

  const buttons = z
    .array(
      z.strictObject({
        type: z.literal('reply', { error: 'must be "reply"' }),
        reply: z.strictObject({
          id: text({ max: CONTENT_LIMITS.buttonId, required: true }),
          title: text({ max: CONTENT_LIMITS.buttonTitle, required: true }),
        }),
      }),
      { error: requiredOr('a list') },
    )
    .superRefine((list, ctx) => {
      if (list.length < CONTENT_LIMITS.replyButtonsMin) {
        ctx.addIssue({ code: 'custom', message: `at least ${CONTENT_LIMITS.replyButtonsMin} reply button` });
      }
      if (list.length > CONTENT_LIMITS.replyButtonsMax) {
        ctx.addIssue({
          code: 'custom',
          path: [CONTENT_LIMITS.replyButtonsMax],
          message: `at most ${CONTENT_LIMITS.replyButtonsMax} reply buttons`,
        });
      }
      const ids = new Set<string>();
      const titles = new Set<string>();
      list.forEach((button, i) => {
        const { id, title } = (button?.reply ?? {}) as { id?: unknown; title?: unknown };
        if (typeof id === 'string') {
          if (id !== id.trim()) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'reply', 'id'],
              message: 'must not start or end with a space',
            });
          }
          if (ids.has(id))
            ctx.addIssue({
              code: 'custom',
              path: [i, 'reply', 'id'],
              message: `duplicate button id "${id}"`,
            });
          ids.add(id);
        }
        if (typeof title === 'string') {
          if (titles.has(title)) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'reply', 'title'],
              message: `duplicate button title "${title}"`,
            });
          }
          titles.add(title);
        }
      });
    })
    .meta({ minItems: CONTENT_LIMITS.replyButtonsMin, maxItems: CONTENT_LIMITS.replyButtonsMax });

  const sections = z
    .array(
      z.strictObject({
        title: text({ max: CONTENT_LIMITS.sectionTitle, required: true }).optional(),
        rows: z
          .array(
            z.strictObject({
              id: text({ max: CONTENT_LIMITS.rowId, required: true }),
              title: text({ max: CONTENT_LIMITS.rowTitle, required: true }),
              description: text({ max: CONTENT_LIMITS.rowDescription }).optional(),
            }),
            { error: requiredOr('a list') },
          )
          .min(1, { error: 'at least 1 row' })
          .meta({ maxItems: CONTENT_LIMITS.listRows }),
      }),
      { error: requiredOr('a list') },
    )
    .superRefine((list, ctx) => {
      if (list.length === 0) ctx.addIssue({ code: 'custom', message: 'at least 1 section' });
      if (list.length > CONTENT_LIMITS.listSections) {
        ctx.addIssue({
          code: 'custom',
          path: [CONTENT_LIMITS.listSections],
          message: `at most ${CONTENT_LIMITS.listSections} sections`,
        });
      }
      let rowCount = 0;
      const seen = new Set<string>();
      list.forEach((section, s) => {
        if (list.length > 1 && section?.title === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [s, 'title'],
            message: 'is required when there is more than one section',
          });
        }
        if (!Array.isArray(section?.rows)) return;
        section.rows.forEach((row, r) => {
          rowCount += 1;
          if (rowCount === CONTENT_LIMITS.listRows + 1) {
            ctx.addIssue({
              code: 'custom',
              path: [s, 'rows', r],
              message: `at most ${CONTENT_LIMITS.listRows} rows in total`,
            });
          }
          const id: unknown = row?.id;
          if (typeof id !== 'string') return;
          if (seen.has(id))
            ctx.addIssue({ code: 'custom', path: [s, 'rows', r, 'id'], message: `duplicate row id "${id}"` });
          seen.add(id);
        });
      });
    })
    .meta({ minItems: 1, maxItems: CONTENT_LIMITS.listSections });

  const interactive = z.discriminatedUnion(
    'type',
    [
      z.strictObject({
        type: z.literal('button'),
        header: z
          .discriminatedUnion(
            'type',
            [
              textHeader,
              z.strictObject({ type: z.literal('image'), image: mediaRef() }),
              z.strictObject({ type: z.literal('video'), video: mediaRef() }),
              z.strictObject({
                type: z.literal('document'),
                document: mediaRef({ filename: text({ required: true }).optional() }),
              }),
            ],
            { error: 'must be text, image, video or document' },
          )
          .optional(),
        body: body(CONTENT_LIMITS.buttonBody),
        footer: footer.optional(),
        action: z.strictObject({ buttons }, { error: requiredOr('an object') }),
      }),
      z.strictObject({
        type: z.literal('list'),
        header: z
          .strictObject({
            type: z.literal('text', { error: 'a list header must be text' }),
            text: text({ max: CONTENT_LIMITS.headerText, required: true }),
          })
          .optional(),
        body: body(CONTENT_LIMITS.listBody),
        footer: footer.optional(),
        action: z.strictObject(
          { button: text({ max: CONTENT_LIMITS.listButton, required: true }), sections },
          { error: requiredOr('an object') },
        ),
      }),
    ],
    { error: 'must be "button" or "list"' },
  );

  const coordinate = (limit: number) =>
    z
      .number({ error: requiredOr('a number') })
      .min(-limit, { error: `must be between -${limit} and ${limit}` })
      .max(limit, { error: `must be between -${limit} and ${limit}` });

  const location = z.strictObject({
    latitude: coordinate(CONTENT_LIMITS.latitude),
    longitude: coordinate(CONTENT_LIMITS.longitude),
    name: text({}).optional(),
    address: text({}).optional(),
  });

  return {
    text,
    templateName,
    languageCode,
    textObject,
    templateLanguage,
    templateComponents,
    interactive,
    mediaObject,
    location,
  };
}

/** Content schemas for final text (`send`) and for flow content with placeholders (`draft`). */
export const CONTENT_SCHEMAS: Record<ContentMode, ContentSchemas> = {
  send: buildSchemas('send'),
  draft: buildSchemas('draft'),
};

/**
 * The JSON Schema (draft 2020-12, without `$schema`) of a content schema, for editors: structure, lengths
 * (maxLength counts code points, like CONTENT_LIMITS), patterns and item counts. Rules JSON Schema cannot say
 * (unique ids and titles, rows across sections, link or id) are checked at upload.
 */
export function editorSchema(schema: z.ZodType): Record<string, unknown> {
  const json: Record<string, unknown> = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  });
  delete json.$schema; // embedded in another schema
  return json;
}

/** Runs a schema and turns its issues into `ContentError`s under `prefix` (`interactive`, `template`, …). */
export function checkContent(schema: z.ZodType, value: unknown, prefix: string): ContentError[] {
  const result = schema.safeParse(value);
  if (result.success) return [];
  return result.error.issues.flatMap((issue) => {
    const path = [...(prefix ? [prefix] : []), ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: formatPath([...path, key]), message: 'unknown field' }));
    }
    const code: unknown = issue.code === 'custom' ? issue.params?.graphCode : undefined;
    return [{ path: formatPath(path), message: issue.message, ...(typeof code === 'number' && { code }) }];
  });
}
