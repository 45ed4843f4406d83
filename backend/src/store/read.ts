/**
 * Reading single entries back. Entry ids are UUIDv7: their first 48 bits are a millisecond time
 * close to the entry's own (the agent makes the id when it finishes the entry), so a lookup can
 * first search a short time window around it, which prunes all other hourly partitions, and only
 * then, when nothing is there, the whole table (the bloom filter on `id` still helps).
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

/** One entry in full by id, or undefined. */
export async function findEntry(store: Store, id: string): Promise<Entry | undefined> {
  const ms = uuidv7Ms(id);
  const lookup = async (window: string, params: Record<string, unknown>) => {
    const rs = await store.client.query({
      query: `SELECT ${ENTRY_SELECT} FROM ${store.database}.entries WHERE id = {id:String}${window} LIMIT 1`,
      query_params: { id, ...params },
      format: 'JSONEachRow',
    });
    const rows = await rs.json<EntryRow>();
    return rows.length > 0 ? rowToEntry(rows[0]) : undefined;
  };
  if (ms !== undefined) {
    const found = await lookup(
      ' AND start_time >= fromUnixTimestamp64Milli({fromMs:Int64}) AND start_time <= fromUnixTimestamp64Milli({toMs:Int64})',
      { fromMs: ms - ID_WINDOW_BEFORE_MS, toMs: ms + ID_WINDOW_AFTER_MS },
    );
    if (found) return found;
  }
  return lookup('', {});
}
