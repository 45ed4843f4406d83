// Compiled filters run on the real ClickHouse engine (chDB): random well-typed filter ASTs never
// produce SQL errors, and hostile strings come back as the literals they are.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { exprArbitrary, text } from './arbitraries.js';
import type { Store } from '../../src/store/index.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';
import { compileExpr, compileFilter } from '../../src/query/compile.js';
import { MAX_REGEX_SIZE, compileRe2 } from '../../src/query/regex.js';

let temp: TempStore;
// Two hours ago: recent enough for the table's TTL, old enough for `timestamp < now() - 1h`.
const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
const TS = twoHoursAgo.toISOString().replace('T', ' ').replace('Z', '');
const TS_ISO_MINUS_1M = new Date(twoHoursAgo.getTime() - 60_000).toISOString();
let store: Store;

before(async () => {
  temp = await tempStore();
  store = temp.store;
  // A few rows so every function really evaluates (an empty table may skip the WHERE).
  await store.client.insert({
    table: `${store.database}.entries`,
    format: 'JSONEachRow',
    values: [0, 1, 2].map((i) => ({
      id: `0190f5c2-0000-7000-8000-00000000000${i}`,
      protocol: 'http',
      start_time: TS,
      end_time: TS,
      duration_us: 1000 * i,
      src_ip: `10.244.1.${i}`,
      dst_ip: 'fd00::1',
      operation: 'GET',
      target: `/p${i}`,
      status: 200 + 100 * i,
      request_header_names: ['Host', 'User-Agent'],
      request_header_values: ['nginx', 'kube-probe/1.30'],
    })),
  });
});

after(async () => {
  await temp?.dispose();
});

async function count(sql: string, params: Record<string, unknown>): Promise<number> {
  const rs = await store.client.query({
    query: `SELECT count() AS n FROM ${store.database}.entries WHERE ${sql}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  const rows = (await rs.json()) as Array<{ n: string | number }>;
  return Number(rows[0].n);
}

test('random well-typed filters compile and run without SQL errors', async () => {
  await fc.assert(
    fc.asyncProperty(exprArbitrary(), async (expr) => {
      const { sql, params } = compileExpr(expr);
      const n = await count(sql, params);
      assert.ok(n >= 0 && n <= 3);
    }),
    { numRuns: 150 },
  );
});

test('hostile strings are literals: they match exactly the row that holds them, nothing else', async () => {
  await fc.assert(
    fc.asyncProperty(text, async (s) => {
      const id = `inj-${Math.random()}`;
      await store.client.insert({
        table: `${store.database}.entries`,
        format: 'JSONEachRow',
        values: [{ id, protocol: 'injection', target: s, start_time: TS, end_time: TS }],
      });
      // The filter text quotes the value the way a user (or the plugin) would: a JSON string.
      const { sql, params } = compileFilter(`path == ${JSON.stringify(s)} and id == ${JSON.stringify(id)}`);
      assert.equal(await count(sql, params), 1, `value ${JSON.stringify(s)}`);
      const contains = compileFilter(`protocol == "injection" and path.contains(${JSON.stringify(s)})`);
      assert.ok((await count(contains.sql, contains.params)) >= 1);
    }),
    { numRuns: 60 },
  );
  // Still three http rows: nothing was dropped or rewritten.
  const http = compileFilter('http');
  assert.equal(await count(http.sql, http.params), 3);
});

test('filters select the rows independent SQL selects', async () => {
  const cases: Array<[string, string]> = [
    ['status >= 4xx', 'status >= 400'],
    ['src.ip == "10.244.1.1"', "src_ip = toIPv6('10.244.1.1')"],
    ['src.ip == 10.244.1.0/30', "src_ip IN (toIPv6('10.244.1.0'), toIPv6('10.244.1.1'), toIPv6('10.244.1.2'), toIPv6('10.244.1.3'))"],
    ['dst.ip == "fd00::1" and http', "dst_ip = toIPv6('fd00::1') AND protocol = 'http'"],
    ['latency > 1.5ms', 'duration_us > 1500'],
    ['request.headers["user-agent"].startsWith("kube-probe") and http', "protocol = 'http'"],
    ['request.headers["USER-AGENT"] == "nope"', '0'],
    ['path =~ "^/p[12]$"', "target IN ('/p1', '/p2')"],
    [`timestamp < now() - 1h and timestamp >= "${TS_ISO_MINUS_1M}" and http`, "protocol = 'http'"],
    [`timestamp > now() - 1h`, '0'],
    ['status in [200, 400] and not unanswered', "status IN (200, 400) AND protocol = 'http'"],
  ];
  let nonEmpty = 0;
  for (const [filter, reference] of cases) {
    const { sql, params } = compileFilter(filter);
    const expected = await count(`protocol = 'http' AND (${reference})`, {});
    if (expected > 0) nonEmpty++;
    assert.equal(await count(`protocol = 'http' AND (${sql})`, params), expected, filter);
  }
  // The comparison means something only if most cases select some rows.
  assert.ok(nonEmpty >= cases.length - 3, `only ${nonEmpty} cases selected rows`);
});

test('every regex the hub accepts at its size limit, the store (RE2) compiles too', async () => {
  // The largest repeat of each class the hub's check lets through (regex.ts MAX_REGEX_SIZE), alone,
  // nested and in sequence: RE2 refuses programs past its memory budget ("pattern too large"), and
  // a pattern that validates must not fail in the store.
  const accepts = (p: string) => {
    try {
      compileRe2(p);
      return true;
    } catch {
      return false;
    }
  };
  const classes = ['\\pL', '\\PL', '[\\pL\\pN\\pP]', '\\p{Han}', '.', '[^a]', '(?i)\\pL', '\\w', '\\p{Lu}', '[^\\pL]', '(?i)[a-z\\p{Greek}\\p{Cyrillic}]'];
  for (const c of classes) {
    let lo = 1;
    let hi = 1000;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (accepts(`${c}{${mid}}`)) lo = mid;
      else hi = mid - 1;
    }
    assert.ok(!accepts(`${c}{${lo + 1}}`) || lo === 1000, `${c}: the limit of ${MAX_REGEX_SIZE} is not what stops it`);
    const half = Math.max(1, Math.floor(lo / 2));
    for (const p of [`${c}{${lo}}`, `(${c}{${half}}){2}`, `${c}{${half}}x${c}{${half}}`]) {
      const { sql, params } = compileFilter(`path =~ ${JSON.stringify(p)}`);
      assert.ok((await count(sql, params)) >= 0, p);
    }
  }
});
