// Normalized shapes of Meta's WhatsApp Cloud API webhook notifications.
// Payload reference: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
import type { MediaKind } from './vocabulary';

/** Result of parsing one webhook POST body; never thrown, always returned. */
export type WebhookParseResult = ParsedWebhook | RejectedWebhook;

/** A body that is not a WhatsApp Business Account notification at all (answer it, record nothing). */
export interface RejectedWebhook {
  /** Always false: nothing in the body can be used. */
  ok: false;
  /** Why the body was rejected, e.g. `object is "page", not "whatsapp_business_account"`. */
  reason: string;
}

/** A WhatsApp Business Account notification, flattened to its changes. */
export interface ParsedWebhook {
  /** Always true: the envelope is a `whatsapp_business_account` notification. */
  ok: true;
  /** The envelope's `object`, always `whatsapp_business_account`. */
  object: 'whatsapp_business_account';
  /** Every `entry[].changes[]` in order of appearance. */
  changes: WebhookChange[];
  /** Entries or changes too malformed to yield a change (no WABA id, no `field`, not an object, …). */
  invalid: InvalidItem[];
}

/**
 * One `entry[].changes[]` element.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#notification-payload-object
 */
export interface WebhookChange {
  /** `entry[].id`: the WhatsApp Business Account id. */
  wabaId: string;
  /** `changes[].field`, e.g. `messages`, `message_template_status_update`, `account_update`. */
  field: string;
  /** True when `field` is one this package normalizes (`messages`); others keep only `raw`. */
  known: boolean;
  /** `value.metadata.phone_number_id`, read on every field: the business phone number the change is about. */
  phoneNumberId?: string;
  /** `value.metadata.display_phone_number`. */
  displayPhoneNumber?: string;
  /** `value.contacts[]`: the users the messages come from. */
  contacts: WebhookContact[];
  /** `value.messages[]`: what users sent. */
  messages: InboundMessageEvent[];
  /** `value.statuses[]`: what happened to what we sent. */
  statuses: StatusUpdate[];
  /** `value.errors[]`: errors about the whole change (not about one message). */
  errors: GraphErrorInfo[];
  /** `value.user_actions[]`: what users did with our messages (marketing message link clicks). */
  userActions: UserAction[];
  /** Contacts, messages, statuses or errors that failed validation, kept with their raw JSON. */
  invalid: InvalidItem[];
  /** `changes[].value` exactly as received. */
  raw: unknown;
}

/** Something in an otherwise good payload that could not be understood; its raw JSON is kept. */
export interface InvalidItem {
  /** What the item was meant to be. */
  kind: 'entry' | 'change' | 'contact' | 'message' | 'status' | 'error' | 'user_action';
  /** Where it was, e.g. `entry[0].changes[1].value.messages[2]`. */
  path: string;
  /** What was wrong with it, e.g. `timestamp: expected a number of seconds`. */
  reason: string;
  /** The item's `id` when it had a string one (a message's wamid), so it can still be deduplicated. */
  id?: string;
  /** The item exactly as received. */
  raw: unknown;
}

/**
 * `value.contacts[]`: a user's identity. Username-only users may have a `user_id` and no `wa_id`.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#contacts-object
 */
export interface WebhookContact {
  /** `wa_id`: the user's phone number, absent for username-only users. */
  waId?: string;
  /** `user_id`: the business-scoped user id, e.g. `US.13491208655302741918`. */
  userId?: string;
  /** `parent_user_id`. */
  parentUserId?: string;
  /** `profile.name`. */
  profileName?: string;
  /** `profile.username`. */
  username?: string;
}

/** Message types this package normalizes; anything else becomes `unknown` with `rawType` set. */
export const INBOUND_MESSAGE_TYPES = [
  'text',
  'interactive',
  'button',
  'image',
  'video',
  'audio',
  'document',
  'sticker',
  'location',
  'contacts',
  'reaction',
  'order',
  'system',
  'edit',
  'revoke',
  'unsupported',
] as const;

/** A normalized inbound message type. */
export type InboundMessageType = (typeof INBOUND_MESSAGE_TYPES)[number] | 'unknown';


/**
 * One `value.messages[]` element, normalized.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object
 */
export interface InboundMessageEvent {
  /** `id`: the message's wamid, unique per message (the deduplication key). */
  wamid: string;
  /** `from`: the sender's phone number (wa_id); absent for username-only users. */
  from?: string;
  /** The sender's `user_id`: the message's `from_user_id`, else the matching contact's `user_id`. */
  userId?: string;
  /** The sender's parent BSUID: the message's `from_parent_user_id`, else the matching contact's `parent_user_id`. */
  parentUserId?: string;
  /**
   * `group_id`: the message was written in a WhatsApp group (Groups API); `from` is the participant.
   * https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/group/
   */
  groupId?: string;
  /** The matching contact's `profile.name`. */
  profileName?: string;
  /** The matching contact's `profile.username`. */
  username?: string;
  /** `timestamp`, in epoch seconds. */
  timestamp: number;
  /** Normalized type; `unknown` for types this package does not know. */
  type: InboundMessageType;
  /** `type` exactly as received (`edit`, `revoke`, … for unknown ones). */
  rawType: string;
  /** False for unknown types, for interactive messages without a recognised reply and for messages with `problems`. */
  known: boolean;
  /**
   * What could not be read in the message's type object (e.g. `text: expected an object` for a `text` message
   * without `text`): the message is still kept, with what could be read.
   */
  problems?: string[];
  /** `text.body` (type `text`). */
  text?: string;
  /** `interactive.type` as received (type `interactive`). */
  interactiveType?: string;
  /** `interactive.button_reply`: a reply button was tapped. */
  buttonReply?: { id: string; title: string };
  /** `interactive.list_reply`: a list row was chosen. */
  listReply?: { id: string; title: string; description?: string };
  /** `interactive.nfm_reply`: a WhatsApp Flow was completed. */
  nfmReply?: NfmReply;
  /** `button`: a template quick-reply button was tapped. */
  button?: { payload: string; text: string };
  /** The media object (types image, video, audio, document, sticker). */
  media?: InboundMedia;
  /** `location` (type `location`). */
  location?: InboundLocation;
  /** `contacts` (type `contacts`): shared contact cards, as received. */
  contacts?: unknown[];
  /** `reaction` (type `reaction`). */
  reaction?: InboundReaction;
  /** `order` (type `order`). */
  order?: InboundOrder;
  /** `system` (type `system`): e.g. the user changed number. */
  system?: InboundSystem;
  /** `referral`: the click-to-WhatsApp ad or post the user came from (accompanies a text or media message). */
  referral?: InboundReferral;
  /** `edit` (type `edit`): the user edited an earlier message. */
  edit?: InboundEdit;
  /** `revoke` (type `revoke`): the user deleted an earlier message for everyone. */
  revoke?: { originalMessageId: string };
  /** `errors` (type `unsupported`, and whenever Meta attaches them). */
  errors?: GraphErrorInfo[];
  /** `context`: reply-to and forwarding information. */
  context?: MessageContext;
  /** The message exactly as received. */
  raw: unknown;
}

/**
 * `referral`: where a click-to-WhatsApp ad or a post sent the user from.
 * https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/
 */
export interface InboundReferral {
  /** `source_url`: the ad or post's URL. */
  sourceUrl?: string;
  /** `source_id`: the ad or post id. */
  sourceId?: string;
  /** `source_type`: `ad` or `post`. */
  sourceType?: string;
  /** `headline`. */
  headline?: string;
  /** `body`. */
  body?: string;
  /** `media_type`: `image` or `video`. */
  mediaType?: string;
  /** `image_url`. */
  imageUrl?: string;
  /** `video_url`. */
  videoUrl?: string;
  /** `thumbnail_url`. */
  thumbnailUrl?: string;
  /** `ctwa_clid`: the click id of the ad. */
  ctwaClid?: string;
}

/**
 * `edit`: a user edited a message they sent. `message` is the new content, normalized like a message of its type.
 * https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/
 */
export interface InboundEdit {
  /** `original_message_id`: the wamid of the message edited. */
  originalMessageId: string;
  /** `message.type` of the new content. */
  type?: string;
  /** `message.text.body` (or the media caption) of the new content. */
  text?: string;
  /** The new media, when the edit changed a media message's caption. */
  media?: InboundMedia;
}

/**
 * `interactive.nfm_reply`: the answer to a WhatsApp Flow.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object
 */
export interface NfmReply {
  /** `name`, usually `flow`. */
  name?: string;
  /** `body`, usually `Sent`. */
  body?: string;
  /** `response_json` exactly as received (a JSON string). */
  responseJson: string;
  /** `response_json` parsed, or undefined when it is not valid JSON. */
  response?: unknown;
}

/**
 * An inbound media object; download it with `GraphApiClient.getMediaUrl` then `downloadMedia`.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object
 */
export interface InboundMedia {
  /** Which media type the message is. */
  kind: MediaKind;
  /** Media id (expires after about 7 days). */
  id: string;
  /** `mime_type`, e.g. `audio/ogg; codecs=opus`. */
  mimeType: string;
  /** `sha256` of the file, base64. */
  sha256?: string;
  /** `caption` (image, video, document). */
  caption?: string;
  /** `filename` (document). */
  filename?: string;
  /** `voice`: true for a recorded voice note (audio). */
  voice?: boolean;
  /** `animated` (sticker). */
  animated?: boolean;
  /** `url`, when Meta includes a download URL in the webhook. */
  url?: string;
}

/**
 * `location`: a shared or chosen place.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object
 */
export interface InboundLocation {
  /** Degrees, −90..90. */
  latitude: number;
  /** Degrees, −180..180. */
  longitude: number;
  /** Place name, for a chosen place. */
  name?: string;
  /** Place address, for a chosen place. */
  address?: string;
  /** Maps URL, for a chosen place. */
  url?: string;
}

/**
 * `reaction`: an emoji on one of our messages, or its removal.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object
 */
export interface InboundReaction {
  /** The wamid reacted to. */
  messageId: string;
  /** The emoji; absent when the reaction was removed. */
  emoji?: string;
  /** True when the user removed their reaction (Meta sends an empty or missing emoji). */
  removed: boolean;
}

/**
 * `order`: a cart sent from a catalog.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object
 */
export interface InboundOrder {
  /** `catalog_id`. */
  catalogId: string;
  /** `text` sent with the order. */
  text?: string;
  /** `product_items[]`. */
  productItems: { productRetailerId: string; quantity: number; itemPrice: number; currency: string }[];
}

/**
 * `system`: a change on the user's side (number or identity changed).
 * https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object
 */
export interface InboundSystem {
  /** `type`, e.g. `user_changed_number`, `user_changed_user_id`, `customer_identity_changed`. */
  type?: string;
  /** `body`: human-readable description. */
  body?: string;
  /** `wa_id`: the user's new number, for `user_changed_number`. */
  newWaId?: string;
  /**
   * `user_id`: the user's new BSUID, for `user_changed_user_id`.
   * https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/system/
   */
  newUserId?: string;
  /** `parent_user_id`: the user's new parent BSUID, for `user_changed_user_id`. */
  newParentUserId?: string;
}

/**
 * `context` of a message: what it replies to and whether it was forwarded.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object
 */
export interface MessageContext {
  /** `context.from`: who sent the message replied to. */
  from?: string;
  /** `context.id`: wamid of the message replied to (for `button`, the template message). */
  id?: string;
  /** `context.forwarded`. */
  forwarded?: boolean;
  /** `context.frequently_forwarded`. */
  frequentlyForwarded?: boolean;
  /** `context.referred_product`: the catalog product the user asked about (product enquiry). */
  referredProduct?: { catalogId: string; productRetailerId: string };
}

/**
 * An error object as Meta puts it in messages, statuses and changes.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
 */
export interface GraphErrorInfo {
  /** `code`, e.g. 131051. */
  code: number;
  /** `title`. */
  title?: string;
  /** `message`. */
  message?: string;
  /** `error_data.details`, or `details` at the top level (the older shape). */
  details?: string;
  /** `href` to Meta's error-code page. */
  href?: string;
}

/** Status values Meta sends today. */
export const MESSAGE_STATUSES = ['sent', 'delivered', 'read', 'failed', 'deleted', 'played'] as const;

/** A known status value. */
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/**
 * One `value.statuses[]` element, normalized.
 * https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#statuses-object
 */
export interface StatusUpdate {
  /** `id`: wamid of the message we sent. */
  wamid: string;
  /** `status`; unknown values are kept as received with `known` false. */
  status: MessageStatus | (string & NonNullable<unknown>);
  /** True when `status` is one of `MESSAGE_STATUSES`. */
  known: boolean;
  /** `timestamp`, in epoch seconds. */
  timestamp: number;
  /** `recipient_id`: the recipient's phone number (or a group id for group messages). */
  recipientId?: string;
  /** `recipient_user_id`: the recipient's business-scoped user id. */
  recipientUserId?: string;
  /** `recipient_parent_user_id`: the recipient's parent BSUID. */
  recipientParentUserId?: string;
  /** `recipient_type`: `individual`, or `group` when `recipientId` is a group id. */
  recipientType?: string;
  /** `recipient_participant_id`: for a group message, the participant the status is about. */
  recipientParticipantId?: string;
  /** `recipient_participant_user_id`: that participant's BSUID. */
  recipientParticipantUserId?: string;
  /** `recipient_participant_parent_user_id`: that participant's parent BSUID. */
  recipientParticipantParentUserId?: string;
  /** `biz_opaque_callback_data`: what we sent with the message (our own message id). */
  callbackData?: string;
  /** `errors` (status `failed`). */
  errors?: GraphErrorInfo[];
  /** `conversation`, as received. */
  conversation?: unknown;
  /** `pricing`, as received. */
  pricing?: unknown;
  /** The status exactly as received. */
  raw: unknown;
}

/**
 * One `value.user_actions[]` element: something a user did with a message we sent (today Meta sends
 * `marketing_messages_link_click`). The documented payload names neither the message nor the user; `messageId`
 * and the user are read when Meta adds them (`message_id`, `from`/`from_user_id`, or the change's only contact).
 * https://developers.facebook.com/documentation/business-messaging/whatsapp/marketing-messages/track-click-events
 */
export interface UserAction {
  /** `action_type`, e.g. `marketing_messages_link_click`. */
  actionType: string;
  /** True for action types this package normalizes. */
  known: boolean;
  /** `timestamp`, in epoch seconds. */
  timestamp: number;
  /** `marketing_messages_link_click_data`. */
  linkClick?: { clickComponent?: string; productId?: string; clickId?: string; trackingToken?: string };
  /** `message_id` (or `id`): the wamid of our message the action was on, when given. */
  messageId?: string;
  /** The user's phone number: `from`, or the change's only contact's `wa_id`. */
  from?: string;
  /** The user's BSUID: `from_user_id`, or the change's only contact's `user_id`. */
  userId?: string;
  /** The action exactly as received. */
  raw: unknown;
}
