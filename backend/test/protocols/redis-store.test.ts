/**
 * Redis entries through the house: imported from hand-built frames, written to the embedded store
 * by the real writer, read back by the hub. The filter fields select in SQL, the stored entry gives
 * the same sections as the one captured, and /api/v1/protocols lists Redis with its fields, its
 * outcomes and its secrets.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/entries/entry.js';
import { redisDissector } from '../../src/protocols/redis/dissector.js';
import { sectionsOf, sectionToJson } from '../../src/hub/summary.js';
import { Conversation } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';
import { fixture, getJson, q, type Fixture } from '../hub/fixture.js';

const t0 = (Date.now() - 60_000) * 1000;
const cmd = (...args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

let f: Fixture;
let base: string;
let captured: Entry[];

before(async () => {
  f = await fixture(5, { startUs: t0 - 3_600e6 });
  const c = new Conversation({ ip: '10.9.3.5', port: 40300 }, { ip: '10.9.3.6', port: 6379 }, t0).handshake();
  c.send(cmd('SELECT', '2'));
  c.reply('+OK\r\n');
  c.send(cmd('SET', 'session:1', 'x'));
  c.reply('+OK\r\n');
  c.send(cmd('LPUSH', 'session:1', 'y'));
  c.reply('-WRONGTYPE Operation against a key holding the wrong kind of value\r\n');
  c.send(cmd('GET', 'other'));
  c.reply('-MOVED 3999 10.9.3.7:6379\r\n');
  c.send(cmd('CLIENT', 'SETNAME', 'app'));
  c.reply('+OK\r\n');
  c.send(cmd('SUBSCRIBE', 'news'));
  c.reply('*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n');
  c.reply('*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n');
  c.close();
  captured = (await importFrames(c.frames)).entries;
  await f.write(captured);
  base = await f.hub();
});

after(() => f?.dispose());

async function rows(filter: string): Promise<string[]> {
  const { status, body } = await getJson(`${base}/api/v1/entries?${q({ filter, from: Math.floor(t0 / 1000) - 1000, to: Math.floor(t0 / 1000) + 60_000 })}`);
  assert.equal(status, 200, JSON.stringify(body));
  return (body.entries as Array<{ operation: string; target: string }>).map((e) => `${e.operation} ${e.target}`).sort();
}

test('the Redis fields filter in the store', async () => {
  assert.deepEqual(await rows('redis'), ['CLIENT SETNAME ', 'GET other', 'LPUSH session:1', 'MESSAGE news', 'SELECT ', 'SET session:1', 'SUBSCRIBE news']);
  assert.deepEqual(await rows('redis.command == "CLIENT SETNAME"'), ['CLIENT SETNAME ']);
  assert.deepEqual(await rows('redis.key.startsWith("session:")'), ['LPUSH session:1', 'SET session:1']);
  assert.deepEqual(await rows('redis.error == "WRONGTYPE"'), ['LPUSH session:1']);
  assert.deepEqual(await rows('redis and outcome == "client error"'), ['GET other', 'LPUSH session:1']);
  assert.deepEqual(await rows('redis.push'), ['MESSAGE news']);
  assert.deepEqual(await rows('redis and outcome == "one-way"'), ['MESSAGE news']);
  assert.deepEqual(await rows('redis.db == 2 and redis.args == 1'), ['GET other', 'SELECT ', 'SUBSCRIBE news']);
  assert.deepEqual(await rows('redis.channel == "news" and not redis.push'), ['SUBSCRIBE news']);
});

test('an entry read back from the store has the sections it had when captured', async () => {
  for (const e of captured) {
    const { status, body } = await getJson(`${base}/api/v1/entries/${e.id}`);
    assert.equal(status, 200);
    assert.deepEqual(body.sections, JSON.parse(JSON.stringify(sectionsOf(e).map(sectionToJson))), `${e.operation} ${e.target}`);
    assert.deepEqual(body.fields, e.fields);
  }
  const moved = captured.find((e) => e.target === 'other')!;
  const { body } = await getJson(`${base}/api/v1/entries/${moved.id}`);
  const titled = (t: string) => body.sections.filter((s: { title: string }) => s.title === t);
  assert.deepEqual(titled('Reply').map((s: { rows?: unknown; body?: { text: string } }) => s.rows ?? s.body?.text), [[['Type', 'error'], ['Error', 'MOVED 3999 10.9.3.7:6379']], '(error) MOVED 3999 10.9.3.7:6379']);
  assert.deepEqual(titled('Command').map((s: { rows?: unknown; body?: { text: string } }) => s.rows ?? s.body?.text), [[['Command', 'GET'], ['Key', 'other'], ['Arguments', '1'], ['Database', '2'], ['RESP', '2']], '"GET" "other"']);
});

test('/api/v1/protocols lists Redis over TCP with its fields and secrets', async () => {
  const { body } = await getJson(`${base}/api/v1/protocols`);
  const redis = body.protocols.find((p: { name: string }) => p.name === 'redis');
  assert.ok(redis, JSON.stringify(body.protocols));
  assert.deepEqual(redis.transports, ['tcp']);
  assert.ok(redis.secrets.some((s: string) => s.startsWith('AUTH')));
  assert.deepEqual((redis.fields as Array<{ name: string; type: string }>).map((x) => `${x.name} ${x.type}`), redisDissector.fields.map((x) => `${x.name} ${x.type}`));
});
