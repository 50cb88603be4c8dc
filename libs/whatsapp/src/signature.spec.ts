import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signPayload, verifySignature } from './signature';

const SECRET = 'app-secret-123';

/**
 * Raw bodies as Meta sends them: non-ASCII text escaped as \uXXXX (emoji as surrogate pairs) and `/` as `\/`.
 * JSON.parse + JSON.stringify turns every one of them into different bytes.
 */
const metaEscapedBodies: { name: string; raw: string }[] = [
  {
    name: 'emoji',
    raw: '{"object":"whatsapp_business_account","entry":[{"text":{"body":"hi \\ud83d\\ude2e\\ud83d\\udc4d"}}]}',
  },
  {
    name: 'Arabic',
    raw: '{"object":"whatsapp_business_account","entry":[{"text":{"body":"\\u0645\\u0631\\u062d\\u0628\\u0627"}}]}',
  },
  {
    name: 'accented (\\u00e9)',
    raw: '{"object":"whatsapp_business_account","entry":[{"text":{"body":"caf\\u00e9 cr\\u00e8me"}}]}',
  },
  {
    name: 'escaped slash (\\/)',
    raw: '{"object":"whatsapp_business_account","entry":[{"url":"https:\\/\\/example.com\\/a"}]}',
  },
  { name: 'pretty-printed', raw: '{\n  "object": "whatsapp_business_account",\n  "entry": []\n}' },
];

/** The same texts as literal UTF-8 bytes (multi-byte characters in the body). */
const utf8Bodies: { name: string; raw: string; escaped: string }[] = [
  {
    name: 'emoji',
    raw: '{"body":"hi 😮👍🏽"}',
    escaped: '{"body":"hi \\ud83d\\ude2e\\ud83d\\udc4d\\ud83c\\udffd"}',
  },
  { name: 'Arabic', raw: '{"body":"مرحبا"}', escaped: '{"body":"\\u0645\\u0631\\u062d\\u0628\\u0627"}' },
  { name: 'accented', raw: '{"body":"café crème"}', escaped: '{"body":"caf\\u00e9 cr\\u00e8me"}' },
];

describe('signPayload', () => {
  it('is sha256= plus the hex HMAC-SHA256 of the bytes with the app secret', () => {
    const raw = '{"a":1}';
    const expected = createHmac('sha256', SECRET).update(raw).digest('hex');
    expect(signPayload(raw, SECRET)).toBe(`sha256=${expected}`);
    expect(signPayload(Buffer.from(raw), SECRET)).toBe(`sha256=${expected}`);
    expect(signPayload(raw, SECRET)).toMatch(/^sha256=[0-9a-f]{64}$/);
  });

  it('signs strings as UTF-8', () => {
    expect(signPayload('é', SECRET)).toBe(signPayload(Buffer.from([0xc3, 0xa9]), SECRET));
  });
});

describe('verifySignature over raw bytes', () => {
  it.each(metaEscapedBodies)('$name: raw bytes verify, re-serialised JSON does not', ({ raw }) => {
    const rawBytes = Buffer.from(raw, 'utf8');
    const header = signPayload(rawBytes, SECRET);
    expect(verifySignature(rawBytes, header, SECRET)).toBe(true);

    const reserialised = Buffer.from(JSON.stringify(JSON.parse(raw)), 'utf8');
    expect(reserialised.equals(rawBytes)).toBe(false);
    expect(verifySignature(reserialised, header, SECRET)).toBe(false);
  });

  it.each(utf8Bodies)(
    '$name as UTF-8: verifies over its own bytes only, not over the escaped form',
    ({ raw, escaped }) => {
      expect(JSON.parse(escaped)).toEqual(JSON.parse(raw));
      const header = signPayload(Buffer.from(raw, 'utf8'), SECRET);
      expect(verifySignature(Buffer.from(raw, 'utf8'), header, SECRET)).toBe(true);
      expect(verifySignature(Buffer.from(escaped, 'utf8'), header, SECRET)).toBe(false);
      // Decoding the bytes as Latin-1 (a classic raw-body bug) also breaks it.
      expect(
        verifySignature(Buffer.from(Buffer.from(raw, 'utf8').toString('latin1'), 'utf8'), header, SECRET),
      ).toBe(false);
    },
  );

  it('rejects a body changed by one byte', () => {
    const raw = Buffer.from('{"text":"hello"}');
    const header = signPayload(raw, SECRET);
    expect(verifySignature(Buffer.from('{"text":"hellp"}'), header, SECRET)).toBe(false);
  });

  it('rejects the right body signed with another secret', () => {
    const raw = Buffer.from('{"text":"hello"}');
    expect(verifySignature(raw, signPayload(raw, 'other-secret'), SECRET)).toBe(false);
  });

  it('accepts upper-case hex and surrounding whitespace', () => {
    const raw = Buffer.from('{"text":"hello"}');
    const hex = signPayload(raw, SECRET).slice('sha256='.length);
    expect(verifySignature(raw, `sha256=${hex.toUpperCase()}`, SECRET)).toBe(true);
    expect(verifySignature(raw, ` sha256=${hex} `, SECRET)).toBe(true);
  });

  const raw = Buffer.from('{"text":"hello"}');
  const good = signPayload(raw, SECRET);
  const malformed: { name: string; header: string | undefined; secret?: string }[] = [
    { name: 'missing header', header: undefined },
    { name: 'empty header', header: '' },
    { name: 'no prefix', header: good.slice('sha256='.length) },
    { name: 'sha1 prefix', header: good.replace('sha256=', 'sha1=') },
    { name: 'prefix only', header: 'sha256=' },
    { name: 'truncated hex', header: good.slice(0, -2) },
    { name: 'one hex digit too many', header: `${good}0` },
    { name: 'odd-length hex', header: good.slice(0, -1) },
    { name: 'non-hex characters', header: `sha256=${'zz'.repeat(32)}` },
    {
      name: 'base64 instead of hex',
      header: `sha256=${createHmac('sha256', SECRET).update(raw).digest('base64')}`,
    },
    { name: 'two signatures', header: `${good},${good}` },
    { name: 'empty app secret', header: signPayload(raw, ''), secret: '' },
  ];

  it.each(malformed)('$name → false, no throw', ({ header, secret }) => {
    expect(verifySignature(raw, header, secret ?? SECRET)).toBe(false);
  });
});
