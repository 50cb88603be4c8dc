import { signPayload } from '@gtc/whatsapp';
import type { TestProvider } from './fixtures';

let counter = 0;

/** What a simulated user sends: text, a button or list reply, a template quick reply, or a location. */
export type UserMessage =
  | { text: string }
  | { buttonReply: { id: string; title: string } }
  | { listReply: { id: string; title: string; description?: string } }
  | { button: { payload: string; text: string } }
  | { location: { latitude: number; longitude: number; name?: string } };

/** A real-format inbound message webhook from `from` to the provider's number; returns the body and its wamid. */
export function inboundWebhook(provider: TestProvider, from: string, message: UserMessage, name = 'Test User'): { body: string; wamid: string } {
  const wamid = `wamid.T${Date.now().toString(36)}${(++counter).toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  const base = { from, id: wamid, timestamp: String(Math.floor(Date.now() / 1000)) };
  let m: Record<string, unknown>;
  if ('text' in message) m = { ...base, type: 'text', text: { body: message.text } };
  else if ('buttonReply' in message) m = { ...base, type: 'interactive', interactive: { type: 'button_reply', button_reply: message.buttonReply } };
  else if ('listReply' in message) m = { ...base, type: 'interactive', interactive: { type: 'list_reply', list_reply: message.listReply } };
  else if ('button' in message) m = { ...base, type: 'button', button: message.button, context: { from: '15550000000', id: 'wamid.template' } };
  else m = { ...base, type: 'location', location: message.location };
  return { body: messagesWebhook(provider, { contacts: [{ profile: { name }, wa_id: from }], messages: [m] }), wamid };
}

/** A real-format `messages` webhook for the provider's number whose value carries `value` (contacts, messages, statuses). */
export function messagesWebhook(provider: TestProvider, value: Record<string, unknown>): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: 'WABA_ID',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550000000', phone_number_id: provider.phoneNumberId },
              ...value,
            },
          },
        ],
      },
    ],
  });
}

/** A real-format status webhook for the provider's number (each status stamped now unless it has a timestamp). */
export function statusWebhook(provider: TestProvider, statuses: Record<string, unknown>[]): string {
  return messagesWebhook(provider, { statuses: statuses.map((s) => ({ timestamp: String(Math.floor(Date.now() / 1000)), ...s })) });
}

/** POSTs a signed webhook to ingress; returns the HTTP status. */
export async function postWebhook(ingressUrl: string, provider: TestProvider, body: string): Promise<number> {
  const res = await fetch(`${ingressUrl}/webhook/whatsapp/${provider.tenantSlug}/${provider.teamSlug}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signPayload(body, provider.appSecret) },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}
