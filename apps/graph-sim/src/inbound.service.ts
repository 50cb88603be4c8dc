import { Injectable } from '@nestjs/common';
import { MEDIA_KINDS, type MediaKind } from '@gtc/whatsapp';
import { z } from 'zod';
import { DEFAULT_MIME, generateMedia, mediaSha256 } from './media';
import { PhoneNumber, SimStateService } from './sim-state.service';
import { WebhookDeliveryService, webhookEnvelope } from './webhook-delivery.service';

// Plays the user: builds inbound message webhooks exactly as Meta sends them (see the pywa fixtures).
// Payload reference: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object

const mediaInput = z
  .object({
    caption: z.string().optional(),
    mime_type: z.string().optional(),
    filename: z.string().optional(),
    voice: z.boolean().optional(),
    animated: z.boolean().optional(),
  })
  .strict();

const CONTENT_KINDS = [
  'text',
  'button_reply',
  'list_reply',
  'nfm_reply',
  'button',
  'location',
  'reaction',
  'contacts',
  'order',
  'system',
  'edit',
  'revoke',
  ...MEDIA_KINDS,
] as const;

/** `referral` of a message that came from a click-to-WhatsApp ad or a post (Meta's field names). */
const referralInput = z
  .object({
    source_url: z.string(),
    source_id: z.string(),
    source_type: z.enum(['ad', 'post']),
    headline: z.string().optional(),
    body: z.string().optional(),
    media_type: z.enum(['image', 'video']).optional(),
    image_url: z.string().optional(),
    video_url: z.string().optional(),
    thumbnail_url: z.string().optional(),
    ctwa_clid: z.string().optional(),
  })
  .strict();

/** Body of `POST /sim/inbound`: who writes to which number, and exactly one kind of content. */
export const inboundInputSchema = z
  .object({
    phone_number_id: z.string().min(1),
    from: z.string().min(1),
    name: z.string().optional(),
    user_id: z.string().optional(),
    /** Epoch seconds; defaults to now. */
    timestamp: z.number().int().positive().optional(),
    text: z.string().optional(),
    button_reply: z.object({ id: z.string(), title: z.string() }).strict().optional(),
    list_reply: z.object({ id: z.string(), title: z.string(), description: z.string().optional() }).strict().optional(),
    button: z.object({ payload: z.string(), text: z.string() }).strict().optional(),
    location: z
      .object({
        latitude: z.number().min(-90).max(90),
        longitude: z.number().min(-180).max(180),
        name: z.string().optional(),
        address: z.string().optional(),
        url: z.string().optional(),
      })
      .strict()
      .optional(),
    reaction: z.object({ message_id: z.string(), emoji: z.string().optional() }).strict().optional(),
    /** A WhatsApp Flow answered: `response_json` is the JSON string Meta forwards. */
    nfm_reply: z.object({ name: z.string().optional(), body: z.string().optional(), response_json: z.string() }).strict().optional(),
    /** Shared contact cards, as Meta sends them (`name`, `phones`, `emails`, …). */
    contacts: z.array(z.record(z.string(), z.unknown())).min(1).optional(),
    order: z
      .object({
        catalog_id: z.string().min(1),
        text: z.string().optional(),
        product_items: z
          .array(z.object({ product_retailer_id: z.string().min(1), quantity: z.number().int().positive(), item_price: z.number().nonnegative(), currency: z.string().length(3) }).strict())
          .min(1),
      })
      .strict()
      .optional(),
    /**
     * A change on the user's side: `user_changed_number` (with the new `wa_id`) or `user_changed_user_id` (with the new
     * `user_id` and `parent_user_id`; the message comes from the old `user_id`). Sent without a contacts array, as Meta does.
     */
    system: z
      .object({
        type: z.enum(['user_changed_number', 'user_changed_user_id']),
        body: z.string().optional(),
        wa_id: z.string().optional(),
        user_id: z.string().optional(),
        parent_user_id: z.string().optional(),
      })
      .strict()
      .superRefine((v, ctx) => {
        if (v.type === 'user_changed_number' && !v.wa_id) ctx.addIssue({ code: 'custom', path: ['wa_id'], message: 'user_changed_number needs the new wa_id' });
        if (v.type === 'user_changed_user_id' && !v.user_id) ctx.addIssue({ code: 'custom', path: ['user_id'], message: 'user_changed_user_id needs the new user_id' });
      })
      .optional(),
    /** The user edited an earlier message: its new text (or caption). */
    edit: z.object({ original_message_id: z.string().min(1), text: z.string() }).strict().optional(),
    /** The user deleted an earlier message for everyone. */
    revoke: z.object({ original_message_id: z.string().min(1) }).strict().optional(),
    /** The user's parent BSUID (contacts[].parent_user_id and the message's from_parent_user_id). */
    parent_user_id: z.string().optional(),
    /** The message was written in this group (Groups API): `from` is the participant. */
    group_id: z.string().min(1).optional(),
    /** The click-to-WhatsApp ad or post the user came from. */
    referral: referralInput.optional(),
    /** A product enquiry: the catalog product the user asks about (context.referred_product). */
    referred_product: z.object({ catalog_id: z.string().min(1), product_retailer_id: z.string().min(1) }).strict().optional(),
    image: mediaInput.optional(),
    document: mediaInput.optional(),
    audio: mediaInput.optional(),
    video: mediaInput.optional(),
    sticker: mediaInput.optional(),
    context: z
      .object({ id: z.string().optional(), from: z.string().optional(), forwarded: z.boolean().optional(), frequently_forwarded: z.boolean().optional() })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const kinds = CONTENT_KINDS.filter((k) => v[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `needs exactly one of ${CONTENT_KINDS.join(', ')} (got ${kinds.length ? kinds.join(', ') : 'none'})` });
    }
  });

/** A validated `POST /sim/inbound` body. */
export type InboundInput = z.infer<typeof inboundInputSchema>;

/**
 * Body of `POST /sim/user-actions`: a user clicked a link of a marketing message. Meta's documented payload carries
 * only the click; `from`, `user_id` (sent as a contacts entry) and `message_id` are added only when given.
 * https://developers.facebook.com/documentation/business-messaging/whatsapp/marketing-messages/track-click-events
 */
export const userActionInputSchema = z
  .object({
    phone_number_id: z.string().min(1),
    from: z.string().min(1).optional(),
    user_id: z.string().min(1).optional(),
    name: z.string().optional(),
    message_id: z.string().min(1).optional(),
    timestamp: z.number().int().positive().optional(),
    click_component: z.enum(['cta', 'body']).optional(),
    product_id: z.string().optional(),
    click_id: z.string().optional(),
    tracking_token: z.string().optional(),
  })
  .strict();

/** A validated `POST /sim/user-actions` body. */
export type UserActionInput = z.infer<typeof userActionInputSchema>;

/** Body of `POST /sim/webhooks/raw`: any JSON, signed with the number's app secret and delivered like a webhook. */
export const rawWebhookInputSchema = z
  .object({ phone_number_id: z.string().min(1), body: z.unknown().refine((v) => v !== undefined, 'body is required (any JSON value)') })
  .strict();

/** An inbound message ready to post: the message object and its contact. */
interface BuiltInbound {
  wamid: string;
  number: PhoneNumber;
  /** Absent for system messages. */
  contact?: Record<string, unknown>;
  message: Record<string, unknown>;
}

/** Turns simulated user actions into signed inbound webhooks, redelivered until acknowledged. */
@Injectable()
export class InboundService {
  constructor(
    private readonly state: SimStateService,
    private readonly delivery: WebhookDeliveryService,
  ) {}

  /** Creates the messages and posts them (`inbound_batch_size` per webhook and number); returns their wamids. */
  send(inputs: InboundInput[]): { wamids: string[] } | { error: string; status: number } {
    for (const input of inputs) {
      if (!this.state.numbers.has(input.phone_number_id)) return { status: 404, error: `unknown phone_number_id ${input.phone_number_id}` };
    }
    const built = inputs.map((i) => this.build(i));
    const byNumber = new Map<string, BuiltInbound[]>();
    for (const b of built) {
      const list = byNumber.get(b.number.phone_number_id) ?? [];
      list.push(b);
      byNumber.set(b.number.phone_number_id, list);
    }
    const size = this.state.config.inbound_batch_size;
    for (const list of byNumber.values()) {
      for (let i = 0; i < list.length; i += size) {
        const chunk = list.slice(i, i + size);
        const contacts: Record<string, unknown>[] = [];
        const seen = new Set<string>();
        for (const c of chunk) {
          if (!c.contact) continue;
          const key = JSON.stringify(c.contact);
          if (!seen.has(key)) contacts.push(c.contact);
          seen.add(key);
        }
        // System messages come without a contacts array (Meta's system messages reference).
        const payload = webhookEnvelope(chunk[0].number, { ...(contacts.length && { contacts }), messages: chunk.map((c) => c.message) });
        this.delivery.send('inbound', chunk[0].number, payload, chunk.map((c) => c.wamid));
      }
    }
    return { wamids: built.map((b) => b.wamid) };
  }

  private build(input: InboundInput): BuiltInbound {
    const number = this.state.numbers.get(input.phone_number_id)!;
    const wamid = this.state.newWamid(input.from);
    const timestamp = String(input.timestamp ?? Math.floor(Date.now() / 1000));
    const message: Record<string, unknown> = {};
    if (input.context) {
      const { id, from, ...flags } = input.context;
      message.context = id !== undefined ? { from: from ?? number.display_phone_number, id, ...flags } : { ...flags };
    }
    if (input.referred_product) message.context = { ...(message.context as object | undefined), referred_product: input.referred_product };
    message.from = input.from;
    if (input.user_id) message.from_user_id = input.user_id;
    if (input.parent_user_id) message.from_parent_user_id = input.parent_user_id;
    if (input.group_id) message.group_id = input.group_id;
    message.id = wamid;
    message.timestamp = timestamp;
    if (input.referral) message.referral = input.referral;
    let type: string;
    if (input.text !== undefined) {
      type = 'text';
      message.text = { body: input.text };
    } else if (input.button_reply) {
      type = 'interactive';
      message.interactive = { type: 'button_reply', button_reply: input.button_reply };
    } else if (input.list_reply) {
      type = 'interactive';
      message.interactive = { type: 'list_reply', list_reply: input.list_reply };
    } else if (input.button) {
      type = 'button';
      message.button = input.button;
    } else if (input.location) {
      type = 'location';
      message.location = input.location;
    } else if (input.reaction) {
      type = 'reaction';
      message.reaction = input.reaction;
    } else if (input.nfm_reply) {
      type = 'interactive';
      message.interactive = { type: 'nfm_reply', nfm_reply: { name: 'flow', body: 'Sent', ...input.nfm_reply } };
    } else if (input.contacts) {
      type = 'contacts';
      message.contacts = input.contacts;
    } else if (input.order) {
      type = 'order';
      message.order = input.order;
    } else if (input.system) {
      type = 'system';
      const s = input.system;
      const name = input.name ?? input.from;
      message.system =
        s.type === 'user_changed_number'
          ? { body: s.body ?? `User ${name} changed from ${input.from} to ${s.wa_id}`, wa_id: s.wa_id, type: s.type }
          : {
              body: s.body ?? `User ${name} changed their business-scoped user ID`,
              user_id: s.user_id,
              ...(s.parent_user_id && { parent_user_id: s.parent_user_id }),
              type: s.type,
            };
    } else if (input.edit) {
      type = 'edit';
      message.edit = { original_message_id: input.edit.original_message_id, message: { type: 'text', text: { body: input.edit.text } } };
    } else if (input.revoke) {
      type = 'revoke';
      message.revoke = { original_message_id: input.revoke.original_message_id };
    } else {
      const kind = MEDIA_KINDS.find((k) => input[k] !== undefined)!;
      type = kind;
      message[kind] = this.media(number, kind, input[kind]!);
    }
    message.type = type;
    let contact: Record<string, unknown> | undefined;
    if (type !== 'system') {
      contact = { profile: { name: input.name ?? input.from }, wa_id: input.from };
      if (input.user_id) contact.user_id = input.user_id;
      if (input.parent_user_id) contact.parent_user_id = input.parent_user_id;
    }
    this.state.addInbound({
      wamid,
      phone_number_id: number.phone_number_id,
      from: input.from,
      type,
      message,
      created_at: new Date().toISOString(),
      attempts: 0,
    });
    return { wamid, number, contact, message };
  }

  /** Posts a `user_actions` webhook (a marketing message link click); 404 for an unknown number. */
  sendUserAction(input: UserActionInput): { error: string; status: number } | undefined {
    const number = this.state.numbers.get(input.phone_number_id);
    if (!number) return { status: 404, error: `unknown phone_number_id ${input.phone_number_id}` };
    const click: Record<string, unknown> = {};
    for (const k of ['click_component', 'product_id', 'click_id', 'tracking_token'] as const) if (input[k] !== undefined) click[k] = input[k];
    const action: Record<string, unknown> = {
      action_type: 'marketing_messages_link_click',
      timestamp: String(input.timestamp ?? Math.floor(Date.now() / 1000)),
      marketing_messages_link_click_data: click,
    };
    if (input.message_id) action.message_id = input.message_id;
    const value: Record<string, unknown> = {};
    if (input.from || input.user_id) {
      value.contacts = [{ profile: { name: input.name ?? input.from ?? input.user_id }, ...(input.from && { wa_id: input.from }), ...(input.user_id && { user_id: input.user_id }) }];
    }
    value.user_actions = [action];
    this.delivery.send('inbound', number, webhookEnvelope(number, value));
    return undefined;
  }

  /** Signs and delivers any JSON body to the number's webhook URL (retried until a 2xx like any webhook). */
  sendRaw(phoneNumberId: string, body: unknown): { error: string; status: number } | undefined {
    const number = this.state.numbers.get(phoneNumberId);
    if (!number) return { status: 404, error: `unknown phone_number_id ${phoneNumberId}` };
    this.delivery.send('inbound', number, body);
    return undefined;
  }

  private media(number: PhoneNumber, kind: MediaKind, input: z.infer<typeof mediaInput>): Record<string, unknown> {
    const id = this.state.newMediaId();
    const mime = input.mime_type ?? DEFAULT_MIME[kind];
    const bytes = generateMedia(mime, id);
    const sha256 = mediaSha256(bytes);
    this.state.addMedia({ id, phone_number_id: number.phone_number_id, mime_type: mime, sha256, bytes, filename: input.filename, created_at: Date.now() });
    const out: Record<string, unknown> = {};
    if (input.caption !== undefined && kind !== 'audio' && kind !== 'sticker') out.caption = input.caption;
    if (kind === 'document') out.filename = input.filename ?? 'document.pdf';
    out.mime_type = mime;
    out.sha256 = sha256;
    out.id = id;
    if (kind === 'audio') out.voice = input.voice ?? false;
    if (kind === 'sticker') out.animated = input.animated ?? false;
    return out;
  }
}
