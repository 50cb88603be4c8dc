import { z } from 'zod';
import { INT4_MAX, parseInput } from './validation';

/** Largest page a list returns. */
export const MAX_PAGE = 200;

/** `limit` (1..200, default 50) and `cursor` (opaque, from `next_cursor`) or `offset`. */
export const pageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a next_cursor value')
    .optional(),
  offset: z.coerce.number().int().min(0).max(INT4_MAX).optional(),
});

/** A page request resolved to skip/take. */
export interface PageRequest {
  skip: number;
  take: number;
}

/** A page of results: `{ data, next_cursor }` (null on the last page). */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** Reads limit/cursor/offset from a query object (400 on bad values). */
export function pageRequest(query: Record<string, unknown>): PageRequest {
  const q = parseInput(pageQuerySchema, { limit: query.limit, cursor: query.cursor, offset: query.offset }, 'query');
  let skip = q.offset ?? 0;
  if (q.cursor) {
    const n = Number(Buffer.from(q.cursor, 'base64url').toString('utf8').replace(/^o:/, ''));
    parseInput(z.object({ cursor: z.number().int('must be a next_cursor value').min(0).max(INT4_MAX) }), { cursor: Number.isFinite(n) ? n : -1 }, 'query');
    skip = n;
  }
  return { skip, take: q.limit };
}

/** Builds the page from rows fetched with `take: take + 1` (the extra row tells whether a next page exists). */
export function toPage<R, T>(rows: R[], req: PageRequest, map: (row: R) => T): Page<T> {
  const more = rows.length > req.take;
  const data = (more ? rows.slice(0, req.take) : rows).map(map);
  const next = more ? Buffer.from(`o:${req.skip + req.take}`, 'utf8').toString('base64url') : null;
  return { data, next_cursor: next };
}
