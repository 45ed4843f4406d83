// Compiled filters run on the real ClickHouse engine (chDB): random well-typed filter ASTs never
// produce SQL errors, and hostile strings come back as the literals they are.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Store } from '../../src/store/index.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';
import { compileExpr, compileFilter } from '../../src/query/compile.js';
import type { CompareOp, Expr, FieldRef, Value } from '../../src/query/ast.js';
import { FIELDS, PROTOCOL_KEYWORDS, type FieldDef } from '../../src/query/fields.js';

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
      method: 'GET',
      path: `/p${i}`,
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

const hostile = [
  "'; DROP TABLE entries; --",
  '\\',
  "\\'",
  '"',
  '/* comment */',
  '-- comment',
  '{p0:String}',
  '}',
  ') OR 1=1 OR (',
  'ünïcödé ☃ 日本 🚀',
  '\u0000',
  '%s%d',
  "' OR ''='",
];
const text = fc.oneof(fc.constantFrom(...hostile), fc.string({ unit: 'grapheme', maxLength: 12 }));
const regex = fc.constantFrom('^/p', 'a.*b', '\\d+', '(GET|POST)', '[a-z]+$', '.');

const at = (column = 1) => ({ column });
const fieldArb = (types: FieldDef['type'][]) =>
  fc.constantFrom(...FIELDS.filter((f) => types.includes(f.type))).chain((def) =>
    (def.name.endsWith('[]') ? text.map((k) => k as string | undefined) : fc.constant(undefined)).map(
      (key): { def: FieldDef; ref: FieldRef } => ({ def, ref: { path: def.name, key, ...at() } }),
    ),
  );

function valueFor(type: FieldDef['type']): fc.Arbitrary<Value> {
  switch (type) {
    case 'string':
      return text.map((value) => ({ kind: 'string', value, ...at() }));
    case 'int':
      return fc.nat(70000).map((value) => ({ kind: 'number', value, text: String(value), ...at() }));
    case 'status':
      return fc.oneof(
        fc.nat(600).map((value): Value => ({ kind: 'number', value, text: String(value), ...at() })),
        fc.integer({ min: 1, max: 5 }).map((digit): Value => ({ kind: 'statusClass', digit, ...at() })),
      );
    case 'duration':
      return fc.nat(10 ** 9).map((us) => ({ kind: 'duration', us, text: `${us}us`, ...at() }));
    case 'size':
      return fc.nat(10 ** 9).map((bytes) => ({ kind: 'size', bytes, text: `${bytes}B`, ...at() }));
    case 'time':
      return fc.oneof(
        fc.integer({ min: -(10 ** 12), max: 10 ** 12 }).map((offsetUs): Value => ({ kind: 'now', offsetUs, ...at() })),
        fc
          .integer({ min: 0, max: 4102444800000 })
          .map((ms): Value => ({ kind: 'string', value: new Date(ms).toISOString(), ...at() })),
      );
    case 'bool':
      return fc.boolean().map((value) => ({ kind: 'bool', value, ...at() }));
    case 'ip':
      return fc.oneof(
        fc.ipV4().map((t): Value => ({ kind: 'ip', text: t, ...at() })),
        fc.ipV6().map((t): Value => ({ kind: 'string', value: t, ...at() })),
        fc.tuple(fc.ipV4(), fc.nat(32)).map(([ip, n]): Value => ({ kind: 'string', value: `${ip}/${n}`, ...at() })),
      );
  }
}

const ORDER: CompareOp[] = ['==', '!=', '<', '<=', '>', '>='];
const predicate: fc.Arbitrary<Expr> = fc.oneof(
  fieldArb(['string']).chain(({ ref }) =>
    fc.oneof(
      fc.tuple(fc.constantFrom<CompareOp>('==', '!='), text).map(([op, value]): Expr => ({ kind: 'compare', field: ref, op, opColumn: 1, value: { kind: 'string', value, ...at() } })),
      fc.tuple(fc.constantFrom<CompareOp>('=~', '!~'), regex).map(([op, value]): Expr => ({ kind: 'compare', field: ref, op, opColumn: 1, value: { kind: 'string', value, ...at() } })),
      fc.tuple(fc.constantFrom('contains' as const, 'startsWith' as const, 'endsWith' as const), text).map(([method, value]): Expr => ({ kind: 'method', field: ref, method, arg: { kind: 'string', value, ...at() } })),
      regex.map((value): Expr => ({ kind: 'method', field: ref, method: 'matches', arg: { kind: 'string', value, ...at() } })),
      fc.tuple(fc.array(valueFor('string'), { minLength: 1, maxLength: 4 }), fc.boolean()).map(([values, negated]): Expr => ({ kind: 'in', field: ref, values, negated })),
    ),
  ),
  fieldArb(['int', 'status', 'duration', 'size', 'time']).chain(({ def, ref }) =>
    fc.tuple(fc.constantFrom(...ORDER), valueFor(def.type)).map(([op, value]): Expr => ({ kind: 'compare', field: ref, op, opColumn: 1, value })),
  ),
  fieldArb(['ip']).chain(({ ref }) =>
    fc.oneof(
      fc.tuple(fc.constantFrom<CompareOp>('==', '!='), valueFor('ip')).map(([op, value]): Expr => ({ kind: 'compare', field: ref, op, opColumn: 1, value })),
      text.map((value): Expr => ({ kind: 'method', field: ref, method: 'startsWith', arg: { kind: 'string', value, ...at() } })),
    ),
  ),
  fieldArb(['bool']).chain(({ ref }) =>
    fc.oneof(
      fc.constant<Expr>({ kind: 'bare', field: ref, nextColumn: 1 }),
      fc.tuple(fc.constantFrom<CompareOp>('==', '!='), valueFor('bool')).map(([op, value]): Expr => ({ kind: 'compare', field: ref, op, opColumn: 1, value })),
    ),
  ),
  fc.constantFrom(...PROTOCOL_KEYWORDS).map((path): Expr => ({ kind: 'bare', field: { path, ...at() }, nextColumn: 1 })),
);

const { filter: exprArb } = fc.letrec<{ filter: Expr }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    predicate,
    fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), left: tie('filter'), right: tie('filter'), column: fc.constant(1) }),
    fc.record({ kind: fc.constant('not' as const), expr: tie('filter'), column: fc.constant(1) }),
  ),
}));

test('random well-typed filters compile and run without SQL errors', async () => {
  await fc.assert(
    fc.asyncProperty(exprArb, async (expr) => {
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
        values: [{ id, protocol: 'injection', path: s, start_time: TS, end_time: TS }],
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
    ['path =~ "^/p[12]$"', "path IN ('/p1', '/p2')"],
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
