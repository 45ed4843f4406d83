/** Entry lists (newest first, keyset pagination) and one entry in full. */
import type { Entry } from '../entries/entry.js';
import { findEntries, newestEntriesSql, type EntryRow, type Store } from '../store/index.js';
import { compileExpr } from '../query/compile.js';
import type { Expr } from '../query/ast.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { ApiError } from './errors.js';
import { rangeSql, type TimeRange } from './params.js';
import { queryRows, type QueryLimits } from './run.js';
import { SUMMARY_SELECT, detailOf, summaryFromRow } from './summary.js';
import type { EntriesPage } from './shapes.js';

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
): Promise<EntriesPage> {
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
    newestEntriesSql(store.database, SUMMARY_SELECT, `${r.sql} AND (${f.sql})${after}`, '{limit:UInt32}'),
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
 * One entry in full, for many clients at once: lookups asked while one runs wait for it and then
 * go to the store together, as one query (the embedded engine runs one query at a time, so twenty
 * separate lookups would each wait for all the others). A lone lookup runs at once.
 */
export class EntryLookup {
  private waiting = new Map<string, Array<{ resolve: (e: Entry | undefined) => void; reject: (err: unknown) => void }>>();
  private running = false;

  constructor(
    private readonly store: Store,
    /** Most ids in one query. */
    private readonly batch = 100,
  ) {}

  /** The entry's detail as the API shows it; 404 when no entry has this id. */
  async get(id: string) {
    const entry = await new Promise<Entry | undefined>((resolve, reject) => {
      const list = this.waiting.get(id) ?? [];
      list.push({ resolve, reject });
      this.waiting.set(id, list);
      if (!this.running) void this.run();
    });
    if (!entry) throw new ApiError(404, 'not_found', `no entry with id ${JSON.stringify(id)}`);
    return detailOf(entry);
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.waiting.size > 0) {
      const ids = [...this.waiting.keys()].slice(0, this.batch);
      const callers = ids.map((id) => {
        const c = this.waiting.get(id) ?? [];
        this.waiting.delete(id);
        return c;
      });
      try {
        const found = await findEntries(this.store, ids);
        ids.forEach((id, i) => callers[i].forEach((c) => c.resolve(found.get(id))));
      } catch (err) {
        for (const c of callers.flat()) c.reject(err);
      }
    }
    this.running = false;
  }
}
