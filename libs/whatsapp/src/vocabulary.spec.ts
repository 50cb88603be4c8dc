import { describe, expect, it } from 'vitest';
import { REPLY_CONTENT_KEYS, replyKind, type ReplyContent } from './outbound.types';
import { CUSTOMER_SERVICE_WINDOW_MS, MEDIA_KINDS, formatPath, isMediaKind, isRecord, parseJson } from './vocabulary';

describe('isRecord', () => {
  it.each([
    { name: 'an object', value: { a: 1 }, expected: true },
    { name: 'an empty object', value: {}, expected: true },
    { name: 'an object without prototype', value: Object.create(null) as unknown, expected: true },
    { name: 'an array', value: [1, 2], expected: false },
    { name: 'an empty array', value: [], expected: false },
    { name: 'null', value: null, expected: false },
    { name: 'undefined', value: undefined, expected: false },
    { name: 'a string', value: 'x', expected: false },
    { name: 'a number', value: 0, expected: false },
  ])('$name: $expected', ({ value, expected }) => {
    expect(isRecord(value)).toBe(expected);
  });
});

describe('parseJson', () => {
  it.each([
    { text: '{"a":[1,{"b":null}]}', expected: { a: [1, { b: null }] } },
    { text: '[1,2]', expected: [1, 2] },
    { text: '"s"', expected: 's' },
    { text: 'null', expected: null },
    { text: '', expected: undefined },
    { text: '{"a":', expected: undefined },
    { text: '<html>bad gateway</html>', expected: undefined },
  ])('$text', ({ text, expected }) => {
    expect(parseJson(text)).toEqual(expected);
  });
});

describe('formatPath', () => {
  it.each([
    { path: [], expected: '' },
    { path: ['a'], expected: 'a' },
    { path: ['a', 'b', 2, 'c'], expected: 'a.b[2].c' },
    { path: [0, 'a'], expected: '[0].a' },
    { path: ['nodes', 0, 'config', 'conditions', 1, 'next'], expected: 'nodes[0].config.conditions[1].next' },
    { path: ['buttons', 3, 0], expected: 'buttons[3][0]' },
  ])('$expected', ({ path, expected }) => {
    expect(formatPath(path)).toBe(expected);
  });
});

describe('media kinds and the window', () => {
  it('lists the five media kinds, and isMediaKind accepts exactly them', () => {
    expect(MEDIA_KINDS).toEqual(['image', 'video', 'audio', 'document', 'sticker']);
    for (const kind of MEDIA_KINDS) expect(isMediaKind(kind)).toBe(true);
    for (const other of ['text', 'location', 'IMAGE', undefined, 1]) expect(isMediaKind(other)).toBe(false);
  });

  it('the customer-service window is 24 hours', () => {
    expect(CUSTOMER_SERVICE_WINDOW_MS).toBe(86_400_000);
  });
});

describe('reply kinds', () => {
  it('replyKind names the one content key of each reply kind', () => {
    const samples: ReplyContent[] = [
      { message: 'hi' },
      { template: { name: 't', language: 'en' } },
      { interactive: { type: 'button', body: { text: 'b' }, action: { buttons: [] } } } as unknown as ReplyContent,
      { media: { type: 'image', link: 'https://example.com/a.png' } },
      { location: { latitude: 1, longitude: 2 } },
    ];
    expect(samples.map(replyKind)).toEqual([...REPLY_CONTENT_KEYS]);
  });
});
