// Migration 4 on a store that already holds data written under version 3: the rollups get name
// kinds and latency histograms, rebuilt from the raw table for every hour it still holds whole;
// older rollup rows keep their counts. The version-3 data is inserted in the columns of the time
// (v5-rows.ts: today's writer writes migration 6's); the store then migrates to the latest version,
// and later entries come through today's writer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EntryWriter, appliedVersions, migrate } from '../../src/store/index.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import type { Entry } from '../../src/entries/entry.js';
import { aggregateSource } from '../../src/hub/aggregate.js';
import { parseFilter } from '../../src/query/parser.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';
import { captureLog } from '../../../test/support/log-capture.js';
import { expectedRollup, readRollup } from './rollup-reference.js';
import { insertV5 } from './v5-rows.js';

const HOUR_US = 3600e6;
// Four hours ago, on a whole hour; entries from its half past on, for three hours.
const H0_US = Math.floor((Date.now() * 1000 - 4 * HOUR_US) / HOUR_US) * HOUR_US;
const H1_US = H0_US + HOUR_US;
/** Retention took the raw entries before this (part of hour H0), which the rollups had counted. */
const CUT_US = H0_US + 0.75 * HOUR_US;

describe('migration 4 on a store with data', () => {
  let t: TempStore;
  let all: Entry[];
  let later: Entry[];
  const log = captureLog();
  const whereSec = (col: string, op: string, us: number) => `${col} ${op} toDateTime(${us / 1e6}, 'UTC')`;
  async function write(entries: Entry[]) {
    const w = await EntryWriter.create(t.store, { batchSize: 2000, logger: log.logger });
    for (const e of entries) if (!w.push(e)) await w.drained();
    await w.close();
  }

  before(async () => {
    t = await tempStore({ migrate: false });
    assert.deepEqual(await migrate(t.store, { to: 3 }), [1, 2, 3]);
    all = [...syntheticEntries({ count: 6000, seed: 5, startUs: H0_US + HOUR_US / 2, spanUs: 3 * HOUR_US })].map((e, i) =>
      i % 7 === 0 && e.dst.service === 'cart' ? { ...e, dst: { ...e.dst, service: '' } } : e,
    );
    await insertV5(t.store, all);
    await t.store.client.command({
      query: `ALTER TABLE ${t.store.database}.entries DELETE WHERE start_time < fromUnixTimestamp64Micro(${CUT_US})`,
      clickhouse_settings: { mutations_sync: '2' },
    });
    assert.deepEqual(await migrate(t.store, { logger: log.logger }), [4, 5, 6]);
    later = [...syntheticEntries({ count: 500, seed: 6, startUs: H0_US + 3.5 * HOUR_US, spanUs: HOUR_US / 4 })];
    await write(later);
  });
  after(() => t.dispose());

  it('is recorded, and a second run does nothing', async () => {
    assert.deepEqual(await appliedVersions(t.store), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(await migrate(t.store), []);
    assert.ok(log.messages().includes('rollups rebuilt from the raw entries'));
  });

  it('rebuilds every whole hour the raw table holds, kinds and histograms included, and keeps feeding new entries', async () => {
    const kept = all.filter((e) => e.startUs >= H1_US);
    assert.ok(kept.length > 3000);
    assert.deepEqual(await readRollup(t.store, 'entries_1m', whereSec('minute', '>=', H1_US)), expectedRollup([...kept, ...later]));
    assert.deepEqual(await readRollup(t.store, 'entries_1h', whereSec('hour', '>=', H1_US)), expectedRollup([...kept, ...later], 3600));
  });

  it('keeps the counts of the hour the raw table holds only in part (kind 0, no latency), as written under version 3', async () => {
    const partial = all.filter((e) => e.startUs < H1_US);
    assert.ok(partial.some((e) => e.startUs < CUT_US) && partial.some((e) => e.startUs >= CUT_US));
    assert.deepEqual(await readRollup(t.store, 'entries_1m', whereSec('minute', '<', H1_US)), expectedRollup(partial, 60, true));
    assert.deepEqual(await readRollup(t.store, 'entries_1h', whereSec('hour', '<', H1_US)), expectedRollup(partial, 3600, true));
  });

  it('answers a service filter over rebuilt hours from the rollup as the raw table does', async () => {
    const range = { fromMs: H1_US / 1000, toMs: (H0_US + 3.75 * HOUR_US) / 1000 - 1 };
    const answer = async (filter: string) => {
      const src = aggregateSource(t.store, parseFilter(filter), range);
      const rs = await t.store.client.query({
        query: `SELECT ${src.dstName} AS d, ${src.requests} AS n, ${src.quantilesUs([0.5, 0.99])} AS q ${src.from} GROUP BY d ORDER BY d`,
        query_params: src.params,
        format: 'JSONEachRow',
      });
      return { kind: src.kind, rows: await rs.json() };
    };
    const rollup = await answer('dst.service == "cart"');
    const raw = await answer('dst.service == "cart" and latency >= 0ms');
    assert.deepEqual([rollup.kind, raw.kind], ['rollup', 'raw']);
    assert.deepEqual(rollup.rows, raw.rows);
    const want = [...all, ...later].filter((e) => e.dst.service === 'cart' && e.startUs >= H1_US).length;
    assert.equal(Number((rollup.rows as Array<{ n: string }>)[0].n), want, 'workload-only calls to "cart" are not the service');
  });
});
