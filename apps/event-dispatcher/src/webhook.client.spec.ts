import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { signatureHeader } from './webhook.client';

// The webhook-signature header checked by what receivers run: the standardwebhooks library's verify, and the
// HMAC the spec defines, computed here by hand.

const secret = () => `whsec_${randomBytes(24).toString('base64')}`;
const CURRENT = secret();
const PREVIOUS = secret();
const OTHER = secret();
const ID = 'evt_0123456789abcdef0123456789abcdef';
const BODY = JSON.stringify({ id: ID, type: 'message.received', data: { text: 'grüße 👋' } });

/** The headers one attempt sends (WebhookClient.send), signed at `at`. */
function headers(secrets: string[], at: Date, id = ID, body = BODY): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signatureHeader(secrets, id, at, body),
  };
}

/** Standard Webhooks v1 by hand: base64 HMAC-SHA256, keyed by the secret's base64 after `whsec_`, of `id.timestamp.body`. */
const byHand = (s: string, id: string, at: Date, body: string) =>
  `v1,${createHmac('sha256', Buffer.from(s.slice('whsec_'.length), 'base64')).update(`${id}.${Math.floor(at.getTime() / 1000)}.${body}`).digest('base64')}`;

describe('signatureHeader', () => {
  it('is one v1 signature per secret, space-separated, current secret first, each the spec HMAC', () => {
    const at = new Date();
    expect(signatureHeader([CURRENT], ID, at, BODY)).toBe(byHand(CURRENT, ID, at, BODY));
    expect(signatureHeader([CURRENT, PREVIOUS], ID, at, BODY).split(' ')).toEqual([byHand(CURRENT, ID, at, BODY), byHand(PREVIOUS, ID, at, BODY)]);
  });

  it('whole seconds: two signings within one second are the same', () => {
    const at = new Date(Math.floor(Date.now() / 1000) * 1000);
    expect(signatureHeader([CURRENT], ID, at, BODY)).toBe(signatureHeader([CURRENT], ID, new Date(at.getTime() + 999), BODY));
  });

  const cases: { name: string; signedWith: string[]; receiverHas: string; ageSeconds?: number; id?: string; body?: string; verifies: boolean }[] = [
    { name: 'the current secret', signedWith: [CURRENT], receiverHas: CURRENT, verifies: true },
    { name: 'during a rotation, a receiver with the new secret', signedWith: [CURRENT, PREVIOUS], receiverHas: CURRENT, verifies: true },
    { name: 'during a rotation, a receiver still on the old secret', signedWith: [CURRENT, PREVIOUS], receiverHas: PREVIOUS, verifies: true },
    { name: 'after a rotation, a receiver on the old secret', signedWith: [CURRENT], receiverHas: PREVIOUS, verifies: false },
    { name: 'another endpoint’s secret', signedWith: [CURRENT, PREVIOUS], receiverHas: OTHER, verifies: false },
    { name: 'a body changed on the way', signedWith: [CURRENT], receiverHas: CURRENT, body: BODY.replace('grüße', 'gruse'), verifies: false },
    { name: 'another webhook-id (a replay under a new id)', signedWith: [CURRENT], receiverHas: CURRENT, id: 'evt_ffffffffffffffffffffffffffffffff', verifies: false },
    { name: 'signed 4 minutes ago (a retry within tolerance)', signedWith: [CURRENT], receiverHas: CURRENT, ageSeconds: 240, verifies: true },
    { name: 'signed 10 minutes ago (too old for the receiver)', signedWith: [CURRENT], receiverHas: CURRENT, ageSeconds: 600, verifies: false },
  ];

  it.each(cases)('standardwebhooks verify: $name → $verifies', ({ signedWith, receiverHas, ageSeconds, id, body, verifies }) => {
    const sent = headers(signedWith, new Date(Date.now() - (ageSeconds ?? 0) * 1000));
    const received = { ...sent, ...(id && { 'webhook-id': id }) };
    const verify = () => new Webhook(receiverHas).verify(body ?? BODY, received);
    if (verifies) expect(verify()).toEqual(JSON.parse(BODY));
    else expect(verify).toThrow();
  });
});
