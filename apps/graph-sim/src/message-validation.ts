import { ContentError, validateMessageBody } from '@gtc/whatsapp';

// Send-body validation. The rules are @gtc/whatsapp's `validateMessageBody` (Meta's rules); this file only adds a
// fast path for the hot case of a plain text message, because the library builds its schemas on every call (about
// 0.6 ms), which alone would cap graph-sim near 1,500 sends/s. The fast path accepts a strict subset of what the
// library accepts (checked by message-validation.spec.ts); anything else goes to the library.

const TEXT_KEYS = new Set(['messaging_product', 'recipient_type', 'to', 'type', 'text', 'biz_opaque_callback_data', 'context']);

function nonBlank(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== '';
}

/** True when `body` is certainly a valid text message (so the full validation can be skipped). */
export function isPlainValidText(body: Record<string, unknown>): boolean {
  if (body.type !== 'text' || body.messaging_product !== 'whatsapp' || !nonBlank(body.to)) return false;
  for (const key in body) if (!TEXT_KEYS.has(key)) return false;
  if (body.recipient_type !== undefined && body.recipient_type !== 'individual') return false;
  const cb = body.biz_opaque_callback_data;
  // Code units ≥ code points, so ≤ 512 code units is ≤ 512 characters.
  if (cb !== undefined && (typeof cb !== 'string' || cb.length > 512)) return false;
  const ctx = body.context as Record<string, unknown> | undefined;
  if (ctx !== undefined && (typeof ctx !== 'object' || ctx === null || Object.keys(ctx).length !== 1 || !nonBlank(ctx.message_id))) return false;
  const text = body.text as Record<string, unknown> | undefined;
  if (typeof text !== 'object' || text === null) return false;
  for (const key in text) if (key !== 'body' && key !== 'preview_url') return false;
  if (text.preview_url !== undefined && typeof text.preview_url !== 'boolean') return false;
  return nonBlank(text.body) && text.body.length <= 4096;
}

/** Every reason Meta would reject this `POST /messages` body; empty when it would be accepted. */
export function validateSendBody(body: unknown): ContentError[] {
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && isPlainValidText(body as Record<string, unknown>)) return [];
  return validateMessageBody(body);
}
