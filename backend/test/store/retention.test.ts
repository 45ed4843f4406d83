import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENTRY_COLUMNS, EntryWriter, Retention, encodeEntriesNative } from '../../src/store/index.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import type { Entry } from '../../src/entries/entry.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';
import { captureLog } from '../../../test/support/log-capture.js';
import { waitFor } from '../../../test/support/wait.js';

const HOUR_US = 3_600_000_000;
const DAY_US = 24 * HOUR_US;

describe('retention', () => {
  let t: TempStore;
  let db: string;
  const nowUs = () => Date.now() * 1000;

  async function write(list: Entry[], batchSize = 1000): Promise<void> {
    const w = await EntryWriter.create(t.store, { batchSize, logger: captureLog().logger });
    for (const e of list) if (!w.push(e)) await w.drained();
    await w.close();
    assert.equal(w.counters.written, list.length);
  }

  async function storedIds(): Promise<Set<string>> {
    const rs = await t.store.client.query({ query: `SELECT id FROM ${db}.entries`, format: 'JSONEachRow' });
    return new Set((await rs.json<{ id: string }>()).map((r) => r.id));
  }

  async function bytesOnDisk(): Promise<number> {
    const rs = await t.store.client.query({
      query: `SELECT sum(bytes_on_disk) AS b FROM system.parts WHERE database = {db:String} AND table = 'entries' AND active`,
      query_params: { db },
      format: 'JSONEachRow',
    });
    return Number((await rs.json<{ b: number }>())[0].b);
  }

  before(async () => {
    t = await tempStore();
    db = t.store.database;
  });
  after(() => t.dispose());
  beforeEach(async () => {
    await t.store.client.command({ query: `TRUNCATE TABLE ${db}.entries` });
    await t.store.client.command({ query: `SYSTEM START MERGES ${db}.entries` });
  });

  it('expires entries older than the default 7 days', async () => {
    const old = [...syntheticEntries({ count: 500, seed: 1, startUs: nowUs() - 9 * DAY_US, spanUs: HOUR_US })];
    const fresh = [...syntheticEntries({ count: 500, seed: 2, startUs: nowUs() - 6 * DAY_US, spanUs: HOUR_US })];
    // Straight into the table: the writer would not even send entries past the TTL.
    await t.store.insertNative('entries', ENTRY_COLUMNS, encodeEntriesNative([...old, ...fresh]));
    await t.store.client.command({ query: `OPTIMIZE TABLE ${db}.entries FINAL` });
    const ids = await storedIds();
    assert.equal(old.filter((e) => ids.has(e.id)).length, 0, 'entries older than 7 days are gone');
    assert.equal(fresh.filter((e) => ids.has(e.id)).length, 500, 'entries within 7 days stay');
  });

  it('shortens the TTL when configured, removing what is now too old', async () => {
    const older = [...syntheticEntries({ count: 500, seed: 3, startUs: nowUs() - 5 * DAY_US, spanUs: HOUR_US })];
    const recent = [...syntheticEntries({ count: 500, seed: 4, startUs: nowUs() - 2 * HOUR_US, spanUs: HOUR_US })];
    await write([...older, ...recent]);
    assert.equal((await storedIds()).size, 1000);
    const r = new Retention(t.store, { ttlDays: 3, logger: captureLog().logger });
    assert.equal(await r.applyTtl(), true);
    await waitFor('5-day-old entries removed', async () => {
      const ids = await storedIds();
      return older.every((e) => !ids.has(e.id));
    });
    const ids = await storedIds();
    assert.equal(recent.filter((e) => ids.has(e.id)).length, 500);
    assert.equal(await r.applyTtl(), false, 'a second apply changes nothing');
    assert.equal(await new Retention(t.store, { ttlDays: 7 }).applyTtl(), true, 'back to the default');
  });

  it('drops the oldest hourly partitions and parts until within the size limit', async () => {
    await t.store.client.command({ query: `SYSTEM STOP MERGES ${db}.entries` }); // keep the parts as inserted
    // Five hours of entries, oldest first, each hour in several parts.
    const all = [...syntheticEntries({ count: 5000, seed: 5, startUs: Math.floor(nowUs() / HOUR_US) * HOUR_US - 4 * HOUR_US, spanUs: 5 * HOUR_US - 1 })];
    await write(all, 250);
    const total = await bytesOnDisk();
    const log = captureLog();
    const limit = Math.floor(total * 0.15); // less than one hour's worth: parts of the newest hour go too
    const r = new Retention(t.store, { maxBytes: limit, logger: log.logger });
    const result = await r.enforceSize();
    const after = await bytesOnDisk();
    assert.ok(after <= limit, `${after} bytes on disk after enforcing ${limit}`);
    assert.equal(result.droppedPartitions.length, 4, `the four older hours went whole: ${JSON.stringify(result)}`);
    assert.ok(result.droppedParts.length > 0, 'then the oldest parts of the newest hour');
    const ids = await storedIds();
    const keptFrom = all.findIndex((e) => ids.has(e.id));
    assert.ok(keptFrom > 0, 'something was dropped and something kept');
    assert.equal(ids.size, all.length - keptFrom, 'what is kept is exactly the newest entries');
    assert.ok(all.slice(keptFrom).every((e) => ids.has(e.id)));
    assert.ok(log.messages().some((m) => /^retention: the entries table was \d+ bytes \(limit \d+\); dropped the oldest \d+ entries/.test(m)));
    const again = await r.enforceSize();
    assert.deepEqual([again.droppedPartitions, again.droppedParts], [[], []], 'nothing more to do');
  });

  it('enforces the limit periodically once started', async () => {
    const all = [...syntheticEntries({ count: 2000, seed: 6, startUs: nowUs() - 3 * HOUR_US, spanUs: 3 * HOUR_US })];
    await write(all);
    const limit = Math.floor((await bytesOnDisk()) / 2);
    const log = captureLog();
    const drops = () => log.messages().filter((m) => m.startsWith('retention: the entries table was')).length;
    const r = new Retention(t.store, { maxBytes: limit, intervalMs: 50, logger: log.logger });
    await r.start();
    try {
      assert.equal(drops(), 1, 'start() enforces at once');
      await write([...syntheticEntries({ count: 2000, seed: 7, startUs: nowUs() - HOUR_US / 2, spanUs: HOUR_US / 4 })]);
      await waitFor('a periodic run bringing the size back under the limit', async () => drops() >= 2 && (await bytesOnDisk()) <= limit);
    } finally {
      await r.stop();
    }
  });

  it('refuses nonsense limits', () => {
    assert.throws(() => new Retention(t.store, { maxBytes: 0 }), /maxBytes > 0/);
    assert.throws(() => new Retention(t.store, { ttlDays: 0.5 }), /whole ttlDays >= 1/);
  });
});
