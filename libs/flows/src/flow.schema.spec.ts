import { describe, expect, it } from 'vitest';
import { flowJsonSchema } from './flow.schema';

type Json = Record<string, any>;

/** The published JSON Schema of a reply node's config. */
function replyConfig(): Json {
  const nodes = (flowJsonSchema() as Json).properties.nodes.items.oneOf as Json[];
  return nodes.find((n) => n.properties.type.const === 'reply')!.properties.config.properties;
}

/** The rule an editor applies to a string: its maxLength/pattern, or (with a placeholder exemption) the first branch. */
function rule(schema: Json): Json {
  return schema.anyOf ? schema.anyOf[0] : schema;
}

const config = replyConfig();
const [buttons, list] = config.interactive.oneOf as Json[];

/** Each content limit an editor should flag, where the .ygtc JSON Schema carries it. */
const limits: { name: string; at: () => Json; expected: Json }[] = [
  { name: 'text body ≤ 4096', at: () => rule(config.message.anyOf[0]), expected: { maxLength: 4096 } },
  { name: 'text object body ≤ 4096', at: () => rule(config.message.anyOf[1].properties.body), expected: { maxLength: 4096 } },
  { name: 'reply-buttons body ≤ 1024', at: () => rule(buttons.properties.body.properties.text), expected: { maxLength: 1024 } },
  { name: 'list body ≤ 4096', at: () => rule(list.properties.body.properties.text), expected: { maxLength: 4096 } },
  { name: 'footer ≤ 60', at: () => rule(buttons.properties.footer.properties.text), expected: { maxLength: 60 } },
  { name: '1–3 reply buttons', at: () => buttons.properties.action.properties.buttons, expected: { minItems: 1, maxItems: 3 } },
  {
    name: 'button title ≤ 20',
    at: () => rule(buttons.properties.action.properties.buttons.items.properties.reply.properties.title),
    expected: { maxLength: 20 },
  },
  {
    name: 'button id ≤ 256',
    at: () => rule(buttons.properties.action.properties.buttons.items.properties.reply.properties.id),
    expected: { maxLength: 256 },
  },
  { name: 'list button ≤ 20', at: () => rule(list.properties.action.properties.button), expected: { maxLength: 20 } },
  { name: '≤ 10 sections', at: () => list.properties.action.properties.sections, expected: { minItems: 1, maxItems: 10 } },
  {
    name: 'row title ≤ 24',
    at: () => rule(list.properties.action.properties.sections.items.properties.rows.items.properties.title),
    expected: { maxLength: 24 },
  },
  {
    name: 'row description ≤ 72',
    at: () => rule(list.properties.action.properties.sections.items.properties.rows.items.properties.description),
    expected: { maxLength: 72 },
  },
  { name: 'caption ≤ 1024', at: () => rule(config.media.properties.caption), expected: { maxLength: 1024 } },
  {
    name: 'media type',
    at: () => config.media.properties.type,
    expected: { enum: ['image', 'video', 'audio', 'document', 'sticker'] },
  },
  {
    name: 'template name: lowercase, digits, _',
    at: () => rule(config.template.properties.name),
    expected: { maxLength: 512, pattern: '^[a-z0-9_]+$' },
  },
  {
    name: 'template language code',
    at: () => rule(config.template.properties.language.anyOf[0]),
    expected: { pattern: '^[a-z]{2,3}(_[A-Z]{2})?$' },
  },
  {
    name: 'template text parameter: no newline, tab or 5 spaces (132018)',
    at: () =>
      (config.template.properties.components.items.properties.parameters.items.allOf as Json[]).find(
        (c) => c.if.properties.type.const === 'text',
      )!.then.properties.text,
    expected: { not: { pattern: '[\\n\\r\\t]| {5}' } },
  },
  { name: 'latitude −90..90', at: () => config.location.properties.latitude, expected: { minimum: -90, maximum: 90 } },
];

describe('the .ygtc JSON Schema carries the WhatsApp content limits (so an editor flags them)', () => {
  it.each(limits)('$name', ({ at, expected }) => {
    expect(at()).toMatchObject(expected);
  });

  it('exempts a string holding a {{placeholder}} from a length or pattern (judged once rendered)', () => {
    const title = buttons.properties.action.properties.buttons.items.properties.reply.properties.title;
    expect(title.anyOf).toEqual([{ maxLength: 20 }, { pattern: '\\{\\{[^{}]*\\}\\}' }]);
  });

  it('refuses unknown fields in the content objects', () => {
    expect(config.template.additionalProperties).toBe(false);
    expect(buttons.additionalProperties).toBe(false);
    expect(config.media.additionalProperties).toBe(false);
  });
});
