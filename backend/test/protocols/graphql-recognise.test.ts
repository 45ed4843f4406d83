/**
 * GraphQL recognition and redaction on hand-built HTTP conversations through the whole pipeline,
 * and the recogniser alone on random and mutated bodies: what is GraphQL and what is only JSON,
 * the nesting and token bounds, secrets in variables, literal arguments, GET parameters and
 * results, bodies cut at the limit. Expected values are what the test wrote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HeaderList, type Entry } from '../../src/entries/entry.js';
import { defaultDissectorLimits, newProtocolCounters, type Exchange } from '../../src/protocols/dissector.js';
import { MAX_DEPTH, MAX_TOKENS, nestingDepth, recogniseGraphql } from '../../src/protocols/graphql/recognise.js';
import { defaultRedactedHeaders } from '../../src/agent/redact.js';
import { defaultRedactedQueryParams } from '../../src/protocols/http/redact.js';
import { isSecretName, redactGraphql, SECRET_STEMS } from '../../src/protocols/graphql/redact.js';
import { Conversation } from '../capture/frames.js';
import { importFrames, text } from '../agent/run.js';

const server = { ip: '10.1.2.20', port: 4000 };
let nextPort = 53000;

function post(path: string, body: string, response: string, contentType = 'application/json'): Conversation {
  const c = new Conversation({ ip: '10.1.2.10', port: nextPort++ }, server).handshake();
  c.send(`POST ${path} HTTP/1.1\r\nHost: api\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  c.reply(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(response)}\r\n\r\n${response}`);
  c.close();
  return c;
}

function get(target: string, response: string): Conversation {
  const c = new Conversation({ ip: '10.1.2.10', port: nextPort++ }, server).handshake();
  c.send(`GET ${target} HTTP/1.1\r\nHost: api\r\n\r\n`);
  c.reply(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(response)}\r\n\r\n${response}`);
  c.close();
  return c;
}

const ok = '{"data":{"a":1}}';

test('GraphQL is told from other JSON by its document, wherever it is posted; a hinted path needs no parse', async () => {
  const convs = [
    post('/api', '{"query":"query Q { a }"}', ok), // not a GraphQL path: the document decides
    post('/search', '{"query":"red shoes","page":1}', '{"hits":[]}'), // "query" that is no document
    post('/graphql', '{"query":"{ a b { c } ...F } fragment F on Q { d }"}', ok),
    post('/graphql', '{"query":"this is { not graphql"}', '{"errors":[{"message":"Syntax Error"}]}'), // hinted: still GraphQL
    post('/graphql', 'mutation { m }', ok, 'application/graphql'),
    get('/q?query=%7Ba%7D&operationName=', ok),
    get('/items?page=2', '[]'),
  ];
  const { entries } = await importFrames(convs.flatMap((c) => c.frames));
  assert.deepEqual(entries.map((e) => [e.protocol, e.operation, e.target]), [
    ['graphql', 'query', 'Q'],
    ['http', 'POST', '/search'],
    ['graphql', 'query', 'a,b,...F'],
    ['graphql', 'graphql', ''],
    ['graphql', 'mutation', 'm'],
    ['graphql', 'query', 'a'],
    ['http', 'GET', '/items'],
  ]);
  assert.equal(entries[3].fields['graphql.errors'], 1);
  assert.equal(entries[3].statusText, 'Syntax Error');
  // HTTP's sections are still there, method and path in their places.
  const d = (await import('../../src/protocols/graphql/dissector.js')).graphqlDissector;
  const request = d.represent(entries[0]).find((s) => s.title === 'Request');
  assert.deepEqual(request?.kind === 'table' ? request.rows.slice(0, 2) : [], [['Method', 'POST'], ['Path', '/api']]);
});

test('the named operation of a document with several; a batch of two; a persisted query without its document', async () => {
  const doc = 'query A { a } mutation B { b }';
  const convs = [
    post('/graphql', JSON.stringify({ query: doc, operationName: 'B' }), ok),
    post('/graphql', JSON.stringify([{ query: doc, operationName: 'A' }, { query: '{ c }' }]), `[${ok},{"errors":[{"message":"x","extensions":{"code":"BAD_USER_INPUT"}}]}]`),
    post('/graphql', JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'abc123' } }, variables: {} }), '{"errors":[{"message":"PersistedQueryNotFound","extensions":{"code":"PERSISTED_QUERY_NOT_FOUND"}}]}'),
  ];
  const { entries } = await importFrames(convs.flatMap((c) => c.frames));
  const f = (e: Entry) => [e.operation, e.target, e.fields['graphql.batch'], e.fields['graphql.errors'], e.fields['graphql.error_code'] ?? '', e.outcome];
  assert.deepEqual(entries.map(f), [
    ['mutation', 'B', 0, 0, '', 1],
    ['query', 'A', 2, 1, 'BAD_USER_INPUT', 2],
    ['persisted', '', 0, 1, 'PERSISTED_QUERY_NOT_FOUND', 2],
  ]);
  assert.equal(entries[1].fields['graphql.fields'], 'a,c');
  assert.equal(entries[2].fields['graphql.persisted_hash'], 'abc123');
});

test('deep nesting and too many tokens are not parsed (bounded), and the body that is not JSON is counted', async () => {
  assert.equal(nestingDepth('{ a(s: "{{{{") { b } } # {{{{'), 2);
  const deep = `{ ${'a { '.repeat(MAX_DEPTH + 10)}b${' }'.repeat(MAX_DEPTH + 10)} }`;
  const many = `{ ${'a '.repeat(MAX_TOKENS + 10)}}`;
  const convs = [post('/api', JSON.stringify({ query: deep }), ok), post('/api', JSON.stringify({ query: many }), ok), post('/graphql', '{"query": "{ a }', ok)];
  const { entries, result } = await importFrames(convs.flatMap((c) => c.frames));
  assert.deepEqual(entries.map((e) => e.protocol), ['http', 'http', 'http']);
  assert.equal(result.counters.protocols.graphql.parseErrors, 1);
});

test('secrets: variables, literal arguments, GET parameters and result members named like credentials are redacted', async () => {
  const convs = [
    post(
      '/graphql',
      JSON.stringify({
        query: 'mutation Login($u: String!, $p: String!) { login(user: $u, password: $p) { token } other: reset(newPassword: "lit-secret-1", note: "keep me") }',
        variables: { u: 'ada', p: 'var-secret-2', input: { apiKey: 'var-secret-3', nested: [{ client_secret: 'var-secret-4' }] } },
      }),
      '{"data":{"login":{"token":"res-secret-5","user":"ada"}}}',
    ),
    get(`/graphql?query=${encodeURIComponent('query($s: String) { me(accessToken: "get-secret-6", pin: $s) { id } users(secret: $s, password: $q) { id } }')}&variables=${encodeURIComponent('{"q":"get-secret-7","s":"keep me too"}')}&token=get-secret-8`, ok),
  ];
  // The body limit cuts the third's JSON: masked by pattern.
  const long = JSON.stringify({ query: '{ a }', variables: { password: 'cut-secret-9', pad: 'x'.repeat(1000) } });
  convs.push(post('/graphql', long, ok));
  const limits = { ...defaultDissectorLimits, maxBodyBytes: 500 };
  const { entries } = await importFrames(convs.flatMap((c) => c.frames), { dissectors: limits });
  assert.deepEqual(entries.map((e) => e.protocol), ['graphql', 'graphql', 'graphql']);
  const all = JSON.stringify(entries.map((e) => ({ ...e, requestBody: text(e.requestBody), responseBody: text(e.responseBody) })));
  for (let i = 1; i <= 9; i++) assert.ok(!all.includes(`secret-${i}`), `secret-${i} is still there: ${all}`);
  assert.ok(all.includes('keep me') && all.includes('ada') && all.includes('keep%20me%20too'.replace(/%20/g, '+')), 'only the secrets went');
  assert.equal(JSON.parse(text(entries[0].requestBody)).variables.u, 'ada');
});

test('every default credential name, in any case and in camelCase, is a secret name and passes the stems look', () => {
  const camel = (n: string) => n.replace(/[-_](.)/g, (_, c: string) => c.toUpperCase());
  for (const n of [...defaultRedactedQueryParams, ...defaultRedactedHeaders]) {
    for (const variant of [n, n.toUpperCase(), camel(n), `new${camel(n)}`]) {
      assert.ok(isSecretName(variant, new Set()), variant);
      assert.ok(SECRET_STEMS.test(variant), variant);
    }
  }
  for (const n of ['user', 'id', 'name', 'symbol', 'price', 'query']) assert.equal(isSecretName(n, new Set()), false, n);
  assert.equal(isSecretName('pin', new Set(['pin'])), true);
});

/** A POST exchange of `body` (and a response) as HTTP would emit it. */
function exchange(body: Buffer, response: Buffer, target = '/graphql'): Exchange {
  return {
    clientDir: 0, protocolVersion: '1.1', startUs: 0, endUs: 1, durationUs: 1, operation: 'POST', target, query: '', host: 'h', status: 200, statusText: 'OK',
    requestHeaders: HeaderList.of([['content-type', 'application/json']]), responseHeaders: HeaderList.of([]),
    requestBody: { bytes: body, wireSize: body.length, size: body.length, truncated: false, encoding: '' },
    responseBody: { bytes: response, wireSize: response.length, size: response.length, truncated: false, encoding: '' },
    fields: {}, unanswered: false, incomplete: false,
  };
}

test('property: random and mutated bodies never make recognition or redaction throw; a recognised exchange keeps its HTTP side', () => {
  const seeds = [
    '{"query":"query Q($id: ID!) { user(id: $id) { name posts(first: 2) { title } } }","variables":{"id":"1","password":"p"}}',
    '[{"query":"{ a }"},{"query":"mutation { b(token: \\"t\\") }","extensions":{"persistedQuery":{"sha256Hash":"h"}}}]',
  ].map((s) => Buffer.from(s));
  const responses = ['{"data":null,"errors":[{"message":"m","extensions":{"code":"X"}}]}', '[{"errors":[]},{"data":{}}]'].map((s) => Buffer.from(s));
  // Bytes set anywhere (inside strings the JSON mostly survives), sometimes cut short.
  const cut = fc.option(fc.nat(), { freq: 4 });
  const mutated = fc.tuple(fc.nat({ max: seeds.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), cut).map(([i, sets, at]) => {
    const b = Buffer.from(seeds[i]);
    for (const [p, v] of sets) b[p % b.length] = v;
    return at === null ? b : b.subarray(0, at % (b.length + 1));
  });
  const body = fc.oneof({ weight: 3, arbitrary: mutated }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) }, { weight: 1, arbitrary: fc.json().map((s) => Buffer.from(s)) });
  const response = fc.oneof(fc.constantFrom(...responses), fc.json().map((s) => Buffer.from(s)), fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)));
  let recognised = 0;
  fc.assert(
    fc.property(body, response, fc.boolean(), (b, r, hinted) => {
      const counters = newProtocolCounters();
      const x = exchange(b, r, hinted ? '/graphql' : '/api');
      const g = recogniseGraphql(x, defaultDissectorLimits, counters);
      if (g === null) return;
      recognised++;
      assert.equal(g.fields['graphql.http_method'], 'POST');
      assert.equal(g.fields['graphql.http_path'], x.target);
      assert.equal(g.requestBody, x.requestBody);
      const entry = { ...g, id: '', agent: '', protocol: 'graphql', transport: 'tcp', src: x.requestHeaders as never, dst: x.requestHeaders as never, outcome: 1 } as unknown as Entry;
      redactGraphql(entry, new Set());
    }),
    { numRuns: 1500, seed: 777 },
  );
  assert.ok(recognised > 50, `${recognised} recognised`);
});
