/**
 * Kafka entries through the house: imported from hand-built frames (a SASL PLAIN login over
 * SaslAuthenticate and over a raw token after SaslHandshake v0, a produce with a partition error,
 * a group heartbeat, an acks=0 produce), written to the embedded store by the real writer, read
 * back by the hub. The filter fields select in SQL, the stored entry gives the same sections as
 * the captured one, and the SASL password is nowhere: not in any column of any row, not in what
 * the hub serves.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/entries/entry.js';
import { sectionsOf, sectionToJson } from '../../src/hub/summary.js';
import { kafkaDissector } from '../../src/protocols/kafka/dissector.js';
import { Conversation } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';
import { fixture, getJson, q, type Fixture } from '../hub/fixture.js';
import { readBack } from '../store/read-back.js';
import { array, batch, bytes, i16, i32, i64, produceBody, produceResponseBody, records, request, response, str, tags } from './kafka-wire.js';

const PASSWORD = 'kafka-hunter2-Pa55';
const t0 = (Date.now() - 60_000) * 1000;
const server = { ip: '10.9.3.9', port: 9092 };

let f: Fixture;
let base: string;
let captured: Entry[];

before(async () => {
  f = await fixture(5, { startUs: t0 - 3_600e6 });
  const a = new Conversation({ ip: '10.9.3.5', port: 42100 }, server, t0).handshake();
  a.send(request(17, 1, 1, 'billing', str('PLAIN')));
  a.reply(response(1, Buffer.concat([i16(0), array([str('PLAIN')])])));
  a.send(request(36, 2, 2, 'billing', Buffer.concat([bytes(Buffer.from(`\0billing\0${PASSWORD}`), true), tags()]), true));
  a.reply(response(2, Buffer.concat([i16(0), str(null, true), bytes(Buffer.alloc(0), true), i64(0), tags()]), true));
  a.send(request(0, 7, 3, 'billing', produceBody(7, -1, [['invoices', 0, batch(1, records([{ key: 'inv-1', value: '{"total":12}' }]))]])));
  a.reply(response(3, produceResponseBody(7, 'invoices', [[0, 6]])));
  a.send(request(0, 7, 4, 'billing', produceBody(7, 0, [['audit', 0, batch(2, records([{ key: 'a', value: 'x' }, { key: 'b', value: 'y' }]))]])));
  a.send(request(12, 3, 5, 'billing', Buffer.concat([str('billing-group'), i32(3), str('member-7'), str(null)])));
  a.reply(response(5, Buffer.concat([i32(0), i16(27)])));
  a.close();
  const b = new Conversation({ ip: '10.9.3.6', port: 42101 }, server, t0 + 10_000).handshake();
  b.send(request(17, 0, 1, 'legacy', str('PLAIN')));
  b.reply(response(1, Buffer.concat([i16(0), array([str('PLAIN')])])));
  const token = Buffer.from(`\0legacy\0${PASSWORD}`);
  b.send(Buffer.concat([i32(token.length), token]));
  b.reply(i32(0));
  b.close();
  captured = (await importFrames([...a.frames, ...b.frames])).entries;
  assert.equal(captured.length, 7);
  await f.write(captured);
  base = await f.hub();
});

after(() => f?.dispose());

const range = () => ({ from: Math.floor(t0 / 1000) - 1000, to: Math.floor(t0 / 1000) + 60_000 });

async function listed(filter: string): Promise<string[]> {
  const { status, body } = await getJson(`${base}/api/v1/entries?${q({ filter, ...range() })}`);
  assert.equal(status, 200, JSON.stringify(body));
  return (body.entries as Array<{ operation: string; target: string }>).map((e) => `${e.operation} ${e.target}`).sort();
}

test('the Kafka fields filter in the store', async () => {
  assert.deepEqual(await listed('kafka'), [
    'Heartbeat v3 billing-group', 'Produce v7 audit', 'Produce v7 invoices', 'SASL token ', 'SaslAuthenticate v2 ', 'SaslHandshake v0 ', 'SaslHandshake v1 ',
  ]);
  assert.deepEqual(await listed('kafka.topic == "invoices"'), ['Produce v7 invoices']);
  assert.deepEqual(await listed('kafka.error == 6 and kafka.partition == 0'), ['Produce v7 invoices']);
  assert.deepEqual(await listed('kafka.api == "Produce" and kafka.acks == 0 and kafka.records == 2'), ['Produce v7 audit']);
  assert.deepEqual(await listed('kafka.group == "billing-group" and kafka.error_name == "REBALANCE_IN_PROGRESS"'), ['Heartbeat v3 billing-group']);
  assert.deepEqual(await listed('kafka and outcome == "server error"'), ['Produce v7 invoices']);
  assert.deepEqual(await listed('kafka and outcome == "one-way"'), ['Produce v7 audit', 'SASL token ']);
  assert.deepEqual(await listed('kafka.client_id == "legacy"'), ['SASL token ', 'SaslHandshake v0 ']);
});

test('an entry read back from the store has the sections it had when captured', async () => {
  assert.ok(captured.some((e) => kafkaDissector.represent(e).some((s) => s.title === 'First record value')));
  for (const e of captured) {
    const { status, body } = await getJson(`${base}/api/v1/entries/${e.id}`);
    assert.equal(status, 200);
    assert.deepEqual(body.sections, JSON.parse(JSON.stringify(sectionsOf(e).map(sectionToJson))), e.operation);
    assert.deepEqual(body.fields, e.fields);
  }
});

test('the SASL password is in no column of any stored row and in nothing the hub serves', async () => {
  const back = await readBack(f.temp.store, captured.map((e) => e.id).sort());
  assert.equal(back.length, captured.length);
  const entries = JSON.stringify(back.map((e) => ({ ...e, requestHeaders: e.requestHeaders.toPairs(), responseHeaders: e.responseHeaders.toPairs(), req: e.requestBody.bytes.toString('latin1'), res: e.responseBody.bytes.toString('latin1') })));
  assert.match(entries, /invoices/, 'the read back holds the entries');
  assert.ok(!entries.includes(PASSWORD));
  // Every column, independently of the store's row mapping.
  const rows = await f.sql(`SELECT * FROM ${f.temp.store.database}.entries WHERE protocol = 'kafka'`);
  assert.equal(rows.length, captured.length);
  const raw = JSON.stringify(rows);
  assert.ok(!raw.includes(PASSWORD) && !raw.includes(Buffer.from(PASSWORD).toString('hex')));
  const served = [JSON.stringify((await getJson(`${base}/api/v1/entries?${q({ filter: 'kafka', ...range() })}`)).body)];
  for (const e of captured) served.push(JSON.stringify((await getJson(`${base}/api/v1/entries/${e.id}`)).body));
  assert.ok(served.every((s) => !s.includes(PASSWORD)));
  const sasl = captured.find((e) => e.operation === 'SaslAuthenticate v2')!;
  assert.equal(sasl.requestHeaders.get('auth bytes'), `${`\0billing\0${PASSWORD}`.length} bytes, not kept`);
});

test('/api/v1/protocols lists Kafka over TCP with its fields and its secret', async () => {
  const { body } = await getJson(`${base}/api/v1/protocols`);
  const kafka = body.protocols.find((p: { name: string }) => p.name === 'kafka');
  assert.ok(kafka, JSON.stringify(body.protocols));
  assert.deepEqual(kafka.transports, ['tcp']);
  assert.deepEqual(kafka.secrets, kafkaDissector.secrets);
  assert.deepEqual((kafka.fields as Array<{ name: string; type: string }>).map((x) => `${x.name} ${x.type}`), kafkaDissector.fields.map((x) => `${x.name} ${x.type}`));
});
