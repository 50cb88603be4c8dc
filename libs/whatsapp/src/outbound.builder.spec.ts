import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildMessageBody, validateMessageBody, validateReplyContent } from './outbound.builder';
import type { ContentError, ReplyContent } from './outbound.types';

const TO = '15551234567';
const ENVELOPE = { messaging_product: 'whatsapp', recipient_type: 'individual', to: TO } as const;

const providerNodes = parse(
  readFileSync(join(__dirname, '..', 'test', 'fixtures', 'provider-page', 'reply_nodes.yaml'), 'utf8'),
) as { id: string; config: Record<string, unknown> }[];

function node(id: string): ReplyContent {
  const found = providerNodes.find((n) => n.id === id);
  if (!found) throw new Error(`no node ${id}`);
  return found.config as unknown as ReplyContent;
}

function build(config: ReplyContent, options?: { callbackData?: string }): unknown {
  const result = buildMessageBody(config, TO, options);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  expect(result.type).toBe(result.body.type);
  return result.body;
}

const providerPageCases: { id: string; body: object }[] = [
  { id: 'reply', body: { ...ENVELOPE, type: 'text', text: { body: 'Hello! How can I help you today?' } } },
  { id: 'show_help', body: { ...ENVELOPE, type: 'text', text: { body: "Here's how I can help..." } } },
  { id: 'send_freeform', body: { ...ENVELOPE, type: 'text', text: { body: 'Thanks for your message!' } } },
  { id: 'reply_with_retry', body: { ...ENVELOPE, type: 'text', text: { body: 'Response' } } },
  {
    id: 'send_template',
    body: {
      ...ENVELOPE,
      type: 'template',
      template: {
        name: 'order_confirmation',
        language: { code: 'en' },
        components: [
          {
            type: 'body',
            parameters: [
              { type: 'text', text: '{{order_id}}' },
              { type: 'text', text: '{{customer_name}}' },
            ],
          },
        ],
      },
    },
  },
  {
    id: 'send_notification',
    body: {
      ...ENVELOPE,
      type: 'template',
      template: {
        name: 'appointment_reminder',
        language: { code: 'en' },
        components: [
          {
            type: 'header',
            parameters: [{ type: 'image', image: { link: 'https://example.com/logo.png' } }],
          },
          {
            type: 'body',
            parameters: [
              { type: 'text', text: '{{customer_name}}' },
              { type: 'text', text: '{{appointment_time}}' },
            ],
          },
          {
            type: 'button',
            sub_type: 'quick_reply',
            index: 0,
            parameters: [{ type: 'payload', payload: 'confirm' }],
          },
        ],
      },
    },
  },
  {
    id: 'send_template_follow_up',
    body: { ...ENVELOPE, type: 'template', template: { name: 'follow_up', language: { code: 'en' } } },
  },
  {
    id: 'ask_action',
    body: {
      ...ENVELOPE,
      type: 'interactive',
      interactive: {
        type: 'button',
        body: { text: 'What would you like to do?' },
        action: {
          buttons: [
            { type: 'reply', reply: { id: 'help', title: 'Get Help' } },
            { type: 'reply', reply: { id: 'status', title: 'Check Status' } },
            { type: 'reply', reply: { id: 'human', title: 'Talk to Human' } },
          ],
        },
      },
    },
  },
  {
    id: 'show_menu',
    body: {
      ...ENVELOPE,
      type: 'interactive',
      interactive: {
        type: 'list',
        header: { type: 'text', text: 'Support Menu' },
        body: { text: 'Please select an option:' },
        action: {
          button: 'View Options',
          sections: [
            {
              title: 'Support',
              rows: [
                { id: 'technical', title: 'Technical Support', description: 'Hardware and software issues' },
                { id: 'billing', title: 'Billing', description: 'Payment and invoices' },
              ],
            },
            {
              title: 'Sales',
              rows: [{ id: 'pricing', title: 'Pricing', description: 'Product pricing information' }],
            },
          ],
        },
      },
    },
  },
  {
    id: 'send_image',
    body: {
      ...ENVELOPE,
      type: 'image',
      image: { link: 'https://example.com/product.jpg', caption: "Here's the product image" },
    },
  },
  {
    id: 'send_document',
    body: {
      ...ENVELOPE,
      type: 'document',
      document: {
        link: 'https://example.com/invoice.pdf',
        caption: 'Your invoice is attached',
        filename: 'invoice.pdf',
      },
    },
  },
  {
    id: 'send_location',
    body: {
      ...ENVELOPE,
      type: 'location',
      location: {
        latitude: 37.7749,
        longitude: -122.4194,
        name: 'Our Office',
        address: '123 Main St, San Francisco, CA',
      },
    },
  },
];

describe('buildMessageBody: every reply node of the provider page', () => {
  it('covers every reply node in the fixture', () => {
    expect(providerPageCases.map((c) => c.id).sort()).toEqual(providerNodes.map((n) => n.id).sort());
  });

  it.each(providerPageCases)('$id', ({ id, body }) => {
    expect(validateReplyContent(node(id))).toEqual([]);
    const built = build(node(id));
    expect(built).toStrictEqual(body);
    expect(validateMessageBody(built)).toEqual([]);
  });
});

const moreCases: { name: string; config: ReplyContent; options?: { callbackData?: string }; body: object }[] =
  [
    {
      name: 'text with preview_url',
      config: { message: { body: 'See https://example.com', preview_url: true } },
      body: { ...ENVELOPE, type: 'text', text: { body: 'See https://example.com', preview_url: true } },
    },
    {
      name: 'text with biz_opaque_callback_data',
      config: { message: 'Hi' },
      options: { callbackData: 'om_123' },
      body: { ...ENVELOPE, biz_opaque_callback_data: 'om_123', type: 'text', text: { body: 'Hi' } },
    },
    {
      name: 'rendered template, language as an object with policy',
      config: {
        template: {
          name: 'order_confirmation',
          language: { code: 'en_US', policy: 'deterministic' },
          components: [{ type: 'body', parameters: [{ type: 'text', text: 'A-1001' }] }],
        },
      },
      body: {
        ...ENVELOPE,
        type: 'template',
        template: {
          name: 'order_confirmation',
          language: { code: 'en_US', policy: 'deterministic' },
          components: [{ type: 'body', parameters: [{ type: 'text', text: 'A-1001' }] }],
        },
      },
    },
    {
      name: 'audio by link',
      config: { media: { type: 'audio', link: 'https://example.com/a.ogg' } },
      body: { ...ENVELOPE, type: 'audio', audio: { link: 'https://example.com/a.ogg' } },
    },
    {
      name: 'video with caption',
      config: { media: { type: 'video', link: 'https://example.com/v.mp4', caption: 'Watch' } },
      body: { ...ENVELOPE, type: 'video', video: { link: 'https://example.com/v.mp4', caption: 'Watch' } },
    },
    {
      name: 'sticker by media id',
      config: { media: { type: 'sticker', id: '1234567890' } },
      body: { ...ENVELOPE, type: 'sticker', sticker: { id: '1234567890' } },
    },
    {
      name: 'image by media id',
      config: { media: { type: 'image', id: '998877' } },
      body: { ...ENVELOPE, type: 'image', image: { id: '998877' } },
    },
    {
      name: 'buttons with image header and footer',
      config: {
        interactive: {
          type: 'button',
          header: { type: 'image', image: { link: 'https://example.com/h.png' } },
          body: { text: 'Pick' },
          footer: { text: 'gtc' },
          action: { buttons: [{ type: 'reply', reply: { id: 'a', title: 'A' } }] },
        },
      },
      body: {
        ...ENVELOPE,
        type: 'interactive',
        interactive: {
          type: 'button',
          header: { type: 'image', image: { link: 'https://example.com/h.png' } },
          body: { text: 'Pick' },
          footer: { text: 'gtc' },
          action: { buttons: [{ type: 'reply', reply: { id: 'a', title: 'A' } }] },
        },
      },
    },
    {
      name: 'minimal location',
      config: { location: { latitude: -90, longitude: 180 } },
      body: { ...ENVELOPE, type: 'location', location: { latitude: -90, longitude: 180 } },
    },
  ];

describe('buildMessageBody: other reply content', () => {
  it.each(moreCases)('$name', ({ config, options, body }) => {
    const built = build(config, options);
    expect(built).toStrictEqual(body);
    expect(validateMessageBody(built)).toEqual([]);
  });

  it('accepts content exactly at the limits (counting characters, not UTF-16 units)', () => {
    const config: ReplyContent = {
      interactive: {
        type: 'list',
        header: { type: 'text', text: 'h'.repeat(60) },
        body: { text: '😮'.repeat(4096) },
        footer: { text: 'f'.repeat(60) },
        action: {
          button: 'b'.repeat(20),
          sections: [
            {
              title: 's'.repeat(24),
              rows: Array.from({ length: 10 }, (_, i) => ({
                id: `${i}`.padEnd(200, 'x'),
                title: 't'.repeat(24),
                description: 'd'.repeat(72),
              })),
            },
          ],
        },
      },
    };
    expect(buildMessageBody(config, TO).ok).toBe(true);
    expect(buildMessageBody({ message: '🙂'.repeat(4096) }, TO).ok).toBe(true);
    expect(
      buildMessageBody(
        {
          interactive: {
            type: 'button',
            body: { text: 'x' },
            action: {
              buttons: [1, 2, 3].map((i) => ({
                type: 'reply' as const,
                reply: { id: `${i}`.padEnd(256, 'i'), title: `${i}`.padEnd(20, 'é') },
              })),
            },
          },
        },
        TO,
      ).ok,
    ).toBe(true);
  });
});

const buttons = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ type: 'reply', reply: { id: `b${i}`, title: `Button ${i}` } }));
const rows = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, title: `Row ${i}` }));
const buttonMessage = (patch: Record<string, unknown>) => ({
  interactive: { type: 'button', body: { text: 'Pick one' }, action: { buttons: buttons(2) }, ...patch },
});
const listMessage = (patch: Record<string, unknown>, action: Record<string, unknown> = {}) => ({
  interactive: {
    type: 'list',
    body: { text: 'Pick one' },
    ...patch,
    action: { button: 'Options', sections: [{ title: 'S', rows: rows(2, 'r') }], ...action },
  },
});
const KEYS = 'message, template, interactive, media, location';

/** Each case breaks one rule; `errors` is the complete expected list. */
const violations: { name: string; config: unknown; errors: ContentError[] }[] = [
  // the reply itself
  {
    name: 'no content',
    config: { retry_on_rate_limit: true },
    errors: [{ path: '', message: `needs one of ${KEYS}` }],
  },
  {
    name: 'not an object',
    config: 'Hello',
    errors: [{ path: '', message: `must be an object with one of ${KEYS}` }],
  },
  {
    name: 'two contents',
    config: { message: 'Hi', template: { name: 't', language: 'en' } },
    errors: [{ path: 'template', message: `a reply has exactly one of ${KEYS}; found message, template` }],
  },
  // text
  {
    name: 'text over 4096',
    config: { message: 'x'.repeat(4097) },
    errors: [{ path: 'message', message: 'at most 4096 characters (has 4097)' }],
  },
  {
    name: 'empty text',
    config: { message: '  ' },
    errors: [{ path: 'message', message: 'must not be empty' }],
  },
  {
    name: 'text object over 4096',
    config: { message: { body: 'é'.repeat(4097) } },
    errors: [{ path: 'message.body', message: 'at most 4096 characters (has 4097)' }],
  },
  {
    name: 'preview_url not boolean',
    config: { message: { body: 'hi', preview_url: 'yes' } },
    errors: [{ path: 'message.preview_url', message: 'must be true or false' }],
  },
  {
    name: 'text not a string',
    config: { message: 42 },
    errors: [{ path: 'message', message: 'must be text or { body, preview_url }' }],
  },
  // template
  {
    name: 'template without name',
    config: { template: { language: 'en' } },
    errors: [{ path: 'template.name', message: 'is required' }],
  },
  {
    name: 'template without language',
    config: { template: { name: 'follow_up' } },
    errors: [
      { path: 'template.language', message: 'must be a language code such as "en" (or { code: "en" })' },
    ],
  },
  {
    name: 'template with empty language',
    config: { template: { name: 'follow_up', language: '' } },
    errors: [{ path: 'template.language', message: 'must not be empty' }],
  },
  {
    name: 'template with empty name',
    config: { template: { name: '', language: 'en' } },
    errors: [{ path: 'template.name', message: 'must not be empty' }],
  },
  {
    name: 'template button without sub_type and index',
    config: {
      template: {
        name: 't',
        language: 'en',
        components: [{ type: 'button', parameters: [{ type: 'payload', payload: 'p' }] }],
      },
    },
    errors: [
      { path: 'template.components[0].sub_type', message: 'is required for a button' },
      { path: 'template.components[0].index', message: 'is required for a button' },
    ],
  },
  {
    name: 'template text parameter without text',
    config: {
      template: { name: 't', language: 'en', components: [{ type: 'body', parameters: [{ type: 'text' }] }] },
    },
    errors: [{ path: 'template.components[0].parameters[0].text', message: 'is required' }],
  },
  {
    name: 'template image parameter without link or id',
    config: {
      template: {
        name: 't',
        language: 'en',
        components: [{ type: 'header', parameters: [{ type: 'image', image: {} }] }],
      },
    },
    errors: [{ path: 'template.components[0].parameters[0].image', message: 'needs link or id' }],
  },
  {
    name: 'template component of unknown type',
    config: { template: { name: 't', language: 'en', components: [{ type: 'footer' }] } },
    errors: [{ path: 'template.components[0].type', message: 'must be header, body or button' }],
  },
  // reply buttons
  {
    name: '4 reply buttons',
    config: buttonMessage({ action: { buttons: buttons(4) } }),
    errors: [{ path: 'interactive.action.buttons[3]', message: 'at most 3 reply buttons' }],
  },
  {
    name: 'no reply buttons',
    config: buttonMessage({ action: { buttons: [] } }),
    errors: [{ path: 'interactive.action.buttons', message: 'at least 1 reply button' }],
  },
  {
    name: 'button title over 20',
    config: buttonMessage({
      action: { buttons: [{ type: 'reply', reply: { id: 'a', title: 'x'.repeat(21) } }] },
    }),
    errors: [
      { path: 'interactive.action.buttons[0].reply.title', message: 'at most 20 characters (has 21)' },
    ],
  },
  {
    name: 'button id over 256',
    config: buttonMessage({
      action: { buttons: [{ type: 'reply', reply: { id: 'i'.repeat(257), title: 'A' } }] },
    }),
    errors: [{ path: 'interactive.action.buttons[0].reply.id', message: 'at most 256 characters (has 257)' }],
  },
  {
    name: 'duplicate button ids',
    config: buttonMessage({
      action: {
        buttons: [
          { type: 'reply', reply: { id: 'help', title: 'A' } },
          { type: 'reply', reply: { id: 'other', title: 'B' } },
          { type: 'reply', reply: { id: 'help', title: 'C' } },
        ],
      },
    }),
    errors: [{ path: 'interactive.action.buttons[2].reply.id', message: 'duplicate button id "help"' }],
  },
  {
    name: 'button of another type',
    config: buttonMessage({ action: { buttons: [{ type: 'url', reply: { id: 'a', title: 'A' } }] } }),
    errors: [{ path: 'interactive.action.buttons[0].type', message: 'must be "reply"' }],
  },
  {
    name: 'interactive body over 1024',
    config: buttonMessage({ body: { text: 'x'.repeat(1025) } }),
    errors: [{ path: 'interactive.body.text', message: 'at most 1024 characters (has 1025)' }],
  },
  {
    name: 'interactive without body',
    config: buttonMessage({ body: undefined }),
    errors: [{ path: 'interactive.body', message: 'is required' }],
  },
  {
    name: 'header text over 60',
    config: buttonMessage({ header: { type: 'text', text: 'x'.repeat(61) } }),
    errors: [{ path: 'interactive.header.text', message: 'at most 60 characters (has 61)' }],
  },
  {
    name: 'header of unknown type',
    config: buttonMessage({ header: { type: 'audio', audio: { id: '1' } } }),
    errors: [{ path: 'interactive.header.type', message: 'must be text, image, video or document' }],
  },
  {
    name: 'footer over 60',
    config: buttonMessage({ footer: { text: 'x'.repeat(61) } }),
    errors: [{ path: 'interactive.footer.text', message: 'at most 60 characters (has 61)' }],
  },
  {
    name: 'misspelt field',
    config: buttonMessage({ body: { txt: 'Pick' } }),
    errors: [
      { path: 'interactive.body.text', message: 'is required' },
      { path: 'interactive.body.txt', message: 'unknown field' },
    ],
  },
  {
    name: 'interactive of unknown type',
    config: { interactive: { type: 'carousel' } },
    errors: [{ path: 'interactive.type', message: 'must be "button" or "list"' }],
  },
  // lists
  {
    name: 'list button label over 20',
    config: listMessage({}, { button: 'x'.repeat(21) }),
    errors: [{ path: 'interactive.action.button', message: 'at most 20 characters (has 21)' }],
  },
  {
    name: '11 sections',
    config: listMessage(
      {},
      { sections: Array.from({ length: 11 }, (_, s) => ({ title: `S${s}`, rows: rows(1, `s${s}r`) })) },
    ),
    errors: [
      { path: 'interactive.action.sections[10]', message: 'at most 10 sections' },
      { path: 'interactive.action.sections[10].rows[0]', message: 'at most 10 rows in total' },
    ],
  },
  {
    name: '11 rows in one section',
    config: listMessage({}, { sections: [{ title: 'S', rows: rows(11, 'r') }] }),
    errors: [{ path: 'interactive.action.sections[0].rows[10]', message: 'at most 10 rows in total' }],
  },
  {
    name: '11 rows across sections',
    config: listMessage(
      {},
      {
        sections: [
          { title: 'A', rows: rows(6, 'a') },
          { title: 'B', rows: rows(5, 'b') },
        ],
      },
    ),
    errors: [{ path: 'interactive.action.sections[1].rows[4]', message: 'at most 10 rows in total' }],
  },
  {
    name: 'row title over 24',
    config: listMessage({}, { sections: [{ title: 'S', rows: [{ id: 'a', title: 'x'.repeat(25) }] }] }),
    errors: [
      { path: 'interactive.action.sections[0].rows[0].title', message: 'at most 24 characters (has 25)' },
    ],
  },
  {
    name: 'row description over 72',
    config: listMessage(
      {},
      { sections: [{ title: 'S', rows: [{ id: 'a', title: 'A', description: 'x'.repeat(73) }] }] },
    ),
    errors: [
      {
        path: 'interactive.action.sections[0].rows[0].description',
        message: 'at most 72 characters (has 73)',
      },
    ],
  },
  {
    name: 'row id over 200',
    config: listMessage({}, { sections: [{ title: 'S', rows: [{ id: 'x'.repeat(201), title: 'A' }] }] }),
    errors: [
      { path: 'interactive.action.sections[0].rows[0].id', message: 'at most 200 characters (has 201)' },
    ],
  },
  {
    name: 'section title over 24',
    config: listMessage({}, { sections: [{ title: 'x'.repeat(25), rows: rows(1, 'r') }] }),
    errors: [{ path: 'interactive.action.sections[0].title', message: 'at most 24 characters (has 25)' }],
  },
  {
    name: 'duplicate row ids across sections',
    config: listMessage(
      {},
      {
        sections: [
          { title: 'A', rows: rows(2, 'r') },
          { title: 'B', rows: rows(1, 'r') },
        ],
      },
    ),
    errors: [{ path: 'interactive.action.sections[1].rows[0].id', message: 'duplicate row id "r0"' }],
  },
  {
    name: 'untitled section among several',
    config: listMessage({}, { sections: [{ title: 'A', rows: rows(1, 'a') }, { rows: rows(1, 'b') }] }),
    errors: [
      {
        path: 'interactive.action.sections[1].title',
        message: 'is required when there is more than one section',
      },
    ],
  },
  {
    name: 'section without rows',
    config: listMessage({}, { sections: [{ title: 'A', rows: [] }] }),
    errors: [{ path: 'interactive.action.sections[0].rows', message: 'at least 1 row' }],
  },
  {
    name: 'list without sections',
    config: listMessage({}, { sections: [] }),
    errors: [{ path: 'interactive.action.sections', message: 'at least 1 section' }],
  },
  {
    name: 'list with an image header',
    config: listMessage({ header: { type: 'image', image: { link: 'https://example.com/a.png' } } }),
    errors: [
      { path: 'interactive.header.type', message: 'a list header must be text' },
      { path: 'interactive.header.text', message: 'is required' },
      { path: 'interactive.header.image', message: 'unknown field' },
    ],
  },
  // media
  {
    name: 'media without link or id',
    config: { media: { type: 'image' } },
    errors: [{ path: 'media', message: 'needs link or id' }],
  },
  {
    name: 'media with link and id',
    config: { media: { type: 'image', link: 'https://example.com/a.png', id: '1' } },
    errors: [{ path: 'media.id', message: 'give link or id, not both' }],
  },
  {
    name: 'caption over 1024',
    config: { media: { type: 'image', id: '1', caption: 'x'.repeat(1025) } },
    errors: [{ path: 'media.caption', message: 'at most 1024 characters (has 1025)' }],
  },
  {
    name: 'audio with caption',
    config: { media: { type: 'audio', id: '1', caption: 'hi' } },
    errors: [{ path: 'media.caption', message: 'audio cannot have a caption' }],
  },
  {
    name: 'sticker with caption',
    config: { media: { type: 'sticker', id: '1', caption: 'hi' } },
    errors: [{ path: 'media.caption', message: 'sticker cannot have a caption' }],
  },
  {
    name: 'image with filename',
    config: { media: { type: 'image', id: '1', filename: 'a.png' } },
    errors: [{ path: 'media.filename', message: 'only a document can have a filename' }],
  },
  {
    name: 'unknown media type',
    config: { media: { type: 'gif', id: '1' } },
    errors: [{ path: 'media.type', message: 'must be one of image, video, audio, document, sticker' }],
  },
  {
    name: 'ftp link',
    config: { media: { type: 'image', link: 'ftp://example.com/a.png' } },
    errors: [{ path: 'media.link', message: 'must be an http(s) URL' }],
  },
  {
    name: 'link that is no URL',
    config: { media: { type: 'image', link: 'product.jpg' } },
    errors: [{ path: 'media.link', message: 'must be an http(s) URL' }],
  },
  // location
  {
    name: 'latitude over 90',
    config: { location: { latitude: 90.5, longitude: 0 } },
    errors: [{ path: 'location.latitude', message: 'must be between -90 and 90' }],
  },
  {
    name: 'latitude under -90',
    config: { location: { latitude: -91, longitude: 0 } },
    errors: [{ path: 'location.latitude', message: 'must be between -90 and 90' }],
  },
  {
    name: 'longitude over 180',
    config: { location: { latitude: 0, longitude: 180.1 } },
    errors: [{ path: 'location.longitude', message: 'must be between -180 and 180' }],
  },
  {
    name: 'longitude under -180',
    config: { location: { latitude: 0, longitude: -200 } },
    errors: [{ path: 'location.longitude', message: 'must be between -180 and 180' }],
  },
  {
    name: 'location without longitude',
    config: { location: { latitude: 1 } },
    errors: [{ path: 'location.longitude', message: 'is required' }],
  },
  {
    name: 'latitude as text',
    config: { location: { latitude: '37.7', longitude: 1 } },
    errors: [{ path: 'location.latitude', message: 'must be a number' }],
  },
];

describe('content limits: each violation names its path and rule', () => {
  it.each(violations)('$name', ({ config, errors }) => {
    expect(validateReplyContent(config)).toEqual(errors);
    const result = buildMessageBody(config as ReplyContent, TO);
    expect(result).toEqual({ ok: false, errors });
  });

  it('checks the recipient and the callback data', () => {
    expect(buildMessageBody({ message: 'Hi' }, '', { callbackData: 'x'.repeat(513) })).toEqual({
      ok: false,
      errors: [
        { path: 'to', message: 'must not be empty' },
        { path: 'callbackData', message: 'at most 512 characters (has 513)' },
      ],
    });
  });
});

describe('validateReplyContent with {{placeholders}} (flow upload)', () => {
  it('measures only the text outside placeholders', () => {
    const config = buttonMessage({
      action: {
        buttons: [{ type: 'reply', reply: { id: '{{order_id}}', title: 'Hi {{customer_first_name}}!' } }],
      },
    });
    expect(validateReplyContent(config)).toEqual([]);
    // Rendered literally (no substitution), the title is too long to send.
    expect(buildMessageBody(config as ReplyContent, TO)).toEqual({
      ok: false,
      errors: [
        { path: 'interactive.action.buttons[0].reply.title', message: 'at most 20 characters (has 27)' },
      ],
    });
  });

  it('still rejects text whose fixed part alone is over the limit', () => {
    expect(validateReplyContent({ message: `{{name}}${'x'.repeat(4097)}` })).toEqual([
      { path: 'message', message: 'at most 4096 characters (has 4097)' },
    ]);
  });

  it('does not check a URL made of placeholders, but does once rendered', () => {
    const config = { media: { type: 'image', link: '{{product_image_url}}' } };
    expect(validateReplyContent(config)).toEqual([]);
    expect(buildMessageBody(config as ReplyContent, TO)).toEqual({
      ok: false,
      errors: [{ path: 'media.link', message: 'must be an http(s) URL' }],
    });
  });

  it('reports a duplicate id written twice with the same placeholder', () => {
    const config = buttonMessage({
      action: {
        buttons: [
          { type: 'reply', reply: { id: '{{x}}', title: 'A' } },
          { type: 'reply', reply: { id: '{{x}}', title: 'B' } },
        ],
      },
    });
    expect(validateReplyContent(config)).toEqual([
      { path: 'interactive.action.buttons[1].reply.id', message: 'duplicate button id "{{x}}"' },
    ]);
  });
});

describe('validateMessageBody: Graph API request bodies', () => {
  const good = { ...ENVELOPE, type: 'text', text: { body: 'Hi' } };
  const cases: { name: string; body: unknown; errors: ContentError[] }[] = [
    { name: 'not an object', body: '{"a":1}', errors: [{ path: '', message: 'must be a JSON object' }] },
    {
      name: 'no messaging_product',
      body: { ...good, messaging_product: undefined },
      errors: [{ path: 'messaging_product', message: 'must be "whatsapp"' }],
    },
    {
      name: 'group recipient',
      body: { ...good, recipient_type: 'group' },
      errors: [{ path: 'recipient_type', message: 'must be "individual"' }],
    },
    {
      name: 'no recipient',
      body: { ...good, to: undefined },
      errors: [{ path: 'to', message: 'is required' }],
    },
    {
      name: 'unsupported type',
      body: { ...good, type: 'reaction' },
      errors: [
        {
          path: 'type',
          message:
            'must be one of text, template, interactive, location, image, video, audio, document, sticker',
        },
      ],
    },
    {
      name: 'type object missing',
      body: { ...ENVELOPE, type: 'image', text: { body: 'Hi' } },
      errors: [{ path: 'image', message: 'is required' }],
    },
    {
      name: 'two type objects',
      body: { ...good, image: { id: '1' } },
      errors: [{ path: 'image', message: 'unknown field' }],
    },
    {
      name: 'template language as a bare code',
      body: { ...ENVELOPE, type: 'template', template: { name: 'follow_up', language: 'en' } },
      errors: [{ path: 'template.language', message: 'must be an object like { code: "en" }' }],
    },
    {
      name: '4 reply buttons',
      body: { ...ENVELOPE, ...buttonMessage({ action: { buttons: buttons(4) } }), type: 'interactive' },
      errors: [{ path: 'interactive.action.buttons[3]', message: 'at most 3 reply buttons' }],
    },
    {
      name: 'text over 4096',
      body: { ...ENVELOPE, type: 'text', text: { body: 'x'.repeat(4097) } },
      errors: [{ path: 'text.body', message: 'at most 4096 characters (has 4097)' }],
    },
    {
      name: 'callback data over 512',
      body: { ...good, biz_opaque_callback_data: 'x'.repeat(513) },
      errors: [{ path: 'biz_opaque_callback_data', message: 'at most 512 characters (has 513)' }],
    },
    {
      name: 'placeholders are text like any other when sending',
      body: { ...ENVELOPE, type: 'image', image: { link: '{{url}}' } },
      errors: [{ path: 'image.link', message: 'must be an http(s) URL' }],
    },
  ];

  it.each(cases)('$name', ({ body, errors }) => {
    expect(validateMessageBody(body)).toEqual(errors);
  });

  it('accepts a reply context', () => {
    expect(validateMessageBody({ ...good, context: { message_id: 'wamid.X' } })).toEqual([]);
  });
});

const FAMILY = '👨‍👩‍👧‍👦'; // 4 emoji + 3 zero-width joiners: 7 code points, 11 UTF-16 units, 1 grapheme
const template = (patch: Record<string, unknown>) => ({
  template: { name: 'order_update', language: 'en', ...patch },
});
const textParam = (text: string) => ({
  components: [{ type: 'body', parameters: [{ type: 'text', text }] }],
});
const titled = (...titles: string[]) =>
  buttonMessage({
    action: { buttons: titles.map((title, i) => ({ type: 'reply', reply: { id: `b${i}`, title } })) },
  });
const withIds = (...ids: string[]) =>
  buttonMessage({
    action: { buttons: ids.map((id, i) => ({ type: 'reply', reply: { id, title: `T${i}` } })) },
  });

/**
 * Every limit of issue 13 at its edge, both ways: content in → it builds (errors `[]`), or the exact errors with
 * their field paths. Lengths are Unicode code points (see CONTENT_LIMITS).
 */
const edges: { name: string; config: unknown; errors: ContentError[] }[] = [
  // text body, counted in code points: 😀 is 1 (2 UTF-16 units), the ZWJ family is 7
  { name: 'text: 4096 × 😀', config: { message: '😀'.repeat(4096) }, errors: [] },
  {
    name: 'text: 4097 × 😀',
    config: { message: '😀'.repeat(4097) },
    errors: [{ path: 'message', message: 'at most 4096 characters (has 4097)' }],
  },
  { name: 'text: 585 ZWJ families + 1 = 4096', config: { message: `${FAMILY.repeat(585)}x` }, errors: [] },
  {
    name: 'text: 586 ZWJ families = 4102',
    config: { message: FAMILY.repeat(586) },
    errors: [{ path: 'message', message: 'at most 4096 characters (has 4102)' }],
  },
  // button title at 20
  { name: 'button title: 20 × 😀', config: titled('😀'.repeat(20)), errors: [] },
  {
    name: 'button title: 21 × 😀',
    config: titled('😀'.repeat(21)),
    errors: [
      { path: 'interactive.action.buttons[0].reply.title', message: 'at most 20 characters (has 21)' },
    ],
  },
  { name: 'button title: 2 ZWJ families + 6 = 20', config: titled(`${FAMILY}${FAMILY}abcdef`), errors: [] },
  {
    name: 'button title: 2 ZWJ families + 7 = 21',
    config: titled(`${FAMILY}${FAMILY}abcdefg`),
    errors: [
      { path: 'interactive.action.buttons[0].reply.title', message: 'at most 20 characters (has 21)' },
    ],
  },
  // body of a list (4096) and of reply buttons (1024)
  {
    name: 'list body: 4096',
    config: listMessage({ body: { text: 'x'.repeat(4096) } }),
    errors: [],
  },
  {
    name: 'list body: 4097',
    config: listMessage({ body: { text: '😀'.repeat(4097) } }),
    errors: [{ path: 'interactive.body.text', message: 'at most 4096 characters (has 4097)' }],
  },
  { name: 'buttons body: 1024', config: buttonMessage({ body: { text: '😀'.repeat(1024) } }), errors: [] },
  {
    name: 'buttons body: 1025',
    config: buttonMessage({ body: { text: '😀'.repeat(1025) } }),
    errors: [{ path: 'interactive.body.text', message: 'at most 1024 characters (has 1025)' }],
  },
  // reply buttons: unique titles, ids without leading/trailing spaces
  {
    name: 'duplicate button titles',
    config: titled('Yes', 'No', 'Yes'),
    errors: [{ path: 'interactive.action.buttons[2].reply.title', message: 'duplicate button title "Yes"' }],
  },
  { name: 'titles differing in case are distinct', config: titled('Yes', 'YES'), errors: [] },
  {
    name: 'button id with a leading space',
    config: withIds(' help'),
    errors: [
      { path: 'interactive.action.buttons[0].reply.id', message: 'must not start or end with a space' },
    ],
  },
  {
    name: 'button id with a trailing space',
    config: withIds('ok', 'help '),
    errors: [
      { path: 'interactive.action.buttons[1].reply.id', message: 'must not start or end with a space' },
    ],
  },
  { name: 'button id with an inner space', config: withIds('get help'), errors: [] },
  // template text parameters (Meta error 132018)
  { name: 'template param with 4 spaces in a row', config: template(textParam('a    b')), errors: [] },
  {
    name: 'template param with 5 spaces in a row',
    config: template(textParam('a     b')),
    errors: [
      {
        path: 'template.components[0].parameters[0].text',
        message: 'must not hold more than 4 consecutive spaces (Meta error 132018)',
        code: 132018,
      },
    ],
  },
  {
    name: 'template param with a newline',
    config: template(textParam('line 1\nline 2')),
    errors: [
      {
        path: 'template.components[0].parameters[0].text',
        message: 'must not hold a newline or tab (Meta error 132018)',
        code: 132018,
      },
    ],
  },
  {
    name: 'template param with a tab',
    config: template({
      components: [{ type: 'header', parameters: [{ type: 'text', text: 'a\tb' }] }],
    }),
    errors: [
      {
        path: 'template.components[0].parameters[0].text',
        message: 'must not hold a newline or tab (Meta error 132018)',
        code: 132018,
      },
    ],
  },
  // template name and language
  { name: 'template name with digits and _', config: template({ name: 'order_update_2' }), errors: [] },
  {
    name: 'template name with capitals',
    config: template({ name: 'Order_Update' }),
    errors: [{ path: 'template.name', message: 'must be lowercase letters, digits and _ only' }],
  },
  {
    name: 'template name with a hyphen',
    config: template({ name: 'order-update' }),
    errors: [{ path: 'template.name', message: 'must be lowercase letters, digits and _ only' }],
  },
  {
    name: 'template name over 512',
    config: template({ name: 'x'.repeat(513) }),
    errors: [{ path: 'template.name', message: 'at most 512 characters (has 513)' }],
  },
  ...['en', 'fil', 'en_US', 'pt_BR', 'zh_HK'].map((code) => ({
    name: `template language ${code}`,
    config: template({ language: code }),
    errors: [],
  })),
  ...['en-US', 'EN', 'en_us', 'english', 'e'].map((code) => ({
    name: `template language ${code}`,
    config: template({ language: code }),
    errors: [{ path: 'template.language', message: 'must be a language code such as en, fil or en_US' }],
  })),
  {
    name: 'template language object with a bad code',
    config: template({ language: { code: 'en-GB' } }),
    errors: [{ path: 'template.language.code', message: 'must be a language code such as en, fil or en_US' }],
  },
];

describe('content limits at their edges (code points, emoji, uniqueness, template format)', () => {
  it.each(edges)('$name', ({ config, errors }) => {
    expect(validateReplyContent(config)).toEqual(errors);
    const result = buildMessageBody(config as ReplyContent, TO);
    if (errors.length > 0) {
      expect(result).toEqual({ ok: false, errors });
    } else {
      expect(result.ok).toBe(true);
      if (result.ok) expect(validateMessageBody(result.body)).toEqual([]);
    }
  });

  it('in a flow draft, placeholders in a template name, language or parameter are judged once rendered', () => {
    const draft = template({ name: '{{tpl}}', language: '{{lang}}', ...textParam('Dear     {{name}}') });
    expect(
      validateReplyContent(
        template({ name: '{{tpl}}', language: '{{lang}}', ...textParam('Dear {{name}}') }),
      ),
    ).toEqual([]);
    expect(validateReplyContent(draft)).toEqual([
      {
        path: 'template.components[0].parameters[0].text',
        message: 'must not hold more than 4 consecutive spaces (Meta error 132018)',
        code: 132018,
      },
    ]);
    expect(buildMessageBody(template({ name: '{{tpl}}' }) as ReplyContent, TO)).toEqual({
      ok: false,
      errors: [{ path: 'template.name', message: 'must be lowercase letters, digits and _ only' }],
    });
  });

  it('the Graph request body is checked the same way (graph-sim answers 100 naming the field)', () => {
    const body = {
      ...ENVELOPE,
      type: 'template',
      template: { name: 'order_update', language: { code: 'en' }, ...textParam('a\tb') },
    };
    expect(validateMessageBody(body)).toEqual([
      {
        path: 'template.components[0].parameters[0].text',
        message: 'must not hold a newline or tab (Meta error 132018)',
        code: 132018,
      },
    ]);
  });
});
