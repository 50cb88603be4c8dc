import type { FlowEvent } from '@gtc/flows';
import type { InboundMessageEvent } from '@gtc/whatsapp';

/** Message types that never start or resume a flow (nothing a person would expect an answer to). */
export const SILENT_TYPES = new Set(['reaction', 'system', 'unknown', 'unsupported']);

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
  return event;
}

/** True when the text is one of the keywords (trimmed, case-insensitive). */
export function isKeyword(text: string | undefined, keywords: string[]): boolean {
  if (!text) return false;
  const t = text.trim().toUpperCase();
  return keywords.some((k) => k.trim().toUpperCase() === t);
}
