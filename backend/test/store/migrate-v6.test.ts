// Migration 6 (protocol-neutral entries) on a store that holds data written under version 5: the
// questions the hub, the rollups and the alert rule ask of it, answered on the v5 store in the v5
// vocabulary (method, path, status classes by status, errors by status), are answered the same
// after the migration in the v6 vocabulary (operation, target, outcome, STATUS_CLASS_SQL,
// ERRORS_SQL…), no row lost; old parts read the new columns through their defaults, and keep them
// through merges; entries written after the migration join the old rollup rows.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import {
  CLIENT_ERRORS_SQL, ERRORS_SQL, EntryWriter, STATUS_CLASS_SQL, appliedVersions, endpointNameSql, migrate,
} from '../../src/store/index.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import { HeaderList, NO_FIELDS, Outcome, emptyBody, type Entry } from '../../src/entries/entry.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';
import { captureLog } from '../../../test/support/log-capture.js';
import { expectedRollup, readRollup } from './rollup-reference.js';
import { insertV5 } from './v5-rows.js';
import { catalog, serviceMap } from '../../src/hub/topology.js';
import { stats } from '../../src/hub/stats.js';
import { listEntries } from '../../src/hub/entries.js';
import { parseFilter } from '../../src/query/parser.js';

const HOUR_US = 3600e6;
const NOW_US = Math.floor(Date.now() / 60_000) * 60e6;
/** Three hours of traffic ending a minute ago (the alert rule reads the last five minutes). */
const START_US = NOW_US - 3 * HOUR_US;

/** The provisioned alert rule's SQL, its clock pinned to the test's `now` so two runs read the same minutes. */
const ALERT_SQL = (() => {
  const file = yaml.load(readFileSync(new URL('../../../provisioning/alerting/tapline.yaml', import.meta.url), 'utf8')) as {
    groups: Array<{ rules: Array<{ uid: string; data: Array<{ model: { rawSql?: string } }> }> }>;
  };
  const rule = file.groups.flatMap((g) => g.rules).find((r) => r.uid === 'tapline-5xx-spike')!;
  const sql = rule.data.map((d) => d.model.rawSql).find((s) => s !== undefined)!;
  assert.equal(sql.split('now()').length, 2, sql);
  return sql.replace('now()', `toDateTime(${NOW_US / 1e6}, 'UTC')`);
})();

type Row = Record<string, unknown>;
const TABLES = ['entries', 'entries_1m', 'entries_1h'];

describe('migration 6 on a v5 store with data', () => {
  let t: TempStore;
  let db: string;
  let old: Entry[];
  /** HTTP statuses outside 100..599 (the parser takes any three digits), all to service "odd". */
  let odd: Entry[];
  let v5: Record<string, Row[]>;
  let v5Rollups: { m: Row[]; h: Row[] };
  let v5Alert: Row[];
  let v5Hub: Record<string, Row[]>;
  const log = captureLog();
  /** The whole data set, in a range the hub's rollups answer (≥ 10 min, whole minutes). */
  const range = { fromMs: Math.floor(START_US / 60e6) * 60_000, toMs: Math.ceil(NOW_US / 60e6) * 60_000 };

  /**
   * What the hub's catalog, service map and stats (and an HTTP filter's list) answered over a v5
   * store, in v5 SQL: per destination (namespace, name as the hub names it) requests and failed
   * (4xx, 5xx, unanswered); per edge requests and errors (5xx, unanswered); requests per minute by
   * status class; the POST entries. Statuses outside 100..599 (service "odd") are left out: their
   * status class is new in v6.
   */
  async function askV5Hub(): Promise<Record<string, Row[]>> {
    const raw = `${db}.entries WHERE dst_service != 'odd'`;
    const dst = endpointNameSql('dst');
    const src = endpointNameSql('src');
    return {
      catalog: await rows(
        `SELECT dst_namespace AS ns, ${dst} AS s, count() AS n, countIf(status >= 400 OR unanswered) AS failed FROM ${raw} GROUP BY ns, s ORDER BY ns, s`,
      ),
      edges: await rows(
        `SELECT if(src_namespace = '', ${src}, concat(src_namespace, '/', ${src})) AS s, if(dst_namespace = '', ${dst}, concat(dst_namespace, '/', ${dst})) AS d, ` +
          `count() AS n, countIf(status >= 500 OR unanswered) AS e FROM ${raw} GROUP BY s, d ORDER BY s, d`,
      ),
      perMinute: await rows(
        `SELECT toUInt8(least(intDiv(status, 100), 5)) AS c, toUnixTimestamp(toStartOfMinute(start_time)) * 1000 AS t, count() AS n FROM ${raw} GROUP BY c, t ORDER BY c, t`,
      ),
      posts: await rows(`SELECT id FROM ${raw} AND method = 'POST' ORDER BY start_time DESC, id DESC LIMIT 200`),
    };
  }

  /** Rows of a query, 64-bit integers (strings from a server) as numbers. */
  async function rows(query: string): Promise<Row[]> {
    const rs = await t.store.client.query({ query, format: 'JSONEachRow' });
    return (await rs.json<Row>()).map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v])),
    );
  }

  /** The questions, in the v5 vocabulary (what a v5 hub and its SQL asked). */
  async function askV5(): Promise<Record<string, Row[]>> {
    const raw = `${db}.entries`;
    const err = 'countIf(status >= 500 OR unanswered)';
    const err4 = 'countIf(status >= 400 AND status < 500)';
    return {
      total: await rows(`SELECT count() AS n FROM ${raw}`),
      byClass: await rows(`SELECT toUInt8(least(intDiv(status, 100), 5)) AS c, count() AS n FROM ${raw} GROUP BY c ORDER BY c`),
      errors: await rows(`SELECT ${err} AS e, ${err4} AS e4 FROM ${raw}`),
      outcomes: await rows(`SELECT multiIf(unanswered, 0, status >= 500, 3, status >= 400, 2, 1) AS o, count() AS n FROM ${raw} GROUP BY o ORDER BY o`),
      services: await rows(`SELECT dst_service AS s, count() AS n, ${err} AS e, ${err4} AS e4 FROM ${raw} GROUP BY s ORDER BY s`),
      edges: await rows(
        `SELECT ${endpointNameSql('src')} AS s, ${endpointNameSql('dst')} AS d, count() AS n, ${err} AS e FROM ${raw} GROUP BY s, d ORDER BY s, d`,
      ),
      filters: await rows(
        `SELECT countIf(method = 'POST') AS post, countIf(status >= 500) AS s5, countIf(path LIKE '/api%') AS api,
                countIf(method = 'GET' AND path LIKE '/api/cart%' AND status < 400) AS cart_ok, countIf(method IN ('PUT', 'DELETE')) AS writes FROM ${raw}`,
      ),
      ...(await askRollups()),
      ids: await rows(`SELECT groupArraySorted(100000)(id) AS ids FROM ${raw}`),
    };
  }

  /** The rollup questions: the same SQL in both vocabularies (the columns kept their names). */
  async function askRollups(): Promise<Record<string, Row[]>> {
    const out: Record<string, Row[]> = {};
    for (const table of ['entries_1m', 'entries_1h']) {
      const r = `${db}.${table}`;
      const sums = 'sum(requests) AS n, sum(errors) AS e, sum(errors_4xx) AS e4, sum(answered) AS a, sum(duration_sum_us) AS dur';
      out[`${table} byClass`] = await rows(`SELECT status_class AS c, ${sums} FROM ${r} GROUP BY c ORDER BY c`);
      out[`${table} services`] = await rows(`SELECT dst_name AS s, ${sums} FROM ${r} WHERE dst_kind = 1 GROUP BY s ORDER BY s`);
      out[`${table} edges`] = await rows(`SELECT src_name AS s, dst_name AS d, ${sums} FROM ${r} GROUP BY s, d ORDER BY s, d`);
    }
    return out;
  }

  /** The same questions in the v6 vocabulary. */
  async function askV6(): Promise<Record<string, Row[]>> {
    const raw = `${db}.entries`;
    return {
      total: await rows(`SELECT count() AS n FROM ${raw}`),
      byClass: await rows(`SELECT ${STATUS_CLASS_SQL} AS c, count() AS n FROM ${raw} GROUP BY c ORDER BY c`),
      errors: await rows(`SELECT ${ERRORS_SQL} AS e, ${CLIENT_ERRORS_SQL} AS e4 FROM ${raw}`),
      outcomes: await rows(`SELECT outcome AS o, count() AS n FROM ${raw} GROUP BY o ORDER BY o`),
      services: await rows(`SELECT dst_service AS s, count() AS n, ${ERRORS_SQL} AS e, ${CLIENT_ERRORS_SQL} AS e4 FROM ${raw} GROUP BY s ORDER BY s`),
      edges: await rows(
        `SELECT ${endpointNameSql('src')} AS s, ${endpointNameSql('dst')} AS d, count() AS n, ${ERRORS_SQL} AS e FROM ${raw} GROUP BY s, d ORDER BY s, d`,
      ),
      filters: await rows(
        `SELECT countIf(operation = 'POST') AS post, countIf(status >= 500) AS s5, countIf(target LIKE '/api%') AS api,
                countIf(operation = 'GET' AND target LIKE '/api/cart%' AND status < 400) AS cart_ok, countIf(operation IN ('PUT', 'DELETE')) AS writes FROM ${raw}`,
      ),
      ...(await askRollups()),
      ids: await rows(`SELECT groupArraySorted(100000)(id) AS ids FROM ${raw}`),
    };
  }

  /** Every rollup row (all columns but `outcome`), in key order, and their outcomes. */
  async function rollupRows(table: 'entries_1m' | 'entries_1h', withOutcome = false): Promise<Row[]> {
    const time = table === 'entries_1m' ? 'minute' : 'hour';
    const key = `${time}, src_namespace, src_name, dst_namespace, dst_name, protocol, status_class, src_kind, dst_kind`;
    return rows(
      `SELECT ${key}, ${withOutcome ? 'outcome, ' : ''}requests, errors, errors_4xx, answered, duration_sum_us, duration_h, request_bytes, response_bytes
       FROM ${db}.${table} ORDER BY ${key}${withOutcome ? ', outcome' : ''}, requests, duration_sum_us`,
    );
  }

  /** Active parts of `table` that hold column `column` on disk, and all active parts. */
  async function partsWith(table: string, column: string): Promise<{ with: number; all: number }> {
    const [r] = await rows(
      `SELECT (SELECT count() FROM system.parts_columns WHERE database = '${db}' AND table = '${table}' AND active AND column = '${column}') AS with,
              (SELECT count() FROM system.parts WHERE database = '${db}' AND table = '${table}' AND active) AS all`,
    );
    return { with: Number(r.with), all: Number(r.all) };
  }

  before(async () => {
    t = await tempStore({ migrate: false });
    db = t.store.database;
    assert.deepEqual(await migrate(t.store, { to: 5 }), [1, 2, 3, 4, 5]);
    old = [...syntheticEntries({ count: 9000, seed: 31, startUs: START_US, spanUs: 3 * HOUR_US - 90e6 })];
    const dst = { ...old[0].dst, service: 'odd', workload: 'odd' };
    odd = [999, 600, 42, 0].map((status, i) => ({
      ...old[100 + i], id: `odd-${i}`, dst, status, statusText: 'odd', unanswered: false, outcome: status >= 500 ? Outcome.serverError : Outcome.ok,
    }));
    // One block: one part in each partition of each table, so no background merge rewrites the
    // parts written under v5 before the test merges them (merges cannot be stopped: the rename waits for them).
    await insertV5(t.store, [...old, ...odd], 10_000);
    v5 = await askV5();
    v5Rollups = { m: await rollupRows('entries_1m'), h: await rollupRows('entries_1h') };
    v5Alert = await rows(ALERT_SQL);
    v5Hub = await askV5Hub();
    assert.deepEqual(await migrate(t.store, { logger: log.logger }), [6]);
  });
  after(() => t.dispose());

  it('has the data the test relies on', () => {
    assert.equal(v5.total[0].n, 9004);
    assert.ok(old.some((e) => e.unanswered) && old.some((e) => e.status >= 500) && old.some((e) => e.status >= 400 && e.status < 500));
    assert.ok(old.some((e) => e.operation === 'POST') && old.some((e) => e.target.startsWith('/api/cart')));
    assert.ok(Number(v5.filters[0].writes) > 0, 'DELETEs');
    assert.ok(v5Alert.length >= 3, `the alert rule sees services in its window: ${JSON.stringify(v5Alert)}`);
    assert.ok(v5['entries_1m byClass'].length >= 4);
  });

  it('is recorded once, a second run does nothing, and no rollup was rebuilt', async () => {
    assert.deepEqual(await appliedVersions(t.store), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(await migrate(t.store), []);
    assert.ok(!log.messages().includes('rollups rebuilt from the raw entries'));
  });

  it('loses no row: the same count and every id', async () => {
    const v6 = await askV6();
    assert.deepEqual(v6.total, v5.total);
    assert.deepEqual(v6.ids, v5.ids);
    assert.equal((v6.ids[0].ids as string[]).length, 9004);
  });

  it('answers every question in the v6 vocabulary as the v5 store did (raw table and both rollups)', async () => {
    const v6 = await askV6();
    for (const q of Object.keys(v5)) {
      if (q === 'byClass') continue;
      assert.deepEqual(v6[q], v5[q], q);
    }
  });

  it('moves only statuses outside 100..599 to the new raw status classes 6 and 7 (old rollup rows keep theirs)', async () => {
    const count = (r: Row[], c: number) => Number(r.find((x) => x.c === c)?.n ?? 0);
    const v6 = await askV6();
    // 999 and 600 were class 5 and are 7; 42 and 0 (answered) were class 0 and are 6.
    for (const [c, delta] of [[0, -2], [5, -2], [6, 2], [7, 2]]) assert.equal(count(v6.byClass, c), count(v5.byClass, c) + delta, `class ${c}`);
    for (const c of [1, 2, 3, 4]) assert.equal(count(v6.byClass, c), count(v5.byClass, c), `class ${c}`);
  });

  it('gives raw rows the outcome of HTTP\'s mapping, transport tcp and no fields, from the defaults of parts written before it', async () => {
    assert.equal((await partsWith('entries', 'outcome')).with, 0, 'the old parts have no outcome on disk');
    const v6 = await askV6();
    assert.deepEqual(v6.outcomes, v5.outcomes);
    const [r] = await rows(
      `SELECT countIf(transport = 'tcp') AS tcp, countIf(empty(fields_text) AND empty(fields_number)) AS none FROM ${db}.entries`,
    );
    assert.deepEqual(r, { tcp: 9004, none: 9004 });
    // Entry by entry, as the HTTP dissector maps them (httpOutcome, which the synthetic entries carry).
    const got = new Map((await rows(`SELECT id, outcome FROM ${db}.entries`)).map((x) => [x.id, x.outcome]));
    for (const e of [...old, ...odd]) assert.equal(got.get(e.id), e.outcome, e.id);
  });

  it('keeps every rollup row, and gives each the outcome of its status class', async () => {
    for (const table of ['entries_1m', 'entries_1h'] as const) {
      assert.equal((await partsWith(table, 'outcome')).with, 0, `${table}: the old parts have no outcome on disk`);
      assert.deepEqual(await rollupRows(table), table === 'entries_1m' ? v5Rollups.m : v5Rollups.h, table);
      const fromClass = (c: number) => (c === 0 ? 0 : c === 5 ? 3 : c === 4 ? 2 : 1);
      const withOutcome = await rollupRows(table, true);
      for (const r of withOutcome) assert.equal(r.outcome, fromClass(Number(r.status_class)), JSON.stringify(r));
      // By outcome, the rollup answers as the raw table, but for the answered 0xx that class 0 counted.
      const byOutcome = await rows(`SELECT outcome AS o, sum(requests) AS n FROM ${db}.${table} GROUP BY o ORDER BY o`);
      const raw = (await askV6()).outcomes.map((x) => ({ ...x }));
      raw.find((x) => x.o === 1)!.n = Number(raw.find((x) => x.o === 1)!.n) - 2;
      raw.find((x) => x.o === 0)!.n = Number(raw.find((x) => x.o === 0)!.n) + 2;
      assert.deepEqual(byOutcome, raw, table);
    }
  });

  it('answers the hub\'s catalog, service map, stats and an HTTP filter as the v5 store did (rollups and raw table)', async () => {
    const limits = { queryTimeoutMs: 60_000 };
    const http = parseFilter('dst.service != "odd"');
    // Over the rollups (no filter the raw table needs) and over the raw table (a filter on the operation).
    const cat = await catalog(t.store, limits, http, range);
    assert.deepEqual(
      cat.services.map((x) => ({ ns: x.namespace, s: x.service, n: x.requests, failed: x.failed })).sort((a, b) => `${a.ns}/${a.s}`.localeCompare(`${b.ns}/${b.s}`)),
      v5Hub.catalog.map((r) => ({ ns: r.ns, s: r.s, n: r.n, failed: r.failed })).sort((a, b) => `${a.ns}/${a.s}`.localeCompare(`${b.ns}/${b.s}`)),
    );
    const map = await serviceMap(t.store, limits, http, range);
    assert.deepEqual(
      map.edges.map((x) => ({ s: x.source, d: x.target, n: x.requests })).sort((a, b) => `${a.s}>${a.d}`.localeCompare(`${b.s}>${b.d}`)),
      v5Hub.edges.map((r) => ({ s: r.s, d: r.d, n: r.n })).sort((a, b) => `${a.s}>${a.d}`.localeCompare(`${b.s}>${b.d}`)),
    );
    for (const x of map.edges) {
      const ref = v5Hub.edges.find((r) => r.s === x.source && r.d === x.target)!;
      assert.ok(Math.abs(x.errorRate - Number(ref.e) / Number(ref.n)) < 1e-4, `${x.id}: ${x.errorRate}`);
    }
    const perMinute = await stats(t.store, limits, http, range, { intervalMs: 60_000, groupBy: 'statusClass', metric: 'requests', quantiles: [] });
    const names = ['no response', '1xx', '2xx', '3xx', '4xx', '5xx'];
    const got = perMinute.series.flatMap((x) => x.points.filter(([, v]) => v > 0).map(([tMs, v]) => `${x.name} ${tMs} ${v}`)).sort();
    assert.deepEqual(got, v5Hub.perMinute.map((r) => `${names[Number(r.c)]} ${r.t} ${r.n}`).sort());
    const posts = await listEntries(t.store, limits, parseFilter('method == "POST" and dst.service != "odd"'), range, 200);
    assert.deepEqual(posts.entries.map((e) => e.id), v5Hub.posts.map((r) => r.id));
    assert.ok(posts.entries.length > 20 && v5Hub.catalog.length > 3 && v5Hub.edges.length > 3, 'the comparison has data');
  });

  it('runs the provisioned alert rule\'s SQL and answers as before', async () => {
    assert.deepEqual(await rows(ALERT_SQL), v5Alert);
  });

  it('keeps its answers and outcomes through merges (OPTIMIZE FINAL writes the defaults out)', async () => {
    for (const table of TABLES) await t.store.client.command({ query: `OPTIMIZE TABLE ${db}.${table} FINAL` });
    for (const table of TABLES) {
      const p = await partsWith(table, 'outcome');
      assert.equal(p.with, p.all, `${table}: every part holds outcome after the merge`);
    }
    const v6 = await askV6();
    for (const q of Object.keys(v5)) if (q !== 'byClass') assert.deepEqual(v6[q], v5[q], q);
    assert.deepEqual(await rollupRows('entries_1m'), v5Rollups.m);
    assert.deepEqual(await rollupRows('entries_1h'), v5Rollups.h);
    const got = new Map((await rows(`SELECT id, outcome FROM ${db}.entries`)).map((x) => [x.id, x.outcome]));
    for (const e of [...old, ...odd]) assert.equal(got.get(e.id), e.outcome, e.id);
    assert.deepEqual(await rows(ALERT_SQL), v5Alert);
  });

  it('feeds entries written after it (HTTP, and DNS over UDP) into the same rollup rows as the old ones, through merges', async () => {
    const http = [...syntheticEntries({ count: 3000, seed: 32, startUs: START_US, spanUs: 3 * HOUR_US - 90e6 })];
    const base = old[7];
    const dns = [Outcome.ok, Outcome.ok, Outcome.clientError, Outcome.serverError, Outcome.none].map((outcome, i): Entry => ({
      ...base, id: `dns-${i}`, protocol: 'dns', protocolVersion: '', transport: 'udp', operation: 'A', target: 'cart.shop.svc.cluster.local.',
      query: '', host: '', status: [0, 0, 3, 2, 0][i], statusText: ['NOERROR', 'NOERROR', 'NXDOMAIN', 'SERVFAIL', ''][i], outcome,
      unanswered: outcome === Outcome.none, durationUs: outcome === Outcome.none ? 0 : 300 + i, endUs: base.startUs + (outcome === Outcome.none ? 0 : 300 + i),
      requestHeaders: HeaderList.of([]), responseHeaders: HeaderList.of([]), requestBody: emptyBody(), responseBody: emptyBody(),
      fields: i === 4 ? NO_FIELDS : { 'dns.qname': 'cart.shop.svc.cluster.local.', 'dns.rcode': [0, 0, 3, 2][i] },
    }));
    const w = await EntryWriter.create(t.store, { batchSize: 2000, logger: log.logger });
    await w.pushAll([...http, ...dns]);
    await w.close();
    assert.equal(w.counters.written, http.length + dns.length);
    const notOdd = "dst_name != 'odd'";
    const want = [...old, ...http, ...dns];
    for (const merged of [false, true]) {
      if (merged) for (const table of ['entries_1m', 'entries_1h']) await t.store.client.command({ query: `OPTIMIZE TABLE ${db}.${table} FINAL` });
      assert.deepEqual(await readRollup(t.store, 'entries_1m', notOdd), expectedRollup(want), `per minute, merged ${merged}`);
      assert.deepEqual(await readRollup(t.store, 'entries_1h', notOdd), expectedRollup(want, 3600), `hourly, merged ${merged}`);
    }
    // After the merge, an old row and a new one of the same key are one row.
    for (const table of ['entries_1m', 'entries_1h']) {
      const time = table === 'entries_1m' ? 'minute' : 'hour';
      const [r] = await rows(
        `SELECT count() AS n, uniqExact(${time}, src_namespace, src_name, dst_namespace, dst_name, protocol, status_class, src_kind, dst_kind, outcome) AS keys FROM ${db}.${table}`,
      );
      assert.equal(r.n, r.keys, table);
    }
    // DNS: answered statuses below 100 are class 6; errors and client errors by outcome.
    const [d] = await rows(
      `SELECT groupUniqArray(status_class) AS c, sum(requests) AS n, sum(errors) AS e, sum(errors_4xx) AS e4 FROM ${db}.entries_1m WHERE protocol = 'dns' AND status_class != 0`,
    );
    assert.deepEqual(d, { c: [6], n: 4, e: 1, e4: 1 });
    const [u] = await rows(`SELECT sum(requests) AS n, sum(errors) AS e FROM ${db}.entries_1m WHERE protocol = 'dns' AND status_class = 0`);
    assert.deepEqual(u, { n: 1, e: 1 });
    const [f] = await rows(`SELECT groupArray(fields_number['dns.rcode']) AS rc, groupArray(transport) AS tr FROM (SELECT * FROM ${db}.entries WHERE protocol = 'dns' ORDER BY id)`);
    assert.deepEqual(f, { rc: [0, 0, 3, 2, 0], tr: ['udp', 'udp', 'udp', 'udp', 'udp'] });
  });
});
