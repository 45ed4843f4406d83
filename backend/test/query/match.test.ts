// The in-memory matcher agrees with the SQL compiler: random filters select the same rows in
// JavaScript (over summaries read back from the store) as in the real engine (chDB).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { exprArbitrary } from './arbitraries.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';
import { compileExpr, compileFilter } from '../../src/query/compile.js';
import { compileMatcher } from '../../src/query/match.js';
import { parseFilter } from '../../src/query/parser.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { protocols } from '../../src/protocols/registry.js';
import { tlineDissector, tqueryDissector } from '../../../test/support/line-protocols.js';

// Two protocols of the tests' own: their fields join the field table the random filters draw from.
protocols.register(tlineDissector);
protocols.register(tqueryDissector);
import { EntryWriter, type EntryRow } from '../../src/store/index.js';
import { SUMMARY_SELECT, summaryFromRow, type EntrySummary } from '../../src/hub/summary.js';

let temp: TempStore;
let rows: EntrySummary[] = [];

/**
 * Entries with what synthetic traffic lacks: IPv6, unknown peers, odd text, no response, and the
 * test protocols' typed fields (text, numbers, booleans; present, missing, hostile), over UDP too.
 */
function oddEntries(base: Entry): Entry[] {
  const at = (i: number, patch: Partial<Entry>): Entry => ({ ...base, id: `${base.id.slice(0, 30)}${String(i).padStart(6, '0')}`, ...patch });
  return [
    at(1, { target: '/ünïcödé/☃/日本', operation: 'PÖST', src: { ...base.src, ip: 'fd00::1' }, dst: { ...base.dst, ip: '2001:db8::ab:1' } }),
    at(2, { target: 'line\nbreak', query: 'a=1&b=2', dst: { ...base.dst, ip: '' }, status: 0, unanswered: true, outcome: Outcome.none, durationUs: 0 }),
    at(3, { target: '', host: '', operation: '', incomplete: true, status: 599, outcome: Outcome.serverError, src: { ...base.src, ip: '::1', port: 0 } }),
    at(4, { target: "/quote'\"\\", status: 101, src: { ...base.src, ip: '10.0.0.255', pod: '', service: '' } }),
    at(5, { protocol: 'tline', operation: 'GET', target: 'user:1', status: 404, statusText: 'no such key', outcome: Outcome.clientError, fields: { 'tline.key': 'user:1', 'tline.args': 2, 'tline.code': 404 } }),
    at(6, { protocol: 'tline', operation: 'SET', target: "k'\"", status: 200, outcome: Outcome.ok, fields: { 'tline.key': "k'\"", 'tline.args': 0, 'tline.code': 200 } }),
    at(7, { protocol: 'tline', operation: 'DEL', target: 'gone', status: 0, unanswered: true, outcome: Outcome.none, fields: { 'tline.key': 'gone' } }),
    at(8, { protocol: 'tquery', transport: 'udp', operation: 'Q', target: 'a.example', status: 3, statusText: 'NONAME', outcome: Outcome.clientError, fields: { 'tquery.name': 'a.example', 'tquery.rcode': 3, 'tquery.cached': 1 } }),
    at(9, { protocol: 'tquery', transport: 'udp', operation: 'Q', target: 'ünï', status: 0, statusText: 'OK', outcome: Outcome.ok, fields: { 'tquery.name': 'ünï', 'tquery.rcode': 0, 'tquery.cached': 0 } }),
    at(10, { protocol: 'tquery', transport: 'udp', operation: 'Q', target: 'slow', status: 2, statusText: 'FAIL', outcome: Outcome.serverError, fields: { 'tquery.name': 'slow', 'tquery.rcode': 2 } }),
  ];
}

before(async () => {
  temp = await tempStore();
  const entries = [...syntheticEntries({ count: 400, seed: 7, spanUs: 20 * 60e6 })];
  entries.push(...oddEntries(entries[0]));
  const writer = await EntryWriter.create(temp.store);
  for (const e of entries) writer.push(e);
  await writer.close();
  const rs = await temp.store.client.query({
    query: `SELECT ${SUMMARY_SELECT} FROM ${temp.store.database}.entries`,
    format: 'JSONEachRow',
  });
  rows = ((await rs.json()) as EntryRow[]).map(summaryFromRow);
  assert.equal(rows.length, entries.length);
});

after(async () => {
  await temp?.dispose();
});

async function idsInStore(sql: string, params: Record<string, unknown>): Promise<string[]> {
  const rs = await temp.store.client.query({
    query: `SELECT id FROM ${temp.store.database}.entries WHERE ${sql} ORDER BY id`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return ((await rs.json()) as Array<{ id: string }>).map((r) => r.id);
}

function seen() {
  const strings = new Set<string>();
  const ips = new Set<string>();
  const numbers = new Set<number>();
  for (const r of rows) {
    const fieldText = Object.values(r.fields).filter((v): v is string => typeof v === 'string');
    for (const s of [r.operation, r.target, r.host, r.query, r.agent, r.protocolVersion, r.statusText, r.src.service, r.dst.service, r.dst.namespace, r.src.pod, r.dst.workload, ...fieldText]) {
      strings.add(s);
      if (s.length > 3) strings.add(s.slice(0, 3));
    }
    for (const ip of [r.src.ip, r.dst.ip]) if (ip) ips.add(ip);
    const fieldNumbers = Object.values(r.fields).filter((v): v is number => typeof v === 'number');
    for (const n of [r.status, r.dst.port, r.src.port, r.durationUs, r.requestSize, r.responseSize, ...fieldNumbers]) numbers.add(n);
  }
  return { strings: [...strings].slice(0, 200), ips: [...ips].slice(0, 50), numbers: [...numbers].slice(0, 200) };
}

test('random filters: the matcher selects exactly the rows the compiled SQL selects', async () => {
  let inMemory = 0;
  let nonEmpty = 0;
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(exprArbitrary(seen()), async (expr) => {
      runs++;
      const { sql, params } = compileExpr(expr);
      const match = compileMatcher(expr);
      if (!match) return;
      inMemory++;
      const expected = await idsInStore(sql, params);
      if (expected.length > 0 && expected.length < rows.length) nonEmpty++;
      const got = rows.filter(match).map((r) => r.id).sort();
      assert.deepEqual(got, expected, JSON.stringify(expr));
    }),
    { numRuns: 300 },
  );
  // Most filters are evaluable in memory, and many select some but not all rows.
  assert.ok(inMemory >= runs / 3, `only ${inMemory} of ${runs} filters had a matcher`);
  assert.ok(nonEmpty >= 30, `only ${nonEmpty} filters selected some but not all rows`);
});

test('written filters: the matcher agrees with the store', async () => {
  const filters = [
    'http and status >= 4xx',
    'status == 5xx or unanswered',
    'status > 4xx and status <= 5xx',
    'dst.ip == "2001:db8::ab:1"',
    'src.ip == 10.0.0.0/8 and not incomplete',
    'src.ip.startsWith("fd00")',
    'dst.ip.endsWith("::")',
    'path =~ "^line.break$"',
    'path.matches("日本$")',
    'method in ["GET", "PÖST"] and latency < 50ms',
    'request.size > 40 or response.size >= 0.2KB',
    'timestamp > now() - 1h and timestamp < now()',
    `path.contains("'\\"\\\\")`,
    'statusText == "NONAME" or response.statusText.startsWith("no such")',
    'tline and tline.code >= 400',
    'tline.key.contains("\'")',
    'tquery.cached or tquery.rcode == 2',
    'not tquery.cached and tquery',
    'transport == "udp" and outcome == "ok"',
    'outcome == "server error" or outcome == "no response"',
    'outcome != "ok" and http',
  ];
  for (const f of filters) {
    const expr = parseFilter(f);
    const match = compileMatcher(expr);
    assert.ok(match, `${f} should be evaluable in memory`);
    const { sql, params } = compileFilter(f);
    const expected = await idsInStore(sql, params);
    assert.ok(expected.length > 0, `${f} selects no row: the case proves nothing`);
    assert.deepEqual(rows.filter(match).map((r) => r.id).sort(), expected, f);
  }
});

test('filters on what summaries lack have no matcher', () => {
  for (const f of [
    'request.headers["user-agent"] == "curl"',
    'response.body.contains("error")',
    'end > now() - 5m',
    'response.truncated',
    'http and request.wireSize > 10',
  ]) {
    assert.equal(compileMatcher(parseFilter(f)), undefined, f);
  }
});

test('RE2-only syntax has a matcher too, and it agrees with the store', async () => {
  for (const f of [
    'path =~ "[[:digit:]]+"',
    'path =~ "\\\\A/"',
    'path =~ "(?-s)line.break"',
    'path =~ "(?s)line.break"',
    'method =~ "(?i)^p"',
    'path =~ "\\\\pL{2}$"',
    'path =~ "\\\\Q/quote\'\\\\E"',
    'path.matches("\\\\x2F\\\\p{Han}|日本\\\\z")',
    'path =~ "(?U)^/.+/"',
  ]) {
    const match = compileMatcher(parseFilter(f));
    assert.ok(match, `${f} should be evaluable in memory`);
    const { sql, params } = compileFilter(f);
    assert.deepEqual(rows.filter(match).map((r) => r.id).sort(), await idsInStore(sql, params), f);
  }
});

test('ReDoS: a catastrophic pattern against a long input finishes in bounded time, in memory and in the store', async () => {
  const filter = 'path =~ "^/(a+)+$"';
  const match = compileMatcher(parseFilter(filter));
  assert.ok(match);
  const evil = { ...rows[0], target: `/${'a'.repeat(29)}!` };
  const good = { ...rows[0], target: `/${'a'.repeat(29)}` };
  const started = performance.now();
  assert.equal(match(evil), false);
  assert.equal(match(good), true);
  // 29 a's and a '!' took JavaScript's backtracking RegExp 2.5–25.7 s (doubling with each extra
  // 'a'); the linear-time engine takes well under a millisecond. The bound is deliberately
  // generous: a timing assertion is acceptable only as a coarse guard on a pathological case.
  assert.ok(performance.now() - started < 1000, `took ${performance.now() - started} ms`);
  // Far longer inputs stay linear too.
  const long = performance.now();
  assert.equal(match({ ...rows[0], target: `/${'a'.repeat(100_000)}!` }), false);
  assert.ok(performance.now() - long < 1000, `took ${performance.now() - long} ms`);
  // The store (RE2) agrees.
  const { sql, params } = compileFilter(filter);
  const rs = await temp.store.client.query({
    query: `SELECT match({evil:String}, {re:String}) AS e, match({good:String}, {re:String}) AS g`,
    query_params: { evil: evil.target, good: good.target, re: params.p0 },
    format: 'JSONEachRow',
  });
  assert.deepEqual(await rs.json(), [{ e: 0, g: 1 }]);
  assert.match(sql, /^match\(target, \{p0:String\}\)$/);
});
