import { Injectable } from '@nestjs/common';
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

const MEDIA_KINDS = ['image', 'document', 'audio', 'video', 'sticker'] as const;
const CONTENT_KINDS = ['text', 'button_reply', 'list_reply', 'button', 'location', 'reaction', ...MEDIA_KINDS] as const;

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

/** An inbound message ready to post: the message object and its contact. */
interface BuiltInbound {
  wamid: string;
  number: PhoneNumber;
  contact: Record<string, unknown>;
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
          const key = JSON.stringify(c.contact);
          if (!seen.has(key)) contacts.push(c.contact);
          seen.add(key);
        }
        const payload = webhookEnvelope(chunk[0].number, { contacts, messages: chunk.map((c) => c.message) });
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
    message.from = input.from;
    message.id = wamid;
    message.timestamp = timestamp;
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
    } else {
      const kind = MEDIA_KINDS.find((k) => input[k] !== undefined)!;
      type = kind;
      message[kind] = this.media(number, kind, input[kind]!);
    }
    message.type = type;
    const contact: Record<string, unknown> = { profile: { name: input.name ?? input.from }, wa_id: input.from };
    if (input.user_id) contact.user_id = input.user_id;
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

  private media(number: PhoneNumber, kind: (typeof MEDIA_KINDS)[number], input: z.infer<typeof mediaInput>): Record<string, unknown> {
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
