/**
 * PostgreSQL entries through the house, and their secrets kept out of it: psql logging in with a
 * cleartext password and with SCRAM-SHA-256, the `pg` client binding parameters and setting a
 * password with ALTER ROLE, captured from a real postgres 15, imported with the default redaction,
 * written to the embedded store by the real writer and served by the hub. Every column of every
 * row the store holds and everything the hub serves is searched for the passwords and the SASL
 * messages: none is there (while an import without redaction has them: the test can fail). The
 * sql and postgres fields filter in the store; a stored entry has the sections it had captured.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { importCaptureFile } from '../../src/agent/import-file.js';
import { CollectingSink } from '../../src/agent/json-sink.js';
import { REDACTED, type Entry } from '../../src/entries/entry.js';
import { Op, postgresDissector } from '../../src/protocols/postgres/dissector.js';
import { sectionsOf, sectionToJson } from '../../src/hub/summary.js';
import { tempFile } from '../agent/run.js';
import { Tcpdump } from '../agent/traffic.js';
import { fixture, getJson, q, type Fixture } from '../hub/fixture.js';
import { CLEARTEXT_USER, PgServer, SCRAM_USER } from './postgres-support.js';

const CLEAR_PASSWORD = 'Clear-Pw-7f3a9q';
const SCRAM_PASSWORD = 'Scram-Pw-1c2d8w';
const NEW_PASSWORD = 'Rotated-Pw-55e1x';

let server: PgServer;
let f: Fixture;
let base: string;
let stored: Entry[];
/** The same capture imported without redaction: what would have leaked. */
let unredacted: Entry[];
let file: string;

async function load(redact: boolean, params: string[] = []): Promise<Entry[]> {
  const sink = new CollectingSink();
  const { error } = await importCaptureFile(file, sink, { redaction: { enabled: redact, headers: [], queryParams: params } });
  assert.equal(error, undefined);
  return sink.entries;
}

before(async () => {
  server = await PgServer.start({ cleartext: CLEAR_PASSWORD, scram: SCRAM_PASSWORD });
  f = await fixture(0);
  file = tempFile('pg-secrets.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${server.port}`, file);
  try {
    await server.psql('shop', ['-c', `CREATE TABLE notes (id int, body text); GRANT ALL ON notes TO ${CLEARTEXT_USER}`], { user: SCRAM_USER, password: SCRAM_PASSWORD });
    await server.psql('shop', ['-c', "INSERT INTO notes VALUES (1, 'a'), (2, 'b')"], { user: CLEARTEXT_USER, password: CLEAR_PASSWORD });
    await server.psql('shop', ['-c', 'SELECT * FROM missing'], { user: CLEARTEXT_USER, password: CLEAR_PASSWORD });
    await server.psql('shop', ['-c', 'SELECT 1'], { user: CLEARTEXT_USER, password: 'wrong-password', loginFails: true });
    const c = new pg.Client({ host: '127.0.0.1', port: server.port, user: SCRAM_USER, password: SCRAM_PASSWORD, database: 'shop' });
    await c.connect();
    try {
      await c.query('SELECT body FROM notes WHERE id = $1', [2]);
      await c.query(`ALTER ROLE ${SCRAM_USER} PASSWORD '${NEW_PASSWORD}'`);
    } finally {
      await c.end();
    }
  } finally {
    await dump.stop();
  }
  stored = await load(true);
  unredacted = await load(false);
  await f.write(stored);
  base = await f.hub();
});

after(async () => {
  await f?.dispose();
  await server?.stop();
});

/** What the SCRAM exchange sent: the client's SASL messages, from the import without redaction. */
function saslMessages(): string[] {
  return unredacted.flatMap((e) => e.requestHeaders.toPairs().filter(([n]) => n.startsWith('sasl') && n.endsWith('response')).map(([, v]) => v));
}

test('without redaction the capture carries the secrets (the checks below can fail)', () => {
  const startups = unredacted.filter((e) => e.operation === Op.startup);
  assert.ok(startups.some((e) => e.requestHeaders.get('password') === CLEAR_PASSWORD));
  assert.ok(startups.some((e) => e.requestHeaders.get('password') === 'wrong-password'));
  const sasl = saslMessages();
  assert.equal(sasl.length, 4, 'two SCRAM logins: a client-first and a client-final message each');
  assert.ok(sasl.some((m) => m.includes(',p=')), 'a client-final message with its proof');
  assert.ok(unredacted.some((e) => e.fields['sql.statement'] === `ALTER ROLE ${SCRAM_USER} PASSWORD '${NEW_PASSWORD}'`));
});

test('every column of every row the store holds, and what the hub serves, is free of passwords and SASL messages', async () => {
  const rs = await f.temp.store.client.query({ query: `SELECT * FROM ${f.temp.store.database}.entries WHERE protocol = 'postgres'`, format: 'TabSeparated' });
  const dump = await rs.text();
  assert.ok(dump.includes('SELECT body FROM notes WHERE id = $1'), 'the dump holds the entries');
  const secrets = [CLEAR_PASSWORD, SCRAM_PASSWORD, NEW_PASSWORD, 'wrong-password', ...saslMessages()];
  for (const s of secrets) assert.ok(!dump.includes(s), `the store holds ${s}`);
  const range = { from: Math.floor(stored[0].startUs / 1000) - 60_000, to: Date.now() + 60_000 };
  const { status, body } = await getJson(`${base}/api/v1/entries?${q({ filter: 'postgres', limit: 1000, ...range })}`);
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.entries.length, stored.length);
  let served = JSON.stringify(body);
  for (const e of stored) served += JSON.stringify((await getJson(`${base}/api/v1/entries/${e.id}`)).body);
  assert.ok(served.includes(REDACTED));
  for (const s of secrets) assert.ok(!served.includes(s), `the hub serves ${s}`);
  const logins = stored.filter((e) => e.operation === Op.startup);
  assert.deepEqual(logins.map((e) => [e.fields['sql.user'], e.statusText, e.requestHeaders.toPairs().filter(([n]) => n.includes('pass') || n.startsWith('sasl ')).map(([n, v]) => `${n}=${v}`)]), [
    [SCRAM_USER, 'OK', ['sasl mechanism=SCRAM-SHA-256', 'sasl initial response=[REDACTED]', 'sasl response=[REDACTED]']],
    [CLEARTEXT_USER, 'OK', ['password=[REDACTED]']],
    [CLEARTEXT_USER, 'OK', ['password=[REDACTED]']],
    [CLEARTEXT_USER, '28P01', ['password=[REDACTED]']],
    [SCRAM_USER, 'OK', ['sasl mechanism=SCRAM-SHA-256', 'sasl initial response=[REDACTED]', 'sasl response=[REDACTED]']],
  ]);
});

test('bind parameters are kept by default and redacted when the redaction names "bind"', async () => {
  const bound = (entries: Entry[]) => entries.find((e) => e.fields['sql.statement'] === 'SELECT body FROM notes WHERE id = $1')!.requestHeaders.toPairs();
  assert.deepEqual(bound(stored), [['$1', '2']]);
  assert.deepEqual(bound(await load(true, ['bind'])), [['$1', REDACTED]]);
});

async function statements(filter: string): Promise<string[]> {
  const range = { from: Math.floor(stored[0].startUs / 1000) - 60_000, to: Date.now() + 60_000 };
  const { status, body } = await getJson(`${base}/api/v1/entries?${q({ filter, limit: 1000, ...range })}`);
  assert.equal(status, 200, JSON.stringify(body));
  return (body.entries as Array<{ operation: string; target: string; statusText: string }>).map((e) => `${e.operation} ${e.target} ${e.statusText}`).sort();
}

test('the sql and postgres fields filter in the store', async () => {
  assert.deepEqual(await statements('sql.error == "42P01"'), ['SELECT missing 42P01']);
  assert.deepEqual(await statements('postgres and sql.rows == 2 and sql.shape == "INSERT INTO notes VALUES (?)"'), ['INSERT notes INSERT 0 2']);
  assert.deepEqual(await statements('sql.user == "plainuser" and outcome == "client error"'), ['SELECT missing 42P01', 'STARTUP shop 28P01']);
  assert.deepEqual(await statements('postgres.query_protocol == "extended"'), ['SELECT notes SELECT 1']);
  assert.deepEqual(await statements('sql.statement.contains("PASSWORD")'), [], 'a statement setting a password is not stored');
  assert.deepEqual(await statements('operation == "ALTER ROLE"'), ['ALTER ROLE  ALTER ROLE']);
});

test('an entry read back from the store has the sections it had when captured', async () => {
  for (const e of stored) {
    const { status, body } = await getJson(`${base}/api/v1/entries/${e.id}`);
    assert.equal(status, 200);
    assert.deepEqual(body.sections, JSON.parse(JSON.stringify(sectionsOf(e).map(sectionToJson))), `${e.operation} ${e.target}`);
    assert.deepEqual(body.fields, e.fields);
  }
});

test('/api/v1/protocols lists PostgreSQL with the sql family and its own fields', async () => {
  const { body } = await getJson(`${base}/api/v1/protocols`);
  const p = body.protocols.find((x: { name: string }) => x.name === 'postgres');
  assert.ok(p, JSON.stringify(body.protocols));
  assert.deepEqual(p.transports, ['tcp']);
  assert.deepEqual(p.secrets, postgresDissector.secrets);
  const fields = (p.fields as Array<{ name: string }>).map((x) => x.name);
  assert.deepEqual(fields, postgresDissector.fields.map((x) => x.name));
  assert.ok(fields.includes('sql.statement') && fields.includes('postgres.tag'));
});
