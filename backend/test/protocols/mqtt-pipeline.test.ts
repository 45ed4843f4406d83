/**
 * MQTT through the agent's pipeline on hand-built frames (encoded by mqtt-packet, the encoder of
 * the `mqtt` npm client): 5.0 properties and topic aliases, packets split byte by byte and several
 * in one segment, a payload beyond the body limit, a refused QoS 2 flow, orphans, a remaining
 * length that never ends, a gap, the sections; then fast-check: the same packets in any
 * segmentation give the same entries, and random or mutated bytes never throw nor hold more than
 * the limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { mqttDissector, TO_BROKER, TO_CLIENT } from '../../src/protocols/mqtt/dissector.js';
import { packetLength, readPacket } from '../../src/protocols/mqtt/packet.js';
import { protocols } from '../../src/protocols/registry.js';
import { lookupField } from '../../src/query/fields.js';
import { Conversation } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';

const client = { ip: '10.9.2.5', port: 41500 };
const broker = { ip: '10.9.2.18', port: 1883 };
type Packet = Parameters<typeof mqttPacket.generate>[0];
const v5 = (p: Packet) => mqttPacket.generate(p, { protocolVersion: 5 });
const v4 = (p: Packet) => mqttPacket.generate(p, { protocolVersion: 4 });
const summary = (e: Entry) =>
  [e.fields['mqtt.direction'] === TO_CLIENT ? '<' : '>', e.operation, e.target, e.unanswered ? 'unanswered' : e.statusText === '' ? '-' : `${e.status} ${e.statusText}`].filter((s) => s !== '').join(' ');
const outcome = (e: Entry) => mqttDissector.outcome({ ...e, clientDir: 0 });
const connect5: Packet = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'dev-1', clean: true, keepalive: 30, properties: { sessionExpiryInterval: 120, userProperties: { zone: 'eu' } } };

test('MQTT is a built-in protocol with its filter fields; the password is its secret', () => {
  assert.equal(protocols.get('mqtt'), mqttDissector);
  assert.deepEqual(
    ['mqtt.topic', 'mqtt.qos', 'mqtt.retain', 'mqtt.client_id', 'mqtt.reason', 'mqtt.direction', 'mqtt.packet_id'].map((n) => lookupField(n)?.type),
    ['string', 'int', 'bool', 'string', 'int', 'string', 'int'],
  );
  assert.ok(mqttDissector.secrets.includes('the CONNECT password'));
});

test('5.0 on any port: properties, topic aliases, QoS flows paired per sender, a refused QoS 2, orphans, one-way deliveries', async () => {
  const c = new Conversation(client, { ...broker, port: 7777 }).handshake();
  c.send(v5(connect5));
  c.reply(v5({ cmd: 'connack', sessionPresent: false, reasonCode: 0, properties: { topicAliasMaximum: 10, assignedClientIdentifier: 'dev-1' } }));
  // Several packets in one segment: a QoS 1 PUBLISH that sets alias 3, then one that uses it.
  c.send(Buffer.concat([
    v5({ cmd: 'publish', topic: 'plant/line1/temp', payload: Buffer.from('21.5'), qos: 1, messageId: 1, retain: false, dup: false, properties: { topicAlias: 3, contentType: 'text/plain' } }),
    v5({ cmd: 'publish', topic: '', payload: Buffer.from('21.7'), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } }),
  ]));
  c.reply(v5({ cmd: 'puback', messageId: 1, reasonCode: 0 }));
  // The broker's own packet id 1, a delivery at QoS 2: keyed apart from the client's id 1.
  c.send(v5({ cmd: 'publish', topic: 'plant/cmd', payload: Buffer.from('go'), qos: 2, messageId: 7, retain: false, dup: false }));
  c.reply(v5({ cmd: 'publish', topic: 'plant/cfg', payload: Buffer.from('{"rate":5}'), qos: 1, messageId: 1, retain: true, dup: false }));
  c.send(v5({ cmd: 'puback', messageId: 1, reasonCode: 0 }));
  c.reply(v5({ cmd: 'pubrec', messageId: 7, reasonCode: 0x97, properties: { reasonString: 'quota' } })); // refused: the flow ends
  c.reply(v5({ cmd: 'puback', messageId: 42, reasonCode: 0 })); // nobody waits for 42
  c.send(v5({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'plant/#', qos: 1, nl: true, rap: false, rh: 0 }, { topic: '$share/g/x', qos: 2 }] }));
  c.reply(v5({ cmd: 'suback', messageId: 2, granted: [1, 0x9e] }));
  c.send(v5({ cmd: 'pingreq' }));
  c.reply(v5({ cmd: 'pingresp' }));
  c.send(v5({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['plant/#'] }));
  c.reply(v5({ cmd: 'unsuback', messageId: 3, granted: [0x11] }));
  c.send(v5({ cmd: 'publish', topic: 'plant/never', payload: Buffer.from('?'), qos: 1, messageId: 9, retain: false, dup: false }));
  c.send(v5({ cmd: 'disconnect', reasonCode: 0x04 }));
  c.close();
  const { entries, result } = await importFrames(c.frames);
  assert.deepEqual(entries.map(summary), [
    '> CONNECT dev-1 0 Success',
    '> PUBLISH plant/line1/temp -',
    '> PUBLISH plant/line1/temp 0 Success',
    '< PUBLISH plant/cfg 0 Success',
    '> PUBLISH plant/cmd 151 Quota exceeded',
    '> SUBSCRIBE plant/#, $share/g/x 158 Shared Subscriptions not supported',
    '> PINGREQ -',
    '> UNSUBSCRIBE plant/# 17 No subscription existed',
    '> DISCONNECT 4 Disconnect with Will Message',
    '> PUBLISH plant/never unanswered',
  ]);
  assert.equal(result.counters.protocols.mqtt.orphanResponses, 1);
  const [connect, q0, q1, delivery, refused, sub, ping, unsub, disconnect, never] = entries;
  assert.deepEqual([ping.status, ping.fields['mqtt.reason'], outcome(ping)], [0, undefined, Outcome.ok]);
  assert.deepEqual(connect.requestHeaders.toPairs(), [
    ['protocol', 'MQTT 5.0'], ['clean start', 'true'], ['keep alive', '30'], ['Session Expiry Interval', '120'], ['zone', 'eu'],
  ]);
  assert.deepEqual(connect.responseHeaders.toPairs(), [['session present', 'false'], ['Topic Alias Maximum', '10'], ['Assigned Client Identifier', 'dev-1']]);
  assert.deepEqual([q1.requestBody.bytes.toString(), q1.requestHeaders.get('content type'), q1.fields['mqtt.packet_id']], ['21.5', 'text/plain', 1]);
  assert.deepEqual([q0.requestBody.bytes.toString(), q0.fields['mqtt.topic'], outcome(q0), q0.fields['mqtt.packet_id']], ['21.7', 'plant/line1/temp', Outcome.oneWay, undefined]);
  assert.deepEqual([delivery.src.port, delivery.dst.port, delivery.fields['mqtt.retain'], delivery.fields['mqtt.client_id'], outcome(delivery)], [7777, client.port, 1, 'dev-1', Outcome.ok]);
  assert.deepEqual([refused.fields['mqtt.reason'], outcome(refused), refused.responseHeaders.get('reason string')], [0x97, Outcome.clientError, 'quota']);
  assert.deepEqual(sub.requestHeaders.toPairs(), [['plant/#', 'qos 1, no local, retain handling 0'], ['$share/g/x', 'qos 2, retain handling 0']]);
  assert.deepEqual(sub.responseHeaders.toPairs(), [['plant/#', 'Granted QoS 1'], ['$share/g/x', 'Shared Subscriptions not supported']]);
  assert.equal(outcome(sub), Outcome.clientError);
  assert.equal(outcome(unsub), Outcome.ok);
  assert.deepEqual([outcome(disconnect), disconnect.durationUs], [Outcome.oneWay, 0]);
  assert.deepEqual([never.unanswered, outcome(never)], [true, Outcome.none]);
  for (const e of entries) assert.deepEqual([e.protocol, e.protocolVersion], ['mqtt', '5.0']);
});

test('3.1.1: a packet split byte by byte, a payload beyond the body limit, a QoS 2 flow to its PUBCOMP, CONNACK refusals', async () => {
  const c = new Conversation({ ...client, port: 41501 }, broker).handshake();
  c.send(v4({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'old-1', clean: false, keepalive: 60, username: 'u', password: Buffer.from('pw'), will: { topic: 'old/gone', payload: Buffer.from('bye'), qos: 1, retain: true } }), 1);
  c.reply(v4({ cmd: 'connack', sessionPresent: true, returnCode: 0 }));
  const big = Buffer.alloc(300_000, 0x61);
  c.send(v4({ cmd: 'publish', topic: 'old/blob', payload: big, qos: 2, messageId: 5, retain: false, dup: false }));
  c.reply(v4({ cmd: 'pubrec', messageId: 5 }));
  c.send(v4({ cmd: 'pubrel', messageId: 5 }));
  c.reply(v4({ cmd: 'pubcomp', messageId: 5 }));
  c.send(v4({ cmd: 'subscribe', messageId: 6, subscriptions: [{ topic: 'a', qos: 2 }, { topic: 'b', qos: 1 }] }));
  c.reply(v4({ cmd: 'suback', messageId: 6, granted: [2, 0x80] }));
  c.close();
  const refusedConn = new Conversation({ ...client, port: 41502 }, broker).handshake();
  refusedConn.send(v4({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'x', clean: true, keepalive: 0 }));
  refusedConn.reply(v4({ cmd: 'connack', sessionPresent: false, returnCode: 3 }));
  refusedConn.close();
  const { entries } = await importFrames([...c.frames, ...refusedConn.frames]);
  assert.deepEqual(entries.map(summary), [
    '> CONNECT old-1 0 Connection Accepted',
    '> PUBLISH old/blob 0 Success',
    '> SUBSCRIBE a, b 128 Failure',
    '> CONNECT x 3 Server unavailable',
  ]);
  const [connect, blob, sub, unavailable] = entries;
  assert.deepEqual(connect.requestHeaders.toPairs(), [
    ['protocol', 'MQTT 3.1.1'], ['clean session', 'false'], ['keep alive', '60'], ['will topic', 'old/gone'], ['will qos', '1'], ['will retain', 'true'], ['username', 'u'], ['password', '[REDACTED]'],
  ]);
  assert.equal(connect.requestBody.bytes.toString(), 'bye');
  assert.equal(connect.responseHeaders.get('session present'), 'true');
  assert.deepEqual([blob.requestBody.bytes.length, blob.requestBody.wireSize, blob.requestBody.truncated, blob.incomplete], [64 * 1024, 300_000, true, true]);
  assert.deepEqual(blob.responseHeaders.toPairs(), [['PUBREC', 'Success'], ['PUBREL', 'Success']]);
  assert.ok(blob.durationUs > 0);
  assert.deepEqual(sub.responseHeaders.toPairs(), [['a', 'Granted QoS 2'], ['b', 'Failure']]);
  assert.deepEqual([outcome(sub), outcome(unavailable), unavailable.protocolVersion], [Outcome.serverError, Outcome.serverError, '3.1.1']);
});

test('a remaining length that never ends is a parse error; the next segment that starts a packet is read again; a gap loses only its packet', async () => {
  const c = new Conversation({ ...client, port: 41503 }, broker).handshake();
  c.send(v4({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'g', clean: true, keepalive: 0 }));
  c.reply(v4({ cmd: 'connack', sessionPresent: false, returnCode: 0 }));
  c.send(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3]));
  c.send(v4({ cmd: 'publish', topic: 'after/bad', payload: Buffer.from('ok'), qos: 0, retain: false, dup: false }));
  const lost = c.send(v4({ cmd: 'publish', topic: 'lost', payload: Buffer.alloc(3000, 1), qos: 0, retain: false, dup: false }), 1000);
  c.send(v4({ cmd: 'publish', topic: 'after/gap', payload: Buffer.from('ok'), qos: 0, retain: false, dup: false }));
  c.close();
  const { entries, result } = await importFrames(c.frames.filter((f) => f !== lost[1]));
  assert.deepEqual(entries.map((e) => `${e.operation} ${e.target}`), ['CONNECT g', 'PUBLISH after/bad', 'PUBLISH after/gap']);
  assert.equal(result.counters.protocols.mqtt.parseErrors, 2);
});

test('sections: the summary, the request attributes, the payload, the reply, the fields', async () => {
  const c = new Conversation({ ...client, port: 41504 }, broker).handshake();
  c.send(v5(connect5));
  c.reply(v5({ cmd: 'connack', sessionPresent: false, reasonCode: 0 }));
  c.send(v5({ cmd: 'publish', topic: 't', payload: Buffer.from('p'), qos: 1, messageId: 3, retain: false, dup: false, properties: { userProperties: { trace: 'abc' } } }));
  c.reply(v5({ cmd: 'puback', messageId: 3, reasonCode: 0x10 }));
  const { entries } = await importFrames(c.frames);
  const sections = mqttDissector.represent(entries[1]);
  assert.deepEqual(sections.map((s) => s.title), ['MQTT', 'Request', 'Payload', 'Fields']);
  assert.deepEqual(sections[0], { kind: 'table', title: 'MQTT', rows: [['Packet', 'PUBLISH'], ['Version', '5.0'], ['Client id', 'dev-1'], ['Topic', 't'], ['QoS', '1'], ['Direction', TO_BROKER], ['Reason', '16 No matching subscribers']] });
  assert.deepEqual(sections[1], { kind: 'table', title: 'Request', rows: [['trace', 'abc']] });
  assert.deepEqual(sections[3], {
    kind: 'table', title: 'Fields',
    rows: [['mqtt.topic', 't'], ['mqtt.qos', '1'], ['mqtt.retain', '0'], ['mqtt.dup', '0'], ['mqtt.packet_id', '3'], ['mqtt.client_id', 'dev-1'], ['mqtt.reason', '16'], ['mqtt.direction', TO_BROKER]],
  });
});

const seeds: Buffer[] = [
  v5(connect5),
  v4({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 5, username: 'u', password: Buffer.from('p'), will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false } }),
  v5({ cmd: 'connack', sessionPresent: false, reasonCode: 0, properties: { receiveMaximum: 5, userProperties: { a: 'b' } } }),
  v5({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 2, messageId: 9, retain: true, dup: false, properties: { topicAlias: 1, correlationData: Buffer.from('ff00', 'hex'), messageExpiryInterval: 9 } }),
  v5({ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 'x/#', qos: 1 }] }),
  v5({ cmd: 'suback', messageId: 4, granted: [1] }),
  v5({ cmd: 'pubrec', messageId: 9, reasonCode: 0 }),
  v5({ cmd: 'disconnect', reasonCode: 0x8e }),
];

test('property: the packet reader never throws on random or mutated bytes, and never reads past its end', () => {
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 6 })).map(([seed, edits]) => {
      const b = Buffer.from(seed);
      for (const [at, v] of edits) b[at % b.length] = v;
      return b;
    }),
  );
  fc.assert(
    fc.property(bytes, fc.constantFrom(3, 4, 5), (b, level) => {
      const len = packetLength(b, 0, b.length);
      if (len <= 0) return;
      const end = Math.min(len, b.length);
      const p = readPacket(b, 0, end, len, level);
      // CONNECT names three attributes of its fixed header even when cut short.
      assert.ok(p.payload.length <= end && p.attributes.length <= 3 + end && p.subscriptions.length <= end);
    }),
    { numRuns: 3000, seed: 21 },
  );
});

test('property: a conversation gives the same entries in any segmentation', async () => {
  const packets = [
    v5(connect5),
    v5({ cmd: 'connack', sessionPresent: false, reasonCode: 0 }),
    v5({ cmd: 'publish', topic: 'a/1', payload: Buffer.alloc(700, 7), qos: 1, messageId: 1, retain: false, dup: false }),
    v5({ cmd: 'puback', messageId: 1, reasonCode: 0 }),
    v5({ cmd: 'publish', topic: 'a/2', payload: Buffer.from('z'), qos: 0, retain: false, dup: false }),
  ];
  const toBroker = [true, false, true, false, true];
  const whole = new Conversation({ ...client, port: 41600 }, broker).handshake();
  for (const [i, p] of packets.entries()) if (toBroker[i]) whole.send(p); else whole.reply(p);
  const reference = (await importFrames(whole.frames)).entries.map(summary);
  assert.equal(reference.length, 3);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 5, maxLength: 5 }), async (mss) => {
      const c = new Conversation({ ...client, port: 41601 }, broker).handshake();
      for (const [i, p] of packets.entries()) if (toBroker[i]) c.send(p, mss[i]); else c.reply(p, mss[i]);
      assert.deepEqual((await importFrames(c.frames)).entries.map(summary), reference);
    }),
    { numRuns: 40, seed: 5 },
  );
});

test('property: random and mutated bytes after a CONNECT never throw; entries and what they keep stay bounded', async () => {
  const chunk = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat({ max: 255 })).map(([s, at, v]) => {
      const b = Buffer.from(s);
      b[at % b.length] = v;
      return b;
    }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), chunk), { maxLength: 30 }), async (steps) => {
      const c = new Conversation({ ...client, port: 41700 }, broker).handshake();
      c.send(v5(connect5));
      for (const [toServer, b] of steps) {
        if (toServer) c.send(b, 97);
        else c.reply(b, 97);
      }
      c.close();
      const { entries, result } = await importFrames(c.frames);
      const counters = result.counters.protocols.mqtt;
      assert.equal(counters.connections, 1);
      assert.ok(entries.length <= 1 + steps.length * 300);
      for (const e of entries) {
        assert.equal(e.protocol, 'mqtt');
        assert.ok(e.requestBody.bytes.length <= 64 * 1024 && e.durationUs >= 0);
      }
    }),
    { numRuns: 80, seed: 8 },
  );
});
