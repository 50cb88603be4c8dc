import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, eventRowId, publicEventId } from './event-outbox';

const ids: { row: string; public: string }[] = [
  { row: '0b7e6a1c-3f2d-4c8e-9a51-7d2e4f6b8c90', public: 'evt_0b7e6a1c3f2d4c8e9a517d2e4f6b8c90' },
  { row: '00000000-0000-0000-0000-000000000000', public: 'evt_00000000000000000000000000000000' },
  { row: 'ffffffff-ffff-4fff-bfff-ffffffffffff', public: 'evt_ffffffffffff4fffbfffffffffffffff' },
];

describe('publicEventId ⇄ eventRowId', () => {
  it.each(ids)('$row ⇄ $public', ({ row, public: pub }) => {
    expect(publicEventId(row)).toBe(pub);
    expect(eventRowId(pub)).toBe(row);
    expect(eventRowId(publicEventId(row))).toBe(row);
  });

  it('random uuids survive the round trip', () => {
    for (let i = 0; i < 100; i++) {
      const row = crypto.randomUUID();
      expect(eventRowId(publicEventId(row))).toBe(row);
    }
  });

  const notIds = [
    ['', 'empty'],
    ['0b7e6a1c3f2d4c8e9a517d2e4f6b8c90', 'no prefix'],
    ['evt_0b7e6a1c-3f2d-4c8e-9a51-7d2e4f6b8c90', 'dashes kept'],
    ['evt_0B7E6A1C3F2D4C8E9A517D2E4F6B8C90', 'upper case'],
    ['evt_0b7e6a1c3f2d4c8e9a517d2e4f6b8c9', '31 digits'],
    ['evt_0b7e6a1c3f2d4c8e9a517d2e4f6b8c900', '33 digits'],
    ['evt_0b7e6a1c3f2d4c8e9a517d2e4f6b8c9g', 'not hex'],
    [' evt_0b7e6a1c3f2d4c8e9a517d2e4f6b8c90', 'leading space'],
    ['evt_0b7e6a1c3f2d4c8e9a517d2e4f6b8c90\n', 'trailing newline'],
    ['msg_0b7e6a1c3f2d4c8e9a517d2e4f6b8c90', 'another prefix'],
  ];
  it.each(notIds)('%j (%s) is no event id', (text) => {
    expect(eventRowId(text)).toBeNull();
  });
});

describe('EVENT_TYPES', () => {
  it('are unique, dotted resource.action names; ping is not subscribable', () => {
    expect(new Set(EVENT_TYPES).size).toBe(EVENT_TYPES.length);
    for (const t of EVENT_TYPES) expect(t).toMatch(/^[a-z]+\.[a-z_]+$/);
    expect(EVENT_TYPES).not.toContain('ping');
  });
});
