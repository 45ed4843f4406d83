/**
 * The live feed: new entries in insert order, for long-poll and SSE clients.
 *
 * Position = (ingested_at, id), a total order over the store's rows. A feed keeps a watermark W and
 * serves rows with position > cursor and position <= (W, "~"), oldest first. A client's next cursor
 * is its last row, or (W, "~") when it got everything up to W. So a cursor never repeats a row
 * (strictly greater) and never skips one, provided no row with a position at or below W appears
 * after W was handed out. The two feeds keep that promise in two ways:
 *
 * - `StoreFeed` (`tapline hub`: the hub follows a store other processes write into): W is the
 *   store's clock minus a settle time; every insert must become visible within `settleMs` of its
 *   ingested_at (the store stamps it; with agents writing to a server, raise the settle time above
 *   the slowest insert). One shared poller asks the store "anything new below the next watermark?"
 *   while clients wait, and wakes them.
 * - `HandOffFeed` (`tapline up`: the writer runs in this process): the feed stamps each entry's
 *   position as the writer accepts it (the writer stores it as ingested_at) and keeps the entry in
 *   memory at once, so W is simply the last position handed out. Clients see an entry as soon as it
 *   is captured, before it reaches the store.
 *
 * Recent rows in memory (`RecentRows`): a bounded ring covering the positions (low, W]. A read whose
 * cursor is at or after `low` and whose filter has an in-memory matcher (query/match.ts) is answered
 * from the ring; an older cursor, or a filter on what summaries lack (headers, bodies), reads the
 * store. Positions in the ring are the store's own, so both paths hand out the same cursors.
 * Every read sees only entries that started at most `maxLagMs` before its cursor (see there).
 */
import { isIP } from 'node:net';
import type { Entry, EntrySink } from '../entries/entry.js';
import type { CompiledFilter } from '../query/compile.js';
import type { EntryMatcher } from '../query/match.js';
import type { EntryRow, EntryWriter, Store } from '../store/index.js';
import { AFTER_ALL_IDS, type Position } from './cursor.js';
import { queryRows, type QueryLimits } from './run.js';
import { SUMMARY_SELECT, summaryFromRow, summaryOf, type EntrySummary } from './summary.js';

/** A stream filter: its SQL, and its in-memory matcher when it has one. */
export interface LiveFilter extends CompiledFilter {
  match?: EntryMatcher;
}

export interface LiveBatch {
  entries: EntrySummary[];
  cursor: Position;
  /** Feed generation the batch was read at; pass to `waitForNew`. */
  generation: number;
}

/** What the stream endpoints need of a feed. */
export interface LiveFeed {
  /** The position "now": everything already in the feed lies before it. */
  head(): Promise<Position>;
  /** Rows after `cursor` up to the watermark, oldest first, at most `limit`. */
  read(cursor: Position, filter: LiveFilter, limit: number): Promise<LiveBatch>;
  /** Resolves once the feed has moved past `generation` (new rows seen), or after `ms`. */
  waitForNew(generation: number, ms: number, signal?: AbortSignal): Promise<void>;
  /** An in-process writer inserted rows: look now rather than at the next poll. */
  poke(): void;
  /** Stops, wakes every waiter, and waits for a look at the store still under way. */
  close(): Promise<void>;
}

export interface LiveOptions {
  /** StoreFeed: inserts are assumed visible this long after their ingested_at (ms). */
  settleMs: number;
  /** StoreFeed: how often the shared poller asks the store while clients wait (ms). */
  pollMs: number;
  /**
   * Rows are looked for only among entries that started at most this long before the cursor
   * (ms): it keeps each read to the newest partitions instead of the whole table. An entry that
   * reaches the store later than that after it happened (replayed from the writer's spool after a
   * long outage) is in the store and in lists, but not in the live stream.
   */
  maxLagMs: number;
  /** Most recent rows kept in memory (default 5000; 0 turns the ring off). */
  ringEntries?: number;
}

/** StoreFeed: fetched rows are kept for ring readers this long after the last such read (ms). */
const RING_IDLE_MS = 30_000;

/** `a` sorts before `b` in the feed's order (ids are ASCII, so JS and the store compare alike). */
function before(a: Position, b: Position): boolean {
  return a.us < b.us || (a.us === b.us && a.id < b.id);
}

const NOTHING_YET: Position = { us: Infinity, id: AFTER_ALL_IDS };

/** Recent rows in feed order: every row with position in (low, the feed's watermark]. */
class RecentRows {
  low: Position = NOTHING_YET;
  private rows: { pos: Position; entry: EntrySummary }[] = [];
  private head = 0;

  constructor(readonly capacity: number) {}

  /** The ring now covers (low, …] and holds nothing. */
  restart(low: Position): void {
    this.low = low;
    this.rows = [];
    this.head = 0;
  }

  /** Appends rows that follow every row held (in feed order), dropping the oldest over capacity. */
  append(pos: Position, entry: EntrySummary): void {
    this.rows.push({ pos, entry });
    if (this.rows.length - this.head > this.capacity) {
      this.low = this.rows[this.head].pos;
      this.head++;
      // Compact now and then rather than shifting the array on every row.
      if (this.head >= this.capacity) {
        this.rows = this.rows.slice(this.head);
        this.head = 0;
      }
    }
  }

  /** As the store read would answer, for a cursor at or after `low` and rows up to `w`. */
  read(cursor: Position, limit: number, w: number, maxLagUs: number, match: EntryMatcher): { entries: EntrySummary[]; cursor: Position } {
    const rows = this.rows;
    let lo = this.head;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(cursor, rows[mid].pos)) hi = mid;
      else lo = mid + 1;
    }
    const minStartUs = cursor.us - maxLagUs;
    const entries: EntrySummary[] = [];
    let last: Position | undefined;
    for (let i = lo; i < rows.length && entries.length < limit && rows[i].pos.us <= w; i++) {
      const e = rows[i].entry;
      if (e.startUs < minStartUs || !match(e)) continue;
      entries.push(e);
      last = rows[i].pos;
    }
    return { entries, cursor: entries.length === limit && last ? last : { us: w, id: AFTER_ALL_IDS } };
  }
}

/** Waiters and generations, shared by both feeds. */
abstract class FeedBase {
  protected generation = 0;
  protected closed = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    protected readonly store: Store,
    protected readonly limits: QueryLimits,
    protected readonly options: LiveOptions,
  ) {}

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
      // setTimeout fires at once for more than 2^31 − 1 ms (or Infinity): clamp, never spin.
      const timeout = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
      signal?.addEventListener('abort', done);
      this.waiters.add(check);
      this.waiting();
    });
  }

  /** A client started waiting. */
  protected abstract waiting(): void;

  protected get anyoneWaiting(): boolean {
    return this.waiters.size > 0;
  }

  /** Wakes the waiters whose generation is behind (all of them on close). */
  protected wake(): void {
    for (const check of [...this.waiters]) check();
  }

  /** Rows in the store after `cursor`, up to `w`, matching `filter`, oldest first. */
  protected async readStore(cursor: Position, filter: CompiledFilter, limit: number, w: number): Promise<{ entries: EntrySummary[]; cursor: Position }> {
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
    return { entries, cursor: rows.length === limit && last ? { us: Number(last.ingested_us), id: last.id } : { us: w, id: AFTER_ALL_IDS } };
  }
}

/** Nothing can lie between the cursor and the watermark `w`. */
function atOrAfter(cursor: Position, w: number): boolean {
  return cursor.us > w || (cursor.us === w && cursor.id === AFTER_ALL_IDS);
}

/**
 * Follows the store: a shared poller moves the watermark to the store's clock minus the settle
 * time. While ring readers read, each look that finds new rows also fetches them (one query shared
 * by all clients) into the ring; a look that found more rows than the ring holds restarts it.
 */
export class StoreFeed extends FeedBase implements LiveFeed {
  private watermarkUs = 0;
  /** When the watermark was last moved (Date.now()), to refresh it for clients that do not wait. */
  private lookedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly ring: RecentRows;
  /** When a ring reader last read (Date.now()): the poller fetches rows only if recent. */
  private ringReadAt = -Infinity;

  constructor(store: Store, limits: QueryLimits, options: LiveOptions) {
    super(store, limits, options);
    this.ring = new RecentRows(options.ringEntries ?? 5000);
  }

  async head(): Promise<Position> {
    if (this.watermarkUs === 0) await this.tick();
    return { us: this.watermarkUs, id: AFTER_ALL_IDS };
  }

  async read(cursor: Position, filter: LiveFilter, limit: number): Promise<LiveBatch> {
    // A stale watermark is refreshed for the next read, not awaited: any watermark keeps the
    // cursor promise, and a client that does not wait should not queue behind a store query.
    if (this.watermarkUs === 0) await this.tick();
    else if (Date.now() - this.lookedAt >= this.options.pollMs) void this.tick();
    const generation = this.generation;
    const w = this.watermarkUs;
    if (atOrAfter(cursor, w)) return { entries: [], cursor, generation };
    if (filter.match) {
      this.ringReadAt = Date.now();
      if (!before(cursor, this.ring.low)) return { ...this.ring.read(cursor, limit, w, this.options.maxLagMs * 1000, filter.match), generation };
    }
    return { ...(await this.readStore(cursor, filter, limit, w)), generation };
  }

  poke(): void {
    if (this.anyoneWaiting) void this.tick();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.wake();
    await this.ticking;
  }

  protected waiting(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick().finally(() => {
        if (this.anyoneWaiting) this.waiting();
      });
    }, this.options.pollMs);
  }

  /** Rows in (prevUs, w], oldest first, for the ring; undefined when more than it holds. */
  private async fetchNew(prevUs: number, w: number): Promise<Array<{ pos: Position; entry: EntrySummary }> | undefined> {
    const cap = this.ring.capacity;
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

  /** One shared look at the store: advance the watermark; wake waiters when rows arrived. */
  private tick(): Promise<void> {
    this.ticking ??= (async () => {
      try {
        const prevUs = this.watermarkUs;
        const [row] = await queryRows<{ w: number | string; n: number | string }>(
          this.store,
          this.limits,
          // now64() is one value for the whole query: w and the WHERE bound agree.
          'SELECT toUnixTimestamp64Micro(now64(6)) - {settleUs:Int64} AS w, count() AS n ' +
            `FROM ${this.store.database}.entries WHERE ingested_at > fromUnixTimestamp64Micro({prevUs:Int64}) ` +
            'AND ingested_at <= now64(6) - toIntervalMicrosecond({settleUs:Int64}) ' +
            'AND start_time >= fromUnixTimestamp64Micro({prevUs:Int64}) - toIntervalMillisecond({lagMs:UInt64})',
          { settleUs: this.options.settleMs * 1000, prevUs, lagMs: this.options.maxLagMs },
        );
        const w = Number(row.w);
        const n = Number(row.n);
        // Rows for the ring only while ring readers read, and only what it can hold.
        const wantRows = prevUs > 0 && this.ring.capacity > 0 && Date.now() - this.ringReadAt < RING_IDLE_MS && w > prevUs;
        const fresh = wantRows ? (n === 0 ? [] : n <= this.ring.capacity ? await this.fetchNew(prevUs, w) : undefined) : undefined;
        this.lookedAt = Date.now();
        if (w > this.watermarkUs) {
          const first = this.watermarkUs === 0;
          if (!fresh) this.ring.restart({ us: w, id: AFTER_ALL_IDS });
          else {
            if (this.ring.low === NOTHING_YET) this.ring.restart({ us: prevUs, id: AFTER_ALL_IDS });
            for (const r of fresh) this.ring.append(r.pos, r.entry);
          }
          this.watermarkUs = w;
          if (!first && n > 0) this.generation++;
        }
        this.wake();
      } catch {
        // The store is away: waiters time out and their reads report it.
      } finally {
        this.ticking = undefined;
      }
    })();
    return this.ticking;
  }
}

/** What a HandOffFeed needs of the writer it stamps entries for. */
export interface HandOffWriter {
  /** Entries accepted and not yet in the store (in memory or spooled), oldest first. */
  unstored(): number;
}

/**
 * Fed by the in-process writer (see `sinkFor`): entries are in the ring the moment the writer
 * accepts them. Reads from the store (older cursors, filters without a matcher) stop below the
 * oldest stamped entry not yet in the store, so they cannot pass a row still on its way.
 */
export class HandOffFeed extends FeedBase implements LiveFeed {
  /** The highest position handed out (stamped, or given as a head or cursor). */
  private issuedUs: number;
  private readonly ring: RecentRows;
  /** Stamps and ids of accepted entries, oldest first, from `pendingHead` on: those maybe not stored yet. */
  private pending: number[] = [];
  private pendingIds: string[] = [];
  private pendingHead = 0;
  /** The ids from `pendingHead` on, for `whenStored`. */
  private readonly unstoredIds = new Set<string>();
  private wakeScheduled = false;

  constructor(store: Store, limits: QueryLimits, options: LiveOptions, private readonly writer: HandOffWriter) {
    super(store, limits, options);
    this.issuedUs = Date.now() * 1000;
    this.ring = new RecentRows(Math.max(1, options.ringEntries ?? 5000));
    this.ring.restart({ us: this.issuedUs, id: AFTER_ALL_IDS });
  }

  /** An EntrySink for the capture agent: stamps each entry, hands it to `writer`, keeps it if accepted. */
  sinkFor(writer: EntryWriter): EntrySink {
    return {
      push: (entry) => {
        const us = this.stamp();
        entry.ingestedUs = us;
        const accepted = writer.counters.accepted;
        const ok = writer.push(entry);
        if (writer.counters.accepted > accepted) this.accept(entry, us);
        return ok;
      },
      drained: () => writer.drained(),
    };
  }

  /** The position for the next entry: after every position handed out so far. */
  private stamp(): number {
    this.issuedUs = Math.max(Date.now() * 1000, this.issuedUs + 1);
    return this.issuedUs;
  }

  private accept(entry: Entry, us: number): void {
    this.ring.append({ us, id: entry.id }, summaryAsStored(entry));
    this.pending.push(us);
    this.pendingIds.push(entry.id);
    this.unstoredIds.add(entry.id);
    if (this.pending.length - this.pendingHead > 4096) this.settlePending();
    if (!this.wakeScheduled) {
      this.wakeScheduled = true;
      // One wake for all the entries of this turn of the event loop.
      setImmediate(() => {
        this.wakeScheduled = false;
        this.generation++;
        this.wake();
      });
    }
  }

  /** Forgets the stamps of entries the writer no longer holds (FIFO: the oldest went first). */
  private settlePending(): void {
    const head = Math.max(this.pendingHead, this.pending.length - this.writer.unstored());
    for (let i = this.pendingHead; i < head; i++) this.unstoredIds.delete(this.pendingIds[i]);
    this.pendingHead = head;
    if (this.pendingHead > 65_536 || this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingIds = this.pendingIds.slice(this.pendingHead);
      this.pendingHead = 0;
    }
  }

  /**
   * Waits (at most `ms`) until an entry the stream has shown is in the store, so that opening it
   * right away finds it. Resolves at once for any other id.
   */
  async whenStored(id: string, ms: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      this.settlePending();
      if (!this.unstoredIds.has(id) || this.closed || signal?.aborted || Date.now() >= deadline) return;
      await this.waitForNew(this.generation, deadline - Date.now(), signal);
    }
  }

  async head(): Promise<Position> {
    this.issuedUs = Math.max(Date.now() * 1000, this.issuedUs);
    return { us: this.issuedUs, id: AFTER_ALL_IDS };
  }

  async read(cursor: Position, filter: LiveFilter, limit: number): Promise<LiveBatch> {
    const generation = this.generation;
    const w = this.issuedUs;
    if (atOrAfter(cursor, w)) return { entries: [], cursor, generation };
    if (filter.match && !before(cursor, this.ring.low)) {
      return { ...this.ring.read(cursor, limit, w, this.options.maxLagMs * 1000, filter.match), generation };
    }
    this.settlePending();
    const oldestUnstored = this.pendingHead < this.pending.length ? this.pending[this.pendingHead] : Infinity;
    const storeW = Math.min(w, oldestUnstored - 1);
    if (atOrAfter(cursor, storeW)) return { entries: [], cursor, generation };
    return { ...(await this.readStore(cursor, filter, limit, storeW)), generation };
  }

  /** The writer stored rows: store readers waiting below them may go on. */
  poke(): void {
    if (!this.anyoneWaiting) return;
    this.generation++;
    this.wake();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
  }

  protected waiting(): void {
    // Woken by accepted entries and by poke(); nothing to poll.
  }
}

/** The summary the store would give back for an entry (IPs as `ipFromStore` reads them). */
function summaryAsStored(entry: Entry): EntrySummary {
  const s = summaryOf(entry);
  s.src.ip = ipAsStored(s.src.ip);
  s.dst.ip = ipAsStored(s.dst.ip);
  return s;
}

/** `::` reads back as '', an IPv4-mapped IPv6 address as the IPv4 address. */
function ipAsStored(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const lower = ip.toLowerCase();
  if (lower === '::') return '';
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (m) {
    const hi = parseInt(m[1], 16);
    const lo = parseInt(m[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower;
}
