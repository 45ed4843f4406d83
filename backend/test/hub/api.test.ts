// The hub's endpoints against the real embedded store filled by the synthetic generator; every
// answer is checked against independent SQL written here, or against the generated entries.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get as httpGet } from 'node:http';
import { fixture, getJson, q, type Fixture } from './fixture.js';
import { createHub } from '../../src/hub/server.js';
import { HubConfigError, toApiError } from '../../src/hub/errors.js';
import { queryRows } from '../../src/hub/run.js';
import { openStore } from '../../src/store/index.js';
import { startClickHouseHttp } from '../../../test/support/clickhouse-http.js';

/** A GET with the headers as given (fetch would not send another Host). */
function rawGet(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: hostname, port, path, headers, setHost: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
  });
}

const MINUTE = 60_000;
// Entries span one hour starting at a whole minute two hours ago; the range covers them with
// whole-minute bounds, where the rollup and the raw table agree exactly.
const T0 = Math.floor((Date.now() - 2 * 3_600_000) / MINUTE) * MINUTE;
const FROM = T0;
const TO = T0 + 90 * MINUTE;
const RANGE = `start_time >= fromUnixTimestamp64Milli(${FROM}) AND start_time <= fromUnixTimestamp64Milli(${TO})`;
const NAME = (side: string) =>
  `multiIf(${side}_service != '', ${side}_service, ${side}_workload != '', ${side}_workload, ${side}_pod != '', ${side}_pod, replaceOne(toString(${side}_ip), '::ffff:', ''))`;

let f: Fixture;
let url: string;

before(async () => {
  f = await fixture(3000, { startUs: T0 * 1000, spanUs: 3_600_000_000 });
  url = await f.hub();
});
after(async () => {
  await f?.dispose();
});

const ids = async (where: string) =>
  (await f.sql<{ id: string }>(`SELECT id FROM tapline.entries WHERE ${RANGE} AND (${where}) ORDER BY start_time DESC, id DESC`)).map((r) => r.id);

describe('entries', () => {
  const cases: Array<[filter: string, where: string]> = [
    ['', '1'],
    ['http and response.status == 404', "protocol = 'http' AND status = 404"],
    ['dst.service == "nginx" and not request.headers["user-agent"].contains("kube-probe")', "dst_service = 'nginx' AND NOT arrayExists((n, v) -> lower(n) = 'user-agent' AND position(v, 'kube-probe') > 0, request_header_names, request_header_values)"],
    ['status >= 500 or latency > 50ms', 'status >= 500 OR duration_us > 50000'],
    ['src.ip == "10.244.1.7"', "toString(src_ip) = '::ffff:10.244.1.7'"],
  ];
  for (const [filter, where] of cases) {
    test(`pages through "${filter}" newest first, without gaps or repeats`, async () => {
      const expected = await ids(where);
      assert.ok(expected.length > 0, 'the reference selects nothing: the test would prove nothing');
      const got: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 100; page++) {
        const { status, body } = await getJson(`${url}/api/v1/entries?${q({ filter, from: FROM, to: TO, limit: 400, cursor })}`);
        assert.equal(status, 200, JSON.stringify(body));
        got.push(...body.entries.map((e: { id: string }) => e.id));
        cursor = body.nextCursor ?? undefined;
        if (!cursor) break;
      }
      assert.deepEqual(got, expected);
    });
  }

  test('a summary carries the entry as generated', async () => {
    const { body } = await getJson(`${url}/api/v1/entries?${q({ from: FROM, to: TO, limit: 50 })}`);
    for (const s of body.entries) {
      const e = f.entries.get(s.id)!;
      assert.ok(e, s.id);
      assert.deepEqual(s, {
        id: e.id, startUs: e.startUs, durationUs: e.durationUs, protocol: e.protocol, protocolVersion: e.protocolVersion,
        transport: e.transport, operation: e.operation, target: e.target, query: e.query, host: e.host, status: e.status,
        statusText: e.statusText, outcome: e.outcome, unanswered: e.unanswered, incomplete: e.incomplete, src: e.src,
        dst: e.dst, requestSize: e.requestBody.size, responseSize: e.responseBody.size, agent: e.agent, fields: {},
      });
    }
  });

  test('one entry in full: headers and bodies as generated', async () => {
    const withBody = [...f.entries.values()].filter((e) => e.responseBody.bytes.length > 0 && e.requestHeaders.count > 0);
    for (const e of withBody.slice(0, 20)) {
      const { status, body } = await getJson(`${url}/api/v1/entries/${e.id}`);
      assert.equal(status, 200);
      assert.equal(body.endUs, e.endUs);
      assert.equal(body.statusText, e.statusText);
      assert.deepEqual(body.requestHeaders, e.requestHeaders.toPairs());
      assert.deepEqual(body.responseHeaders, e.responseHeaders.toPairs());
      assert.equal(body.responseBody.text, e.responseBody.bytes.toString('utf8'));
      assert.equal(body.responseBody.size, e.responseBody.size);
      assert.equal(body.responseBody.wireSize, e.responseBody.wireSize);
      assert.equal(body.responseBody.truncated, e.responseBody.truncated);
      assert.equal(body.responseBody.contentType, e.responseHeaders.toPairs().find(([n]) => n.toLowerCase() === 'content-type')?.[1] ?? '');
    }
  });

  test('entries whose ids do not tell their time are found too', async () => {
    const [a, b] = [...f.entries.values()].slice(0, 2);
    const odd = [
      { ...a, id: 'imported-0001' },
      { ...b, id: '00000000-0000-7000-8000-00000000abcd' }, // UUIDv7 from 1970: its time misleads
    ];
    await f.write(odd);
    for (const e of odd) {
      const { status, body } = await getJson(`${url}/api/v1/entries/${e.id}`);
      assert.equal(status, 200, e.id);
      assert.equal(body.target, e.target);
      assert.equal(body.startUs, e.startUs);
    }
  });

  test('an unknown id is not_found', async () => {
    const { status, body } = await getJson(`${url}/api/v1/entries/0190f5c2-0000-7000-8000-000000000000`);
    assert.equal(status, 404);
    assert.equal(body.error.code, 'not_found');
  });
});

describe('aggregates', () => {
  const perMinuteByClass = async (where: string) =>
    f.sql<{ t: number; c: number; n: number }>(
      `SELECT intDiv(toUnixTimestamp64Milli(start_time), 60000) * 60000 AS t, least(intDiv(status, 100), 5) AS c, count() AS n ` +
        `FROM tapline.entries WHERE ${RANGE} AND (${where}) GROUP BY t, c`,
    );
  const CLASS = ['no response', '1xx', '2xx', '3xx', '4xx', '5xx'];

  for (const [filter, where] of [
    ['', '1'],
    ['dst.namespace == "shop" and status >= 4xx', "dst_namespace = 'shop' AND status >= 400"], // rollup
    ['dst.service == "nginx"', "dst_service = 'nginx'"], // raw table
  ]) {
    test(`stats by status class per minute for "${filter}"`, async () => {
      const { status, body } = await getJson(`${url}/api/v1/stats?${q({ filter, from: FROM, to: TO, interval: MINUTE, groupBy: 'statusClass' })}`);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.intervalMs, MINUTE);
      const expected = new Map<string, number>();
      for (const r of await perMinuteByClass(where)) expected.set(`${CLASS[Number(r.c)]}@${Number(r.t)}`, Number(r.n));
      assert.ok(expected.size > 0);
      const got = new Map<string, number>();
      for (const s of body.series) {
        assert.equal(s.points.length, 91, 'one point a minute over the range, zeros included');
        for (const [t, v] of s.points) if (v !== 0) got.set(`${s.name}@${t}`, v);
      }
      assert.deepEqual(got, expected);
    });
  }

  test('stats in 15 s buckets (raw table) count what SQL counts', async () => {
    const { body } = await getJson(`${url}/api/v1/stats?${q({ from: FROM, to: TO, interval: 15_000, metric: 'errors', groupBy: 'protocol' })}`);
    const rows = await f.sql<{ t: number; n: number }>(
      `SELECT intDiv(toUnixTimestamp64Milli(start_time), 15000) * 15000 AS t, count() AS n FROM tapline.entries ` +
        `WHERE ${RANGE} AND (status >= 500 OR unanswered) GROUP BY t`,
    );
    assert.equal(body.series.length, 1);
    assert.equal(body.series[0].name, 'http');
    const got = new Map(body.series[0].points.filter(([, v]: number[]) => v > 0).map(([t, v]: number[]) => [t, v]));
    assert.deepEqual(got, new Map(rows.map((r) => [Number(r.t), Number(r.n)])));
  });

  test('a day and more: hourly buckets (the hourly rollup) count what SQL counts', async () => {
    const HOUR = 3_600_000;
    const from = Math.floor(FROM / HOUR) * HOUR - 24 * HOUR;
    const to = Math.ceil(TO / HOUR) * HOUR;
    const { body } = await getJson(`${url}/api/v1/stats?${q({ from, to, interval: HOUR, groupBy: 'statusClass', filter: 'http' })}`);
    const rows = await f.sql<{ t: number; c: number; n: number }>(
      `SELECT intDiv(toUnixTimestamp64Milli(start_time), ${HOUR}) * ${HOUR} AS t, least(intDiv(status, 100), 5) AS c, count() AS n ` +
        `FROM tapline.entries WHERE start_time >= fromUnixTimestamp64Milli(${from}) AND start_time <= fromUnixTimestamp64Milli(${to}) GROUP BY t, c`,
    );
    const CLASS = ['no response', '1xx', '2xx', '3xx', '4xx', '5xx'];
    const got = new Map<string, number>();
    for (const s of body.series) for (const [t, v] of s.points) if (v !== 0) got.set(`${s.name}@${t}`, v);
    assert.ok(rows.length > 0);
    assert.deepEqual(got, new Map(rows.map((r) => [`${CLASS[Number(r.c)]}@${Number(r.t)}`, Number(r.n)])));
    const catalog = await getJson(`${url}/api/v1/catalog?${q({ from, to })}`);
    const [total] = await f.sql<{ n: number }>(
      `SELECT count() AS n FROM tapline.entries WHERE start_time >= fromUnixTimestamp64Milli(${from}) AND start_time <= fromUnixTimestamp64Milli(${to})`,
    );
    assert.equal(catalog.body.services.reduce((sum: number, x: { requests: number }) => sum + x.requests, 0), Number(total.n));
  });

  test('latency quantiles are close to the exact ones', async () => {
    const { body } = await getJson(`${url}/api/v1/stats?${q({ from: FROM, to: TO, interval: 30 * MINUTE, metric: 'latency', q: '0.5,0.95' })}`);
    assert.deepEqual(body.series.map((s: { name: string }) => s.name), ['p50', 'p95']);
    const rows = await f.sql<{ t: number; q: number[] }>(
      `SELECT intDiv(toUnixTimestamp64Milli(start_time), 1800000) * 1800000 AS t, quantilesExactIf(0.5, 0.95)(duration_us, NOT unanswered) AS q ` +
        `FROM tapline.entries WHERE ${RANGE} GROUP BY t`,
    );
    for (const [i, s] of body.series.entries()) {
      for (const [t, ms] of s.points) {
        const exact = rows.find((r) => Number(r.t) === t)!.q[i] / 1000;
        assert.ok(Math.abs(ms - exact) <= 0.2 * exact + 0.05, `${s.name} at ${t}: ${ms} vs exact ${exact}`);
      }
    }
  });

  for (const [filter, where] of [
    ['', '1'], // rollup
    ['method == "GET"', "operation = 'GET'"], // raw table
  ]) {
  test(`service map edges and nodes match SQL for "${filter}"`, async () => {
    const { body } = await getJson(`${url}/api/v1/servicemap?${q({ filter, from: FROM, to: TO })}`);
    const edges = await f.sql<{ s: string; d: string; n: number; e: number }>(
      `SELECT if(src_namespace = '', ${NAME('src')}, concat(src_namespace, '/', ${NAME('src')})) AS s, ` +
        `if(dst_namespace = '', ${NAME('dst')}, concat(dst_namespace, '/', ${NAME('dst')})) AS d, count() AS n, ` +
        `countIf(status >= 500 OR unanswered) AS e FROM tapline.entries WHERE ${RANGE} AND (${where}) GROUP BY s, d`,
    );
    assert.ok(edges.length > 3);
    assert.equal(body.edges.length, edges.length);
    const seconds = (TO - FROM) / 1000;
    for (const r of edges) {
      const edge = body.edges.find((x: { source: string; target: string }) => x.source === r.s && x.target === r.d);
      assert.ok(edge, `edge ${r.s} -> ${r.d}`);
      assert.equal(edge.requests, Number(r.n));
      assert.ok(Math.abs(edge.errorRate - Number(r.e) / Number(r.n)) < 1e-4);
      assert.ok(Math.abs(edge.ratePerSec - Number(r.n) / seconds) < 1e-4);
      assert.ok(body.nodes.some((n: { id: string }) => n.id === r.s) && body.nodes.some((n: { id: string }) => n.id === r.d));
    }
    const nginx = body.nodes.find((n: { id: string }) => n.id === 'default/nginx');
    const [ref] = await f.sql<{ n: number; c4: number; ok: number; server: number; none: number }>(
      `SELECT count() AS n, countIf(intDiv(status, 100) = 4) AS c4, countIf(NOT unanswered AND status < 400) AS ok, ` +
        `countIf(status >= 500) AS server, countIf(unanswered) AS none ` +
        `FROM tapline.entries WHERE ${RANGE} AND (${where}) AND dst_namespace = 'default' AND ${NAME('dst')} = 'nginx'`,
    );
    assert.equal(nginx.requests, Number(ref.n));
    assert.ok(Math.abs(nginx.share4xx - Number(ref.c4) / Number(ref.n)) < 1e-4);
    // Shares by outcome: for HTTP, 4xx are client errors, 5xx server errors.
    assert.ok(Math.abs(nginx.shareClientError - Number(ref.c4) / Number(ref.n)) < 1e-4);
    assert.ok(Math.abs(nginx.shareOk - Number(ref.ok) / Number(ref.n)) < 1e-4);
    assert.ok(Math.abs(nginx.shareServerError - Number(ref.server) / Number(ref.n)) < 1e-4);
    assert.ok(Math.abs(nginx.shareNoResponse - Number(ref.none) / Number(ref.n)) < 1e-4);
    assert.ok(Number(ref.server) > 0 && Number(ref.ok) > 0, 'the shares are told apart');
  });
  }

  for (const [filter, where] of [
    ['', '1'],
    ['src.namespace == "shop" or http', "src_namespace = 'shop' OR protocol = 'http'"],
    ['method == "GET"', "operation = 'GET'"],
  ]) {
    test(`catalog matches SQL for "${filter}"`, async () => {
      const { body } = await getJson(`${url}/api/v1/catalog?${q({ filter, from: FROM, to: TO })}`);
      const rows = await f.sql<{ ns: string; s: string; n: number; failed: number; avg: number }>(
        `SELECT dst_namespace AS ns, ${NAME('dst')} AS s, count() AS n, countIf(status >= 400 OR unanswered) AS failed, ` +
          `avgIf(duration_us, NOT unanswered) / 1000 AS avg FROM tapline.entries WHERE ${RANGE} AND (${where}) GROUP BY ns, s`,
      );
      assert.ok(rows.length > 2);
      assert.equal(body.services.length, rows.length);
      for (const r of rows) {
        const svc = body.services.find((x: { service: string; namespace: string }) => x.service === r.s && x.namespace === r.ns);
        assert.ok(svc, `${r.ns}/${r.s}`);
        assert.equal(svc.requests, Number(r.n));
        assert.equal(svc.failed, Number(r.failed));
        assert.equal(svc.succeeded, Number(r.n) - Number(r.failed));
        assert.ok(Math.abs(svc.avgMs - Number(r.avg)) < 0.002, `${svc.avgMs} vs ${r.avg}`);
        assert.deepEqual(svc.protocols, ['http']);
      }
    });
  }
});

describe('breakdowns by any field', () => {
  test('stats grouped by a field keep the top series and sum the rest as other, as SQL counts', async () => {
    const { status, body } = await getJson(`${url}/api/v1/stats?${q({ from: FROM, to: TO, interval: 30 * MINUTE, groupBy: 'target', top: 3 })}`);
    assert.equal(status, 200, JSON.stringify(body));
    const totals = await f.sql<{ v: string; n: number }>(`SELECT target AS v, count() AS n FROM tapline.entries WHERE ${RANGE} GROUP BY v ORDER BY n DESC, v LIMIT 3`);
    const perBucket = await f.sql<{ t: number; v: string; n: number }>(
      `SELECT intDiv(toUnixTimestamp64Milli(start_time), 1800000) * 1800000 AS t, target AS v, count() AS n FROM tapline.entries WHERE ${RANGE} GROUP BY t, v`,
    );
    const kept = new Set(totals.map((r) => r.v));
    const expected = new Map<string, number>();
    for (const r of perBucket) {
      const key = `${kept.has(r.v) ? r.v : 'other'}@${Number(r.t)}`;
      expected.set(key, (expected.get(key) ?? 0) + Number(r.n));
    }
    assert.deepEqual(body.series.map((x: { name: string }) => x.name).sort(), [...kept, 'other'].sort());
    const got = new Map<string, number>();
    for (const x of body.series) for (const [t, v] of x.points) if (v !== 0) got.set(`${x.name}@${t}`, v);
    assert.deepEqual(got, expected);
  });

  test('a field the rollup keeps (dst.service) groups the same from the rollup as SQL over the raw table', async () => {
    const { body } = await getJson(`${url}/api/v1/stats?${q({ from: FROM, to: TO, interval: MINUTE, groupBy: 'dst.service', metric: 'errors' })}`);
    const rows = await f.sql<{ t: number; v: string; n: number }>(
      `SELECT intDiv(toUnixTimestamp64Milli(start_time), 60000) * 60000 AS t, dst_service AS v, count() AS n FROM tapline.entries ` +
        `WHERE ${RANGE} AND (status >= 500 OR unanswered) GROUP BY t, v`,
    );
    assert.ok(rows.length > 0);
    const got = new Map<string, number>();
    for (const x of body.series) for (const [t, v] of x.points) if (v !== 0) got.set(`${x.name}@${t}`, v);
    assert.deepEqual(got, new Map(rows.map((r) => [`${r.v === '' ? '(none)' : r.v}@${Number(r.t)}`, Number(r.n)])));
  });

  test('top values of a field, by requests and by failures, with the catalog\'s figures', async () => {
    for (const sort of ['requests', 'failed'] as const) {
      const { status, body } = await getJson(`${url}/api/v1/top?${q({ by: 'target', sort, limit: 4, filter: 'dst.namespace == "shop"', from: FROM, to: TO })}`);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.by, 'target');
      const rows = await f.sql<{ v: string; n: number; failed: number; avg: number }>(
        `SELECT target AS v, count() AS n, countIf(status >= 400 OR unanswered) AS failed, avgIf(duration_us, NOT unanswered) / 1000 AS avg ` +
          `FROM tapline.entries WHERE ${RANGE} AND dst_namespace = 'shop' GROUP BY v ORDER BY ${sort === 'requests' ? 'n' : 'failed'} DESC, n DESC, v LIMIT 4`,
      );
      assert.equal(rows.length, 4);
      assert.deepEqual(body.rows.map((r: { value: string }) => r.value), rows.map((r) => r.v));
      for (const [i, r] of rows.entries()) {
        assert.equal(body.rows[i].requests, Number(r.n));
        assert.equal(body.rows[i].failed, Number(r.failed));
        assert.ok(Math.abs(body.rows[i].avgMs - Number(r.avg)) < 0.002);
        assert.deepEqual(body.rows[i].protocols, ['http']);
      }
    }
    const slowest = await getJson(`${url}/api/v1/top?${q({ by: 'dst.service', sort: 'p95', from: FROM, to: TO })}`);
    const p95s = slowest.body.rows.map((r: { p95Ms: number }) => r.p95Ms);
    assert.ok(p95s.length > 3);
    assert.deepEqual(p95s, [...p95s].sort((a: number, b: number) => b - a));
  });

  const refused: Array<[path: string, message: RegExp]> = [
    [`/api/v1/stats?${q({ groupBy: 'latency' })}`, /'groupBy': latency is a duration, a measure/],
    [`/api/v1/stats?${q({ groupBy: 'request.header' })}`, /'groupBy': no field "request.header"/],
    [`/api/v1/stats?${q({ groupBy: 'request.headers["user-agent"]' })}`, /request.headers\["…"\] holds many values an entry/],
    [`/api/v1/top?${q({ by: 'dns.nope' })}`, /'by': no field "dns.nope"/],
    [`/api/v1/top`, /by/],
    [`/api/v1/top?${q({ by: 'target', sort: 'slowest' })}`, /sort/],
    [`/api/v1/stats?${q({ groupBy: 'target', top: 51 })}`, /top/],
  ];
  for (const [path, message] of refused) {
    test(`${path} → 400`, async () => {
      const res = await getJson(url + path);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(res.body.error.message, message);
    });
  }
});

describe('labels, validation, completions, health, metrics', () => {
  test('label values are the distinct values SQL sees', async () => {
    for (const [name, sql] of [
      ['namespace', "SELECT DISTINCT v FROM (SELECT src_namespace AS v FROM tapline.entries WHERE RANGE UNION ALL SELECT dst_namespace FROM tapline.entries WHERE RANGE) WHERE v != '' ORDER BY v"],
      ['method', "SELECT DISTINCT operation AS v FROM tapline.entries WHERE RANGE AND operation != '' ORDER BY v"],
      ['status', "SELECT DISTINCT toString(status) AS v FROM tapline.entries WHERE RANGE AND status != 0 ORDER BY v"],
    ]) {
      const { body } = await getJson(`${url}/api/v1/labels/${name}?${q({ from: FROM, to: TO })}`);
      const expected = (await f.sql<{ v: string }>(sql.replaceAll('RANGE', RANGE))).map((r) => r.v);
      assert.ok(expected.length > 1);
      assert.deepEqual(body.values, expected, name);
    }
    const { status, body } = await getJson(`${url}/api/v1/labels/colour`);
    assert.equal(status, 404);
    assert.equal(body.error.code, 'not_found');
  });

  test('filter validation reports the message and position', async () => {
    const post = (filter: string) =>
      getJson(`${url}/api/v1/filter/validate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ filter }) });
    assert.deepEqual((await post('http and status == 404')).body, { valid: true });
    const bad = (await post('http and status == ')).body;
    assert.equal(bad.valid, false);
    assert.equal(bad.error.position, 20);
    assert.match(bad.error.message, /expected a value after '=='/);
    assert.ok(bad.error.expected.length > 0);
  });

  test('completions: fields for a partial name, operators after a field, values after an operator', async () => {
    const c = async (prefix: string) => (await getJson(`${url}/api/v1/filter/completions?${q({ prefix })}`)).body;
    assert.deepEqual((await c('http and dst.na')).fields.map((x: { name: string }) => x.name), ['dst.namespace']);
    assert.ok((await c('latency ')).operators.includes('>='));
    assert.ok(!(await c('latency ')).operators.includes('=~'));
    const values = (await c('dst.namespace == ')).values;
    const expected = (await f.sql<{ v: string }>(`SELECT DISTINCT dst_namespace AS v FROM tapline.entries WHERE dst_namespace != '' AND start_time >= now() - INTERVAL 1 HOUR ORDER BY v`)).map((r) => JSON.stringify(r.v));
    assert.deepEqual(values, expected);
  });

  test('health shows the store and its entry count', async () => {
    const { status, body } = await getJson(`${url}/api/v1/health`);
    assert.equal(status, 200);
    const [ref] = await f.sql<{ n: number }>('SELECT count() AS n FROM tapline.entries');
    assert.deepEqual(body.store, { reachable: true, entries: Number(ref.n) });
    assert.equal(body.status, 'ok');
  });

  test('metrics are Prometheus text with API latency by route', async () => {
    await fetch(`${url}/api/v1/catalog`);
    const res = await fetch(`${url}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.match(text, /tapline_hub_request_duration_seconds_count\{route="\/api\/v1\/catalog",method="GET",status="200"\} [1-9]/);
    assert.match(text, /# TYPE tapline_service_requests_last_minute gauge/);
  });
});

describe('limits and refusals', () => {
  const cases: Array<[path: string, status: number, code: string, message: RegExp]> = [
    [`/api/v1/entries?limit=10001`, 400, 'too_large', /limit/],
    [`/api/v1/entries?${q({ filter: 'method == "' + 'x'.repeat(5000) + '"' })}`, 400, 'too_large', /4096/],
    [`/api/v1/entries?${q({ filter: 'lantency > 1s' })}`, 400, 'bad_filter', /unknown field 'lantency'/],
    [`/api/v1/entries?cursor=bm9wZQ`, 400, 'bad_request', /cursor/],
    [`/api/v1/entries?from=10&to=5`, 400, 'bad_request', /after/],
    [`/api/v1/entries?limit=abc`, 400, 'bad_request', /limit/],
    [`/api/v1/stats?groupBy=colour`, 400, 'bad_request', /groupBy/],
    [`/api/v1/stats?interval=1000&from=0&to=${TO}`, 400, 'too_large', /points/],
    [`/api/v1/stats?metric=latency&q=2`, 400, 'bad_request', /'q'/],
    [`/api/v1/stream?wait=60000`, 400, 'bad_request', /wait/],
    [`/api/v1/nothing`, 404, 'not_found', /no route/],
  ];
  for (const [path, status, code, message] of cases) {
    test(`${path.slice(0, 70)} → ${status} ${code}`, async () => {
      const res = await getJson(url + path);
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body.error.code, code);
      assert.match(res.body.error.message, message);
    });
  }

  test('a body over 64 KiB is too_large', async () => {
    const res = await getJson(`${url}/api/v1/filter/validate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filter: 'x'.repeat(70_000) }),
    });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'too_large');
  });

  test('a query past the time limit comes back as timeout', async () => {
    const err = await queryRows(f.temp.store, { queryTimeoutMs: 1000 }, 'SELECT sleepEachRow(0.5) FROM numbers(10) SETTINGS max_block_size = 1').then(
      () => assert.fail('the query finished'),
      (e: unknown) => e,
    );
    const api = toApiError(err);
    assert.equal(api.code, 'timeout');
    assert.equal(api.status, 504);
  });

  test('CORS is closed by default and open to configured origins only', async () => {
    const closed = await fetch(`${url}/api/v1/health`, { headers: { origin: 'http://evil.example' } });
    assert.equal(closed.headers.get('access-control-allow-origin'), null);
    const open = await f.hub({ corsOrigins: ['http://grafana.local'] });
    const ok = await fetch(`${open}/api/v1/health`, { headers: { origin: 'http://grafana.local' } });
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://grafana.local');
    const other = await fetch(`${open}/api/v1/health`, { headers: { origin: 'http://evil.example' } });
    assert.notEqual(other.headers.get('access-control-allow-origin'), 'http://evil.example');
  });

  test('with a token: no or a wrong token is refused, the right one passes, health stays open', async () => {
    const secured = await f.hub({ token: 's3cret' });
    const none = await getJson(`${secured}/api/v1/entries`);
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'unauthorized');
    const wrong = await getJson(`${secured}/api/v1/catalog`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    const metrics = await fetch(`${secured}/metrics`);
    assert.equal(metrics.status, 401);
    const right = await getJson(`${secured}/api/v1/entries?${q({ limit: 1, from: FROM, to: TO })}`, { headers: { authorization: 'Bearer s3cret' } });
    assert.equal(right.status, 200);
    assert.equal(right.body.entries.length, 1);
    assert.equal((await getJson(`${secured}/api/v1/health`)).status, 200);
  });

  test('DNS rebinding: without a token, only its own host names and same-origin requests are answered', async () => {
    const { port } = new URL(url);
    const path = `/api/v1/entries?${q({ limit: 1, from: FROM, to: TO })}`;
    // A page on rebind.evil.example whose name now resolves to 127.0.0.1.
    const evil = await rawGet(url, path, { host: 'rebind.evil.example' });
    assert.equal(evil.status, 403, evil.text);
    assert.equal(JSON.parse(evil.text).error.code, 'forbidden');
    assert.match(JSON.parse(evil.text).error.message, /Host "rebind\.evil\.example".*DNS rebinding.*--allow-host/);
    for (const host of [`rebind.evil.example:${port}`, `127.0.0.1:${Number(port) + 1}`, `localhost.:${port}`, `127.0.0.2:${port}`, '']) {
      assert.equal((await rawGet(url, path, { host })).status, 403, host);
    }
    // Its own names answer, with no Origin or a same-origin one; another origin is refused.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
      const ok = await rawGet(url, path, { host });
      assert.equal(ok.status, 200, `${host}: ${ok.text}`);
      assert.equal(JSON.parse(ok.text).entries.length, 1);
    }
    assert.equal((await rawGet(url, path, { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })).status, 200);
    const cross = await rawGet(url, path, { host: `127.0.0.1:${port}`, origin: 'http://rebind.evil.example' });
    assert.equal(cross.status, 403);
    assert.match(JSON.parse(cross.text).error.message, /cross-origin/);
    assert.equal((await rawGet(url, path, { host: `127.0.0.1:${port}`, origin: 'null' })).status, 403);
    // --allow-host and --cors-origin widen it; with a token nothing is checked but the token.
    const allowed = await f.hub({ allowHosts: ['tapline.local'], corsOrigins: ['http://grafana.local'] });
    const allowedPort = new URL(allowed).port;
    assert.equal((await rawGet(allowed, path, { host: `tapline.local:${allowedPort}` })).status, 200);
    assert.equal((await rawGet(allowed, path, { host: `127.0.0.1:${allowedPort}`, origin: 'http://grafana.local' })).status, 200);
    assert.equal((await rawGet(allowed, path, { host: `rebind.evil.example:${allowedPort}` })).status, 403);
    const secured = await f.hub({ token: 's3cret' });
    assert.equal((await rawGet(secured, path, { host: 'rebind.evil.example', authorization: 'Bearer s3cret', origin: 'http://x.example' })).status, 200);
    assert.equal((await rawGet(secured, path, { host: 'rebind.evil.example' })).status, 401);
  });

  test('listening beyond loopback without a token is refused at start', async () => {
    await assert.rejects(createHub({ store: f.temp.store, host: '0.0.0.0', port: 0 }), HubConfigError);
    await assert.rejects(createHub({ store: f.temp.store, host: '10.1.2.3', port: 0 }), /refusing to listen on 10\.1\.2\.3 without a token/);
  });
});

describe('a ClickHouse server as the store', () => {
  test('the same answers over HTTP; when it goes away, health is down and queries are store_unavailable', async () => {
    const endpoint = await startClickHouseHttp(f.temp.dataDir);
    const remote = openStore({ kind: 'server', url: endpoint.url, requestTimeoutMs: 3000 });
    const hub = await createHub({ store: remote, port: 0 });
    try {
      const remoteUrl = await hub.listen();
      const path = `/api/v1/entries?${q({ filter: 'http and status == 404', from: FROM, to: TO, limit: 20 })}`;
      const viaServer = await getJson(remoteUrl + path);
      assert.equal(viaServer.status, 200, JSON.stringify(viaServer.body));
      assert.deepEqual(viaServer.body, (await getJson(url + path)).body);
      assert.ok(endpoint.requests > 0);

      await endpoint.stop();
      const health = await getJson(`${remoteUrl}/api/v1/health`);
      assert.equal(health.status, 503);
      assert.equal(health.body.status, 'down');
      assert.equal(health.body.store.reachable, false);
      const entries = await getJson(remoteUrl + path);
      assert.equal(entries.status, 503);
      assert.equal(entries.body.error.code, 'store_unavailable');
    } finally {
      await hub.close();
      await remote.close();
      await endpoint.close();
    }
  });
});
