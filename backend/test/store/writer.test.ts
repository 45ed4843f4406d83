import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, EntryWriter, type Store } from '../../src/store/index.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import type { Entry } from '../../src/entries/entry.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';
import { startClickHouseHttp, type ClickHouseHttpEndpoint } from '../../../test/support/clickhouse-http.js';
import { captureLog } from '../../../test/support/log-capture.js';
import { waitFor } from '../../../test/support/wait.js';

let seed = 100;
const entries = (count: number): Entry[] => [...syntheticEntries({ count, seed: seed++, spanUs: 60_000_000 })];

describe('EntryWriter', () => {
  let t: TempStore;
  let http: ClickHouseHttpEndpoint;
  let server: Store;
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'tapline-spool-'));
    dirs.push(d);
    return d;
  };

  /** Ids in the table among `ids`, and how many rows they have (duplicates show as rows > ids). */
  async function stored(ids: string[]): Promise<{ distinct: number; rows: number }> {
    const rs = await t.store.client.query({
      query: `SELECT uniqExact(id) AS distinct, count() AS rows FROM ${t.store.database}.entries WHERE id IN {ids:Array(String)}`,
      query_params: { ids },
      format: 'JSONEachRow',
    });
    const [r] = await rs.json<{ distinct: number; rows: number }>();
    return { distinct: Number(r.distinct), rows: Number(r.rows) };
  }

  before(async () => {
    t = await tempStore();
    http = await startClickHouseHttp(t.dataDir);
    server = openStore({ kind: 'server', url: http.url, database: t.store.database, requestTimeoutMs: 3000 });
  });
  after(async () => {
    await server.close();
    await http.close();
    await t.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('writes every entry, in batches, and counts them', async () => {
    const log = captureLog();
    const w = await EntryWriter.create(t.store, { batchSize: 1000, logger: log.logger });
    const batch = entries(2500);
    for (const e of batch) w.push(e);
    await w.flush();
    assert.deepEqual(await stored(batch.map((e) => e.id)), { distinct: 2500, rows: 2500 });
    assert.deepEqual(w.counters, { accepted: 2500, written: 2500, retried: 0, spooled: 0, dropped: 0, rejected: 0, expired: 0 });
    await w.close();
  });

  it('flushes a partial batch after the time threshold without flush()', async () => {
    const w = await EntryWriter.create(t.store, { batchSize: 1000, flushIntervalMs: 100, logger: captureLog().logger });
    const few = entries(3);
    for (const e of few) w.push(e);
    await waitFor('3 entries written by the timer', async () => (await stored(few.map((e) => e.id))).rows === 3, 5000);
    await w.close();
  });

  it('sends a batch when it reaches a quarter of the byte high-water mark, so back-pressure does not wait for the timer', async () => {
    // Batches by count or time alone would never come: 10 000 entries, one hour.
    const w = await EntryWriter.create(t.store, { batchSize: 10_000, flushIntervalMs: 3_600_000, highWaterBytes: 100_000, logger: captureLog().logger });
    const all = entries(600); // ≈ 650 bytes each: ≈ 4 × the high-water mark
    let refusals = 0;
    for (const e of all) {
      if (!w.push(e)) {
        refusals++;
        let drained = false;
        void w.drained().then(() => (drained = true));
        await waitFor('drained() after a refusal', () => drained, 10_000);
      }
    }
    assert.ok(refusals > 0, 'the producer was held back');
    await waitFor('most entries written without the timer', async () => (await stored(all.map((e) => e.id))).rows >= 600 - 200, 20_000);
    assert.equal(w.counters.dropped, 0);
    await w.close();
    assert.equal((await stored(all.map((e) => e.id))).rows, 600);
  });

  it('lets a held-back producer resume while a batch is in flight, so the store does not idle', async () => {
    // A store whose inserts each wait until the test releases them.
    const releases: Array<() => void> = [];
    let released = 0;
    const gated: Store = {
      ...t.store,
      insertNative: async (...args) => {
        await new Promise<void>((resolve) => releases.push(resolve));
        return t.store.insertNative(...args);
      },
    };
    // Byte-bound batches (the count and the timer never fire): ≈ 650-byte entries, the mark ≈ 4 batches of 80.
    const w = await EntryWriter.create(gated, { batchSize: 100_000, flushIntervalMs: 3_600_000, highWaterBytes: 4 * 80 * 650, logger: captureLog().logger });
    const all = entries(2000);
    let next = 0;
    const releaseAll = () => {
      while (released < releases.length) releases[released++]();
    };
    try {
      while (w.push(all[next++]));
      // Inserts held in flight when the producer may go on (drained() resolves in the same tick
      // as the writer starts its next insert, before this callback runs).
      let heldAtResume = -1;
      void w.drained().then(() => (heldAtResume = releases.length - released));
      for (let round = 0; heldAtResume < 0; round++) {
        assert.ok(round < 8, 'the producer resumes after a few inserts');
        await waitFor('an insert to start', () => releases.length > released || heldAtResume >= 0, 5000);
        if (heldAtResume < 0) releases[released++]();
        await waitFor('the next insert or the producer to go on', () => releases.length > released || heldAtResume >= 0, 5000);
      }
      assert.equal(heldAtResume, 1, 'one insert is in flight when the producer resumes');
      const pump = setInterval(releaseAll, 5);
      try {
        for (; next < all.length; next++) if (!w.push(all[next])) await w.drained();
        await w.close();
      } finally {
        clearInterval(pump);
      }
    } finally {
      releaseAll();
    }
    assert.deepEqual(await stored(all.map((e) => e.id)), { distinct: 2000, rows: 2000 });
  });

  it('reuses a delivered block\'s memory, and never while the block is queued or in flight', async () => {
    // Each insert is held while the producer seals the batches behind it; its bytes must be the
    // ones it had when it was handed over, and later blocks must land in earlier blocks' memory.
    const releases: Array<() => void> = [];
    const memories = new Set<ArrayBufferLike>();
    let reused = 0;
    const checking: Store = {
      ...t.store,
      insertNative: async (table, columns, block, token) => {
        if (memories.has(block.buffer)) reused++;
        memories.add(block.buffer);
        const before = Buffer.from(block);
        await new Promise<void>((resolve) => releases.push(resolve));
        assert.ok(block.equals(before), 'a block changed while its insert was in flight');
        return t.store.insertNative(table, columns, block, token);
      },
    };
    const w = await EntryWriter.create(checking, { batchSize: 200, highWaterEntries: 800, logger: captureLog().logger });
    const all = entries(3000);
    const pump = setInterval(() => releases.shift()?.(), 5);
    try {
      await w.pushAll(all, 50);
      await w.close();
    } finally {
      clearInterval(pump);
      for (const r of releases) r();
    }
    assert.deepEqual(await stored(all.map((e) => e.id)), { distinct: 3000, rows: 3000 });
    assert.ok(reused >= 5, `blocks went into recycled memory (${reused} of ${memories.size + reused} did)`);
  });

  it('lets a burst\'s block memory go once blocks are small again', async () => {
    const memoryOf: number[] = [];
    const recording: Store = {
      ...t.store,
      insertNative: (table, columns, block, token) => {
        memoryOf.push(block.buffer.byteLength);
        return t.store.insertNative(table, columns, block, token);
      },
    };
    const w = await EntryWriter.create(recording, { batchSize: 2000, logger: captureLog().logger });
    // A burst of full batches (≈ 1.3 MB blocks), then batches of 10 entries (≈ 7 kB), one at a time.
    await w.pushAll(entries(8000));
    await w.flush();
    const burst = memoryOf.length;
    for (let i = 0; i < 4; i++) {
      await w.pushAll(entries(10));
      await w.flush();
    }
    await w.close();
    assert.ok(Math.min(...memoryOf.slice(0, burst)) > 1_000_000, `burst blocks: ${memoryOf.slice(0, burst).join(', ')} bytes of memory`);
    assert.deepEqual(memoryOf.slice(burst).filter((bytes) => bytes > 1_000_000), [], `small blocks: ${memoryOf.slice(burst).join(', ')} bytes of memory`);
  });

  it('applies back-pressure at the high-water mark and signals when drained', async () => {
    const w = await EntryWriter.create(t.store, { batchSize: 100, highWaterEntries: 400, logger: captureLog().logger });
    const all = entries(1000);
    let firstRefusal = -1;
    let maxQueued = 0;
    for (let i = 0; i < all.length; i++) {
      const ok = w.push(all[i]);
      maxQueued = Math.max(maxQueued, w.queued);
      if (!ok) {
        if (firstRefusal < 0) firstRefusal = i;
        await w.drained();
        assert.ok(w.queued <= 200, `drained() resolved with ${w.queued} queued (low-water mark 200)`);
      }
    }
    await w.flush();
    assert.equal(firstRefusal, 399, 'push() says "stop" once 400 entries are queued');
    assert.ok(maxQueued <= 400, `a producer honouring back-pressure never queues more than 400 (saw ${maxQueued})`);
    assert.equal((await stored(all.map((e) => e.id))).rows, 1000);
    await w.close();
  });

  it('pushAll writes every entry, waiting at the mark instead of dropping, and lets inserts finish while it pushes', async () => {
    let insertsDone = 0;
    const counted: Store = { ...t.store, insertNative: async (...args) => { await t.store.insertNative(...args); insertsDone++; } };
    const w = await EntryWriter.create(counted, { batchSize: 100, highWaterEntries: 300, logger: captureLog().logger });
    const all = entries(2000);
    let maxQueued = 0;
    let insertsBeforeTheEnd = 0;
    await w.pushAll((function* watched() {
      for (const e of all) {
        maxQueued = Math.max(maxQueued, w.queued);
        insertsBeforeTheEnd = insertsDone;
        yield e;
      }
    })(), 50);
    await w.close();
    assert.ok(maxQueued <= 300, `queued ${maxQueued}, over the mark`);
    assert.ok(insertsBeforeTheEnd > 0, 'inserts completed while pushAll ran');
    assert.equal(w.counters.dropped, 0);
    assert.deepEqual(await stored(all.map((e) => e.id)), { distinct: 2000, rows: 2000 });
  });

  it('drops and counts what a producer pushes past twice the high-water mark, saying why', async () => {
    const log = captureLog();
    const w = await EntryWriter.create(t.store, { batchSize: 100, highWaterEntries: 200, logger: log.logger });
    const all = entries(410);
    const accepted = all.filter((e) => w.push(e)); // never waits: ignores back-pressure
    assert.equal(w.counters.accepted, 400);
    assert.equal(w.counters.dropped, 10);
    assert.equal(accepted.length, 199, 'push() said "stop" from the 200th entry on');
    assert.ok(log.messages().some((m) => /at twice its high-water mark \(the producer ignores back-pressure\): dropping entries/.test(m)));
    await w.flush();
    assert.deepEqual(await stored(all.slice(0, 400).map((e) => e.id)), { distinct: 400, rows: 400 });
    await w.close();
  });

  it('counts and reports entries older than the retention instead of claiming them written', async () => {
    const log = captureLog();
    const w = await EntryWriter.create(t.store, { ttlDays: 3, logger: log.logger });
    const old = [...syntheticEntries({ count: 5, seed: seed++, startUs: Date.now() * 1000 - 4 * 86_400e6, spanUs: 1e6 })];
    const fresh = entries(5);
    for (const e of [...old, ...fresh]) w.push(e);
    await w.flush();
    assert.equal(w.counters.expired, 5);
    assert.equal(w.counters.written, 5);
    assert.deepEqual(await stored(fresh.map((e) => e.id)), { distinct: 5, rows: 5 });
    assert.ok(log.messages().some((m) => /^entries older than the store's 3-day retention are not stored/.test(m)));
    await w.close();
  });

  it('rejects an entry it cannot store, names the field, and loses nothing else', async () => {
    const log = captureLog();
    const w = await EntryWriter.create(t.store, { logger: log.logger });
    const [good1, bad, good2] = entries(3);
    w.push(good1);
    w.push({ ...bad, src: { ...bad.src, ip: 'not-an-ip' } });
    w.push(good2);
    await w.flush();
    assert.equal(w.counters.rejected, 1);
    assert.equal(w.counters.written, 2);
    assert.deepEqual(await stored([good1.id, bad.id, good2.id]), { distinct: 2, rows: 2 });
    assert.ok(log.lines.some((l) => /src\.ip is not an IP address: "not-an-ip"/.test(String(l.err))), 'the log names the field');
    await w.close();
  });

  it('loses nothing while the store goes away and comes back (spool, replay, no duplicates)', async () => {
    const log = captureLog();
    const spoolDir = tempDir();
    const w = await EntryWriter.create(server, {
      batchSize: 200, flushIntervalMs: 50, attempts: 2, baseDelayMs: 20, maxDelayMs: 200, spoolDir, logger: log.logger,
    });
    const all = entries(3000);
    const push = async (from: number, to: number) => {
      for (let i = from; i < to; i++) if (!w.push(all[i])) await w.drained();
    };
    await push(0, 1000);
    await http.stop(); // mid-write: batches may be in flight
    await push(1000, 2000);
    await waitFor('batches spooled while the store is away', () => w.counters.spooled > 0, 10_000);
    assert.ok(readdirSync(spoolDir).some((f) => f.endsWith('.native')), 'the spool holds batch files');
    await http.start();
    await push(2000, 3000);
    await w.flush();
    await waitFor('the spool replayed', () => w.spoolState.batches === 0, 15_000);
    assert.deepEqual(await stored(all.map((e) => e.id)), { distinct: 3000, rows: 3000 });
    assert.equal(w.counters.accepted, 3000);
    assert.equal(w.counters.written, 3000);
    assert.equal(w.counters.dropped, 0);
    assert.ok(w.counters.retried > 0, 'failed inserts were retried');
    assert.ok(log.messages().some((m) => /store unreachable: spooling/.test(m)));
    assert.ok(log.messages().some((m) => /store reachable again: replaying/.test(m)));
    await w.close();
  });

  it('drops and counts the oldest spooled entries when the spool is full, and keeps the rest across a restart', async () => {
    const spoolDir = tempDir();
    const log = captureLog();
    await http.stop();
    // ~650 bytes an entry here: a 100-entry batch is ~65 kB, so 200 kB holds about 3 batches of 10.
    const opts = { batchSize: 100, attempts: 1, baseDelayMs: 10, maxDelayMs: 50, spoolDir, spoolMaxBytes: 200_000, logger: log.logger };
    const w1 = await EntryWriter.create(server, opts);
    const all = entries(1000);
    for (const e of all) {
      w1.push(e);
      if (w1.queued >= 100) await w1.flush(); // one batch at a time, each into the spool
    }
    await w1.flush();
    await w1.close();
    const { dropped, spooled } = w1.counters;
    assert.equal(spooled, 1000, 'every batch went to the spool');
    assert.ok(dropped > 0 && dropped % 100 === 0 && dropped < 1000, `whole oldest batches dropped (${dropped})`);
    assert.ok(log.messages().some((m) => /^spool full \(limit 200000 bytes\): dropped the oldest 100 spooled entries/.test(m)));
    // A new writer (as after a restart) replays what the spool kept once the store is back.
    await http.start();
    const w2 = await EntryWriter.create(server, { ...opts, logger: captureLog().logger });
    await waitFor('the spool replayed', () => w2.spoolState.batches === 0, 15_000);
    await w2.close();
    const kept = all.slice(dropped).map((e) => e.id);
    const lost = all.slice(0, dropped).map((e) => e.id);
    assert.deepEqual(await stored(kept), { distinct: kept.length, rows: kept.length }, 'the newest entries all arrive');
    assert.deepEqual(await stored(lost), { distinct: 0, rows: 0 }, 'the oldest were the ones dropped');
    assert.equal(w2.counters.written, kept.length);
  });
});
