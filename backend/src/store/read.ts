/**
 * Reading entries back. Entry ids are UUIDv7 whose first 48 bits are a millisecond: the agent
 * makes them from the entry's start (agent/ids.ts: `uuidv7(startUs / 1000)`), the synthetic
 * generator from its end. A lookup first searches a window around that time (it prunes every
 * other hourly partition; the primary key and the bloom filter on `id` leave one granule), then,
 * when nothing is there, the whole table. Measured over 10M entries (bench/RESULTS.md): narrowing
 * the window to the id's own millisecond reads the same granule, so it buys nothing; the cost is
 * that granule's bodies and headers.
 */
import type { Entry } from '../entries/entry.js';
import type { Store } from './client.js';
import { ENTRY_SELECT, rowToEntry, type EntryRow } from './rows.js';

const UUIDV7 = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** How far before its id's time an entry may have started (long requests), and after. */
const ID_WINDOW_BEFORE_MS = 3_600_000;
const ID_WINDOW_AFTER_MS = 60_000;

/** The millisecond time in a UUIDv7, or undefined for any other id. */
export function uuidv7Ms(id: string): number | undefined {
  const m = UUIDV7.exec(id);
  return m ? parseInt(m[1] + m[2], 16) : undefined;
}

/** Where to look for an id, in order: [from, to) in ms, or null for the whole table. */
export function idSearchWindows(id: string): Array<[number, number] | null> {
  const ms = uuidv7Ms(id);
  return ms === undefined ? [null] : [[ms - ID_WINDOW_BEFORE_MS, ms + ID_WINDOW_AFTER_MS], null];
}

/**
 * SQL for the newest `limit` entries that match `where` (a condition on `entries`), newest first
 * with `id` breaking ties: the order keyset pagination needs. `ORDER BY start_time DESC, id DESC`
 * alone cannot stop early (the table is ordered by `start_time` only, so the engine reads every
 * matching row of the range to break ties: seconds over a day of 10M entries); bounding the range
 * first by the `limit`-th newest start time, a read in order that stops after `limit` rows, leaves
 * a few granules to sort. Same rows, same order. `limit` is SQL too (a number or a parameter).
 */
export function newestEntriesSql(database: string, select: string, where: string, limit: string): string {
  // The virtual row (ClickHouse >= 24.12) lets the read in order skip parts whose newest rows are
  // older than what it already has: over a day's 80 parts it reads ~15k rows instead of ~430k.
  const floor =
    `SELECT min(start_time) FROM (SELECT start_time FROM ${database}.entries WHERE ${where} ` +
    `ORDER BY start_time DESC LIMIT ${limit} SETTINGS read_in_order_use_virtual_row = 1)`;
  return `SELECT ${select} FROM ${database}.entries WHERE (${where}) AND start_time >= (${floor}) ORDER BY start_time DESC, id DESC LIMIT ${limit}`;
}

/** One entry in full by id, or undefined. */
export async function findEntry(store: Store, id: string): Promise<Entry | undefined> {
  return (await findEntries(store, [id])).get(id);
}

/**
 * Entries in full by id, found ones in the map: one query searches every id in its own window
 * (the windows' conditions OR'ed, so the primary key still prunes to their granules), one more
 * searches everywhere for the ids it did not find. Several lookups at once cost the store a query
 * or two, not one per id (the embedded engine runs one query at a time).
 */
export async function findEntries(store: Store, ids: readonly string[]): Promise<Map<string, Entry>> {
  const found = new Map<string, Entry>();
  const params: Record<string, string | number> = {};
  const windowed: string[] = [];
  ids.forEach((id, i) => {
    const [window] = idSearchWindows(id);
    if (!window) return;
    windowed.push(
      `(id = {i${i}:String} AND start_time >= fromUnixTimestamp64Milli({f${i}:Int64}) AND start_time < fromUnixTimestamp64Milli({t${i}:Int64}))`,
    );
    Object.assign(params, { [`i${i}`]: id, [`f${i}`]: window[0], [`t${i}`]: window[1] });
  });
  const read = async (where: string, queryParams: Record<string, unknown>) => {
    const rs = await store.client.query({
      query: `SELECT ${ENTRY_SELECT} FROM ${store.database}.entries WHERE ${where} LIMIT 1 BY id`,
      query_params: queryParams,
      format: 'JSONEachRow',
    });
    for (const row of await rs.json<EntryRow>()) found.set(row.id, rowToEntry(row));
  };
  if (windowed.length > 0) await read(windowed.join(' OR '), params);
  const rest = [...new Set(ids.filter((id) => !found.has(id)))];
  if (rest.length > 0) await read('id IN {rest:Array(String)}', { rest });
  return found;
}
