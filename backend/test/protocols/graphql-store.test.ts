/**
 * GraphQL entries through the house, secrets redacted by default: real traffic to the real server
 * (a login mutation with a password variable, answered with a token; a GET with a password
 * literal), imported with the default options, written to the embedded store by the real writer,
 * read back. No column of any stored row, and nothing the hub serves, holds a secret; the fields
 * filter in SQL; the stored entry has the sections it had when captured.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/entries/entry.js';
import { importCaptureFile } from '../../src/agent/import-file.js';
import { CollectingSink } from '../../src/agent/json-sink.js';
import { sectionsOf, sectionToJson } from '../../src/hub/summary.js';
import { graphqlDissector } from '../../src/protocols/graphql/dissector.js';
import { tempFile } from '../agent/run.js';
import { freePort, Tcpdump } from '../agent/traffic.js';
import { fixture, getJson, q, type Fixture } from '../hub/fixture.js';
import { readBack } from '../store/read-back.js';
import { GraphqlServer, SECRET_PASSWORD, SECRET_TOKEN } from './graphql-support.js';

let f: Fixture;
let base: string;
let captured: Entry[];
let server: GraphqlServer;
const LITERAL_SECRET = 'literal-pw-31337';

before(async () => {
  const port = await freePort();
  server = await GraphqlServer.start(port);
  const file = tempFile('graphql-store.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${port}`, file);
  try {
    const url = `http://127.0.0.1:${port}/graphql`;
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET_TOKEN}` }, body: JSON.stringify(body) }).then((r) => r.text());
    const login = 'mutation Login($u: String!, $p: String!) { login(username: $u, password: $p) { token user { name } } }';
    assert.ok((await post({ query: login, variables: { u: 'ada', p: SECRET_PASSWORD } })).includes(SECRET_TOKEN));
    assert.match(await post({ query: '{ users { id } broken }' }), /the resolver failed/);
    const res = await fetch(`${url}?${new URLSearchParams({ query: `mutation { login(username: "ada", password: "${LITERAL_SECRET}") { token } }` })}`);
    assert.equal(res.status, 405); // graphql-http: no mutations over GET
  } finally {
    await dump.stop();
  }
  const sink = new CollectingSink();
  assert.equal((await importCaptureFile(file, sink)).error, undefined);
  captured = sink.entries;
  assert.deepEqual(captured.map((e) => `${e.protocol} ${e.operation} ${e.target}`), ['graphql mutation Login', 'graphql query users,broken', 'graphql mutation login']);
  const startUs = Math.min(...captured.map((e) => e.startUs));
  f = await fixture(5, { startUs: startUs - 3_600e6 });
  await f.write(captured);
  base = await f.hub();
});

after(async () => {
  await f?.dispose();
  await server?.stop();
});

const range = () => {
  const t = Math.floor(Math.min(...captured.map((e) => e.startUs)) / 1000);
  return { from: t - 60_000, to: t + 60_000 };
};

test('no stored column of any row, and nothing the hub serves, holds a password, a token or a secret literal', async () => {
  const rows = await f.sql(`SELECT * FROM ${f.temp.store.database}.entries`);
  const stored = JSON.stringify(rows);
  assert.ok(stored.includes('Login'), 'the rows were read');
  const back = JSON.stringify(await readBack(f.temp.store, captured.map((e) => e.id)));
  const { body: list } = await getJson(`${base}/api/v1/entries?${q({ filter: 'graphql', ...range() })}`);
  assert.equal(list.entries.length, 3);
  const details = await Promise.all(captured.map((e) => getJson(`${base}/api/v1/entries/${e.id}`).then((r) => JSON.stringify(r.body))));
  for (const [where, textOf] of [['rows', stored], ['read back', back], ['list', JSON.stringify(list)], ['details', details.join('')]] as const) {
    for (const secret of [SECRET_PASSWORD, SECRET_TOKEN, LITERAL_SECRET]) assert.ok(!textOf.includes(secret), `${where} holds ${secret}`);
  }
  // What is not secret is kept.
  assert.ok(details[0].includes('ada'));
});

test('the GraphQL fields filter in the store', async () => {
  const targets = async (filter: string) => {
    const { status, body } = await getJson(`${base}/api/v1/entries?${q({ filter, ...range() })}`);
    assert.equal(status, 200, JSON.stringify(body));
    return (body.entries as Array<{ operation: string; target: string }>).map((e) => `${e.operation} ${e.target}`).sort();
  };
  assert.deepEqual(await targets('graphql.operation == "mutation"'), ['mutation Login', 'mutation login']);
  // graphql-http refuses a mutation over GET with an error (and 405).
  assert.deepEqual(await targets('graphql.errors > 0'), ['mutation login', 'query users,broken']);
  assert.deepEqual(await targets('graphql.name == "Login"'), ['mutation Login']);
  assert.deepEqual(await targets('graphql and outcome == "server error"'), ['query users,broken']);
  assert.deepEqual(await targets('graphql.http_method == "GET"'), ['mutation login']);
});

test('an entry read back from the store has the sections it had when captured', async () => {
  for (const e of captured) {
    const { status, body } = await getJson(`${base}/api/v1/entries/${e.id}`);
    assert.equal(status, 200);
    assert.deepEqual(body.sections, JSON.parse(JSON.stringify(sectionsOf(e).map(sectionToJson))), `${e.operation} ${e.target}`);
    assert.deepEqual(body.sections[0], JSON.parse(JSON.stringify(graphqlDissector.represent(e)[0])));
    assert.deepEqual(body.fields, e.fields);
  }
});
