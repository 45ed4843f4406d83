/**
 * EntryWriter: the EntrySink that persists entries into the store.
 *
 * - Encodes each entry at push() (store/native.ts) and batches them by count and by time.
 * - Bounded: push() returns false above the high-water mark (entries or bytes); wait for
 *   drained(). A caller that ignores it past twice the mark loses entries, counted as dropped.
 * - One insert at a time; a failed insert is retried with exponential backoff. Every batch carries
 *   a dedup token, so a retry after a lost answer does not duplicate rows.
 * - When the store stays unreachable (retries exhausted), batches go to the on-disk spool
 *   (store/spool.ts) and later batches follow them there, in order, until the spool has been
 *   replayed into the store. A full spool drops its oldest batches (counted, logged).
 * - Without a spool directory it keeps retrying and back-pressure holds the producer.
 */
import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Entry, EntrySink } from '../entries/entry.js';
import { createLogger, type Logger } from '../log.js';
import type { Store } from './client.js';
import { ENTRY_COLUMNS, EntryEncodeError } from './rows.js';
import { NativeBatch } from './native.js';
import { Spool } from './spool.js';
import { replayableBlock } from './spool-blocks.js';
import { DEFAULT_TTL_DAYS } from './schema.js';

export interface WriterOptions {
  logger?: Logger;
  /**
   * Entries per insert (default 50000: per entry, the engine's cost falls by about a fifth from
   * 10000 to 50000 and not further at 100000; bench/RESULTS.md "Store: ingest").
   */
  batchSize?: number;
  /** Longest time an entry waits for its batch to fill (ms, default 1000). */
  flushIntervalMs?: number;
  /** push() returns false once this many entries are queued (default 4 × batchSize). */
  highWaterEntries?: number;
  /**
   * push() returns false once this many encoded bytes are queued (default 128 MiB); a batch is
   * sent at a quarter of it at most, so that (as with entries) the producer resumes while one
   * batch is in flight and the next waits sealed: the store never idles while entries are encoded.
   */
  highWaterBytes?: number;
  /** Insert attempts before the batch goes to the spool (default 3). */
  attempts?: number;
  /** Backoff before the first retry (ms, default 200); doubles up to maxDelayMs (default 5000). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Directory of the on-disk spool; omit to retry forever instead. */
  spoolDir?: string;
  /** Spool size limit (bytes, default 256 MiB). */
  spoolMaxBytes?: number;
  /** Replays of one spooled batch the store may refuse (while answering pings) before it is set aside. */
  maxReplayFailures?: number;
  /**
   * The store's TTL in days (default 7; pass Retention's ttlDays when it differs). The engine
   * drops rows already past the TTL as it inserts them, so the writer counts them as `expired`
   * and says so instead of reporting them written.
   */
  ttlDays?: number;
  /**
   * Runs before the first insert, and again before each one until it succeeds: the schema
   * migration of a store that was down when the writer started (agent/sinks.ts). Until then
   * batches retry and spool as for a store that is down.
   */
  prepare?: () => Promise<void>;
}

export interface WriterCounters {
  /** Entries taken by push() (encoded and queued). */
  accepted: number;
  /** Entries confirmed inserted (directly or replayed from the spool). */
  written: number;
  /** Entries re-sent after a failed insert (once per retry). */
  retried: number;
  /** Entries written to the spool. */
  spooled: number;
  /** Entries lost: oldest spooled batches dropped when the spool was full, or past the hard queue limit. */
  dropped: number;
  /** Entries refused: not encodable (bad field) or refused by a reachable store again and again. */
  rejected: number;
  /** Entries older than the store's TTL, which the store would drop at once (not sent). */
  expired: number;
}

interface Batch {
  /** The Native block: the first bytes of `memory`. */
  body: Buffer;
  memory: Buffer;
  rows: number;
  token: string;
}

/**
 * The memory of delivered blocks, kept for the next ones. A block is ≈ 33 MB; allocating one a
 * batch made V8 start a full GC every other batch (external memory pressure), marking the whole
 * heap each time (bench/RESULTS.md, "Store: ingest"). At most `keep` buffers are kept: the one in
 * flight and the one sealed behind it, in the steady state. Spares far bigger than the blocks of
 * the moment (after a burst) are let go, so a quiet writer does not hold a burst's memory.
 */
class BlockMemory {
  private readonly spare: Buffer[] = [];
  constructor(private readonly keep = 2) {}

  /** A buffer of at least `bytes`: a spare one that fits, else a new one with room to grow. */
  take(bytes: number): Buffer {
    const oversized = 4 * bytes + 65536;
    for (let i = this.spare.length - 1; i >= 0; i--) if (this.spare[i].length > oversized) this.spare.splice(i, 1);
    const i = this.spare.findIndex((b) => b.length >= bytes);
    if (i >= 0) return this.spare.splice(i, 1)[0];
    // Blocks of a full batch differ by a few percent: the headroom lets the next ones fit.
    return Buffer.allocUnsafe(bytes + (bytes >>> 3));
  }

  give(memory: Buffer): void {
    if (this.spare.length < this.keep) this.spare.push(memory);
  }
}

export class EntryWriter implements EntrySink {
  readonly counters: WriterCounters = { accepted: 0, written: 0, retried: 0, spooled: 0, dropped: 0, rejected: 0, expired: 0 };
  private readonly log: Logger;
  /** Entries per insert. */
  readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly highWaterEntries: number;
  private readonly highWaterBytes: number;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxReplayFailures: number;
  private readonly ttlUs: number;
  private prepare: (() => Promise<void>) | undefined;
  /** Entries starting before this (µs) are past the TTL; refreshed with each new batch. */
  private oldestKeptUs = 0;
  private readonly instance = randomUUID().slice(0, 8);
  private batchSeq = 0;

  /** The batch being filled, and full batches waiting for delivery. */
  private readonly current: NativeBatch;
  private readonly blockMemory = new BlockMemory();
  private sealed: Batch[] = [];
  private sealedRows = 0;
  private sealedBytes = 0;
  /** Entries and bytes of the batch being delivered. */
  private inFlight = 0;
  private inFlightBytes = 0;
  private dueAt = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushWaiters = 0;
  private closing = false;
  private down = false;
  private replayFailures = 0;
  /** Paces replay attempts while the store is down. */
  private replayBackoff = 0;
  private nextReplayAt = 0;
  private wakeLoop: (() => void) | undefined;
  private woken = false;
  private drainWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  private readonly loop: Promise<void>;

  private constructor(
    private readonly store: Store,
    private readonly spool: Spool | undefined,
    o: WriterOptions,
  ) {
    this.log = o.logger ?? createLogger('store-writer');
    this.batchSize = o.batchSize ?? 50_000;
    this.current = new NativeBatch(Math.min(this.batchSize, 10_000));
    this.flushIntervalMs = o.flushIntervalMs ?? 1000;
    this.highWaterEntries = o.highWaterEntries ?? 4 * this.batchSize;
    this.highWaterBytes = o.highWaterBytes ?? 128 * 1024 * 1024;
    this.attempts = Math.max(1, o.attempts ?? 3);
    this.baseDelayMs = o.baseDelayMs ?? 200;
    this.maxDelayMs = o.maxDelayMs ?? 5000;
    this.maxReplayFailures = o.maxReplayFailures ?? 3;
    this.ttlUs = (o.ttlDays ?? DEFAULT_TTL_DAYS) * 86_400_000_000;
    this.prepare = o.prepare;
    this.loop = this.run().catch((err: unknown) => {
      this.log.fatal({ err }, 'store writer stopped on an unexpected error');
    });
  }

  /** Creates a writer (opening its spool directory, if any, and picking up what it holds). */
  static async create(store: Store, options: WriterOptions = {}): Promise<EntryWriter> {
    const spool = options.spoolDir
      ? await Spool.open(options.spoolDir, options.spoolMaxBytes ?? 256 * 1024 * 1024, options.logger)
      : undefined;
    return new EntryWriter(store, spool, options);
  }

  /** Entries queued in memory (pending and in flight). */
  get queued(): number {
    return this.current.rows + this.sealedRows + this.inFlight;
  }

  private get queuedBytes(): number {
    return this.current.bytes + this.sealedBytes + this.inFlightBytes;
  }

  /** Spool state: batches, entries and bytes on disk. */
  get spoolState(): { batches: number; entries: number; bytes: number } {
    return { batches: this.spool?.batches ?? 0, entries: this.spool?.rows ?? 0, bytes: this.spool?.bytes ?? 0 };
  }

  push(entry: Entry): boolean {
    if (this.closing) throw new Error('EntryWriter.push after close()');
    if (this.queued >= 2 * this.highWaterEntries || this.queuedBytes >= 2 * this.highWaterBytes) {
      this.counters.dropped++;
      if (this.counters.dropped % 1000 === 1) {
        this.log.error({ dropped: this.counters.dropped, queued: this.queued },
          'store writer queue is at twice its high-water mark (the producer ignores back-pressure): dropping entries');
      }
      return false;
    }
    if (this.current.rows === 0) this.oldestKeptUs = Date.now() * 1000 - this.ttlUs;
    if (entry.startUs < this.oldestKeptUs) {
      this.counters.expired++;
      if (this.counters.expired === 1 || this.counters.expired % 10_000 === 0) {
        this.log.warn({ expired: this.counters.expired, ttlDays: this.ttlUs / 86_400_000_000, startUs: entry.startUs },
          `entries older than the store's ${this.ttlUs / 86_400_000_000}-day retention are not stored ` +
            '(an old capture file? give a longer retention)');
      }
      return this.belowHighWater();
    }
    try {
      this.current.append(entry);
    } catch (err) {
      if (!(err instanceof EntryEncodeError)) throw err;
      this.counters.rejected++;
      if (this.counters.rejected <= 10 || this.counters.rejected % 1000 === 0) {
        this.log.warn({ err: err.message, rejected: this.counters.rejected }, 'store writer rejected an entry it cannot store');
      }
      return this.belowHighWater();
    }
    this.counters.accepted++;
    if (this.current.rows === 1) this.armFlushTimer();
    // Also by size: a batch that alone could reach the byte high-water mark would otherwise hold
    // a producer waiting for drained() until the flush timer.
    if (this.current.rows >= this.batchSize || this.current.bytes >= this.highWaterBytes / 4) {
      this.seal();
      this.wake();
    }
    return this.belowHighWater();
  }

  /**
   * Pushes every entry, waiting whenever push() refuses, and gives the event loop a turn every
   * `yieldEvery` entries: the writer's inserts (staging a block, the engine's answer) need it, and
   * a producer that only yields when held back makes the store idle while it encodes.
   */
  async pushAll(entries: Iterable<Entry>, yieldEvery = 1000): Promise<void> {
    let n = 0;
    for (const entry of entries) {
      if (!this.push(entry)) await this.drained();
      else if (++n % yieldEvery === 0) await nextTurn();
    }
  }

  private seal(): void {
    let memory: Buffer | undefined;
    const { body, rows } = this.current.take((bytes) => (memory = this.blockMemory.take(bytes)));
    this.sealed.push({ body, memory: memory as Buffer, rows, token: `${this.instance}-${this.batchSeq++}` });
    this.sealedRows += rows;
    this.sealedBytes += body.length;
    clearTimeout(this.flushTimer);
  }

  drained(): Promise<void> {
    if (this.belowLowWater()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Resolves when everything pushed so far is in the store or in the spool. */
  async flush(): Promise<void> {
    if (this.queued === 0) return;
    this.flushWaiters++;
    this.wake();
    try {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    } finally {
      this.flushWaiters--;
    }
  }

  /**
   * Flushes, then stops. Entries still in the spool stay on disk for the next start.
   * Does not close the store.
   */
  async close(): Promise<void> {
    await this.flush();
    this.closing = true;
    clearTimeout(this.flushTimer);
    this.wake();
    await this.loop;
    if (this.spool && !this.spool.empty) {
      this.log.warn({ dir: this.spool.dir, entries: this.spool.rows },
        `store writer closed with ${this.spool.rows} entries in the spool; they are replayed at the next start`);
    }
  }

  private belowHighWater(): boolean {
    return this.queued < this.highWaterEntries && this.queuedBytes < this.highWaterBytes;
  }

  private belowLowWater(): boolean {
    return this.queued <= this.highWaterEntries / 2 && this.queuedBytes <= this.highWaterBytes / 2;
  }

  private armFlushTimer(): void {
    this.dueAt = Date.now() + this.flushIntervalMs;
    clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => this.wake(), this.flushIntervalMs);
  }

  private wake(): void {
    const w = this.wakeLoop;
    this.wakeLoop = undefined;
    if (w) w();
    else this.woken = true; // the loop is busy: it looks again before it sleeps
  }

  /**
   * Waits for push/flush/close/timer, or `ms` at most. Timers are not unref'd: a writer with work
   * left (pending entries, a spool to replay) keeps the process alive until close().
   */
  private sleep(ms?: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        if (this.wakeLoop === done) this.wakeLoop = undefined;
        resolve();
      };
      const t = ms === undefined ? undefined : setTimeout(done, ms);
      this.wakeLoop = done;
    });
  }

  private takeBatch(): Batch | undefined {
    if (this.sealed.length === 0) {
      if (this.current.rows === 0) return undefined;
      if (Date.now() < this.dueAt && this.flushWaiters === 0 && !this.closing) return undefined;
      this.seal();
    }
    const batch = this.sealed.shift() as Batch;
    this.sealedRows -= batch.rows;
    this.sealedBytes -= batch.body.length;
    this.inFlight = batch.rows;
    this.inFlightBytes = batch.body.length;
    return batch;
  }

  private settle(): void {
    this.inFlight = 0;
    this.inFlightBytes = 0;
    if (this.belowLowWater()) for (const w of this.drainWaiters.splice(0)) w();
    if (this.current.rows === 0 && this.sealed.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private async run(): Promise<void> {
    for (;;) {
      const batch = this.takeBatch();
      if (batch) {
        await this.deliver(batch);
        // Inserted or spooled: nothing holds the block any more.
        this.blockMemory.give(batch.memory);
        this.settle();
        continue;
      }
      this.settle();
      if (this.spool && !this.spool.empty && !this.closing) {
        const wait = this.nextReplayAt - Date.now();
        if (wait <= 0) {
          if (await this.replayOldest()) continue;
          this.replayBackoff++;
          this.nextReplayAt = Date.now() + this.backoff(Math.min(this.replayBackoff, 10));
        }
        await this.sleep(Math.max(0, Math.min(this.nextReplayAt - Date.now(), this.current.rows > 0 ? this.dueAt - Date.now() : Infinity)));
        continue;
      }
      if (this.closing) return;
      await this.sleep(this.current.rows > 0 ? Math.max(0, this.dueAt - Date.now()) : undefined);
    }
  }

  private backoff(attempt: number): number {
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt);
  }

  private async insert(body: Buffer, token: string): Promise<void> {
    if (this.prepare) {
      await this.prepare();
      this.prepare = undefined;
      this.log.info('the store is ready (schema migrated): inserting');
    }
    await this.store.insertNative('entries', ENTRY_COLUMNS, body, token);
  }

  private async storeAnswers(): Promise<boolean> {
    try {
      return (await this.store.client.ping()).success;
    } catch {
      return false;
    }
  }

  private async deliver(batch: Batch): Promise<void> {
    const n = batch.rows;
    const body = batch.body;
    if (this.spool && (this.down || !this.spool.empty)) {
      await this.toSpool(body, n, batch.token);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.insert(body, batch.token);
        this.counters.written += n;
        return;
      } catch (err) {
        if (attempt >= this.attempts) {
          if (this.spool) {
            this.goneDown(err);
            await this.toSpool(body, n, batch.token);
            return;
          }
          if (await this.storeAnswers()) {
            this.counters.rejected += n;
            this.log.error({ err, entries: n }, `the store refused a batch of ${n} entries ${attempt} times while reachable: dropped it`);
            return;
          }
          this.goneDown(err);
        }
        this.counters.retried += n;
        await new Promise((r) => setTimeout(r, this.backoff(attempt - 1)));
      }
    }
  }

  private goneDown(err: unknown): void {
    if (this.down) return;
    this.down = true;
    this.log.warn({ err: (err as Error).message, spool: this.spool?.dir },
      this.spool ? 'store unreachable: spooling entries to disk until it is back' : 'store unreachable: retrying (back-pressure holds new entries)');
  }

  private async toSpool(body: Buffer, rows: number, token: string): Promise<void> {
    const spool = this.spool as Spool;
    this.counters.dropped += await spool.append(body, rows, token);
    this.counters.spooled += rows;
  }

  /** Replays the oldest spooled batch; false when the store is still not taking it. */
  private async replayOldest(): Promise<boolean> {
    const spool = this.spool as Spool;
    const file = spool.oldest() as NonNullable<ReturnType<Spool['oldest']>>;
    // A file spooled by another version may hold other columns (spool-blocks.ts).
    const block = replayableBlock(await spool.read(file));
    if (!block.ok) {
      await spool.quarantine(file);
      this.counters.rejected += file.rows;
      this.log.error({ file: file.name, entries: file.rows, reason: block.reason },
        `spooled batch ${file.name} cannot be stored by this version (${block.reason}): set aside as ${file.name}.rejected`);
      return true;
    }
    if (block.from !== 'current') {
      this.log.info({ file: file.name, entries: block.rows },
        `spooled batch ${file.name} was written by a version before schema migration 6: replaying it in the current columns (HTTP outcomes, transport tcp)`);
    }
    const body = block.body;
    try {
      await this.insert(body, file.token);
    } catch (err) {
      if (await this.storeAnswers()) {
        this.replayFailures++;
        if (this.replayFailures >= this.maxReplayFailures) {
          await spool.quarantine(file);
          this.counters.rejected += file.rows;
          this.replayFailures = 0;
          this.log.error({ err, file: file.name, entries: file.rows },
            `the store refused spooled batch ${file.name} ${this.maxReplayFailures} times while reachable: set aside as ${file.name}.rejected`);
          return true;
        }
      } else this.goneDown(err);
      return false;
    }
    if (this.down) {
      this.down = false;
      this.log.info({ entries: spool.rows }, `store reachable again: replaying ${spool.rows} spooled entries`);
    }
    this.replayFailures = 0;
    this.replayBackoff = 0;
    await spool.remove(file);
    this.counters.written += file.rows;
    if (spool.empty) this.log.info('spool replayed into the store');
    return true;
  }
}
