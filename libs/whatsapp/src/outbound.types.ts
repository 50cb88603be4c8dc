// Reply-node content (the provider page's `type: reply` configs) and the Graph API request bodies built from it.
// Request reference: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
import type { MediaKind } from './vocabulary';

/** A problem with reply content or a request body: where (`interactive.action.buttons[3]`) and what. */
export interface ContentError {
  /** Dotted path with [index] for arrays; `` (empty) for the object itself. */
  path: string;
  /** What is wrong, e.g. `at most 3 reply buttons`. */
  message: string;
  /** Meta's own error code for this rule, where it has one (132018: template parameter format); else Meta says 100. */
  code?: number;
}

/**
 * The content of a `type: reply` node: exactly one of `message`, `template`, `interactive`, `media`, `location`.
 * Other keys (such as `retry_on_rate_limit`) belong to the flow engine and are ignored here.
 */
export type ReplyContent =
  | TextReplyContent
  | TemplateReplyContent
  | InteractiveReplyContent
  | MediaReplyContent
  | LocationReplyContent;

/** A reply kind: the one content key of a `ReplyContent` (`message`, `template`, `interactive`, `media`, `location`). */
export type ReplyKind = ReplyContent extends infer C ? (C extends unknown ? keyof C : never) : never;

/**
 * The keys of a reply node config that carry content, in the order messages list them; exactly one must be present.
 * Derived from `ReplyContent`: a new member of the union fails to compile here until its key is listed.
 */
export const REPLY_CONTENT_KEYS = [
  'message',
  'template',
  'interactive',
  'media',
  'location',
] as const satisfies readonly ReplyKind[];

/** Compiles only when `REPLY_CONTENT_KEYS` lists every `ReplyKind`. */
const everyReplyKindListed: [Exclude<ReplyKind, (typeof REPLY_CONTENT_KEYS)[number]>] extends [never] ? true : never = true;
void everyReplyKindListed;

/** The reply kind of validated content (its one content key). */
export function replyKind(content: ReplyContent): ReplyKind {
  const kind = REPLY_CONTENT_KEYS.find((key) => key in content);
  if (kind === undefined) throw new Error(`reply content has none of ${REPLY_CONTENT_KEYS.join(', ')}`);
  return kind;
}

/** Throws for a reply kind no case handled; the `never` parameter makes a forgotten case a compile error. */
export function unhandledReplyKind(kind: never): never {
  throw new Error(`unhandled reply kind ${JSON.stringify(kind)}`);
}

/** `message:` a text reply: a string, or `{ body, preview_url }` to control link previews. */
export interface TextReplyContent {
  /** The text (≤ 4096 characters), or the text with its link-preview switch. */
  message: string | TextObject;
}

/** `template:` a pre-approved template, the only kind of message allowed outside the 24-hour window. */
export interface TemplateReplyContent {
  /** The template, with `language` as a code (`"en"`) or as the API's `{ code }` object. */
  template: TemplateReply;
}

/** `interactive:` reply buttons or a list, in the API's own shape. */
export interface InteractiveReplyContent {
  /** The interactive object exactly as the Graph API takes it. */
  interactive: InteractiveObject;
}

/** `media:` an image, document, audio, video or sticker by URL or by uploaded media id. */
export interface MediaReplyContent {
  /** Which media and where it is. */
  media: MediaReply;
}

/** `location:` a place on the map. */
export interface LocationReplyContent {
  /** The place. */
  location: LocationObject;
}

/**
 * `text` object of a text message.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#text-object
 */
export interface TextObject {
  /** ≤ 4096 characters. */
  body: string;
  /** Render a preview of the first URL in `body`. */
  preview_url?: boolean;
}

/**
 * A template as written in a reply node.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#template-object
 */
export interface TemplateReply {
  /** Template name as approved in WhatsApp Manager. */
  name: string;
  /** Language code (`en`, `en_US`), or the API's `{ code, policy? }`. */
  language: string | TemplateLanguage;
  /** Parameters for the template's header, body and buttons. */
  components?: TemplateComponent[];
}

/**
 * `template.language`.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#language-object
 */
export interface TemplateLanguage {
  /** Language code, e.g. `en`. */
  code: string;
  /** Only `deterministic` exists. */
  policy?: 'deterministic';
}

/**
 * `template` object of a template message.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#template-object
 */
export interface TemplateObject {
  /** Template name. */
  name: string;
  /** Template language. */
  language: TemplateLanguage;
  /** Parameters for the template's header, body and buttons. */
  components?: TemplateComponent[];
}

/**
 * One `template.components[]` element.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#components-object
 */
export interface TemplateComponent {
  /** Which part of the template the parameters fill. */
  type: 'header' | 'body' | 'button';
  /** For buttons: `quick_reply`, `url`, `copy_code`, `flow`, … */
  sub_type?: string;
  /** For buttons: position of the button, 0-based (number or numeric string). */
  index?: number | string;
  /** Values for the component's variables, in order. */
  parameters?: TemplateParameter[];
}

/**
 * One `components[].parameters[]` element: `{ type: "text", text }`, `{ type: "image", image: { link } }`,
 * `{ type: "payload", payload }`, `{ type: "currency", currency: {...} }`, …
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#parameter-object
 */
export interface TemplateParameter {
  /** Parameter type: text, currency, date_time, image, document, video, payload, … */
  type: string;
  /** The value, under the key named by `type`. */
  [key: string]: unknown;
}

/**
 * `interactive` object: reply buttons or a list.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#interactive-object
 */
export type InteractiveObject = InteractiveButtons | InteractiveList;

/**
 * Up to three reply buttons under a body text.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages
 */
export interface InteractiveButtons {
  /** `button`. */
  type: 'button';
  /** Optional header: text (≤ 60) or media. */
  header?: InteractiveHeader;
  /** Body text, ≤ 1024 characters. */
  body: { text: string };
  /** Footer text, ≤ 60 characters. */
  footer?: { text: string };
  /** 1–3 reply buttons with unique ids. */
  action: { buttons: ReplyButton[] };
}

/**
 * A reply button: id ≤ 256, title ≤ 20 characters.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages
 */
export interface ReplyButton {
  /** Always `reply`. */
  type: 'reply';
  /** What the user sees and what comes back in `button_reply`. */
  reply: { id: string; title: string };
}

/**
 * A menu of up to 10 rows in up to 10 sections, opened by a button.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages
 */
export interface InteractiveList {
  /** `list`. */
  type: 'list';
  /** Optional text header (≤ 60); lists take no media header. */
  header?: { type: 'text'; text: string };
  /** Body text, ≤ 1024 characters. */
  body: { text: string };
  /** Footer text, ≤ 60 characters. */
  footer?: { text: string };
  /** The button label (≤ 20) and the sections. */
  action: { button: string; sections: ListSection[] };
}

/**
 * A titled group of rows (title ≤ 24, required when there is more than one section).
 * https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages
 */
export interface ListSection {
  /** Section title. */
  title?: string;
  /** The rows; ids unique across the whole list. */
  rows: ListRow[];
}

/**
 * A list row: id ≤ 200, title ≤ 24, description ≤ 72 characters.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages
 */
export interface ListRow {
  /** Comes back in `list_reply.id`. */
  id: string;
  /** Row title. */
  title: string;
  /** Row description. */
  description?: string;
}

/**
 * `interactive.header`.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#header-object
 */
export type InteractiveHeader =
  | { type: 'text'; text: string }
  | { type: 'image'; image: MediaRef }
  | { type: 'video'; video: MediaRef }
  | { type: 'document'; document: MediaRef & { filename?: string } };

/**
 * A media file by URL (`link`) or by uploaded media `id`: exactly one of the two.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#media-object
 */
export interface MediaRef {
  /** HTTP(S) URL Meta downloads the file from. */
  link?: string;
  /** Id of media uploaded to Meta. */
  id?: string;
}

/** Media types that can be sent. */
export type OutboundMediaType = MediaKind;

/**
 * A media reply as written in a reply node.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#media-object
 */
export interface MediaReply extends MediaRef {
  /** Which kind of media. */
  type: OutboundMediaType;
  /** Caption (image, video, document), ≤ 1024 characters. */
  caption?: string;
  /** File name shown to the user (document). */
  filename?: string;
}

/**
 * Media object of an image/video/audio/document/sticker message.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#media-object
 */
export interface MediaObject extends MediaRef {
  /** Caption (image, video, document). */
  caption?: string;
  /** File name (document). */
  filename?: string;
}

/**
 * `location` object of a location message.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#location-object
 */
export interface LocationObject {
  /** Degrees, −90..90. */
  latitude: number;
  /** Degrees, −180..180. */
  longitude: number;
  /** Place name. */
  name?: string;
  /** Place address. */
  address?: string;
}

/** Fields every send request carries. */
interface GraphMessageEnvelope {
  /** Always `whatsapp`. */
  messaging_product: 'whatsapp';
  /** Always `individual` here. */
  recipient_type: 'individual';
  /** Recipient phone number (wa_id). */
  to: string;
  /** Echoed in status webhooks; we put our own message id here. */
  biz_opaque_callback_data?: string;
}

/**
 * A `POST /{version}/{phone_number_id}/messages` request body.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
 */
export type GraphMessageBody = GraphMessageEnvelope &
  (
    | { type: 'text'; text: TextObject }
    | { type: 'template'; template: TemplateObject }
    | { type: 'interactive'; interactive: InteractiveObject }
    | { type: 'image'; image: MediaObject }
    | { type: 'video'; video: MediaObject }
    | { type: 'audio'; audio: MediaObject }
    | { type: 'document'; document: MediaObject }
    | { type: 'sticker'; sticker: MediaObject }
    | { type: 'location'; location: LocationObject }
  );

/** A send request's `type`. */
export type GraphMessageType = GraphMessageBody['type'];
