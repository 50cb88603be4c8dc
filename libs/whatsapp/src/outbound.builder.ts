import { z } from 'zod';
import {
  CONTENT_LIMITS,
  CONTENT_SCHEMAS,
  checkContent,
  editorSchema,
  type ContentMode,
  type ContentSchemas,
} from './content-limits';
import type {
  ContentError,
  GraphMessageBody,
  GraphMessageType,
  MediaReply,
  OutboundMediaType,
  ReplyContent,
  ReplyKind,
  TemplateObject,
  TemplateReply,
} from './outbound.types';
import { REPLY_CONTENT_KEYS, replyKind, unhandledReplyKind } from './outbound.types';
import { MEDIA_KINDS, isRecord, memoize } from './vocabulary';

const MESSAGE_TYPES = [
  'text',
  'template',
  'interactive',
  'location',
  ...MEDIA_KINDS,
] as const satisfies readonly GraphMessageType[];

/** What each reply kind sends, for API docs and editors (the `.ygtc` JSON Schema's descriptions). */
export const REPLY_CONTENT_DESCRIPTIONS: Record<ReplyKind, string> = {
  message: 'Text message body (at most 4096 characters), or { body, preview_url }',
  template: 'Template message: name, language, components',
  interactive: 'Interactive message: type button|list, header, body, footer, action',
  media: 'Media message: type image|video|audio|document|sticker, link or id, caption, filename',
  location: 'Location message: latitude, longitude, name, address',
};

/** Result of `buildMessageBody`: the request body, or every reason it cannot be built. */
export type BuildResult =
  { ok: true; type: GraphMessageType; body: GraphMessageBody } | { ok: false; errors: ContentError[] };

/** Options for `buildMessageBody`. */
export interface BuildOptions {
  /** Sent as `biz_opaque_callback_data` (≤ 512 characters) and echoed in status webhooks: our message id. */
  callbackData?: string;
}

/**
 * Checks reply-node content at flow upload time. Strings may hold `{{placeholders}}`: limits then apply to the
 * text outside them. Paths name the config field, e.g. `interactive.action.buttons[3]`.
 */
export function validateReplyContent(config: unknown): ContentError[] {
  return validateIn(config, 'draft');
}

/**
 * Turns rendered reply content (placeholders already substituted) into the exact Graph API request body for
 * `to`, or lists every content error (same paths as `validateReplyContent`).
 */
export function buildMessageBody(config: ReplyContent, to: string, options: BuildOptions = {}): BuildResult {
  const errors = [
    ...validateIn(config, 'send'),
    ...checkContent(SEND_ARGUMENTS.to, to, 'to'),
    ...checkContent(SEND_ARGUMENTS.callbackData, options.callbackData, 'callbackData'),
  ];
  if (errors.length > 0) return { ok: false, errors };

  const envelope = {
    messaging_product: 'whatsapp',
    recipient_type: 'individual',
    to,
    ...(options.callbackData !== undefined && { biz_opaque_callback_data: options.callbackData }),
  } as const;
  const body = contentBody(config);
  return { ok: true, type: body.type, body: { ...envelope, ...body } };
}

/**
 * Validates a complete `POST /{version}/{phone_number_id}/messages` body the way the Graph API does (envelope,
 * type, the type's object and every content limit). An empty list means Meta would accept it.
 */
export function validateMessageBody(body: unknown): ContentError[] {
  if (!isRecord(body)) return [{ path: '', message: 'must be a JSON object' }];
  const type = body.type;
  if (!isMessageType(type)) return checkContent(ENVELOPE_ONLY, body, '');
  if (body[type] === undefined) return [{ path: type, message: 'is required' }];
  return checkContent(messageBodySchema(type), body, '');
}

/** buildMessageBody's checks of `to` and the callback data (built once). */
const SEND_ARGUMENTS = {
  to: CONTENT_SCHEMAS.send.text({ required: true }),
  callbackData: CONTENT_SCHEMAS.send.text({ max: CONTENT_LIMITS.callbackData, required: true }).optional(),
};

/** The envelope of a request body: what every message type has. */
const ENVELOPE = {
  messaging_product: z.literal('whatsapp', { error: 'must be "whatsapp"' }),
  recipient_type: z.literal('individual', { error: 'must be "individual"' }).optional(),
  to: CONTENT_SCHEMAS.send.text({ required: true }),
  type: z.enum(MESSAGE_TYPES, { error: `must be one of ${MESSAGE_TYPES.join(', ')}` }),
  biz_opaque_callback_data: CONTENT_SCHEMAS.send.text({ max: CONTENT_LIMITS.callbackData }).optional(),
  context: z.strictObject({ message_id: CONTENT_SCHEMAS.send.text({ required: true }) }).optional(),
};
/** A body of an unknown type: its envelope is checked, the rest is left to the type's error. */
const ENVELOPE_ONLY = z.looseObject(ENVELOPE);
/** The whole request body of one message type (built once per type). */
const messageBodySchema = memoize((type: GraphMessageType) => z.strictObject({ ...ENVELOPE, [type]: bodySchema(type, CONTENT_SCHEMAS.send) }));

/**
 * The JSON Schema of each reply content key as a flow may write it (placeholders allowed), carrying Meta's limits
 * so that an editor flags them; the `.ygtc` JSON Schema embeds these.
 */
export function replyContentJsonSchemas(): Record<ReplyKind, Record<string, unknown>> {
  const s = CONTENT_SCHEMAS.draft;
  // One shape for every media type; which type may have a caption or filename is checked at upload.
  const media = editorSchema(s.mediaObject('document'));
  return {
    message: editorSchema(z.union([s.text({ max: CONTENT_LIMITS.textBody, required: true }), s.textObject])),
    template: editorSchema(templateReplySchema(s)),
    interactive: editorSchema(s.interactive),
    media: {
      ...media,
      properties: { type: { type: 'string', enum: MEDIA_KINDS }, ...(media.properties as object) },
      required: ['type'],
    },
    location: editorSchema(s.location),
  };
}

function validateIn(config: unknown, mode: ContentMode): ContentError[] {
  const keys = REPLY_CONTENT_KEYS.join(', ');
  if (!isRecord(config)) return [{ path: '', message: `must be an object with one of ${keys}` }];
  const present = REPLY_CONTENT_KEYS.filter((key) => config[key] !== undefined);
  const [key, second] = present;
  if (key === undefined) return [{ path: '', message: `needs one of ${keys}` }];
  if (second !== undefined) {
    return [{ path: second, message: `a reply has exactly one of ${keys}; found ${present.join(', ')}` }];
  }
  const s = CONTENT_SCHEMAS[mode];
  const value = config[key];
  switch (key) {
    case 'message':
      if (typeof value === 'string')
        return checkContent(s.text({ max: CONTENT_LIMITS.textBody, required: true }), value, key);
      if (!isRecord(value)) return [{ path: key, message: 'must be text or { body, preview_url }' }];
      return checkContent(s.textObject, value, key);
    case 'template':
      return checkContent(templateReplySchema(s), value, key);
    case 'interactive':
      return checkContent(s.interactive, value, key);
    case 'media': {
      if (!isRecord(value)) return [{ path: key, message: 'must be an object' }];
      const { type, ...media } = value;
      const typeErrors = checkContent(
        z.enum(MEDIA_KINDS, { error: `must be one of ${MEDIA_KINDS.join(', ')}` }),
        type,
        'media.type',
      );
      return typeErrors.length > 0
        ? typeErrors
        : checkContent(s.mediaObject(type as OutboundMediaType), media, key);
    }
    case 'location':
      return checkContent(s.location, value, key);
    default:
      return unhandledReplyKind(key);
  }
}

/** A flow's `template` reply content, per mode (built once each). */
const templateReplySchema = memoize((s: ContentSchemas): z.ZodType =>
  z.strictObject({
    name: s.templateName,
    language: z.union([s.languageCode, s.templateLanguage], {
      error: 'must be a language code such as "en" (or { code: "en" })',
    }),
    components: s.templateComponents.optional(),
  }),
);

function bodySchema(type: GraphMessageType, s: ContentSchemas): z.ZodType {
  switch (type) {
    case 'text':
      return s.textObject;
    case 'template':
      return z.strictObject({
        name: s.templateName,
        language: s.templateLanguage,
        components: s.templateComponents.optional(),
      });
    case 'interactive':
      return s.interactive;
    case 'location':
      return s.location;
    default:
      return s.mediaObject(type);
  }
}

/** The `type` and `<type>` object of the body; `config` has been validated. */
function contentBody(config: ReplyContent): DistributiveOmit<GraphMessageBody, Envelope> {
  const kind = replyKind(config);
  switch (kind) {
    case 'message': {
      const { message } = config as Extract<ReplyContent, { message: unknown }>;
      return { type: 'text', text: typeof message === 'string' ? { body: message } : message };
    }
    case 'template':
      return { type: 'template', template: templateObject((config as Extract<ReplyContent, { template: unknown }>).template) };
    case 'interactive':
      return { type: 'interactive', interactive: (config as Extract<ReplyContent, { interactive: unknown }>).interactive };
    case 'media':
      return mediaBody((config as Extract<ReplyContent, { media: unknown }>).media);
    case 'location':
      return { type: 'location', location: (config as Extract<ReplyContent, { location: unknown }>).location };
    default:
      return unhandledReplyKind(kind);
  }
}

type Envelope = 'messaging_product' | 'recipient_type' | 'to' | 'biz_opaque_callback_data';
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function templateObject(template: TemplateReply): TemplateObject {
  const language = typeof template.language === 'string' ? { code: template.language } : template.language;
  return {
    name: template.name,
    language,
    ...(template.components !== undefined && { components: template.components }),
  };
}

function mediaBody({ type, ...media }: MediaReply): DistributiveOmit<GraphMessageBody, Envelope> {
  const object = {
    ...(media.link !== undefined && { link: media.link }),
    ...(media.id !== undefined && { id: media.id }),
    ...(media.caption !== undefined && { caption: media.caption }),
    ...(media.filename !== undefined && { filename: media.filename }),
  };
  switch (type) {
    case 'image':
      return { type, image: object };
    case 'video':
      return { type, video: object };
    case 'audio':
      return { type, audio: object };
    case 'document':
      return { type, document: object };
    case 'sticker':
      return { type, sticker: object };
  }
}

function isMessageType(value: unknown): value is GraphMessageType {
  return typeof value === 'string' && (MESSAGE_TYPES as readonly string[]).includes(value);
}
