/**
 * Redis secrets never reach the store: redis-server with a password, redis-cli logging in with
 * `-a` (AUTH), ioredis with a password (HELLO 3 AUTH), an inline AUTH, and the commands and replies
 * that carry passwords (CONFIG SET/GET requirepass, ACL SETUSER/GETUSER/LIST, MIGRATE … AUTH2),
 * captured on lo, imported with the default redaction, written to the embedded store by the real
 * writer and served by the hub. Every column of every row the store holds, and every answer of
 * the hub, is read back: the passwords (and their SHA-256 hashes) appear nowhere.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { importCaptureFile } from '../../src/agent/import-file.js';
import { CollectingSink } from '../../src/agent/json-sink.js';
import { REDACTED } from '../../src/entries/entry.js';
import { freePort, Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { tempFile } from '../agent/run.js';
import { fixture, getJson, q, type Fixture } from '../hub/fixture.js';
import { redisCli, RedisServer } from './redis-support.js';

const PASSWORD = 'Sup3r-s3cret-pw';
const ALICE = 'al1ce-Pa55word';
const BOB = 'b0b-Pa55word';
const secrets = [PASSWORD, ALICE, BOB, ...[PASSWORD, ALICE, BOB].map((p) => createHash('sha256').update(p).digest('hex'))];

let server: RedisServer;
let port: number;
let f: Fixture;

before(async () => {
  await tsharkAvailable();
  port = await freePort();
  server = await RedisServer.start(port, ['--requirepass', PASSWORD]);
  f = await fixture(1);
});

after(async () => {
  await f?.dispose();
  await server?.stop();
});

function inlineAuth(): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let got = '';
    sock.on('data', (d) => {
      got += d;
      if (got.includes('PONG')) sock.end();
    });
    sock.on('close', () => resolve(got));
    sock.on('error', reject);
    sock.write(`AUTH ${PASSWORD}\r\nPING\r\n`);
  });
}

test('passwords in AUTH, HELLO, CONFIG, ACL and MIGRATE: nowhere in the store or the hub\'s answers', async () => {
  const file = tempFile('redis-secrets.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${port}`, file);
  try {
    const cli = (...args: string[]) => redisCli(port, ['--no-auth-warning', '-a', PASSWORD, ...args]);
    await cli('SET', 'k', 'v');
    await cli('CONFIG', 'SET', 'requirepass', PASSWORD, 'masterauth', BOB);
    assert.match(await cli('CONFIG', 'GET', 'requirepass'), new RegExp(PASSWORD));
    await cli('ACL', 'SETUSER', 'alice', 'on', `>${ALICE}`, '~*', '+@all');
    assert.match(await cli('ACL', 'GETUSER', 'alice'), /passwords/);
    assert.match(await cli('ACL', 'LIST'), /user alice on/);
    assert.match(await cli('MIGRATE', '127.0.0.1', String(port), '', '0', '1000', 'AUTH2', 'alice', ALICE, 'KEYS', 'nokey'), /NOKEY/);
    assert.match(await redisCli(port, ['--no-auth-warning', '-a', PASSWORD], 'MULTI\nCONFIG GET masterauth\nEXEC\n'), new RegExp(BOB));
    assert.match(await inlineAuth(), /\+OK\r\n\+PONG/);
    const r = new Redis({ port, host: '127.0.0.1', username: 'alice', password: ALICE, lazyConnect: true });
    await r.connect();
    assert.equal(await r.get('k'), 'v');
    await r.quit();
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);

  // The capture does hold the passwords: what follows proves they were taken out, not never there.
  const raw = readFileSync(file).toString('latin1');
  for (const s of [PASSWORD, ALICE, BOB]) assert.ok(raw.includes(s), `the capture carries ${s}`);

  const sink = new CollectingSink();
  await importCaptureFile(file, sink);
  const entries = sink.entries;
  const body = (op: string, which: 'requestBody' | 'responseBody' = 'requestBody') =>
    entries.filter((e) => e.operation === op).map((e) => e[which].bytes.toString('latin1'));
  assert.equal(body('AUTH').length, 9, 'each redis-cli run (8) and the inline one AUTHenticate');
  assert.ok(body('AUTH').every((b) => b === `"AUTH" ${REDACTED}`), body('AUTH').join());
  assert.deepEqual(body('HELLO'), [`"hello" "3" "AUTH" "alice" ${REDACTED}`], 'ioredis: HELLO 3 AUTH, the username kept');
  assert.deepEqual(body('CONFIG SET'), [`"CONFIG" "SET" "requirepass" ${REDACTED} "masterauth" ${REDACTED}`]);
  assert.deepEqual(body('CONFIG GET', 'responseBody'), [`1) "requirepass"\n2) ${REDACTED}`, 'QUEUED'], 'and the one queued in MULTI');
  assert.deepEqual(body('ACL SETUSER'), [`"ACL" "SETUSER" "alice" "on" ${REDACTED} "~*" "+@all"`]);
  assert.match(body('ACL GETUSER', 'responseBody')[0], new RegExp(`"passwords"\\n ?\\d\\) ${REDACTED.replace(/[[\]]/g, '\\$&')}`));
  assert.deepEqual(body('MIGRATE'), [`"MIGRATE" "127.0.0.1" "${port}" "" "0" "1000" "AUTH2" "alice" ${REDACTED} "KEYS" "nokey"`]);
  assert.deepEqual(body('EXEC', 'responseBody'), [`1) ${REDACTED}`], 'a CONFIG GET queued in MULTI: its result in EXEC');
  const inline = entries.find((e) => e.operation === 'AUTH' && e.fields['redis.inline'] === 1);
  assert.ok(inline, 'the inline AUTH');

  await f.write(entries);
  // Every column of every row the store holds, as the engine returns it.
  const rows = await f.sql(`SELECT * FROM ${f.temp.store.database}.entries`);
  assert.ok(rows.length >= entries.length);
  const stored = JSON.stringify(rows);
  assert.ok(stored.includes('"ACL SETUSER"') && stored.includes('alice'), 'the rows are there');
  for (const s of secrets) assert.ok(!stored.includes(s), `the store holds ${s}`);

  const base = await f.hub();
  const range = { from: Math.floor(entries[0].startUs / 1000) - 60_000, to: Math.floor(entries[entries.length - 1].endUs / 1000) + 60_000 };
  const list = await getJson(`${base}/api/v1/entries?${q({ filter: 'redis', limit: 1000, ...range })}`);
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.equal(list.body.entries.length, entries.length);
  const served = [JSON.stringify(list.body)];
  for (const e of entries) {
    const one = await getJson(`${base}/api/v1/entries/${e.id}`);
    assert.equal(one.status, 200);
    served.push(JSON.stringify(one.body));
  }
  const all = served.join('\n');
  assert.ok(all.includes(REDACTED));
  for (const s of secrets) assert.ok(!all.includes(s), `the hub serves ${s}`);
});
