import { describe, expect, it } from 'vitest';
import { classifyGraphError, GraphApiError, type GraphErrorClass } from './graph-errors';

const table: { httpStatus?: number; code?: number; expected: GraphErrorClass }[] = [
  // throttled
  { httpStatus: 400, code: 4, expected: 'throttled' },
  { httpStatus: 400, code: 80007, expected: 'throttled' },
  { httpStatus: 400, code: 130429, expected: 'throttled' },
  { httpStatus: 400, code: 131048, expected: 'throttled' },
  { httpStatus: 400, code: 131056, expected: 'throttled' },
  { httpStatus: 400, code: 133016, expected: 'throttled' },
  { httpStatus: 429, expected: 'throttled' },
  { httpStatus: 429, code: 999999, expected: 'throttled' },
  // transient
  { httpStatus: 500, expected: 'transient' },
  { httpStatus: 502, expected: 'transient' },
  { httpStatus: 503, expected: 'transient' },
  { httpStatus: 504, expected: 'transient' },
  { expected: 'transient' },
  { httpStatus: 500, code: 131000, expected: 'transient' },
  { httpStatus: 400, code: 131000, expected: 'transient' },
  { httpStatus: 400, code: 131053, expected: 'transient' },
  { httpStatus: 400, code: 133004, expected: 'transient' },
  { httpStatus: 503, code: 999999, expected: 'transient' },
  // window closed
  { httpStatus: 400, code: 131047, expected: 'window_closed' },
  { code: 131047, expected: 'window_closed' },
  // permanent
  ...[
    100, 131008, 131009, 131026, 131049, 131050, 131051, 132000, 132001, 132005, 132007, 132012, 132015,
    132016, 368,
  ].map((code) => ({ httpStatus: 400, code, expected: 'permanent' as const })),
  { httpStatus: 500, code: 100, expected: 'permanent' },
  { httpStatus: 400, expected: 'permanent' },
  { httpStatus: 403, expected: 'permanent' },
  { httpStatus: 404, expected: 'permanent' },
  { httpStatus: 413, expected: 'permanent' },
  { httpStatus: 400, code: 999999, expected: 'permanent' },
  { code: 130472, expected: 'permanent' },
  // auth
  { httpStatus: 401, code: 190, expected: 'auth' },
  { httpStatus: 400, code: 190, expected: 'auth' },
  { httpStatus: 403, code: 10, expected: 'auth' },
  { httpStatus: 403, code: 200, expected: 'auth' },
  { httpStatus: 403, code: 299, expected: 'auth' },
  { httpStatus: 401, expected: 'auth' },
  { code: 190, expected: 'auth' },
];

describe('classifyGraphError', () => {
  it.each(table)('HTTP $httpStatus, code $code → $expected', ({ httpStatus, code, expected }) => {
    expect(classifyGraphError({ httpStatus, code })).toBe(expected);
  });
});

describe('GraphApiError', () => {
  it('classifies itself from status and code, and says whether to retry', () => {
    const window = new GraphApiError('x', { httpStatus: 400, code: 131047, outcomeUnknown: false });
    expect(window.errorClass).toBe('window_closed');
    expect(window.retryable).toBe(false);
    const throttled = new GraphApiError('x', { httpStatus: 400, code: 130429, outcomeUnknown: false });
    expect(throttled.errorClass).toBe('throttled');
    expect(throttled.retryable).toBe(true);
    expect(new GraphApiError('x', { outcomeUnknown: true }).errorClass).toBe('transient');
    expect(new GraphApiError('x', { errorClass: 'auth', outcomeUnknown: false }).retryable).toBe(false);
  });

  it('is an Error with a name and the Graph facts', () => {
    const err = new GraphApiError('(#100) Invalid parameter', {
      httpStatus: 400,
      code: 100,
      subcode: 2494010,
      details: 'bad',
      fbtraceId: 'AbC',
      outcomeUnknown: false,
    });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('GraphApiError');
    expect(err).toMatchObject({
      message: '(#100) Invalid parameter',
      errorClass: 'permanent',
      httpStatus: 400,
      code: 100,
      subcode: 2494010,
      details: 'bad',
      fbtraceId: 'AbC',
      outcomeUnknown: false,
    });
  });
});
