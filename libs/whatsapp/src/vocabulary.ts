// The WhatsApp words every package shares: media kinds, the customer-service window, and the small JSON helpers
// (record check, tolerant JSON.parse, field paths) used wherever an unknown body is read or an error is located.

/** Media kinds a message can carry (inbound and outbound), in the order the API documents them. */
export const MEDIA_KINDS = ['image', 'video', 'audio', 'document', 'sticker'] as const;

/** A media kind: image, video, audio, document or sticker. */
export type MediaKind = (typeof MEDIA_KINDS)[number];

/** Whether `value` is one of `MEDIA_KINDS`. */
export function isMediaKind(value: unknown): value is MediaKind {
  return typeof value === 'string' && (MEDIA_KINDS as readonly string[]).includes(value);
}

/**
 * The customer-service window: free-form (non-template) messages may be sent only this long after the contact's
 * last inbound message.
 */
export const CUSTOMER_SERVICE_WINDOW_MS = 24 * 3600 * 1000;

/** Whether `value` is a JSON object (a non-null object that is not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `JSON.parse`, or `undefined` when `text` is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Formats a field path (object keys and array indexes) as `a.b[2].c`; the empty path is ``. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/**
 * `f` with its results kept by argument (a Map: for a small, fixed set of arguments, such as the options of a
 * schema built once per shape instead of once per message).
 */
export function memoize<K, V>(f: (key: K) => V): (key: K) => V {
  const results = new Map<K, V>();
  return (key) => {
    if (!results.has(key)) results.set(key, f(key));
    return results.get(key)!;
  };
}

/**
 * Fields of the whatsapp_business_account object Meta documents besides `messages` (the one the webhook parser
 * reads): ingress keeps them raw as they are, not counted as non-conforming; anything else is an unknown field.
 * A field Meta adds is added here. https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/
 */
export const WEBHOOK_FIELDS: ReadonlySet<string> = new Set([
  'account_alerts',
  'account_review_update',
  'account_settings_update',
  'account_update',
  'automatic_events',
  'business_capability_update',
  'business_status_update',
  'calls',
  'flows',
  'group_lifecycle_update',
  'group_participants_update',
  'group_settings_update',
  'group_status_update',
  'history',
  'message_echoes',
  'message_template_components_update',
  'message_template_quality_update',
  'message_template_status_update',
  'partner_solutions',
  'payment_configuration_update',
  'phone_number_name_update',
  'phone_number_quality_update',
  'security',
  'smb_app_state_sync',
  'smb_message_echoes',
  'template_category_update',
  'tracking_events',
  'user_preferences',
]);
