// Every bad input is a 4xx, never a 5xx or a hang (issue 17): random filters, hostile where they
// can be (numbers past 2^53 after their unit, times out of range, regexes RE2 refuses, deep
// nesting), and random values for every query parameter of the API. For filters, validate and
// query agree: `POST /api/v1/filter/validate` says valid exactly when `/api/v1/entries` answers 200.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fixture, getJson, type Fixture } from './fixture.js';
import { OPERATORS_BY_TYPE, allFields, protocolKeywords, type FieldType } from '../../src/query/fields.js';
import { encodeCursor } from '../../src/hub/cursor.js';

const MINUTE = 60_000;
const T0 = Math.floor((Date.now() - 2 * 3_600_000) / MINUTE) * MINUTE;
const FROM = T0;
const TO = T0 + 90 * MINUTE;
/** Longest any one answer may take: no parameter may make the hub wait (long-poll waits are ≤ 5 ms here). */
const ANSWER_WITHIN_MS = 5_000;

let f: Fixture;
let url: string;

before(async () => {
  f = await fixture(300, { startUs: T0 * 1000, spanUs: 3_600_000_000 });
  url = await f.hub();
});
after(async () => {
  await f?.dispose();
});

async function call(path: string, init?: RequestInit): Promise<{ status: number; body: { error?: { code: string; message: string }; valid?: boolean } }> {
  const started = Date.now();
  const res = await getJson(url + path, { ...init, signal: AbortSignal.timeout(ANSWER_WITHIN_MS) }).catch((err: unknown) => {
    throw new Error(`${path.slice(0, 200)}: no answer within ${ANSWER_WITHIN_MS} ms (${String(err)})`);
  });
  assert.ok(res.status < 500, `${path.slice(0, 300)} → ${res.status} ${JSON.stringify(res.body)} after ${Date.now() - started} ms`);
  if (res.status >= 400) assert.equal(typeof res.body?.error?.message, 'string', `${path.slice(0, 200)}: ${JSON.stringify(res.body)}`);
  return res;
}

const qs = (pairs: Array<[string, string]>) => new URLSearchParams(pairs).toString();

// ---- filters -------------------------------------------------------------------------------

const names = [...allFields().flatMap((d) => [d.name, ...d.aliases]).map((n) => n.replace('[]', '["user-agent"]')), ...protocolKeywords(), 'foo', '__proto__', 'constructor', 'toString'];
const hugeNumbers = ['99999999999999999999', '9007199254740991', '9007199254740992', '1.5', '0', '404', '65535', '-1'];
const values = [
  ...hugeNumbers,
  '250ms', '99999999999999999999s', '9007199254740991us', '9007199254741us', '1.5s', '1KB', '9999999999999GiB', '8388608GiB', '5xx', '4xx',
  '10.244.0.0/16', '10.0.0.300', 'true', 'false', '"x"', '""', '"GET"', '"nginx"', '"\\\\"', "'; DROP TABLE entries; --'",
  'now()', 'now() - 5m', 'now() - 999999999999d', 'now() - 36500d', 'now() + 36501d',
  '"9999-12-31T23:59:59Z"', '"0001-01-01"', '"1900-01-01"', '"1899-12-31T23:59:59Z"', '"2254-12-31T23:59:59Z"', '"2255-01-01"', '"2026-01-31T12:00:00Z"', '"yesterday"',
];
const regexes = [
  'a{1001}', 'a{1000}', '\\\\Z', '\\\\z', '\\\\k', '\\\\e', '\\\\cA', '\\\\C', '((a{100}){100}){100}', '((a{10}){10}){10}', '(a*)*', '^/(a+)+$', 'a**',
  '\\\\pL{1000}', '\\\\pL{29}', '(\\\\PL{10}){2}', '[^a]{1000}', '.{1000}', '(?i)get', '(?=x)', '\\\\1', '[[:alpha:]]+', '(?P<n>a)', '\\\\Qa.b\\\\E', 'x(', '^/p', '',
].map((r) => `"${r}"`);
const ops = ['==', '!=', '<', '<=', '>', '>=', '=~', '!~'];

/** Values of each type, hostile ones among them: predicates that type-check (or just fail to). */
const typed: Record<FieldType, string[]> = {
  string: ['"x"', '"GET"', '"/"', '""', "'; DROP TABLE entries; --'"],
  int: ['80', '0', '65535', '9007199254740991', '99999999999999999999'],
  status: ['404', '200', '0', '5xx', '4xx'],
  duration: ['250ms', '1.5s', '0us', '9007199254740991us', '99999999999999999999s', '104249991d'],
  size: ['1KB', '0', '512', '8388607GiB', '9999999999999GiB'],
  time: ['now()', 'now() - 5m', 'now() + 36500d', 'now() - 36501d', '"2026-01-31T12:00:00Z"', '"1900-01-01"', '"1899-12-31T23:59:59Z"', '"2254-12-31T23:59:59Z"', '"2255-01-01"', '"9999-12-31T23:59:59Z"', '"0001-01-01"'],
  bool: ['true', 'false'],
  ip: ['10.244.0.0/16', '"fd00::1"', '10.0.0.1', '"10.0.0.300"', '"::/0"'],
};
const fieldsByType = (types: FieldType[]) => allFields().filter((d) => types.includes(d.type)).map((d) => d.name.replace('[]', '["user-agent"]'));
const wellTyped = fc.oneof(
  ...(Object.keys(typed) as FieldType[]).map((t) =>
    fc.tuple(fc.constantFrom(...fieldsByType([t])), fc.constantFrom(...OPERATORS_BY_TYPE[t].filter((o) => o !== '=~' && o !== '!~')), fc.constantFrom(...typed[t])).map(([n, o, v]) => `${n} ${o} ${v}`),
  ),
  fc.tuple(fc.constantFrom(...fieldsByType(['string'])), fc.constantFrom('=~', '!~'), fc.constantFrom(...regexes)).map(([n, o, v]) => `${n} ${o} ${v}`),
  fc.tuple(fc.constantFrom(...fieldsByType(['string', 'ip'])), fc.constantFrom('contains', 'startsWith', 'endsWith'), fc.constantFrom(...typed.string)).map(([n, m, v]) => `${n}.${m}(${v})`),
  fc.constantFrom(...protocolKeywords(), ...fieldsByType(['bool'])),
);

const predicate = fc.oneof(
  { arbitrary: wellTyped, weight: 3 },
  fc.tuple(fc.constantFrom(...names), fc.constantFrom(...ops), fc.constantFrom(...values, ...regexes)).map(([n, o, v]) => `${n} ${o} ${v}`),
  fc.tuple(fc.constantFrom(...names), fc.constantFrom('=~', '!~'), fc.constantFrom(...regexes)).map(([n, o, v]) => `${n} ${o} ${v}`),
  fc.tuple(fc.constantFrom(...names), fc.constantFrom('contains', 'startsWith', 'matches'), fc.constantFrom(...regexes, ...values)).map(([n, m, v]) => `${n}.${m}(${v})`),
  fc.tuple(fc.constantFrom(...names), fc.boolean(), fc.array(fc.constantFrom(...values), { minLength: 1, maxLength: 3 })).map(([n, neg, vs]) => `${n} ${neg ? 'not in' : 'in'} [${vs.join(', ')}]`),
  fc.constantFrom(...names),
);
const filterText: fc.Arbitrary<string> = fc.letrec<{ f: string }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    predicate,
    fc.tuple(tie('f'), fc.constantFrom('and', 'or', '&&', '||'), tie('f')).map(([a, c, b]) => `${a} ${c} ${b}`),
    tie('f').map((a) => `not (${a})`),
    fc.tuple(fc.constantFrom(1, 99, 100, 101, 450, 1000), tie('f')).map(([n, a]) => `${'not '.repeat(n)}${a}`),
    fc.tuple(fc.constantFrom(1, 100, 101, 1000), tie('f')).map(([n, a]) => `${'('.repeat(n)}${a}${')'.repeat(n)}`),
    fc.tuple(fc.constantFrom(300, 800), predicate).map(([n, a]) => Array(n).fill(a).join(' and ')),
  ),
})).f;
/** Well-typed predicates only, combined and nested within the limits: mostly valid filters. */
const validish: fc.Arbitrary<string> = fc.letrec<{ f: string }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    wellTyped,
    fc.tuple(tie('f'), fc.constantFrom('and', 'or', '&&', '||'), tie('f')).map(([a, c, b]) => `(${a}) ${c} ${b}`),
    fc.tuple(fc.constantFrom(1, 2, 100), tie('f')).map(([n, a]) => `${'not '.repeat(n)}(${a})`),
  ),
})).f;
/** Token soup: mostly syntax errors, at any column. */
const soup = fc
  .array(fc.constantFrom(...names, ...ops, ...values, ...regexes, 'and', 'or', 'not', 'in', '(', ')', '[', ']', ',', '.', '!', '=', '&', '#', '"', "'", '\\', 'now', '()'), { maxLength: 12 })
  .map((ts) => ts.join(' '));

test('random filters: no 5xx, and validate says valid exactly when the query answers 200', async () => {
  let valid = 0;
  let invalid = 0;
  await fc.assert(
    // Cut at 5000 characters: past the 4096 limit (too_large), within what an HTTP request line holds.
    fc.asyncProperty(fc.oneof({ arbitrary: filterText, weight: 2 }, { arbitrary: validish, weight: 2 }, { arbitrary: soup, weight: 1 }).map((t) => t.slice(0, 5000)), fc.constantFrom('stats', 'servicemap', 'catalog', 'stream'), async (filter, other) => {
      const v = await call('/api/v1/filter/validate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ filter }) });
      assert.equal(v.status, 200);
      const q = await call(`/api/v1/entries?${qs([['filter', filter], ['from', String(FROM)], ['to', String(TO)], ['limit', '5']])}`);
      assert.equal(q.status === 200, v.body.valid, `validate: ${JSON.stringify(v.body)}; entries: ${q.status} ${JSON.stringify(q.body).slice(0, 300)}; filter: ${filter.slice(0, 300)}`);
      if (v.body.valid) {
        valid++;
        // The other readers of a filter take what validate takes, too.
        const path = other === 'stream' ? `/api/v1/stream?${qs([['filter', filter], ['wait', '0']])}` : `/api/v1/${other}?${qs([['filter', filter], ['from', String(FROM)], ['to', String(TO)]])}`;
        const o = await call(path);
        assert.equal(o.status, 200, `${other}: ${JSON.stringify(o.body).slice(0, 300)}; filter: ${filter.slice(0, 300)}`);
      } else {
        invalid++;
        assert.ok(q.body.error && ['bad_filter', 'too_large'].includes(q.body.error.code), JSON.stringify(q.body));
      }
    }),
    { numRuns: 400 },
  );
  // Both sides of the property were exercised.
  assert.ok(valid >= 40 && invalid >= 40, `${valid} valid, ${invalid} invalid filters`);
});

// ---- every query parameter -------------------------------------------------------------------

const numbers = ['', ' ', '0', '-0', '1', '-1', '1.5', '1000', '10000', '10001', '30000', '30001', 'Infinity', '-Infinity', '+Infinity', 'NaN', '1e400', '-1e400', '1e3', '0x10', '0b1', '99999999999999999999', '9007199254740991', '9007199254740992', '-9007199254740993', '8993721599999', '8993722000000', 'abc', '[]', '{}', 'true', 'null', '\u0000'];
const cursors = () => [
  encodeCursor({ us: T0 * 1000, id: '~' }),
  encodeCursor({ us: 0, id: 'x' }),
  Buffer.from('99999999999999999:abc').toString('base64url'),
  Buffer.from('9007199254740992:abc').toString('base64url'),
  Buffer.from('-1:abc').toString('base64url'),
  Buffer.from('1e400:abc').toString('base64url'),
  'bm9wZQ', '', '~', '%%%', 'x'.repeat(201),
];
const filters = ['', 'http', 'status >= 5xx', 'latency > 99999999999999999999s', 'not '.repeat(1000) + 'http', 'path =~ "a{1001}"', 'x'.repeat(5000), '__proto__'];
const words = ['', '__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'x'.repeat(101)];
const fieldNames = [...names.slice(0, 20), ...words];

const WAITS = ['', ' ', '0', '1', '-1', '1.5', '0x1', '30001', 'Infinity', '-Infinity', '+Infinity', 'NaN', '1e400', '-1e400', '99999999999999999999', '9007199254740992', 'abc', '[]', 'null'];
type ParamSpace = Record<string, string[]>;
const endpoints: Array<{ path: () => fc.Arbitrary<string>; params: ParamSpace }> = [
  { path: () => fc.constant('/api/v1/entries'), params: { filter: filters, from: numbers, to: numbers, limit: numbers, cursor: cursors() } },
  // `wait` draws no legitimate long waits: every answer must come within ANSWER_WITHIN_MS.
  { path: () => fc.constant('/api/v1/stream'), params: { filter: filters, cursor: cursors(), wait: WAITS, limit: numbers } },
  { path: () => fc.constant('/api/v1/stats'), params: { filter: filters, from: numbers, to: numbers, interval: numbers, groupBy: ['statusClass', 'outcome', 'protocol', 'service', 'none', 'colour', '__proto__'], metric: ['requests', 'errors', 'latency', 'x'], q: ['0.5', '0.5,0.99', '2', 'Infinity', '1e-400', 'NaN', ',', 'x'.repeat(101)] } },
  { path: () => fc.constant('/api/v1/servicemap'), params: { filter: filters, from: numbers, to: numbers } },
  { path: () => fc.constant('/api/v1/catalog'), params: { filter: filters, from: numbers, to: numbers } },
  { path: () => fc.constantFrom(...['namespace', 'service', 'pod', 'protocol', 'operation', 'method', 'status', 'outcome', ...words.filter(Boolean)].map((n) => `/api/v1/labels/${encodeURIComponent(n)}`)), params: { from: numbers, to: numbers } },
  { path: () => fc.constant('/api/v1/filter/completions'), params: { prefix: ['', 'dst.', 'status == ', 'method == ', '"', 'not ', ...filters], field: fieldNames } },
  { path: () => fc.constantFrom(...['0190f5c2-0000-7000-8000-000000000000', '__proto__', 'x'.repeat(65), '%00', '..'].map((id) => `/api/v1/entries/${encodeURIComponent(id)}`)), params: {} },
  { path: () => fc.constantFrom('/api/v1/protocols', '/api/v1/health'), params: { x: numbers } },
];

/** Each parameter absent, once or twice (a repeated parameter arrives as an array). */
function queryArbitrary(space: ParamSpace): fc.Arbitrary<Array<[string, string]>> {
  const one = Object.entries(space).map(([name, vals]) =>
    // Random text too, except for `wait` (a random "9999" would be a legitimate 10 s wait).
    fc.array(name === 'wait' ? fc.constantFrom(...vals) : fc.oneof(fc.constantFrom(...vals), fc.string({ maxLength: 6 })), { maxLength: 2 }).map((vs) => vs.map((v): [string, string] => [name, v])),
  );
  return fc.tuple(...one).map((lists) => lists.flat());
}

test('random values for every query parameter of every endpoint: no 5xx, no hang', async () => {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...endpoints).chain((e) => fc.tuple(e.path(), queryArbitrary(e.params))),
      async ([path, pairs]) => {
        const res = await call(pairs.length ? `${path}?${qs(pairs)}` : path);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      },
    ),
    { numRuns: 600 },
  );
  assert.ok((statuses.get(200) ?? 0) >= 30 && (statuses.get(400) ?? 0) >= 100, JSON.stringify([...statuses]));
});

test('validate bodies of any shape are answered, never with a 5xx', async () => {
  const bodies = ['', 'null', '[]', '{}', '{"filter": 5}', '{"filter": null}', '{"filter": ["http"]}', '{"filter": "http"', '{"filter": "http", "x": 1}', '"http"', '{"filter": "\\u0000"}'];
  for (const body of bodies) {
    for (const type of ['application/json', 'text/plain']) {
      await call('/api/v1/filter/validate', { method: 'POST', headers: { 'content-type': type }, body });
    }
  }
});

test('the cases of issue 17, one by one', async () => {
  const cases: Array<[path: string, status: number, message: RegExp]> = [
    [`/api/v1/stream?wait=Infinity`, 400, /wait must be <= 30000/],
    [`/api/v1/stream?wait=1e400`, 400, /wait must be <= 30000/],
    [`/api/v1/stream?wait=-Infinity`, 400, /wait must be >= 0/],
    [`/api/v1/entries?to=Infinity`, 400, /to must be <=/],
    [`/api/v1/entries?from=99999999999999999999`, 400, /from must be <=/],
    [`/api/v1/stats?interval=Infinity`, 400, /interval must be <=/],
    [`/api/v1/entries?cursor=${Buffer.from('99999999999999999:abc').toString('base64url')}`, 400, /cursor/],
    [`/api/v1/entries?${qs([['filter', 'timestamp > "9999-12-31T23:59:59Z"']])}`, 400, /timestamp: times must be from 1900-01-01 to 2254-12-31 at column 13/],
    [`/api/v1/entries?${qs([['filter', 'not '.repeat(1000) + 'http']])}`, 400, /nests too deeply/],
  ];
  for (const [path, status, message] of cases) {
    const res = await call(path);
    assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
    assert.match(res.body.error!.message, message, path);
  }
  for (const field of ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty']) {
    const res = await call(`/api/v1/filter/completions?field=${field}`);
    assert.equal(res.status, 200, field);
  }
});
