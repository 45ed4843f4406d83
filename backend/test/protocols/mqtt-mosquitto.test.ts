/**
 * MQTT with real peers: mosquitto (the Debian package) on 127.0.0.1, mosquitto_pub / mosquitto_sub
 * at QoS 0, 1 and 2 over 3.1.1 and 5.0, and the `mqtt` npm client (5.0: subscribe, a refused
 * subscription, ping, unsubscribe, a disconnect with a reason), captured by tcpdump on lo and
 * imported like any capture; the entries must be tshark's packets, paired by the same rules
 * (CONNECT/CONNACK, packet ids per sender, the QoS 2 flow to its PUBCOMP), with the same topics,
 * QoS and codes, exactly. A second broker with a password file proves the password is redacted
 * everywhere the store and the hub keep the entries.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { mqttDissector, TO_BROKER, TO_CLIENT } from '../../src/protocols/mqtt/dissector.js';
import { importCaptureFile } from '../../src/agent/import-file.js';
import { CollectingSink } from '../../src/agent/json-sink.js';
import { tempFile } from '../agent/run.js';
import { freePort, Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { fixture, getJson, type Fixture } from '../hub/fixture.js';
import { readBack } from '../store/read-back.js';
import { waitFor } from '../../../test/support/wait.js';
import { Mosquitto, mosquittoClient, Subscriber, tsharkMqtt, type TsharkMqtt } from './mqtt-support.js';

let broker: Mosquitto;
let secured: Mosquitto;
const PASSWORD = 'pa55-w0rd-Sekr1t';

before(async () => {
  await tsharkAvailable();
  broker = await Mosquitto.start(await freePort());
  secured = await Mosquitto.start(await freePort(), { alice: PASSWORD });
});

after(async () => {
  await broker?.stop();
  await secured?.stop();
});

async function capture(port: number, traffic: () => Promise<void>): Promise<string> {
  const file = tempFile('mqtt.pcap');
  // Only 127.0.0.1: other suites on this machine may listen on the same port number elsewhere.
  const dump = await Tcpdump.start('lo', `host 127.0.0.1 and tcp port ${port}`, file);
  try {
    await traffic();
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  return file;
}

async function entriesOf(file: string, redact: boolean): Promise<Entry[]> {
  const sink = new CollectingSink();
  const { error } = await importCaptureFile(file, sink, { redaction: { enabled: redact, headers: [], queryParams: [] } });
  assert.equal(error, undefined);
  return [...sink.entries].sort((a, b) => a.startUs - b.startUs);
}

/** An exchange as both sides are compared: the client's port, who sent it, what, and the code of its reply (null: none). */
interface Row {
  port: number;
  from: string;
  op: string;
  target: string;
  qos: number;
  status: number | null;
}

const NAMES = ['', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH'];

/**
 * tshark's packets as exchanges, by MQTT's rules: CONNACK answers the CONNECT, PINGRESP the
 * PINGREQ; PUBACK / PUBCOMP (or a refusing PUBREC), SUBACK, UNSUBACK answer the other side's
 * packet with their id; QoS 0 PUBLISH and DISCONNECT stand alone.
 */
function tsharkRows(packets: TsharkMqtt[], brokerPort: number): Row[] {
  const rows: Row[] = [];
  const waiting = new Map<string, Row>();
  for (const m of packets) {
    const fromBroker = m.srcPort === brokerPort;
    const port = fromBroker ? m.dstPort : m.srcPort;
    const from = fromBroker ? 'broker' : 'client';
    const other = fromBroker ? 'client' : 'broker';
    const op = NAMES[m.type];
    const start = (key: string, target: string, qos = 0) => {
      const row = { port, from, op, target, qos, status: null };
      rows.push(row);
      waiting.set(key, row);
    };
    const settle = (key: string) => {
      const row = waiting.get(key);
      if (!row) return;
      row.status = m.reason ?? 0;
      waiting.delete(key);
    };
    switch (op) {
      case 'CONNECT':
        start(`${port} connect`, m.clientId);
        break;
      case 'CONNACK':
        settle(`${port} connect`);
        break;
      case 'PINGREQ':
        start(`${port} ping`, '');
        break;
      case 'PINGRESP':
        settle(`${port} ping`);
        break;
      case 'PUBLISH':
        if (m.qos === 0) rows.push({ port, from, op, target: m.topic, qos: 0, status: 0 });
        else start(`${port} ${from} ${m.id}`, m.topic, m.qos);
        break;
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE':
        start(`${port} ${from} ${m.id}`, m.topic);
        break;
      case 'PUBREC':
        if ((m.reason ?? 0) >= 0x80) settle(`${port} ${other} ${m.id}`);
        break;
      case 'PUBACK':
      case 'PUBCOMP':
      case 'SUBACK':
      case 'UNSUBACK':
        settle(`${port} ${other} ${m.id}`);
        break;
      case 'DISCONNECT':
        rows.push({ port, from, op, target: '', qos: 0, status: m.reason ?? 0 });
        break;
    }
  }
  return rows;
}

function ourRows(entries: Entry[]): Row[] {
  return entries.map((e) => {
    const fromBroker = e.fields['mqtt.direction'] === TO_CLIENT;
    return {
      port: fromBroker ? e.dst.port : e.src.port,
      from: fromBroker ? 'broker' : 'client',
      op: e.operation,
      target: e.target,
      qos: Number(e.fields['mqtt.qos'] ?? 0),
      status: e.unanswered ? null : e.status,
    };
  });
}

const key = (r: Row) => `${r.port} ${r.from} ${r.op} ${r.target} ${r.qos} ${r.status}`;
const sorted = (rows: Row[]) => rows.map(key).sort();

test('mosquitto_pub / mosquitto_sub at QoS 0, 1, 2 over 3.1.1 and 5.0, and the mqtt client: the exchanges are tshark\'s', async () => {
  const port = broker.port;
  let pings = 0;
  const file = await capture(port, async () => {
    const sub311 = await Subscriber.start(port, broker, 'sub-311', '-t', 'sensors/#', '-q', '2', '-C', '3');
    const sub5 = await Subscriber.start(port, broker, 'sub-5', '-V', 'mqttv5', '-t', 'sensors/#', '-q', '1', '-C', '3');
    await mosquittoClient('mosquitto_pub', port, '-i', 'pub-q0', '-t', 'sensors/t0', '-m', 'zero', '-q', '0');
    await mosquittoClient('mosquitto_pub', port, '-i', 'pub-q1', '-V', 'mqttv5', '-t', 'sensors/t1', '-m', 'one', '-q', '1');
    await mosquittoClient('mosquitto_pub', port, '-i', 'pub-q2', '-t', 'sensors/t2', '-m', 'two', '-q', '2', '-r');
    assert.equal(await sub311.done(), 'zero\none\ntwo\n');
    assert.equal(await sub5.done(), 'zero\none\ntwo\n');
    // The mqtt npm client over 5.0: a subscription, a publish, a ping, an unsubscribe; then a
    // SUBSCRIBE with an invalid filter written past the client's own checks: mosquitto answers
    // with a DISCONNECT (Malformed Packet), not a SUBACK.
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: 'node-5', keepalive: 1, reconnectPeriod: 0 });
    let disconnected: number | undefined;
    client.on('packetreceive', (p) => {
      if (p.cmd === 'pingresp') pings++;
      if (p.cmd === 'disconnect') disconnected = p.reasonCode;
    });
    const granted = await client.subscribeAsync({ 'orders/+': { qos: 1 } });
    assert.deepEqual(granted.map((g) => g.qos), [1]);
    await client.publishAsync('orders/1', Buffer.from('{"n":1}'), { qos: 1 });
    await client.publishAsync('nobody/here', 'x', { qos: 1 });
    await waitFor('a PINGRESP', () => pings > 0, 5000);
    await client.unsubscribeAsync('orders/+');
    client.stream.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 999, subscriptions: [{ topic: 'orders/#/bad', qos: 0 }] }, { protocolVersion: 5 }));
    await waitFor('the broker\'s DISCONNECT', () => disconnected !== undefined, 5000);
    assert.equal(disconnected, 0x81);
    await client.endAsync(true);
  });
  const entries = await entriesOf(file, true);
  const theirs = tsharkRows(await tsharkMqtt(file, port), port);
  assert.ok(theirs.length >= 28, `${theirs.length} tshark exchanges`);
  assert.deepEqual(sorted(ourRows(entries)), sorted(theirs));

  // What the rows do not compare: versions, directions, payloads, latencies, reason names, outcomes.
  const one = (f: (e: Entry) => boolean) => {
    const found = entries.filter(f);
    assert.equal(found.length, 1, JSON.stringify(found.map((e) => [e.operation, e.target])));
    return found[0];
  };
  const connect311 = one((e) => e.operation === 'CONNECT' && e.target === 'pub-q2');
  assert.deepEqual([connect311.protocolVersion, connect311.status, connect311.statusText, mqttDissector.outcome({ ...connect311, clientDir: 0 })], ['3.1.1', 0, 'Connection Accepted', Outcome.ok]);
  assert.equal(connect311.requestHeaders.get('protocol'), 'MQTT 3.1.1');
  const q2 = one((e) => e.operation === 'PUBLISH' && e.target === 'sensors/t2' && e.fields['mqtt.direction'] === TO_BROKER);
  assert.deepEqual([q2.fields['mqtt.qos'], q2.fields['mqtt.retain'], q2.fields['mqtt.client_id'], q2.requestBody.bytes.toString(), q2.unanswered], [2, 1, 'pub-q2', 'two', false]);
  assert.deepEqual(q2.responseHeaders.toPairs().slice(0, 2), [['PUBREC', 'Success'], ['PUBREL', 'Success']]);
  assert.ok(q2.durationUs > 0 && q2.durationUs < 2e6);
  const q0 = one((e) => e.operation === 'PUBLISH' && e.target === 'sensors/t0' && e.fields['mqtt.direction'] === TO_BROKER);
  assert.deepEqual([q0.durationUs, q0.unanswered, mqttDissector.outcome({ ...q0, clientDir: 0 })], [0, false, Outcome.oneWay]);
  // The broker's deliveries to sub-5: from the broker's port to the subscriber's, QoS 2 downgraded to 1.
  const delivered = entries.filter((e) => e.operation === 'PUBLISH' && e.fields['mqtt.client_id'] === 'sub-5');
  assert.deepEqual(delivered.map((e) => [e.src.port, e.target, e.fields['mqtt.qos'], e.fields['mqtt.direction'], e.protocolVersion]), [
    [port, 'sensors/t0', 0, TO_CLIENT, '5.0'],
    [port, 'sensors/t1', 1, TO_CLIENT, '5.0'],
    [port, 'sensors/t2', 1, TO_CLIENT, '5.0'],
  ]);
  const refused = one((e) => e.operation === 'SUBSCRIBE' && e.target === 'orders/#/bad');
  assert.deepEqual([refused.unanswered, refused.fields['mqtt.packet_id'], mqttDissector.outcome({ ...refused, clientDir: 0 })], [true, 999, Outcome.none]);
  const subscribed = one((e) => e.operation === 'SUBSCRIBE' && e.target === 'orders/+');
  assert.deepEqual([subscribed.status, subscribed.statusText, subscribed.requestHeaders.get('orders/+')], [1, 'Granted QoS 1', 'qos 1, retain handling 0']);
  assert.deepEqual(subscribed.responseHeaders.toPairs(), [['orders/+', 'Granted QoS 1']]);
  const kicked = one((e) => e.operation === 'DISCONNECT' && e.fields['mqtt.client_id'] === 'node-5');
  assert.deepEqual([kicked.src.port, kicked.fields['mqtt.direction'], kicked.status, kicked.statusText, mqttDissector.outcome({ ...kicked, clientDir: 0 })], [port, TO_CLIENT, 0x81, 'Malformed Packet', Outcome.clientError]);
  const bye = one((e) => e.operation === 'DISCONNECT' && e.fields['mqtt.client_id'] === 'pub-q1');
  assert.deepEqual([bye.statusText, mqttDissector.outcome({ ...bye, clientDir: 0 })], ['Normal disconnection', Outcome.oneWay]);
  const ping = one((e) => e.operation === 'PINGREQ');
  assert.ok(!ping.unanswered && ping.durationUs > 0);
  const publish5 = one((e) => e.operation === 'PUBLISH' && e.target === 'orders/1' && e.fields['mqtt.direction'] === TO_BROKER);
  assert.deepEqual([publish5.requestBody.bytes.toString(), publish5.fields['mqtt.qos'], publish5.status, publish5.statusText], ['{"n":1}', 1, 0, 'Success']);
  const echoed = one((e) => e.operation === 'PUBLISH' && e.target === 'orders/1' && e.fields['mqtt.direction'] === TO_CLIENT);
  assert.deepEqual([echoed.src.port, echoed.requestBody.bytes.toString(), echoed.unanswered], [port, '{"n":1}', false]);
  const nobody = one((e) => e.target === 'nobody/here');
  assert.deepEqual([nobody.status, nobody.statusText, mqttDissector.outcome({ ...nobody, clientDir: 0 })], [0x10, 'No matching subscribers', Outcome.ok]);
  for (const e of entries) assert.equal(e.protocol, 'mqtt');
});

test('CONNECT credentials against a broker with a password file: the password is nowhere in the store or the hub, the username is kept', async () => {
  const port = secured.port;
  const file = await capture(port, async () => {
    await mosquittoClient('mosquitto_pub', port, '-i', 'alice-1', '-u', 'alice', '-P', PASSWORD, '-t', 'private/a', '-m', 'hush', '-q', '1');
    await assert.rejects(mosquittoClient('mosquitto_pub', port, '-i', 'mallory-1', '-u', 'alice', '-P', `${PASSWORD}-wrong`, '-t', 'x', '-m', 'x'));
    await assert.rejects(mosquittoClient('mosquitto_pub', port, '-i', 'mallory-5', '-V', 'mqttv5', '-u', 'alice', '-P', `${PASSWORD}-wrong`, '-t', 'x', '-m', 'x'));
  });
  // Without redaction the dissector does see the password: the test below can fail.
  const raw = await entriesOf(file, false);
  assert.equal(raw.find((e) => e.target === 'alice-1')?.requestHeaders.get('password'), PASSWORD);

  const entries = await entriesOf(file, true);
  const theirs = tsharkRows(await tsharkMqtt(file, port), port);
  assert.deepEqual(sorted(ourRows(entries)), sorted(theirs));
  const byClient = (id: string) => entries.find((e) => e.operation === 'CONNECT' && e.target === id)!;
  assert.deepEqual([byClient('alice-1').status, byClient('mallory-1').status, byClient('mallory-5').status], [0, 5, 0x87]);
  assert.deepEqual(
    ['alice-1', 'mallory-1', 'mallory-5'].map((id) => mqttDissector.outcome({ ...byClient(id), clientDir: 0 })),
    [Outcome.ok, Outcome.clientError, Outcome.clientError],
  );
  assert.equal(byClient('mallory-5').statusText, 'Not authorized');
  assert.equal(byClient('alice-1').requestHeaders.get('username'), 'alice');

  const f: Fixture = await fixture(0);
  try {
    await f.write(entries);
    const stored = await readBack(f.temp.store, entries.map((e) => e.id).sort());
    assert.equal(stored.length, entries.length);
    const rows = await f.sql(`SELECT * FROM ${f.temp.store.database}.entries`);
    const dump = JSON.stringify(rows);
    assert.ok(dump.includes('alice'), 'the rows hold the CONNECTs');
    assert.ok(!dump.includes(PASSWORD), 'the password is in a stored row');
    const base = await f.hub();
    for (const e of entries) {
      const { status, body } = await getJson(`${base}/api/v1/entries/${e.id}`);
      assert.equal(status, 200);
      assert.ok(!JSON.stringify(body).includes(PASSWORD), `the hub serves the password in ${e.operation} ${e.target}`);
    }
    assert.ok(stored.some((e) => e.requestHeaders.toPairs().some(([n, v]) => n === 'password' && v === '[REDACTED]')));
  } finally {
    await f.dispose();
  }
});

test('bad bytes at mosquitto: random bytes on the port, a CONNECT then a remaining length that never ends: counted, no entry invented', async () => {
  const port = broker.port;
  const send = async (bytes: Buffer, waitReply: boolean) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    let got = 0;
    socket.on('data', (d: Buffer) => (got += d.length));
    socket.on('error', () => {}); // mosquitto may reset what it refuses: the close follows
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(bytes);
    if (waitReply) await waitFor('the CONNACK', () => got > 0);
    return { socket, closed };
  };
  const file = await capture(port, async () => {
    await (await send(randomBytes(4000), false)).closed; // mosquitto drops a client whose first packet is not a CONNECT
    const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'endless', clean: true, keepalive: 0 });
    const { socket, closed } = await send(connect, true);
    socket.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await closed; // ...and one whose remaining length never ends
  });
  const sink = new CollectingSink();
  const { counters } = await importCaptureFile(file, sink);
  assert.deepEqual(sink.entries.map((e) => `${e.operation} ${e.target} ${e.status}`), ['CONNECT endless 0']);
  assert.equal(counters.protocols.mqtt.parseErrors, 1);
  assert.equal(counters.protocols.mqtt.connections, 1);
  assert.equal(counters.unknownConnections, 1, 'the random bytes are no protocol');
  const theirs = tsharkRows(await tsharkMqtt(file, port), port).filter((r) => r.op === 'CONNECT');
  assert.deepEqual(theirs.map((r) => `${r.op} ${r.target} ${r.status}`), ['CONNECT endless 0']);
});
