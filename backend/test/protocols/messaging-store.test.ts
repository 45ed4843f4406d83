/**
 * MQTT and AMQP entries through the house: imported from hand-built frames, written to the
 * embedded store by the real writer, read back by the hub. Their filter fields select in SQL,
 * a stored entry gives the same sections as the one captured, /api/v1/protocols lists both with
 * their fields and secrets, and the service map counts their calls.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import type { Entry } from '../../src/entries/entry.js';
import { amqpDissector } from '../../src/protocols/amqp/dissector.js';
import { mqttDissector } from '../../src/protocols/mqtt/dissector.js';
import { Conversation } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';
import { fixture, getJson, q, type Fixture } from '../hub/fixture.js';
import { body, channelOpen, channelOpenOk, contentHeader, declareOk, HEADER, method, publish, queueDeclare, shortstr, u16 } from './amqp-wire.js';

const t0 = (Date.now() - 60_000) * 1000;
const v5 = (p: Parameters<typeof mqttPacket.generate>[0]) => mqttPacket.generate(p, { protocolVersion: 5 });

let f: Fixture;
let base: string;
let captured: Entry[];

before(async () => {
  f = await fixture(5, { startUs: t0 - 3_600e6 });
  const m = new Conversation({ ip: '10.9.4.5', port: 43100 }, { ip: '10.9.4.18', port: 1883 }, t0);
  m.handshake();
  m.send(v5({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'meter-7', clean: true, keepalive: 30 }));
  m.reply(v5({ cmd: 'connack', sessionPresent: false, reasonCode: 0 }));
  m.send(v5({ cmd: 'publish', topic: 'meters/7/kwh', payload: Buffer.from('3.2'), qos: 2, messageId: 1, retain: false, dup: false }));
  m.reply(v5({ cmd: 'pubrec', messageId: 1, reasonCode: 0 }));
  m.send(v5({ cmd: 'pubrel', messageId: 1, reasonCode: 0 }));
  m.reply(v5({ cmd: 'pubcomp', messageId: 1, reasonCode: 0 }));
  m.reply(v5({ cmd: 'publish', topic: 'meters/7/cmd', payload: Buffer.from('reset'), qos: 0, retain: false, dup: false }));
  m.send(v5({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'secret/#', qos: 1 }] }));
  m.reply(v5({ cmd: 'suback', messageId: 2, granted: [0x87] }));
  const a = new Conversation({ ip: '10.9.4.6', port: 43200 }, { ip: '10.9.4.72', port: 5672 }, t0 + 10_000);
  a.handshake();
  a.send(HEADER);
  a.send(channelOpen(1));
  a.reply(channelOpenOk(1));
  a.send(queueDeclare(1, 'invoices'));
  a.reply(declareOk(1, 'invoices'));
  a.send(Buffer.concat([publish(1, 'billing', 'invoice.created'), contentHeader(1, 2, 'application/json'), body(1, '{}')]));
  a.send(queueDeclare(1, 'invoices'));
  a.reply(method(1, 20, 40, u16(406), shortstr("PRECONDITION_FAILED - inequivalent arg 'durable'"), u16(50), u16(10)));
  a.send(method(1, 20, 41));
  captured = (await importFrames([...m.frames, ...a.frames])).entries;
  await f.write(captured);
  base = await f.hub();
});

after(() => f?.dispose());

async function targets(filter: string): Promise<string[]> {
  const { status, body: b } = await getJson(`${base}/api/v1/entries?${q({ filter, from: Math.floor(t0 / 1000) - 1000, to: Math.floor(t0 / 1000) + 60_000 })}`);
  assert.equal(status, 200, JSON.stringify(b));
  return (b.entries as Array<{ operation: string; target: string }>).map((e) => `${e.operation} ${e.target}`).sort();
}

test('the MQTT and AMQP fields filter in the store', async () => {
  assert.deepEqual(await targets('mqtt'), ['CONNECT meter-7', 'PUBLISH meters/7/cmd', 'PUBLISH meters/7/kwh', 'SUBSCRIBE secret/#']);
  assert.deepEqual(await targets('mqtt.qos == 2 and mqtt.client_id == "meter-7"'), ['PUBLISH meters/7/kwh']);
  assert.deepEqual(await targets('mqtt.direction == "to client"'), ['PUBLISH meters/7/cmd']);
  assert.deepEqual(await targets('mqtt.reason >= 128'), ['SUBSCRIBE secret/#']);
  assert.deepEqual(await targets('mqtt.topic.startsWith("meters/")'), ['PUBLISH meters/7/cmd', 'PUBLISH meters/7/kwh']);
  assert.deepEqual(await targets('mqtt and outcome == "one-way"'), ['PUBLISH meters/7/cmd']);
  assert.deepEqual(await targets('amqp.exchange == "billing" and amqp.routing_key == "invoice.created"'), ['Basic.Publish invoice.created']);
  assert.deepEqual(await targets('amqp.reply_code == 406'), ['Channel.Close ', 'Queue.Declare invoices']);
  assert.deepEqual(await targets('amqp.queue == "invoices" and outcome == "ok"'), ['Queue.Declare invoices']);
  assert.deepEqual(await targets('amqp.method == "Channel.Open" and amqp.channel == 1'), ['Channel.Open ']);
  assert.deepEqual(await targets('amqp and outcome == "client error"'), ['Channel.Close ', 'Queue.Declare invoices']);
});

test('an entry read back from the store has the sections it had when captured', async () => {
  for (const e of captured) {
    const { status, body: b } = await getJson(`${base}/api/v1/entries/${e.id}`);
    assert.equal(status, 200);
    const d = e.protocol === 'mqtt' ? mqttDissector : amqpDissector;
    // The hub serves a payload as text with its sizes; tables as they are.
    const served = (b.sections as Array<{ kind: string; title: string; body?: { text: string; size: number; wireSize: number } }>).map((x) =>
      x.kind === 'body' ? { kind: x.kind, title: x.title, text: x.body!.text, size: x.body!.size, wireSize: x.body!.wireSize } : x,
    );
    const expected = d.represent(e).map((x) =>
      x.kind === 'body' ? { kind: x.kind, title: x.title, text: x.body.bytes.toString('utf8'), size: x.body.size, wireSize: x.body.wireSize } : x,
    );
    assert.deepEqual(served, JSON.parse(JSON.stringify(expected)), `${e.operation} ${e.target}`);
    assert.deepEqual(b.fields, e.fields);
  }
});

test('/api/v1/protocols lists MQTT and AMQP over TCP with their fields and secrets', async () => {
  const { body: b } = await getJson(`${base}/api/v1/protocols`);
  for (const d of [mqttDissector, amqpDissector]) {
    const p = b.protocols.find((x: { name: string }) => x.name === d.protocol);
    assert.ok(p, JSON.stringify(b.protocols));
    assert.deepEqual(p.transports, ['tcp']);
    assert.deepEqual(p.secrets, d.secrets);
    assert.deepEqual((p.fields as Array<{ name: string; type: string }>).map((x) => `${x.name} ${x.type}`), d.fields.map((x) => `${x.name} ${x.type}`));
  }
});

test('the service map counts MQTT and AMQP calls between their clients and brokers', async () => {
  const range = { from: Math.floor(t0 / 1000) - 1000, to: Math.floor(t0 / 1000) + 60_000 };
  const { status, body: b } = await getJson(`${base}/api/v1/servicemap?${q({ filter: 'mqtt or amqp', ...range })}`);
  assert.equal(status, 200, JSON.stringify(b));
  const edges = (b.edges as Array<{ requests: number; protocols: string[] }>).map((e) => `${e.protocols.join(',')} ${e.requests}`).sort();
  // What a broker sends first (the delivery to the meter, the Channel.Close) is an edge of its own, from the broker.
  assert.deepEqual(edges, ['amqp 1', 'amqp 4', 'mqtt 1', 'mqtt 3']);
});
