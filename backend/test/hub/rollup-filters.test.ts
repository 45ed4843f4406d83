// Filters on a service (src.service / dst.service) are answered from the rollups; the answers must
// be the raw table's, to the last count and latency quantile. A tautology on a field the rollups do
// not keep (`latency >= 0ms`) sends the same question to the raw table.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, type Fixture } from './fixture.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import { aggregateSource } from '../../src/hub/aggregate.js';
import { stats, type GroupBy, type Metric } from '../../src/hub/stats.js';
import { catalog, serviceMap } from '../../src/hub/topology.js';
import { parseFilter } from '../../src/query/parser.js';

const MINUTE = 60_000;
const T0 = Math.floor((Date.now() - 2 * 3_600_000) / MINUTE) * MINUTE;
// Whole minutes: the rollup's buckets cover exactly what the raw range does.
const RANGE = { fromMs: T0, toMs: T0 + 70 * MINUTE - 1 };
const LIMITS = { queryTimeoutMs: 30_000 };
const RAW = ' and latency >= 0ms';

let f: Fixture;
before(async () => {
  f = await fixture(4000, { startUs: T0 * 1000, spanUs: 3_600_000_000 });
  // Calls whose endpoints have lost their service: bare workloads named like the services.
  await f.write(
    [...syntheticEntries({ count: 600, seed: 8, startUs: T0 * 1000, spanUs: 3_600_000_000 })].map((e) => ({
      ...e,
      src: { ...e.src, service: '' },
      dst: { ...e.dst, service: '' },
    })),
  );
});
after(async () => {
  await f?.dispose();
});

const FILTERS = [
  'dst.service == "cart"',
  'src.service == "frontend"',
  'dst.service in ["cart", "catalog"] and src.service != "frontend"',
  'dst.service.startsWith("pay") or dst.namespace == "default"',
  'dst.service == "cart" and response.status >= 4xx',
];

describe('service filters from the rollups', () => {
  test('are answered from the per-minute rollup; with a raw-only field, from the raw table', () => {
    for (const filter of FILTERS) {
      assert.equal(aggregateSource(f.temp.store, parseFilter(filter), RANGE).kind, 'rollup', filter);
      assert.equal(aggregateSource(f.temp.store, parseFilter(filter + RAW), RANGE).kind, 'raw', filter);
    }
    // Workload and pod hide behind the name when there is a service: still the raw table.
    assert.equal(aggregateSource(f.temp.store, parseFilter('dst.workload == "cart"'), RANGE).kind, 'raw');
  });

  test('the data has services and same-named bare workloads on both sides', async () => {
    const [r] = await f.sql<Record<string, number | string>>(
      `SELECT countIf(dst_service = 'cart') AS svc, countIf(dst_service = '' AND dst_workload = 'cart') AS wl,
              countIf(src_service = 'frontend') AS src_svc, countIf(src_service = '' AND src_workload = 'frontend') AS src_wl FROM tapline.entries`,
    );
    for (const [k, v] of Object.entries(r)) assert.ok(Number(v) > 20, `${k}: ${v}`);
  });

  for (const filter of FILTERS) {
    test(`stats equal the raw table's for ${filter}`, async () => {
      const cases: Array<[Metric, GroupBy]> = [['requests', 'statusClass'], ['errors', 'protocol'], ['latency', 'service'], ['latency', 'none']];
      for (const [metric, groupBy] of cases) {
        const opts = { intervalMs: 5 * MINUTE, metric, groupBy, quantiles: [0.5, 0.95, 0.99] };
        const fromRollup = await stats(f.temp.store, LIMITS, parseFilter(filter), RANGE, opts);
        const fromRaw = await stats(f.temp.store, LIMITS, parseFilter(filter + RAW), RANGE, opts);
        assert.ok(fromRaw.series.length > 0 && fromRaw.series.some((s) => s.points.some(([, v]) => v > 0)), `${metric} by ${groupBy}: no data`);
        assert.deepEqual(fromRollup, fromRaw, `${metric} by ${groupBy}`);
      }
    });

    test(`the service map and the catalog equal the raw table's for ${filter}`, async () => {
      const map = await serviceMap(f.temp.store, LIMITS, parseFilter(filter), RANGE);
      assert.ok(map.edges.length > 0);
      assert.deepEqual(map, await serviceMap(f.temp.store, LIMITS, parseFilter(filter + RAW), RANGE));
      const cat = await catalog(f.temp.store, LIMITS, parseFilter(filter), RANGE);
      assert.ok(cat.services.length > 0);
      assert.deepEqual(cat, await catalog(f.temp.store, LIMITS, parseFilter(filter + RAW), RANGE));
    });
  }

  test('series by service are named namespace/name and count what SQL counts', async () => {
    const opts = { intervalMs: 70 * MINUTE, metric: 'requests' as const, groupBy: 'service' as const, quantiles: [] };
    const rows = await f.sql<{ g: string; n: number | string }>(
      `SELECT if(dst_namespace = '', n0, concat(dst_namespace, '/', n0)) AS g, count() AS n FROM (SELECT *, ` +
        `multiIf(dst_service != '', dst_service, dst_workload != '', dst_workload, dst_pod != '', dst_pod, replaceOne(toString(dst_ip), '::ffff:', '')) AS n0 ` +
        `FROM tapline.entries WHERE start_time >= fromUnixTimestamp64Milli(${RANGE.fromMs}) AND start_time <= fromUnixTimestamp64Milli(${RANGE.toMs})) GROUP BY g`,
    );
    const want = new Map(rows.map((r) => [r.g, Number(r.n)]));
    assert.ok(want.has('shop/cart') && want.size >= 5);
    for (const filter of ['', 'latency >= 0ms']) {
      const { series } = await stats(f.temp.store, LIMITS, parseFilter(filter), RANGE, opts);
      assert.deepEqual(new Map(series.map((s) => [s.name, s.points.reduce((sum, [, v]) => sum + v, 0)])), want, filter);
    }
  });

  test('a service filter counts the service only, not a bare workload of the same name', async () => {
    const { series } = await stats(f.temp.store, LIMITS, parseFilter('dst.service == "cart"'), RANGE, {
      intervalMs: 70 * MINUTE, metric: 'requests', groupBy: 'none', quantiles: [],
    });
    const [want] = await f.sql<{ n: number | string }>(
      `SELECT count() AS n FROM tapline.entries WHERE dst_service = 'cart' AND start_time >= fromUnixTimestamp64Milli(${RANGE.fromMs}) ` +
        `AND start_time <= fromUnixTimestamp64Milli(${RANGE.toMs})`,
    );
    assert.equal(series[0].points.reduce((s, [, v]) => s + v, 0), Number(want.n));
  });
});
