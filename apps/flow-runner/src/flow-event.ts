import type { FlowEvent } from '@gtc/flows';
import type { InboundMessageEvent } from '@gtc/whatsapp';

/** Message types that never start or resume a flow (nothing a person would expect an answer to). */
export const SILENT_TYPES = new Set(['reaction', 'system', 'unknown', 'unsupported', 'edit', 'revoke']);

/** The engine's view of a recorded inbound message (the normalized event ingress stored). */
export function toFlowEvent(m: InboundMessageEvent): FlowEvent {
  const event: FlowEvent = { id: m.wamid, timestamp: m.timestamp, type: m.type };
  if (m.text !== undefined) event.text = m.text;
  if (m.buttonReply) event.interactive = { type: 'button_reply', id: m.buttonReply.id, title: m.buttonReply.title };
  if (m.listReply) {
    event.interactive = { type: 'list_reply', id: m.listReply.id, title: m.listReply.title, description: m.listReply.description };
  }
  if (m.button) event.button = { payload: m.button.payload, text: m.button.text };
  if (m.location) {
    event.location = { latitude: m.location.latitude, longitude: m.location.longitude, name: m.location.name, address: m.location.address };
  }
  if (m.media) event.media = { id: m.media.id, mime_type: m.media.mimeType, caption: m.media.caption, filename: m.media.filename };
  if (m.referral) {
    const r = m.referral;
    event.referral = {
      source_url: r.sourceUrl,
      source_id: r.sourceId,
      source_type: r.sourceType,
      headline: r.headline,
      body: r.body,
      media_type: r.mediaType,
      ctwa_clid: r.ctwaClid,
    };
  }
  const product = m.context?.referredProduct;
  if (product) event.referred_product = { catalog_id: product.catalogId, product_retailer_id: product.productRetailerId };
  return event;
}

/** True when the text is one of the keywords (trimmed, case-insensitive). */
export function isKeyword(text: string | undefined, keywords: string[]): boolean {
  if (!text) return false;
  const t = text.trim().toUpperCase();
  return keywords.some((k) => k.trim().toUpperCase() === t);
}
