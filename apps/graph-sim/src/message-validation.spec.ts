import { describe, expect, it } from 'vitest';
import { validateMessageBody } from '@gtc/whatsapp';
import { isPlainValidText, validateSendBody } from './message-validation';

// The fast path must never accept what the library (Meta's rules) rejects.

const base = { messaging_product: 'whatsapp', recipient_type: 'individual', to: '15550001', type: 'text', text: { body: 'hello' } };

const cases: Record<string, unknown>[] = [
  base,
  { ...base, biz_opaque_callback_data: 'x'.repeat(512) },
  { ...base, biz_opaque_callback_data: 'x'.repeat(513) },
  { ...base, text: { body: 'x'.repeat(4096) } },
  { ...base, text: { body: 'x'.repeat(4097) } },
  { ...base, text: { body: '😮'.repeat(2048) } },
  { ...base, text: { body: '   ' } },
  { ...base, text: { body: 'hi', preview_url: true } },
  { ...base, text: { body: 'hi', preview_url: 'yes' } },
  { ...base, text: { body: 'hi', extra: 1 } },
  { ...base, to: '' },
  { ...base, to: ' ' },
  { ...base, recipient_type: 'group' },
  { ...base, messaging_product: 'sms' },
  { ...base, context: { message_id: 'wamid.1' } },
  { ...base, context: { message_id: '' } },
  { ...base, context: { message_id: 'wamid.1', other: 1 } },
  { ...base, unknown_key: true },
  { ...base, text: 'hello' },
];

describe('validateSendBody', () => {
  it.each(cases.map((c, i) => [i, c] as const))('case %i: the fast path accepts only what the library accepts', (_i, body) => {
    const lib = validateMessageBody(body);
    if (isPlainValidText(body)) expect(lib).toEqual([]);
    expect(validateSendBody(body).length === 0).toBe(lib.length === 0);
  });

  it('takes the fast path for ordinary text messages', () => {
    expect(isPlainValidText(base)).toBe(true);
    expect(isPlainValidText({ ...base, biz_opaque_callback_data: 'id-1', context: { message_id: 'wamid.1' } })).toBe(true);
  });

  it('still rejects invalid bodies through the library, with paths', () => {
    expect(validateSendBody({ ...base, text: { body: 'x'.repeat(4097) } })).toEqual([expect.objectContaining({ path: 'text.body' })]);
    expect(validateSendBody(null).length).toBeGreaterThan(0);
  });
});
