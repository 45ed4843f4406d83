import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EntryWriter } from '../../src/store/index.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import type { Entry } from '../../src/entries/entry.js';
import { aggregateSource } from '../../src/hub/aggregate.js';
import { parseFilter } from '../../src/query/parser.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';
import { captureLog } from '../../../test/support/log-capture.js';
import { expectedRollup as expected, nameOf, readRollup } from './rollup-reference.js';

// Expected values are computed in JavaScript from the entries that were written (rollup-reference.ts).
/** The documented bound: a bucket's geometric middle is within 2^(1/32) - 1 of any value in it. */
const BOUND = 2 ** (1 / 32) - 1;

/** The nearest-rank order statistic (rank ⌈q·n⌉), what the histogram quantiles estimate. */
const nearestRank = (sorted: number[], q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];

describe('per-minute rollup', () => {
  let t: TempStore;
  let all: Entry[];
  before(async () => {
    t = await tempStore();
    // 40 minutes: includes a 5xx burst minute, probes from node IPs (no pod), unanswered requests.
    // Some calls to cart and from frontend lose their service (a bare workload of the same name),
    // so a service and a workload share a name, which the kind columns must tell apart.
    all = [...syntheticEntries({ count: 10_000, seed: 11, startUs: Date.now() * 1000 - 40 * 60e6, spanUs: 40 * 60e6 })].map((e, i) =>
      i % 7 === 0 && e.dst.service === 'cart'
        ? { ...e, dst: { ...e.dst, service: '' } }
        : i % 5 === 0 && e.src.service === 'frontend'
          ? { ...e, src: { ...e.src, service: '' } }
          : e,
    );
    const w = await EntryWriter.create(t.store, { batchSize: 3000, logger: captureLog().logger });
    for (const e of all) if (!w.push(e)) await w.drained();
    await w.close();
    assert.equal(w.counters.written, all.length);
  });
  after(() => t.dispose());

  const rollup = (table: 'entries_1m' | 'entries_1h' = 'entries_1m') => readRollup(t.store, table);

  it('has the data the test relies on', () => {
    assert.ok(all.some((e) => e.unanswered) && all.some((e) => e.status >= 500) && all.some((e) => e.status === 404));
    assert.ok(all.some((e) => e.src.pod === '' && e.src.ip !== ''), 'callers known only by IP');
    assert.ok(all.some((e) => e.dst.service === '' && e.dst.workload === 'cart') && all.some((e) => e.dst.service === 'cart'));
    assert.ok(all.some((e) => e.src.service === '' && e.src.workload === 'frontend') && all.some((e) => e.src.service === 'frontend'));
  });

  it('equals the aggregates of the raw entries, group by group, kinds and latency buckets included', async () => {
    const want = expected(all);
    const got = await rollup();
    assert.equal(got.size, want.size);
    for (const [k, v] of want) assert.deepEqual(got.get(k), v, k);
  });

  it('still does after its parts are merged', async () => {
    await t.store.client.command({ query: `OPTIMIZE TABLE ${t.store.database}.entries_1m FINAL` });
    assert.deepEqual(await rollup(), expected(all));
  });

  it('has an hourly rollup equal to the hourly aggregates of the raw entries', async () => {
    assert.deepEqual(await rollup('entries_1h'), expected(all, 3600));
  });

  it('gives latency quantiles within the documented bound of the exact ones, per destination and per edge', async () => {
    const levels = [0.5, 0.9, 0.95, 0.99];
    const range = { fromMs: Math.floor(all[0].startUs / 1000) - 60_000, toMs: Math.ceil(all.at(-1)!.startUs / 1000) + 60_000 };
    const src = aggregateSource(t.store, parseFilter(''), range);
    assert.equal(src.kind, 'rollup');
    const rawName = (side: string) =>
      `multiIf(${side}_service != '', ${side}_service, ${side}_workload != '', ${side}_workload, ${side}_pod != '', ${side}_pod, replaceOne(toString(${side}_ip), '::ffff:', ''))`;
    let worst = 0;
    let compared = 0;
    for (const perEdge of [false, true]) {
      const rs = await t.store.client.query({
        query: `SELECT ${perEdge ? src.srcName : "''"} AS s, ${src.dstName} AS d, ${src.quantilesUs(levels)} AS q ${src.from} GROUP BY s, d`,
        query_params: src.params,
        format: 'JSONEachRow',
      });
      const rows = await rs.json<{ s: string; d: string; q: number[] }>();
      // The engine's own exact quantiles over the raw table (rank ⌊q·n⌋ + 1).
      const exactRs = await t.store.client.query({
        query: `SELECT ${perEdge ? rawName('src') : "''"} AS s, ${rawName('dst')} AS d, quantilesExactIf(${levels.join(', ')})(duration_us, NOT unanswered) AS q
                FROM ${t.store.database}.entries GROUP BY s, d`,
        format: 'JSONEachRow',
      });
      const exact = new Map((await exactRs.json<{ s: string; d: string; q: number[] }>()).map((r) => [`${r.s}>${r.d}`, r.q]));
      assert.ok(rows.length >= (perEdge ? 10 : 5), rows.map((r) => `${r.s}>${r.d}`).join());
      for (const r of rows) {
        const sorted = all
          .filter((e) => (!perEdge || nameOf(e.src) === r.s) && nameOf(e.dst) === r.d && !e.unanswered)
          .map((e) => e.durationUs)
          .sort((a, b) => a - b);
        if (sorted.length === 0) continue;
        const x = exact.get(`${r.s}>${r.d}`)!;
        levels.forEach((q, i) => {
          // quantileExact takes rank ⌊q·n⌋ + 1: the nearest rank unless q·n is whole.
          assert.equal(x[i], sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))], `${r.s}>${r.d} quantileExact p${q * 100}`);
          const want = Number.isInteger(q * sorted.length) ? nearestRank(sorted, q) : x[i];
          const rel = want === 0 ? r.q[i] : Math.abs(r.q[i] - want) / want;
          worst = Math.max(worst, rel);
          compared++;
          assert.ok(rel <= BOUND, `${r.s}>${r.d} p${q * 100}: rollup ${r.q[i]} vs exact ${want} (${(rel * 100).toFixed(2)} %)`);
        });
      }
    }
    assert.ok(compared >= 60 && worst > 0.01, `compared ${compared}, worst ${worst}`);
  });

  it('answers NaN for a group without answered requests, as the raw table does', async () => {
    const range = { fromMs: Math.floor(all[0].startUs / 1000) - 60_000, toMs: Math.ceil(all.at(-1)!.startUs / 1000) + 60_000 };
    for (const [filter, kind] of [['response.status < 1xx', 'rollup'], ['response.status < 1xx and latency >= 0ms', 'raw']]) {
      const src = aggregateSource(t.store, parseFilter(filter), range);
      assert.equal(src.kind, kind);
      const rs = await t.store.client.query({ query: `SELECT ${src.requests} AS n, ${src.quantilesUs([0.5])} AS q ${src.from}`, query_params: src.params, format: 'JSONEachRow' });
      const [{ n, q }] = await rs.json<{ n: number | string; q: Array<number | string> }>();
      assert.equal(Number(n), all.filter((e) => e.status === 0).length);
      // NaN travels as null in JSON; the hub skips either.
      assert.ok(Number(n) > 0 && !Number.isFinite(q[0]), `${src.kind}: ${n} requests, p50 ${q[0]}`);
    }
  });
});
