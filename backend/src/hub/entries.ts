/** Entry lists (newest first, keyset pagination) and one entry in full. */
import { rowToEntry, ENTRY_SELECT, type EntryRow, type Store } from '../store/index.js';
import { compileExpr } from '../query/compile.js';
import type { Expr } from '../query/ast.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { ApiError } from './errors.js';
import { rangeSql, type TimeRange } from './params.js';
import { queryRows, type QueryLimits } from './run.js';
import { SUMMARY_SELECT, detailOf, summaryFromRow, type EntrySummary } from './summary.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;

export function checkLimit(limit: number | undefined, max = MAX_LIMIT): number {
  const n = limit ?? DEFAULT_LIMIT;
  if (n > max) throw new ApiError(400, 'too_large', `'limit' is ${n}; the most one request may ask for is ${max}`);
  return n;
}

export async function listEntries(
  store: Store,
  limits: QueryLimits,
  filter: Expr,
  range: TimeRange,
  limit: number,
  cursor?: string,
): Promise<{ entries: EntrySummary[]; nextCursor: string | null }> {
  const f = compileExpr(filter);
  const r = rangeSql(range);
  const params: Record<string, string | number> = { ...f.params, ...r.params, limit };
  let after = '';
  if (cursor) {
    // Keyset pagination: strictly below the last entry served, in (start_time, id) order.
    const k = decodeCursor(cursor);
    after = ' AND (start_time, id) < (fromUnixTimestamp64Micro({curUs:Int64}), {curId:String})';
    params.curUs = k.us;
    params.curId = k.id;
  }
  const rows = await queryRows<EntryRow>(
    store,
    limits,
    `SELECT ${SUMMARY_SELECT} FROM ${store.database}.entries WHERE ${r.sql} AND (${f.sql})${after} ` +
      'ORDER BY start_time DESC, id DESC LIMIT {limit:UInt32}',
    params,
  );
  const entries = rows.map(summaryFromRow);
  const last = entries.at(-1);
  return {
    entries,
    nextCursor: last && entries.length === limit ? encodeCursor({ us: last.startUs, id: last.id }) : null,
  };
}

/**
 * Time of a UUIDv7 id (ms), or undefined for other ids. Agents derive an entry's id from its
 * capture time (start or end), so the id narrows the partitions to read.
 */
function uuidv7Ms(id: string): number | undefined {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.exec(id);
  return m ? parseInt(m[1] + m[2], 16) : undefined;
}

/** How far an entry's start may lie from its id's time: a day before (long requests), a minute after. */
const ID_WINDOW_BEFORE_MS = 86_400_000;
const ID_WINDOW_AFTER_MS = 60_000;

export async function getEntry(store: Store, limits: QueryLimits, id: string) {
  const find = (bounded: boolean, idMs = 0) =>
    queryRows<EntryRow>(
      store,
      limits,
      `SELECT ${ENTRY_SELECT} FROM ${store.database}.entries WHERE id = {id:String}` +
        (bounded ? ' AND start_time BETWEEN fromUnixTimestamp64Milli({lo:Int64}) AND fromUnixTimestamp64Milli({hi:Int64})' : '') +
        ' LIMIT 1',
      { id, lo: idMs - ID_WINDOW_BEFORE_MS, hi: idMs + ID_WINDOW_AFTER_MS },
    );
  const idMs = uuidv7Ms(id);
  let rows = idMs !== undefined ? await find(true, idMs) : [];
  // Not where its id says (an id made elsewhere): look everywhere before saying it is not there.
  if (rows.length === 0) rows = await find(false);
  if (rows.length === 0) throw new ApiError(404, 'not_found', `no entry with id ${JSON.stringify(id)}`);
  return detailOf(rowToEntry(rows[0]));
}
