/**
 * WebSocket entries through the house: a hand-built upgrade and messages imported, written to the
 * embedded store by the real writer, read back by the hub. The fields filter in SQL (by their
 * names and their `ws.` aliases), the messages point to a handshake entry the hub serves, a
 * stored entry has the sections it had when captured, and the credentials a text message carried
 * (graphql-ws's connection_init authorization, a token) are in no stored column.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/entries/entry.js';
import { sectionsOf, sectionToJson } from '../../src/hub/summary.js';
import { Conversation } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';
import { fixture, getJson, q, type Fixture } from '../hub/fixture.js';
import { client, closePayload, frame, upgradeRequest, upgradeResponse } from './websocket-wire.js';

const t0 = (Date.now() - 60_000) * 1000;
let f: Fixture;
let base: string;
let captured: Entry[];
const SECRETS = ['Bearer ws-secret-auth-1', 'ws-secret-token-2'];

before(async () => {
  f = await fixture(5, { startUs: t0 - 3_600e6 });
  const c = new Conversation({ ip: '10.9.2.5', port: 41000 }, { ip: '10.9.2.80', port: 8080 }, t0).handshake();
  c.send(upgradeRequest('/feed'));
  c.reply(upgradeResponse());
  c.send(client(1, JSON.stringify({ type: 'connection_init', payload: { Authorization: SECRETS[0] } })));
  c.reply(frame(1, JSON.stringify({ type: 'connection_ack', session: { refreshToken: SECRETS[1], user: 'ada' } })));
  c.send(client(1, 'subscribe'));
  c.reply(frame(1, 'tick 1'));
  c.reply(frame(2, Buffer.from([1, 2, 3])));
  c.send(client(9, 'hb'));
  c.reply(frame(10, 'hb'));
  c.reply(frame(8, closePayload(1011, 'server broke')));
  c.send(client(8, closePayload(1011)));
  c.close();
  captured = (await importFrames(c.frames)).entries;
  assert.equal(captured.length, 8);
  await f.write(captured);
  base = await f.hub();
});

after(() => f?.dispose());

async function rows(filter: string): Promise<string[]> {
  const { status, body } = await getJson(`${base}/api/v1/entries?${q({ filter, from: Math.floor(t0 / 1000) - 1000, to: Math.floor(t0 / 1000) + 60_000 })}`);
  assert.equal(status, 200, JSON.stringify(body));
  return (body.entries as Array<{ operation: string; protocol: string }>).map((e) => `${e.protocol} ${e.operation}`).sort();
}

test('the WebSocket fields filter in the store, by name and by ws. alias', async () => {
  assert.deepEqual(await rows('websocket'), ['websocket binary', 'websocket close', 'websocket ping', ...Array(4).fill('websocket text')]);
  assert.deepEqual(await rows('ws.opcode == 1'), Array(4).fill('websocket text'));
  assert.deepEqual(await rows('websocket.opcode == 2'), ['websocket binary']);
  assert.deepEqual(await rows('ws.direction == "server" and ws.opcode < 8'), ['websocket binary', 'websocket text', 'websocket text']);
  assert.deepEqual(await rows('ws.close_code == 1011'), ['websocket close']);
  assert.deepEqual(await rows('websocket and outcome == "server error"'), ['websocket close']);
  assert.deepEqual(await rows('websocket and outcome == "one-way"'), ['websocket binary', ...Array(4).fill('websocket text')]);
});

test('messages point to the handshake entry, which the hub serves; sections survive the store', async () => {
  const [handshake, ...messages] = captured;
  for (const m of messages) assert.equal(m.fields['websocket.handshake'], handshake.id);
  const { status, body } = await getJson(`${base}/api/v1/entries/${handshake.id}`);
  assert.equal(status, 200);
  assert.deepEqual([body.protocol, body.status, body.target], ['http', 101, '/feed']);
  const hits = await rows(`ws.handshake == "${handshake.id}"`);
  assert.equal(hits.length, 7);
  for (const e of messages) {
    const r = await getJson(`${base}/api/v1/entries/${e.id}`);
    assert.deepEqual(r.body.sections, JSON.parse(JSON.stringify(sectionsOf(e).map(sectionToJson))), e.operation);
    assert.deepEqual(r.body.fields, e.fields);
  }
});

test('credentials in text messages are in no stored column and nothing the hub serves; the rest of the message is', async () => {
  const stored = JSON.stringify(await f.sql(`SELECT * FROM ${f.temp.store.database}.entries WHERE protocol = 'websocket'`));
  const served = JSON.stringify(await Promise.all(captured.map((e) => getJson(`${base}/api/v1/entries/${e.id}`).then((r) => r.body))));
  for (const secret of SECRETS) {
    assert.ok(!stored.includes(secret), `a stored row holds ${secret}`);
    assert.ok(!served.includes(secret), `the hub serves ${secret}`);
  }
  assert.ok(stored.includes('connection_init') && stored.includes('connection_ack') && stored.includes('ada'));
});
