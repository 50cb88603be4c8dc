import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { eventRowId } from '@gtc/db';
import { eventBody } from './event-body';
import { signatureHeader } from './webhook.client';

const delivery = {
  eventId: '0b7e6a1c-3f2d-4c8e-9a51-7d2e4f6b8c90',
  type: 'message.status',
  createdAt: '2026-03-01T12:34:56.789Z',
  tenant: 'acme',
  team: 'support',
  data: {
    message: { id: 'f00', direction: 'outbound', wamid: 'wamid.X', type: 'text', content: { text: { body: 'hi' } }, state: 'delivered', error: null },
    contact: { id: 'c1', wa_id: '4917000', user_id: null, name: 'Ada' },
    status: 'delivered',
    timestamp: '2026-03-01T12:34:55.000Z',
  },
};

const rows: { name: string; d: typeof delivery | Record<string, unknown>; body: Record<string, unknown> }[] = [
  {
    name: 'a team event',
    d: delivery,
    body: { id: 'evt_0b7e6a1c3f2d4c8e9a517d2e4f6b8c90', type: 'message.status', created_at: '2026-03-01T12:34:56.789Z', tenant: 'acme', team: 'support', data: delivery.data },
  },
  {
    name: 'a tenant-wide event (team null, kept as null)',
    d: { ...delivery, type: 'provider.paused', team: null, data: { provider: { id: 'p1', phone_number_id: '1555' }, reason: { class: 'auth', code: 190, text: 'expired' } } },
    body: {
      id: 'evt_0b7e6a1c3f2d4c8e9a517d2e4f6b8c90',
      type: 'provider.paused',
      created_at: '2026-03-01T12:34:56.789Z',
      tenant: 'acme',
      team: null,
      data: { provider: { id: 'p1', phone_number_id: '1555' }, reason: { class: 'auth', code: 190, text: 'expired' } },
    },
  },
  { name: 'a ping (data {})', d: { ...delivery, type: 'ping', data: {} }, body: { id: 'evt_0b7e6a1c3f2d4c8e9a517d2e4f6b8c90', type: 'ping', created_at: '2026-03-01T12:34:56.789Z', tenant: 'acme', team: 'support', data: {} } },
];

describe('eventBody: what a delivery POSTs', () => {
  it.each(rows)('$name', ({ d, body }) => {
    const out = eventBody(d as typeof delivery);
    expect(JSON.parse(out.body)).toEqual(body);
    expect(out.id).toBe(body.id);
    expect(Object.keys(JSON.parse(out.body))).toEqual(['id', 'type', 'created_at', 'tenant', 'team', 'data']);
  });

  it('the id is the public event id: evt_ and the row id without dashes, back to the row id', () => {
    const { id } = eventBody(delivery);
    expect(id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(eventRowId(id)).toBe(delivery.eventId);
  });

  it('round trip: signed as sent, verified by a receiver with standardwebhooks, the same object back', () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const { id, body } = eventBody(delivery);
    const at = new Date();
    const received = new Webhook(secret).verify(body, {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signatureHeader([secret], id, at, body),
    });
    expect(received).toEqual(rows[0]!.body);
  });
});
