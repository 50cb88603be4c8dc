import { z } from 'zod';
import { ApiError } from './api-error';
import { isPgText } from '@gtc/db';
import { INT4_MAX, isUuid, parseInput } from './validation';

/** Largest page a list returns. */
export const MAX_PAGE = 200;

/** `limit` (1..200, default 50) and `cursor` (opaque, the `next_cursor` of the previous page). */
export const pageQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE)
    .default(50)
    .meta({ description: `Rows per page (at most ${MAX_PAGE}).` }),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,512}$/, 'must be a next_cursor value')
    .optional()
    .meta({ description: "The previous page's `next_cursor`." }),
});

/** A page request: how many rows, and the cursor (the sort key of the last row shown) to continue after. */
export interface PageRequest {
  take: number;
  cursor?: string;
}

/** A page of results: `{ data, next_cursor }` (null on the last page). */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** A value a sort key may hold. */
export type KeyValue = Date | string | number | bigint;

/** What a sort key's column holds: a cursor's value must be of that kind. */
export type KeyKind = 'date' | 'uuid' | 'text' | 'int' | 'bigint';

/** A list's order: columns, directions and kinds, the last ones unique together (so that the order is total). */
export type SortOrder<F extends string = string> = ReadonlyArray<
  readonly [field: F, direction: 'asc' | 'desc', kind: KeyKind]
>;

/** The tag `encodeCursor` gives each kind. */
const TAGS: Record<KeyKind, string> = { date: 'd', uuid: 's', text: 's', int: 'n', bigint: 'b' };

/** Reads limit and cursor from a query object (400 on bad values). */
export function pageRequest(query: Record<string, unknown>): PageRequest {
  const q = parseInput(pageQuerySchema, { limit: query.limit, cursor: query.cursor }, 'query');
  return { take: q.limit, cursor: q.cursor };
}

/** 400 naming `cursor`: a value that no list of this kind produced. */
function badCursor(): ApiError {
  return new ApiError(400, 'validation_failed', 'invalid query: cursor', [
    { path: 'cursor', message: 'must be a next_cursor value' },
  ]);
}

/** Encodes the sort key of a row: each value tagged with its type, so that it compares as the column does. */
export function encodeCursor(values: KeyValue[]): string {
  const tagged = values.map((v) =>
    v instanceof Date
      ? `d${v.toISOString()}`
      : typeof v === 'bigint'
        ? `b${v}`
        : typeof v === 'number'
          ? `n${v}`
          : `s${v}`,
  );
  return Buffer.from(JSON.stringify(tagged), 'utf8').toString('base64url');
}

/** Decodes a cursor made by `encodeCursor` for `order`; 400 on anything else (a value its column could not hold too). */
export function decodeCursor(cursor: string, order: SortOrder): KeyValue[] {
  let tagged: unknown;
  try {
    tagged = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  if (!Array.isArray(tagged) || tagged.length !== order.length) throw badCursor();
  return tagged.map((t: unknown, i) => {
    if (typeof t !== 'string' || t[0] !== TAGS[order[i][2]]) throw badCursor();
    const body = t.slice(1);
    switch (t[0]) {
      case 'd': {
        const d = new Date(body);
        if (!(d.getUTCFullYear() >= 1970 && d.getUTCFullYear() <= 9999)) throw badCursor();
        return d;
      }
      case 'b':
        if (!/^\d{1,18}$/.test(body)) throw badCursor();
        return BigInt(body);
      case 'n':
        if (!/^\d{1,10}$/.test(body) || Number(body) > INT4_MAX) throw badCursor();
        return Number(body);
      case 's':
        if (!isPgText(body) || (order[i][2] === 'uuid' && !isUuid(body))) throw badCursor();
        return body;
      default:
        throw badCursor();
    }
  });
}

/** A Prisma filter built from a cursor: typed as the empty object, so that it fits any model's where input. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
type KeysetWhere = {};

/**
 * The Prisma arguments of one page in `order` (keyset pagination: rows after the cursor's key, so a page costs the
 * same however deep it is and rows written meanwhile neither repeat nor go missing): `where` to AND with the list's
 * own filter, `orderBy`, and `take` (one more than the page, which tells whether a next page exists).
 */
export function keysetPage<F extends string>(
  order: SortOrder<F>,
  page: PageRequest,
): { where: KeysetWhere; orderBy: Array<Record<F, 'asc' | 'desc'>>; take: number } {
  const orderBy = order.map(([field, dir]) => ({ [field]: dir }) as Record<F, 'asc' | 'desc'>);
  if (!page.cursor) return { where: {}, orderBy, take: page.take + 1 };
  const after = decodeCursor(page.cursor, order);
  // (k1 > v1) OR (k1 = v1 AND k2 > v2) OR …, with < for descending keys.
  const OR = order.map(([field, dir], i) => ({
    ...Object.fromEntries(order.slice(0, i).map(([f], j) => [f, after[j]])),
    [field]: { [dir === 'asc' ? 'gt' : 'lt']: after[i] },
  }));
  return { where: { OR }, orderBy, take: page.take + 1 };
}

/** Builds the page from rows fetched with `keysetPage` (the extra row tells whether a next page exists). */
export function toPage<R, T, F extends string>(
  rows: R[],
  page: PageRequest,
  order: SortOrder<F>,
  map: (row: R) => T,
): Page<T> {
  const more = rows.length > page.take;
  const shown = more ? rows.slice(0, page.take) : rows;
  const last = shown[shown.length - 1] as Record<F, KeyValue> | undefined;
  return {
    data: shown.map(map),
    next_cursor: more && last ? encodeCursor(order.map(([f]) => last[f])) : null,
  };
}
