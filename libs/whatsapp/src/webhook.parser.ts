import { z } from 'zod';
import {
  INBOUND_MESSAGE_TYPES,
  MESSAGE_STATUSES,
  type GraphErrorInfo,
  type InboundMessageEvent,
  type InboundMessageType,
  type InvalidItem,
  type InboundReferral,
  type StatusUpdate,
  type UserAction,
  type WebhookChange,
  type WebhookContact,
  type WebhookParseResult,
} from './webhook.types';
import { formatPath, isMediaKind, isRecord, parseJson, type MediaKind } from './vocabulary';

/** The `field` values whose `value` this parser normalizes. */
const KNOWN_FIELDS = new Set(['messages']);

const str = z.string({ error: 'expected a string' });
const nonEmpty = str.min(1, { error: 'must not be empty' });
const bool = z.boolean({ error: 'expected a boolean' });
const num = z.number({ error: 'expected a number' });
/** An object that may carry more keys than listed (Meta adds fields over time). */
const obj = <T extends z.core.$ZodLooseShape>(shape: T) =>
  z.looseObject(shape, { error: 'expected an object' });
const SECONDS = { error: 'expected a number of seconds' };
const epochSeconds = z
  .union([z.string().regex(/^\d+$/, SECONDS), z.number().int(SECONDS).nonnegative(SECONDS)], SECONDS)
  .transform(Number);

// https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
const errorSchema = obj({
  code: num,
  title: str.optional(),
  message: str.optional(),
  href: str.optional(),
  error_data: obj({ details: str.optional() }).optional(),
  // The older shape carries `details` at the top level.
  details: str.optional(),
}).transform((e): GraphErrorInfo => ({
  code: e.code,
  ...(e.title !== undefined && { title: e.title }),
  ...(e.message !== undefined && { message: e.message }),
  ...((e.error_data?.details ?? e.details) !== undefined && { details: e.error_data?.details ?? e.details }),
  ...(e.href !== undefined && { href: e.href }),
}));

// https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#contacts-object
const contactSchema = obj({
  wa_id: str.optional(),
  user_id: str.optional(),
  parent_user_id: str.optional(),
  profile: obj({ name: str.optional(), username: str.optional() }).optional(),
})
  .refine((c) => c.wa_id !== undefined || c.user_id !== undefined, { error: 'needs wa_id or user_id' })
  .transform((c): WebhookContact => ({
    ...(c.wa_id !== undefined && { waId: c.wa_id }),
    ...(c.user_id !== undefined && { userId: c.user_id }),
    ...(c.parent_user_id !== undefined && { parentUserId: c.parent_user_id }),
    ...(c.profile?.name !== undefined && { profileName: c.profile.name }),
    ...(c.profile?.username !== undefined && { username: c.profile.username }),
  }));

// https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object
const messageBaseSchema = obj({
  id: nonEmpty,
  timestamp: epochSeconds,
  type: nonEmpty,
  from: str.optional(),
  from_user_id: str.optional(),
  from_parent_user_id: str.optional(),
  group_id: str.optional(),
  context: z
    .looseObject({
      from: str.optional(),
      id: str.optional(),
      forwarded: bool.optional(),
      frequently_forwarded: bool.optional(),
      referred_product: obj({ catalog_id: str, product_retailer_id: str }).optional(),
    })
    .optional(),
  errors: z.array(errorSchema).optional(),
  // Read on its own below: a referral that cannot be read is a problem of the message, not a lost message.
  referral: z.unknown().optional(),
});

const referralSchema = obj({
    source_url: str.optional(),
    source_id: str.optional(),
    source_type: str.optional(),
    headline: str.optional(),
    body: str.optional(),
    media_type: str.optional(),
    image_url: str.optional(),
    video_url: str.optional(),
    thumbnail_url: str.optional(),
    ctwa_clid: str.optional(),
});

const REFERRAL_FIELDS = {
  source_url: 'sourceUrl',
  source_id: 'sourceId',
  source_type: 'sourceType',
  headline: 'headline',
  body: 'body',
  media_type: 'mediaType',
  image_url: 'imageUrl',
  video_url: 'videoUrl',
  thumbnail_url: 'thumbnailUrl',
  ctwa_clid: 'ctwaClid',
} as const satisfies Record<string, keyof InboundReferral>;

const mediaSchema = obj({
  id: nonEmpty,
  mime_type: str,
  sha256: str.optional(),
  caption: str.optional(),
  filename: str.optional(),
  voice: bool.optional(),
  animated: bool.optional(),
  url: str.optional(),
});

/** Validates a message's type-specific object and copies it onto the event; returns why it is invalid, if it is. */
type PayloadHandler = (raw: unknown, event: InboundMessageEvent) => string | undefined;

function handler<S extends z.ZodType>(
  schema: S,
  apply: (event: InboundMessageEvent, data: z.output<S>) => void,
): PayloadHandler {
  return (raw, event) => {
    const result = schema.safeParse(raw);
    if (!result.success) return formatIssues(result.error, event.rawType);
    apply(event, result.data);
    return undefined;
  };
}

function mediaHandler(kind: MediaKind): PayloadHandler {
  return handler(mediaSchema, (event, md) => {
    event.media = {
      kind,
      id: md.id,
      mimeType: md.mime_type,
      ...(md.sha256 !== undefined && { sha256: md.sha256 }),
      ...(md.caption !== undefined && { caption: md.caption }),
      ...(md.filename !== undefined && { filename: md.filename }),
      ...(md.voice !== undefined && { voice: md.voice }),
      ...(md.animated !== undefined && { animated: md.animated }),
      ...(md.url !== undefined && { url: md.url }),
    };
  });
}

const replySchema = obj({ id: str, title: str, description: str.optional() });

const interactiveSchema = obj({
  type: str,
  button_reply: replySchema.optional(),
  list_reply: replySchema.optional(),
  nfm_reply: obj({ name: str.optional(), body: str.optional(), response_json: str }).optional(),
});

/** One handler per known message type, keyed by `type`; the payload is the message's property of that name. */
const PAYLOAD_HANDLERS: Record<Exclude<InboundMessageType, 'unknown'>, PayloadHandler> = {
  text: handler(obj({ body: str }), (event, t) => {
    event.text = t.body;
  }),
  // `interactive` may be missing in real payloads (Meta's "interactive message with error"), and new reply
  // types appear over time: such messages are kept with known=false rather than rejected.
  interactive: handler(interactiveSchema.optional(), (event, i) => {
    event.known = false;
    if (!i) return;
    event.interactiveType = i.type;
    if (i.type === 'button_reply' && i.button_reply) {
      event.buttonReply = { id: i.button_reply.id, title: i.button_reply.title };
      event.known = true;
    } else if (i.type === 'list_reply' && i.list_reply) {
      const { id, title, description } = i.list_reply;
      event.listReply = { id, title, ...(description !== undefined && { description }) };
      event.known = true;
    } else if (i.type === 'nfm_reply' && i.nfm_reply) {
      const { name, body, response_json } = i.nfm_reply;
      event.nfmReply = {
        ...(name !== undefined && { name }),
        ...(body !== undefined && { body }),
        responseJson: response_json,
        response: parseJson(response_json),
      };
      event.known = true;
    }
  }),
  button: handler(obj({ payload: str, text: str }), (event, b) => {
    event.button = { payload: b.payload, text: b.text };
  }),
  image: mediaHandler('image'),
  video: mediaHandler('video'),
  audio: mediaHandler('audio'),
  document: mediaHandler('document'),
  sticker: mediaHandler('sticker'),
  location: handler(
    obj({
      latitude: num,
      longitude: num,
      name: str.optional(),
      address: str.optional(),
      url: str.optional(),
    }),
    (event, l) => {
      event.location = {
        latitude: l.latitude,
        longitude: l.longitude,
        ...(l.name !== undefined && { name: l.name }),
        ...(l.address !== undefined && { address: l.address }),
        ...(l.url !== undefined && { url: l.url }),
      };
    },
  ),
  contacts: handler(z.array(z.unknown(), { error: 'expected an array' }), (event, cards) => {
    event.contacts = cards;
  }),
  reaction: handler(obj({ message_id: str, emoji: str.optional() }), (event, r) => {
    const removed = r.emoji === undefined || r.emoji === '';
    event.reaction = { messageId: r.message_id, ...(!removed && { emoji: r.emoji }), removed };
  }),
  order: handler(
    obj({
      catalog_id: str,
      text: str.optional(),
      product_items: z.array(
        obj({ product_retailer_id: str, quantity: num, item_price: num, currency: str }),
      ),
    }),
    (event, o) => {
      event.order = {
        catalogId: o.catalog_id,
        ...(o.text !== undefined && { text: o.text }),
        productItems: o.product_items.map((p) => ({
          productRetailerId: p.product_retailer_id,
          quantity: p.quantity,
          itemPrice: p.item_price,
          currency: p.currency,
        })),
      };
    },
  ),
  system: handler(
    obj({ type: str.optional(), body: str.optional(), wa_id: str.optional(), user_id: str.optional(), parent_user_id: str.optional() }),
    (event, s) => {
      event.system = {
        ...(s.type !== undefined && { type: s.type }),
        ...(s.body !== undefined && { body: s.body }),
        ...(s.wa_id !== undefined && { newWaId: s.wa_id }),
        ...(s.user_id !== undefined && { newUserId: s.user_id }),
        ...(s.parent_user_id !== undefined && { newParentUserId: s.parent_user_id }),
      };
    },
  ),
  // https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/ (edit)
  edit: handler(
    obj({
      original_message_id: nonEmpty,
      message: obj({ type: str.optional(), text: obj({ body: str }).optional() }).optional(),
    }),
    (event, e) => {
      const inner = (e.message ?? {}) as Record<string, unknown>;
      const type = e.message?.type;
      const media = isMediaKind(type) ? mediaSchema.safeParse(inner[type]) : undefined;
      const text = e.message?.text?.body ?? (media?.success ? media.data.caption : undefined);
      event.edit = {
        originalMessageId: e.original_message_id,
        ...(type !== undefined && { type }),
        ...(text !== undefined && { text }),
      };
      if (media?.success) {
        const md = media.data;
        event.edit.media = {
          kind: type as MediaKind,
          id: md.id,
          mimeType: md.mime_type,
          ...(md.caption !== undefined && { caption: md.caption }),
          ...(md.url !== undefined && { url: md.url }),
        };
      }
    },
  ),
  revoke: handler(obj({ original_message_id: nonEmpty }), (event, r) => {
    event.revoke = { originalMessageId: r.original_message_id };
  }),
  // What Meta could not deliver is described by the message's `errors`, already copied.
  unsupported: () => undefined,
};

// https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#statuses-object
const statusSchema = obj({
  id: nonEmpty,
  status: nonEmpty,
  timestamp: epochSeconds,
  recipient_id: str.optional(),
  recipient_user_id: str.optional(),
  recipient_parent_user_id: str.optional(),
  recipient_type: str.optional(),
  recipient_participant_id: str.optional(),
  recipient_participant_user_id: str.optional(),
  recipient_participant_parent_user_id: str.optional(),
  biz_opaque_callback_data: str.optional(),
  errors: z.array(errorSchema).optional(),
  conversation: z.unknown().optional(),
  pricing: z.unknown().optional(),
});

const KNOWN_TYPES = new Set<string>(INBOUND_MESSAGE_TYPES);
const KNOWN_STATUSES = new Set<string>(MESSAGE_STATUSES);

/**
 * Parses a webhook POST body (already JSON-decoded) into normalized changes, messages and statuses.
 * Never throws: a body that is not a WhatsApp Business Account notification gives `{ ok: false, reason }`,
 * and a malformed element inside a good body is reported in `invalid` with its raw JSON.
 */
export function parseWebhook(body: unknown): WebhookParseResult {
  if (!isRecord(body)) return { ok: false, reason: `body is ${describe(body)}, not an object` };
  if (body.object !== 'whatsapp_business_account') {
    return {
      ok: false,
      reason: `object is ${typeof body.object === 'string' ? JSON.stringify(body.object.slice(0, 100)) : describe(body.object)}, not "whatsapp_business_account"`,
    };
  }
  if (!Array.isArray(body.entry))
    return { ok: false, reason: `entry is ${describe(body.entry)}, not an array` };

  const changes: WebhookChange[] = [];
  const invalid: InvalidItem[] = [];
  body.entry.forEach((entry: unknown, e) => {
    const entryPath = `entry[${e}]`;
    if (!isRecord(entry) || typeof entry.id !== 'string' || !Array.isArray(entry.changes)) {
      invalid.push({
        kind: 'entry',
        path: entryPath,
        reason: 'expected { id: string, changes: [] }',
        raw: entry,
      });
      return;
    }
    const wabaId = entry.id;
    entry.changes.forEach((change: unknown, c) => {
      const path = `${entryPath}.changes[${c}]`;
      if (!isRecord(change) || typeof change.field !== 'string') {
        invalid.push({ kind: 'change', path, reason: 'expected { field: string, value }', raw: change });
        return;
      }
      changes.push(parseChange(wabaId, change.field, change.value, `${path}.value`));
    });
  });
  return { ok: true, object: 'whatsapp_business_account', changes, invalid };
}

function parseChange(wabaId: string, field: string, value: unknown, path: string): WebhookChange {
  const change: WebhookChange = {
    wabaId,
    field,
    known: KNOWN_FIELDS.has(field),
    contacts: [],
    messages: [],
    statuses: [],
    errors: [],
    userActions: [],
    invalid: [],
    raw: value,
  };
  // Every field names its phone number the same way, so the per-number filter applies to all of them.
  if (isRecord(value) && isRecord(value.metadata)) {
    if (typeof value.metadata.phone_number_id === 'string')
      change.phoneNumberId = value.metadata.phone_number_id;
    if (typeof value.metadata.display_phone_number === 'string') {
      change.displayPhoneNumber = value.metadata.display_phone_number;
    }
  }
  if (!change.known) return change;
  if (!isRecord(value)) {
    change.invalid.push({
      kind: 'change',
      path,
      reason: `value is ${describe(value)}, not an object`,
      raw: value,
    });
    return change;
  }
  change.contacts = collect(value.contacts, `${path}.contacts`, 'contact', change.invalid, (raw) =>
    parseWith(contactSchema, raw),
  );
  change.messages = collect(value.messages, `${path}.messages`, 'message', change.invalid, (raw) =>
    parseMessage(raw, change.contacts),
  );
  change.statuses = collect(value.statuses, `${path}.statuses`, 'status', change.invalid, parseStatus);
  change.errors = collect(value.errors, `${path}.errors`, 'error', change.invalid, (raw) =>
    parseWith(errorSchema, raw),
  );
  change.userActions = collect(value.user_actions, `${path}.user_actions`, 'user_action', change.invalid, (raw) =>
    parseUserAction(raw, change.contacts),
  );
  return change;
}

// https://developers.facebook.com/documentation/business-messaging/whatsapp/marketing-messages/track-click-events
const userActionSchema = obj({
  action_type: nonEmpty,
  timestamp: epochSeconds,
  message_id: str.optional(),
  id: str.optional(),
  from: str.optional(),
  from_user_id: str.optional(),
  marketing_messages_link_click_data: obj({
    click_component: str.optional(),
    product_id: str.optional(),
    click_id: str.optional(),
    tracking_token: str.optional(),
  }).optional(),
});

function parseUserAction(raw: unknown, contacts: WebhookContact[]): Parsed<UserAction> {
  const parsed = parseWith(userActionSchema, raw);
  if (!parsed.ok) return parsed;
  const a = parsed.value;
  const action: UserAction = {
    actionType: a.action_type,
    known: a.action_type === 'marketing_messages_link_click',
    timestamp: a.timestamp,
    raw,
  };
  const click = a.marketing_messages_link_click_data;
  if (click) {
    action.linkClick = {
      ...(click.click_component !== undefined && { clickComponent: click.click_component }),
      ...(click.product_id !== undefined && { productId: click.product_id }),
      ...(click.click_id !== undefined && { clickId: click.click_id }),
      ...(click.tracking_token !== undefined && { trackingToken: click.tracking_token }),
    };
  }
  const messageId = a.message_id ?? a.id;
  if (messageId !== undefined) action.messageId = messageId;
  // Without its own sender, an action belongs to the change's contact only when there is exactly one.
  const only = contacts.length === 1 ? contacts[0] : undefined;
  const from = a.from ?? (a.from_user_id === undefined ? only?.waId : undefined);
  const userId = a.from_user_id ?? (a.from === undefined ? only?.userId : undefined);
  if (from !== undefined) action.from = from;
  if (userId !== undefined) action.userId = userId;
  return { ok: true, value: action };
}

type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Parses each element of an optional array; failures go to `invalid`. */
function collect<T>(
  list: unknown,
  path: string,
  kind: InvalidItem['kind'],
  invalid: InvalidItem[],
  parse: (raw: unknown) => Parsed<T>,
): T[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    invalid.push({ kind, path, reason: `expected an array, got ${describe(list)}`, raw: list });
    return [];
  }
  const out: T[] = [];
  list.forEach((raw: unknown, i) => {
    const result = parse(raw);
    if (result.ok) {
      out.push(result.value);
      return;
    }
    const item: InvalidItem = { kind, path: `${path}[${i}]`, reason: result.reason, raw };
    if (isRecord(raw) && typeof raw.id === 'string') item.id = raw.id;
    invalid.push(item);
  });
  return out;
}

function parseWith<T>(schema: z.ZodType<T>, raw: unknown): Parsed<T> {
  const result = schema.safeParse(raw);
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, reason: formatIssues(result.error) };
}

function parseMessage(raw: unknown, contacts: WebhookContact[]): Parsed<InboundMessageEvent> {
  const base = parseWith(messageBaseSchema, raw);
  if (!base.ok) return base;
  const m = base.value;
  const event: InboundMessageEvent = {
    wamid: m.id,
    timestamp: m.timestamp,
    type: 'unknown',
    rawType: m.type,
    known: false,
    raw,
  };
  if (m.from !== undefined) event.from = m.from;
  const contact = contacts.find(
    (c) =>
      (m.from !== undefined && c.waId === m.from) ||
      (m.from_user_id !== undefined && c.userId === m.from_user_id),
  );
  const userId = m.from_user_id ?? contact?.userId;
  if (userId !== undefined) event.userId = userId;
  const parentUserId = m.from_parent_user_id ?? contact?.parentUserId;
  if (parentUserId !== undefined) event.parentUserId = parentUserId;
  if (m.group_id !== undefined) event.groupId = m.group_id;
  if (contact?.profileName !== undefined) event.profileName = contact.profileName;
  if (contact?.username !== undefined) event.username = contact.username;
  if (m.context) {
    const { from, id, forwarded, frequently_forwarded, referred_product } = m.context;
    event.context = {
      ...(from !== undefined && { from }),
      ...(id !== undefined && { id }),
      ...(forwarded !== undefined && { forwarded }),
      ...(frequently_forwarded !== undefined && { frequentlyForwarded: frequently_forwarded }),
      ...(referred_product !== undefined && {
        referredProduct: { catalogId: referred_product.catalog_id, productRetailerId: referred_product.product_retailer_id },
      }),
    };
  }
  if (m.errors) event.errors = m.errors;
  const problems: string[] = [];
  if (m.referral !== undefined) {
    const r = referralSchema.safeParse(m.referral);
    if (r.success) {
      const referral: InboundReferral = {};
      for (const [from, to] of Object.entries(REFERRAL_FIELDS)) {
        const v = r.data[from as keyof typeof REFERRAL_FIELDS];
        if (v !== undefined) referral[to] = v;
      }
      event.referral = referral;
    } else problems.push(formatIssues(r.error, 'referral'));
  }
  if (problems.length) event.problems = problems;
  if (!KNOWN_TYPES.has(m.type)) return { ok: true, value: event };

  const type = m.type as Exclude<InboundMessageType, 'unknown'>;
  event.type = type;
  event.known = true;
  // A message whose type object cannot be read is still a message: kept with its type and the problem.
  const problem = PAYLOAD_HANDLERS[type](m[type], event);
  if (problem !== undefined) problems.push(problem);
  if (problems.length) {
    event.known = false;
    event.problems = problems;
  }
  return { ok: true, value: event };
}

function parseStatus(raw: unknown): Parsed<StatusUpdate> {
  const parsed = parseWith(statusSchema, raw);
  if (!parsed.ok) return parsed;
  const s = parsed.value;
  const update: StatusUpdate = {
    wamid: s.id,
    status: s.status,
    known: KNOWN_STATUSES.has(s.status),
    timestamp: s.timestamp,
    raw,
  };
  if (s.recipient_id !== undefined) update.recipientId = s.recipient_id;
  if (s.recipient_user_id !== undefined) update.recipientUserId = s.recipient_user_id;
  if (s.recipient_parent_user_id !== undefined) update.recipientParentUserId = s.recipient_parent_user_id;
  if (s.recipient_type !== undefined) update.recipientType = s.recipient_type;
  if (s.recipient_participant_id !== undefined) update.recipientParticipantId = s.recipient_participant_id;
  if (s.recipient_participant_user_id !== undefined) update.recipientParticipantUserId = s.recipient_participant_user_id;
  if (s.recipient_participant_parent_user_id !== undefined) {
    update.recipientParticipantParentUserId = s.recipient_participant_parent_user_id;
  }
  if (s.biz_opaque_callback_data !== undefined) update.callbackData = s.biz_opaque_callback_data;
  if (s.errors) update.errors = s.errors;
  if (s.conversation !== undefined) update.conversation = s.conversation;
  if (s.pricing !== undefined) update.pricing = s.pricing;
  return { ok: true, value: update };
}

function formatIssues(error: z.ZodError, prefix?: string): string {
  return error.issues
    .map((issue) => {
      const path = formatPath([...(prefix === undefined ? [] : [prefix]), ...issue.path]);
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value === undefined) return 'missing';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
