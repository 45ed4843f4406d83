import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EntryWriter } from '../../src/store/index.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import type { Endpoint, Entry } from '../../src/entries/entry.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';
import { captureLog } from '../../../test/support/log-capture.js';

// Expected values are computed here, in JavaScript, from the entries that were written.
const nameOf = (p: Endpoint) => p.service || p.workload || p.pod || p.ip;
const keyOf = (e: Entry, bucketS = 60) =>
  [Math.floor(e.startUs / (bucketS * 1e6)) * bucketS, e.src.namespace, nameOf(e.src), e.dst.namespace, nameOf(e.dst), e.protocol, Math.min(Math.floor(e.status / 100), 5)].join('|');

interface Agg { requests: number; errors: number; errors_4xx: number; answered: number; duration_sum_us: number; request_bytes: number; response_bytes: number }

function expected(entries: Entry[], bucketS = 60): Map<string, Agg> {
  const m = new Map<string, Agg>();
  for (const e of entries) {
    const k = keyOf(e, bucketS);
    const a = m.get(k) ?? { requests: 0, errors: 0, errors_4xx: 0, answered: 0, duration_sum_us: 0, request_bytes: 0, response_bytes: 0 };
    a.requests++;
    if (e.status >= 500 || e.unanswered) a.errors++;
    if (e.status >= 400 && e.status < 500) a.errors_4xx++;
    if (!e.unanswered) {
      a.answered++;
      a.duration_sum_us += e.durationUs;
    }
    a.request_bytes += e.requestBody.wireSize;
    a.response_bytes += e.responseBody.wireSize;
    m.set(k, a);
  }
  return m;
}

function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

describe('per-minute rollup', () => {
  let t: TempStore;
  let all: Entry[];
  before(async () => {
    t = await tempStore();
    // 40 minutes: includes a 5xx burst minute, probes from node IPs (no pod), unanswered requests.
    all = [...syntheticEntries({ count: 10_000, seed: 11, startUs: Date.now() * 1000 - 40 * 60e6, spanUs: 40 * 60e6 })];
    const w = await EntryWriter.create(t.store, { batchSize: 3000, logger: captureLog().logger });
    for (const e of all) if (!w.push(e)) await w.drained();
    await w.close();
    assert.equal(w.counters.written, all.length);
  });
  after(() => t.dispose());

  async function rollup(table = 'entries_1m', time = 'minute'): Promise<Map<string, Agg>> {
    const rs = await t.store.client.query({
      query: `SELECT toUnixTimestamp(${time}) AS m, src_namespace, src_name, dst_namespace, dst_name, protocol, status_class,
                sum(requests) AS requests, sum(errors) AS errors, sum(errors_4xx) AS errors_4xx, sum(answered) AS answered,
                sum(duration_sum_us) AS duration_sum_us, sum(request_bytes) AS request_bytes, sum(response_bytes) AS response_bytes
              FROM ${t.store.database}.${table}
              GROUP BY m, src_namespace, src_name, dst_namespace, dst_name, protocol, status_class`,
      format: 'JSONEachRow',
    });
    const m = new Map<string, Agg>();
    for (const r of await rs.json<Record<string, string | number>>()) {
      const k = [r.m, r.src_namespace, r.src_name, r.dst_namespace, r.dst_name, r.protocol, r.status_class].join('|');
      m.set(k, {
        requests: Number(r.requests), errors: Number(r.errors), errors_4xx: Number(r.errors_4xx), answered: Number(r.answered),
        duration_sum_us: Number(r.duration_sum_us), request_bytes: Number(r.request_bytes), response_bytes: Number(r.response_bytes),
      });
    }
    return m;
  }

  it('has the data the test relies on', () => {
    assert.ok(all.some((e) => e.unanswered) && all.some((e) => e.status >= 500) && all.some((e) => e.status === 404));
    assert.ok(all.some((e) => e.src.pod === '' && e.src.ip !== ''), 'callers known only by IP');
  });

  it('equals the aggregates of the raw entries, group by group', async () => {
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
    assert.deepEqual(await rollup('entries_1h', 'hour'), expected(all, 3600));
    const rs = await t.store.client.query({
      query: `SELECT (SELECT quantilesTDigestMerge(0.5, 0.99)(duration_q) FROM ${t.store.database}.entries_1h WHERE dst_name = 'cart') AS h,
                     (SELECT quantilesTDigestMerge(0.5, 0.99)(duration_q) FROM ${t.store.database}.entries_1m WHERE dst_name = 'cart') AS m`,
      format: 'JSONEachRow',
    });
    const [{ h, m }] = await rs.json<{ h: number[]; m: number[] }>();
    h.forEach((v, i) => assert.ok(Math.abs(v - m[i]) / m[i] < 0.05, `hourly ${v} vs per-minute ${m[i]}`));
  });

  it('keeps latency quantile states close to the exact quantiles per destination service', async () => {
    const rs = await t.store.client.query({
      query: `SELECT dst_name, quantilesTDigestMerge(0.5, 0.95, 0.99)(duration_q) AS q
              FROM ${t.store.database}.entries_1m GROUP BY dst_name`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ dst_name: string; q: number[] }>();
    assert.ok(rows.length >= 5);
    for (const r of rows) {
      const sorted = all.filter((e) => nameOf(e.dst) === r.dst_name && !e.unanswered).map((e) => e.durationUs).sort((a, b) => a - b);
      [0.5, 0.95, 0.99].forEach((q, i) => {
        const exact = exactQuantile(sorted, q);
        const rel = Math.abs(r.q[i] - exact) / exact;
        assert.ok(rel < 0.1, `${r.dst_name} p${q * 100}: rollup ${r.q[i]} vs exact ${exact}`);
      });
    }
  });
});
