import { describe, expect, it } from 'vitest';
import {
  classifyGraphError,
  GRAPH_ERROR_ACTIONS,
  GRAPH_ERROR_CLASSES,
  GRAPH_ERROR_CODES,
  GraphApiError,
  type GraphErrorAction,
  type GraphErrorClass,
} from './graph-errors';

/** Each code of WHATSAPP.md "Limits and errors", with the class and action it must get. */
const codes: { code: number; expected: GraphErrorClass; action: GraphErrorAction }[] = [
  ...[4, 80007, 130429, 131048, 131056, 133016, 132069].map((code) => ({
    code,
    expected: 'throttled' as const,
    action: 'retry' as const,
  })),
  ...[1, 2, 131000, 131016, 131057, 133004].map((code) => ({
    code,
    expected: 'transient' as const,
    action: 'retry' as const,
  })),
  { code: 131047, expected: 'window_closed', action: 'fail_message' },
  ...[
    100, 131008, 131009, 131026, 131049, 131050, 131051, 131053, 132000, 132001, 132005, 132007, 132012,
    132015, 132016, 132018,
  ].map((code) => ({ code, expected: 'permanent' as const, action: 'fail_message' as const })),
  ...[190, 3, 10, 200, 250, 299, 131005].map((code) => ({
    code,
    expected: 'auth' as const,
    action: 'pause_provider' as const,
  })),
  ...[133010, 131031, 131042, 131045, 368].map((code) => ({
    code,
    expected: 'account' as const,
    action: 'pause_provider' as const,
  })),
];

describe('Graph error codes: code → class → action', () => {
  it.each(codes)(
    'code $code → $expected → $action, whatever the HTTP status (or none)',
    ({ code, expected, action }) => {
      for (const httpStatus of [undefined, 400, 403, 500, GRAPH_ERROR_CODES[code]?.httpStatus]) {
        expect(classifyGraphError({ httpStatus, code })).toBe(expected);
      }
      expect(GRAPH_ERROR_ACTIONS[expected]).toBe(action);
      expect(new GraphApiError('x', { httpStatus: 400, code, outcomeUnknown: false }).action).toBe(action);
    },
  );

  it('the table holds exactly the codes above (a code added to one side only fails here)', () => {
    const listed = codes.map((c) => c.code).filter((c) => c < 200 || c > 299);
    expect(
      Object.keys(GRAPH_ERROR_CODES)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([...listed].sort((a, b) => a - b));
  });

  it('gives every class an action', () => {
    expect(Object.keys(GRAPH_ERROR_ACTIONS).sort()).toEqual([...GRAPH_ERROR_CLASSES].sort());
  });
});

/** Without a known code, the HTTP status (or its absence) decides. */
const byStatus: { httpStatus?: number; code?: number; expected: GraphErrorClass }[] = [
  { httpStatus: 429, expected: 'throttled' },
  { httpStatus: 429, code: 999999, expected: 'throttled' },
  { httpStatus: 500, expected: 'transient' },
  { httpStatus: 502, expected: 'transient' },
  { httpStatus: 503, expected: 'transient' },
  { httpStatus: 504, expected: 'transient' },
  { httpStatus: 503, code: 999999, expected: 'transient' },
  { expected: 'transient' },
  { httpStatus: 400, expected: 'permanent' },
  { httpStatus: 403, expected: 'permanent' },
  { httpStatus: 404, expected: 'permanent' },
  { httpStatus: 413, expected: 'permanent' },
  { httpStatus: 400, code: 999999, expected: 'permanent' },
  { code: 130472, expected: 'permanent' },
  { httpStatus: 401, expected: 'auth' },
];

describe('classifyGraphError without a known code', () => {
  it.each(byStatus)('HTTP $httpStatus, code $code → $expected', ({ httpStatus, code, expected }) => {
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
