/**
 * GraphQL with real peers: `graphql` behind `graphql-http` (and a tiny batching handler over the
 * same schema) on loopback, curl and Node's fetch as clients: queries, mutations with variables, a
 * validation error and a resolver error (both HTTP 200), GET with `query=`, a persisted query's
 * hash, a batch, a body that is not JSON, and a JSON POST that is not GraphQL. Captured by
 * tcpdump; the HTTP side must be tshark's transactions, the bodies tshark's `json` reading of them
 * (batch sizes, error counts and messages), and the GraphQL side what the test sent.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { importCaptureFile } from '../../src/agent/import-file.js';
import { CollectingSink } from '../../src/agent/json-sink.js';
import { tempFile } from '../agent/run.js';
import { freePort, Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { GraphqlServer, SECRET_PASSWORD, tsharkGraphql } from './graphql-support.js';

const run = promisify(execFile);
const HASH = 'ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38';

let server: GraphqlServer;
let port: number;
let file: string;
let entries: Entry[];
let graphqlParseErrors: number;

async function curl(...args: string[]): Promise<string> {
  return (await run('curl', ['-s', '--max-time', '10', ...args])).stdout;
}
const postJson = (path: string, body: string) => curl('-H', 'content-type: application/json', '-d', body, `http://127.0.0.1:${port}${path}`);

async function fetchJson(path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return res.json();
}

before(async () => {
  await tsharkAvailable();
  port = await freePort();
  server = await GraphqlServer.start(port);
  file = tempFile('graphql.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${port}`, file);
  try {
    assert.match(await postJson('/graphql', '{"query":"query ListUsers { users { id name } }"}'), /"grace"/);
    assert.match(await postJson('/graphql', '{"query":"{ nope }"}'), /Cannot query field/);
    assert.match(await postJson('/graphql', '{"query":"{ broken users { id } }"}'), /the resolver failed/);
    assert.match(await curl('-G', '--data-urlencode', 'query={ user(id: "1") { name } }', `http://127.0.0.1:${port}/graphql`), /"ada"/);
    const persisted = JSON.stringify({ persistedQuery: { version: 1, sha256Hash: HASH } });
    assert.match(await curl('-G', '--data-urlencode', `extensions=${persisted}`, `http://127.0.0.1:${port}/graphql`), /Missing query/);
    assert.match(await postJson('/graphql', 'this is not json'), /Unparsable JSON body/);
    const batch = [{ query: '{ users { id } }' }, { query: 'mutation R { rename(id: "2", name: "grace h") { name } }' }];
    assert.match(await postJson('/batch', JSON.stringify(batch)), /grace h/);
    const login = 'mutation Login($username: String!, $password: String!) { login(username: $username, password: $password) { token } }';
    assert.ok(JSON.stringify(await fetchJson('/graphql', { query: login, operationName: 'Login', variables: { username: 'ada', password: SECRET_PASSWORD } })).includes('token'));
    assert.match(JSON.stringify(await fetchJson('/graphql', { query: login, variables: { username: 'ada', password: 'wrong' } })), /wrong password/);
    assert.equal(await postJson('/other', '{"query":"shoes","page":2}'), '');
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  const sink = new CollectingSink();
  const { error, counters } = await importCaptureFile(file, sink, { redaction: { enabled: false, headers: [], queryParams: [] } });
  assert.equal(error, undefined);
  entries = [...sink.entries].sort((a, b) => a.startUs - b.startUs);
  graphqlParseErrors = counters.protocols.graphql.parseErrors;
});

after(() => server?.stop());

test('each exchange is what the test sent: operation, name, root fields, HTTP status, errors and outcome', () => {
  const f = (e: Entry, n: string) => e.fields[`graphql.${n}`];
  assert.deepEqual(
    entries.map((e) => [e.protocol, e.operation, e.target, e.status, f(e, 'fields'), f(e, 'errors'), f(e, 'error_kind'), e.outcome]),
    [
      ['graphql', 'query', 'ListUsers', 200, 'users', 0, undefined, Outcome.ok],
      ['graphql', 'query', 'nope', 200, 'nope', 1, 'request', Outcome.clientError],
      ['graphql', 'query', 'broken,users', 200, 'broken,users', 1, 'field', Outcome.serverError],
      ['graphql', 'query', 'user', 200, 'user', 0, undefined, Outcome.ok],
      ['graphql', 'persisted', '', 400, '', 1, 'request', Outcome.clientError],
      ['http', 'POST', '/graphql', 400, undefined, undefined, undefined, Outcome.clientError],
      ['graphql', 'query,mutation', 'R', 200, 'users,rename', 0, undefined, Outcome.ok],
      ['graphql', 'mutation', 'Login', 200, 'login', 0, undefined, Outcome.ok],
      ['graphql', 'mutation', 'Login', 200, 'login', 1, 'field', Outcome.serverError],
      ['http', 'POST', '/other', 404, undefined, undefined, undefined, Outcome.clientError],
    ],
  );
  const gql = entries.filter((e) => e.protocol === 'graphql');
  assert.deepEqual(gql.map((e) => `${f(e, 'http_method')} ${f(e, 'http_path')}`), [
    'POST /graphql', 'POST /graphql', 'POST /graphql', 'GET /graphql', 'GET /graphql', 'POST /batch', 'POST /graphql', 'POST /graphql',
  ]);
  assert.deepEqual(gql.map((e) => f(e, 'batch')), [0, 0, 0, 0, 0, 2, 0, 0]);
  assert.equal(f(gql[4], 'persisted_hash'), HASH);
  assert.deepEqual([gql[1].statusText, gql[2].statusText, gql[7].statusText], ['Cannot query field "nope" on type "Query".', 'the resolver failed', 'wrong password']);
  // The body that is not JSON, sent to /graphql, is GraphQL's parse error; the JSON to /other is just HTTP.
  assert.equal(graphqlParseErrors, 1);
});

test('the HTTP side is tshark\'s transactions, the bodies its json reading: batch sizes, error counts, first messages', async () => {
  const theirs = await tsharkGraphql(file, port);
  assert.equal(theirs.length, entries.length);
  const clientPorts = [...new Set(entries.map((e) => e.src.port))];
  const problems: string[] = [];
  for (const cp of clientPorts) {
    const ours = entries.filter((e) => e.src.port === cp);
    const them = theirs.filter((t) => t.clientPort === cp);
    assert.equal(ours.length, them.length, `client port ${cp}`);
    ours.forEach((e, i) => {
      const t = them[i];
      const method = e.protocol === 'graphql' ? e.fields['graphql.http_method'] : e.operation;
      const path = e.protocol === 'graphql' ? e.fields['graphql.http_path'] : e.target;
      const uri = e.query === '' ? path : `${path}?${e.query}`;
      if (`${method} ${uri} ${e.status}` !== `${t.method} ${t.uri} ${t.status}`) problems.push(`${method} ${uri} ${e.status} vs tshark ${t.method} ${t.uri} ${t.status}`);
      if (e.protocol !== 'graphql') return;
      const batch = t.request.filter((p) => p.startsWith('/[]/query:')).length;
      if (e.fields['graphql.batch'] !== batch) problems.push(`${uri}: batch ${e.fields['graphql.batch']} vs tshark ${batch}`);
      const messages = t.response.filter((p) => /^(\/\[\])?\/errors\/\[\]\/message:/.test(p)).map((p) => p.slice(p.indexOf(':') + 1));
      if (e.fields['graphql.errors'] !== messages.length) problems.push(`${uri}: ${e.fields['graphql.errors']} errors vs tshark ${messages.length}`);
      if (messages.length > 0 && e.fields['graphql.error'] !== messages[0]) problems.push(`${uri}: first error ${e.fields['graphql.error']} vs tshark ${messages[0]}`);
    });
  }
  assert.deepEqual(problems, []);
  // tshark read the queries the entries name.
  const queries = theirs.flatMap((t) => t.request.filter((p) => /^(\/\[\])?\/query:/.test(p)));
  assert.ok(queries.includes('/query:query ListUsers { users { id name } }'), queries.join('\n'));
});
