/**
 * The live feed: new entries in insert order, for long-poll and SSE clients.
 *
 * Position = (ingested_at, id), a total order over the store's rows. The feed keeps a watermark W
 * (the store's clock minus a settle time) and serves rows with position > cursor and
 * ingested_at <= W, oldest first. A client's next cursor is its last row, or (W, "~") when it got
 * everything up to W. So a cursor never repeats a row (strictly greater) and never skips one,
 * provided every insert becomes visible within `settleMs` of its ingested_at (one in-process
 * writer: the InsertTracker below makes that exact; several agents writing to a server: raise the
 * settle time above the slowest insert), and that an entry reaches the store within `maxLagMs` of
 * its start (see there).
 *
 * One shared poller per hub asks the store "anything new below the next watermark?" while
 * clients wait, and wakes them; `poke()` lets an in-process writer say "I just inserted" instead of
 * waiting for the next poll.
 *
 * Recent rows in memory: while unfiltered clients read, each look that finds new rows also fetches
 * them (one query shared by all clients) into a bounded ring covering the positions
 * (ring.low, watermark]. An unfiltered read whose cursor is at or after ring.low is answered from
 * the ring without asking the store; an older cursor, a filtered read (the filter exists only as
 * SQL), or a look that found more rows than the ring holds goes to the store as before. Positions
 * in the ring are the store's own (read back from it), so both paths hand out the same cursors.
 * With an InsertTracker (`tapline up`) that fetch is the whole look: the watermark comes from this
 * process's clock, which is the embedded store's, so no count query runs. Known difference: the
 * ring keeps rows that started at most `maxLagMs` before the watermark they were fetched at, the
 * store read the same bound from the cursor; only entries that reach the store later than that
 * differ, and those the stream does not promise (see `maxLagMs`).
 */
import type { CompiledFilter } from '../query/compile.js';
import type { EntryRow, Store } from '../store/index.js';
import { AFTER_ALL_IDS, type Position } from './cursor.js';
import { queryRows, type QueryLimits } from './run.js';
import { SUMMARY_SELECT, summaryFromRow, type EntrySummary } from './summary.js';

export interface LiveOptions {
  /** Inserts are assumed visible this long after their ingested_at (ms). */
  settleMs: number;
  /** How often the shared poller asks the store while clients wait (ms). */
  pollMs: number;
  /**
   * Rows are looked for only among entries that started at most this long before the cursor
   * (ms): it keeps each poll to the newest partitions instead of the whole table. An entry that
   * reaches the store later than that after it happened (replayed from the writer's spool after a
   * long outage) is in the store and in lists, but not in the live stream.
   */
  maxLagMs: number;
  /** Inserts made in this process (`tapline up`): the watermark stays below any still running. */
  inserts?: InsertTracker;
  /** Most recent rows kept in memory for unfiltered readers (default 5000; 0 turns it off). */
  ringEntries?: number;
}

/** Fetched rows are kept for unfiltered readers this long after the last such read (ms). */
const RING_IDLE_MS = 30_000;

/** `a` sorts before `b` in the feed's order (ids are ASCII, so JS and the store compare alike). */
function before(a: Position, b: Position): boolean {
  return a.us < b.us || (a.us === b.us && a.id < b.id);
}

/** Recent rows in feed order: every row with position in (low, the feed's watermark]. */
interface Ring {
  low: Position;
  rows: { pos: Position; entry: EntrySummary }[];
}

/**
 * Watches the inserts an in-process writer makes through a store (see `wrap`), so the feed never
 * moves its watermark past an insert that has begun but is not visible yet: ingested_at is taken
 * when the insert starts, on the same clock (chDB runs in this process).
 */
export class InsertTracker {
  private readonly running = new Map<number, number>();
  private readonly observers = new Set<{ minUs: number }>();
  private seq = 0;

  /** The same store, with `insertNative` tracked. */
  wrap(store: Store): Store {
    return {
      kind: store.kind,
      client: store.client,
      database: store.database,
      insertNative: async (table, columns, body, token) => {
        const id = this.seq++;
        const startUs = Date.now() * 1000;
        this.running.set(id, startUs);
        for (const o of this.observers) o.minUs = Math.min(o.minUs, startUs);
        try {
          await store.insertNative(table, columns, body, token);
        } finally {
          this.running.delete(id);
        }
      },
      close: () => store.close(),
    };
  }

  /** Runs `fn`; returns its result and the earliest start of any insert running meanwhile. */
  async observe<T>(fn: () => Promise<T>): Promise<{ result: T; earliestInsertUs: number }> {
    const o = { minUs: Math.min(Infinity, ...this.running.values()) };
    this.observers.add(o);
    try {
      const result = await fn();
      return { result, earliestInsertUs: Math.min(o.minUs, ...this.running.values()) };
    } finally {
      this.observers.delete(o);
    }
  }
}

export interface LiveBatch {
  entries: EntrySummary[];
  cursor: Position;
  /** Feed generation the batch was read at; pass to `waitForNew`. */
  generation: number;
}

export class LiveFeed {
  private watermarkUs = 0;
  /** When the watermark was last moved (Date.now()), to refresh it for clients that do not wait. */
  private lookedAt = 0;
  private generation = 0;
  private waiters = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private closed = false;
  private ring: Ring = { low: { us: Infinity, id: AFTER_ALL_IDS }, rows: [] };
  /** When an unfiltered client last read (Date.now()): the poller fetches rows only if recent. */
  private unfilteredReadAt = -Infinity;

  constructor(
    private readonly store: Store,
    private readonly limits: QueryLimits,
    private readonly options: LiveOptions,
  ) {}

  /** The position "now": everything already inserted lies before it. */
  async head(): Promise<Position> {
    if (this.watermarkUs === 0) await this.tick();
    return { us: this.watermarkUs, id: AFTER_ALL_IDS };
  }

  /** Rows after `cursor` up to the watermark, oldest first, at most `limit`. */
  async read(cursor: Position, filter: CompiledFilter, limit: number): Promise<LiveBatch> {
    if (Date.now() - this.lookedAt >= this.options.pollMs) await this.tick();
    const generation = this.generation;
    const w = this.watermarkUs;
    // Nothing can lie between the cursor and the watermark: no need to ask the store.
    if (cursor.us > w || (cursor.us === w && cursor.id === AFTER_ALL_IDS)) return { entries: [], cursor, generation };
    if (filter.sql === '1') {
      this.unfilteredReadAt = Date.now();
      if (!before(cursor, this.ring.low)) return { ...this.fromRing(cursor, limit, w), generation };
    }
    const rows = await queryRows<EntryRow>(
      this.store,
      this.limits,
      `SELECT ${SUMMARY_SELECT} FROM ${this.store.database}.entries ` +
        'WHERE start_time >= fromUnixTimestamp64Micro({curUs:Int64}) - toIntervalMillisecond({lagMs:UInt64}) ' +
        'AND (ingested_at, id) > (fromUnixTimestamp64Micro({curUs:Int64}), {curId:String}) ' +
        `AND ingested_at <= fromUnixTimestamp64Micro({wUs:Int64}) AND (${filter.sql}) ` +
        'ORDER BY ingested_at, id LIMIT {limit:UInt32}',
      { ...filter.params, curUs: cursor.us, curId: cursor.id, wUs: w, limit, lagMs: this.options.maxLagMs },
    );
    const entries = rows.map(summaryFromRow);
    const last = rows.at(-1);
    const next = rows.length === limit && last ? { us: Number(last.ingested_us), id: last.id } : { us: w, id: AFTER_ALL_IDS };
    return { entries, cursor: next, generation };
  }

  /** As the store query in `read` would answer an unfiltered read, from the ring. */
  private fromRing(cursor: Position, limit: number, w: number): { entries: EntrySummary[]; cursor: Position } {
    const rows = this.ring.rows;
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(cursor, rows[mid].pos)) hi = mid;
      else lo = mid + 1;
    }
    const minStartUs = cursor.us - this.options.maxLagMs * 1000;
    const entries: EntrySummary[] = [];
    let last: Position | undefined;
    for (let i = lo; i < rows.length && entries.length < limit; i++) {
      if (rows[i].entry.startUs < minStartUs) continue;
      entries.push(rows[i].entry);
      last = rows[i].pos;
    }
    return { entries, cursor: entries.length === limit && last ? last : { us: w, id: AFTER_ALL_IDS } };
  }

  /** Rows in (prevUs, w], oldest first, for the ring; undefined when more than it holds. */
  private async fetchNew(prevUs: number, w: number, cap: number): Promise<Ring['rows'] | undefined> {
    const rows = await queryRows<EntryRow>(
      this.store,
      this.limits,
      `SELECT ${SUMMARY_SELECT} FROM ${this.store.database}.entries ` +
        'WHERE start_time >= fromUnixTimestamp64Micro({prevUs:Int64}) - toIntervalMillisecond({lagMs:UInt64}) ' +
        'AND ingested_at > fromUnixTimestamp64Micro({prevUs:Int64}) AND ingested_at <= fromUnixTimestamp64Micro({wUs:Int64}) ' +
        'ORDER BY ingested_at, id LIMIT {limit:UInt32}',
      { prevUs, wUs: w, lagMs: this.options.maxLagMs, limit: cap + 1 },
    );
    if (rows.length > cap) return undefined;
    return rows.map((r) => ({ pos: { us: Number(r.ingested_us), id: r.id }, entry: summaryFromRow(r) }));
  }

  /** The ring after the watermark moved from `prevUs` to `w` (`fresh`: the rows in between, if fetched). */
  private advanceRing(prevUs: number, w: number, fresh: Ring['rows'] | undefined, cap: number): void {
    // Rows in (prevUs, w] not all known: the ring starts again, empty, at the new watermark.
    if (!fresh) {
      this.ring = { low: { us: w, id: AFTER_ALL_IDS }, rows: [] };
      return;
    }
    if (this.ring.low.us === Infinity) this.ring = { low: { us: prevUs, id: AFTER_ALL_IDS }, rows: [] };
    const rows = this.ring.rows;
    for (const r of fresh) rows.push(r);
    if (rows.length > cap) {
      const dropped = rows.splice(0, rows.length - cap);
      this.ring.low = dropped[dropped.length - 1].pos;
    }
  }

  /** Resolves once the feed has moved past `generation` (new rows seen), or after `ms`. */
  waitForNew(generation: number, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.generation > generation || this.closed || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timeout);
        this.waiters.delete(check);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const check = () => {
        if (this.generation > generation || this.closed) done();
      };
      const timeout = setTimeout(done, ms);
      signal?.addEventListener('abort', done);
      this.waiters.add(check);
      this.schedule();
    });
  }

  /** An in-process writer inserted rows: look now rather than at the next poll. */
  poke(): void {
    if (this.waiters.size > 0) void this.tick();
  }

  /** Stops polling, wakes every waiter, and waits for a look at the store still under way. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const w of [...this.waiters]) w();
    await this.ticking;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick().finally(() => {
        if (this.waiters.size > 0) this.schedule();
      });
    }, this.options.pollMs);
  }

  /** One shared look at the store: advance the watermark; wake waiters when rows arrived. */
  private tick(): Promise<void> {
    this.ticking ??= (async () => {
      try {
        const prevUs = this.watermarkUs;
        const cap = this.options.ringEntries ?? 5000;
        // Rows for the ring only while unfiltered clients read, and only what it can hold.
        const wantRows = prevUs > 0 && cap > 0 && Date.now() - this.unfilteredReadAt < RING_IDLE_MS;
        const tracker = this.options.inserts;
        let w: number;
        let n: number;
        let fresh: Ring['rows'] | undefined;
        if (wantRows && tracker) {
          // In process the store's clock is this one, and the tracker knows every running insert:
          // one query fetches the new rows, the watermark comes from here.
          const wUs = Date.now() * 1000 - this.options.settleMs * 1000;
          const { result, earliestInsertUs } = await tracker.observe(() => this.fetchNew(prevUs, wUs, cap));
          w = Math.min(wUs, earliestInsertUs - 1);
          fresh = result?.filter((r) => r.pos.us <= w);
          n = fresh ? fresh.length : cap + 1;
        } else {
          const look = () =>
            queryRows<{ w: number | string; n: number | string }>(
              this.store,
              this.limits,
              // now64() is one value for the whole query: w and the WHERE bound agree.
              'SELECT toUnixTimestamp64Micro(now64(6)) - {settleUs:Int64} AS w, count() AS n ' +
                `FROM ${this.store.database}.entries WHERE ingested_at > fromUnixTimestamp64Micro({prevUs:Int64}) ` +
                'AND ingested_at <= now64(6) - toIntervalMicrosecond({settleUs:Int64}) ' +
                'AND start_time >= fromUnixTimestamp64Micro({prevUs:Int64}) - toIntervalMillisecond({lagMs:UInt64})',
              { settleUs: this.options.settleMs * 1000, prevUs, lagMs: this.options.maxLagMs },
            );
          const { result: [row], earliestInsertUs } = tracker ? await tracker.observe(look) : { result: await look(), earliestInsertUs: Infinity };
          // Stay just below an insert that may not be visible yet.
          w = Math.min(Number(row.w), earliestInsertUs - 1);
          n = Number(row.n);
          fresh = wantRows && w > prevUs ? (n === 0 ? [] : n <= cap ? await this.fetchNew(prevUs, w, cap) : undefined) : undefined;
        }
        this.lookedAt = Date.now();
        if (w > this.watermarkUs) {
          const first = this.watermarkUs === 0;
          this.advanceRing(prevUs, w, fresh, cap);
          this.watermarkUs = w;
          if (!first && n > 0) this.generation++;
        }
        for (const check of [...this.waiters]) check();
      } catch {
        // The store is away: waiters time out and their reads report it.
      } finally {
        this.ticking = undefined;
      }
    })();
    return this.ticking;
  }
}
