/**
 * Kafka through the agent's pipeline on hand-built frames: flexible versions (compact strings and
 * arrays, tagged fields, request header v2, ApiVersions' response header v0), the worst error of a
 * response and each code's outcome, acks=0 as one-way, unknown API keys kept, SASL bytes never
 * kept (SaslAuthenticate and raw tokens after SaslHandshake v0), and bad input: a length of 2^31,
 * counts that lie, a varint that never ends, a message over the kept size, a gap; and fast-check's
 * random and mutated real chunks through the whole pipeline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { kafkaDissector } from '../../src/protocols/kafka/dissector.js';
import { protocols } from '../../src/protocols/registry.js';
import { lookupField } from '../../src/query/fields.js';
import { Conversation } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';
import { array, batch, bytes, i16, i32, i64, i8, produceBody, produceResponseBody, records, request, response, str, tags, uvarint } from './kafka-wire.js';

const client = { ip: '10.9.2.5', port: 41500 };
const server = { ip: '10.9.2.9', port: 9092 };
const conversation = (port = client.port, serverPort = server.port) => new Conversation({ ip: client.ip, port }, { ip: server.ip, port: serverPort }).handshake();
const summary = (e: Entry) => `${e.operation} ${e.target} ${e.unanswered ? 'unanswered' : e.outcome === Outcome.oneWay ? 'one-way' : `${e.status} ${e.statusText}`}`;
const none = Buffer.alloc(0);

test('Kafka is a built-in protocol with its filter fields', () => {
  assert.equal(protocols.get('kafka'), kafkaDissector);
  assert.deepEqual(
    ['kafka.api', 'kafka.topic', 'kafka.error', 'kafka.partition', 'kafka.client_id', 'kafka.records', 'kafka.group'].map((n) => lookupField(n)?.type),
    ['string', 'string', 'int', 'int', 'string', 'int', 'string'],
  );
  assert.equal(lookupField('kafka.error')?.sql, "fields_number['kafka.error']");
  assert.equal(kafkaDissector.secrets.length, 1);
});

test('flexible versions: Produce v9 with tagged fields, Metadata v12, ApiVersions v3 answered in header v0; the worst partition error', async () => {
  const conv = conversation();
  const set = batch(3, records([{ key: 'k1', value: 'v1', headers: [['trace', 't-1']] }, { key: null, value: 'v2' }, { key: 'k3', value: null }]));
  conv.send(request(18, 3, 1, 'app', Buffer.concat([str('tapline-test', true), str('1.0', true), tags()]), true));
  // ApiVersions v3's body is flexible, its header is not (v0): no tagged fields after the correlation id.
  conv.reply(response(1, Buffer.concat([i16(0), array([Buffer.concat([i16(0), i16(0), i16(11), tags()]), Buffer.concat([i16(3), i16(0), i16(12), tags()])], true), i32(0), tags()])));
  const metadataTopics = array(['orders', 'audit'].map((t) => Buffer.concat([Buffer.alloc(16), str(t, true), tags()])), true);
  conv.send(request(3, 12, 2, 'app', Buffer.concat([metadataTopics, i8(1), i8(0), tags()]), true));
  const partition = (e: number, p: number) => Buffer.concat([i16(e), i32(p), i32(1), i32(0), array([i32(1)], true), array([i32(1)], true), array([], true), tags()]);
  const topic = (e: number, name: string, parts: Buffer[]) => Buffer.concat([i16(e), str(name, true), Buffer.alloc(16), i8(0), array(parts, true), i32(0), tags()]);
  conv.reply(
    response(
      2,
      Buffer.concat([
        i32(0),
        array([Buffer.concat([i32(1), str('broker-1', true), i32(9092), str(null, true), tags()])], true),
        str('cluster-x', true),
        i32(1),
        array([topic(0, 'orders', [partition(0, 0), partition(0, 1)]), topic(3, 'audit', [])], true),
        tags(),
      ]),
      true,
    ),
  );
  const second = batch(1, records([{ key: 'k4', value: 'v4' }]));
  conv.send(request(0, 9, 3, 'app', produceBody(9, -1, [['orders', 0, set], ['orders', 1, second], ['orders', 2, null]]), true));
  conv.reply(response(3, produceResponseBody(9, 'orders', [[0, 0], [1, 3], [2, 6], [3, 3]]), true));
  conv.close();
  const { entries, result } = await importFrames(conv.frames);
  assert.deepEqual(entries.map(summary), [
    'ApiVersions v3  0 NONE',
    'Metadata v12 orders,audit 3 UNKNOWN_TOPIC_OR_PARTITION',
    'Produce v9 orders 6 NOT_LEADER_OR_FOLLOWER',
  ]);
  const [versions, metadata, produce] = entries;
  assert.deepEqual(versions.requestHeaders.get('client software'), 'tapline-test 1.0');
  assert.deepEqual(versions.responseHeaders.toPairs(), [['Produce', 'v0-11'], ['Metadata', 'v0-12']]);
  assert.deepEqual([metadata.outcome, metadata.responseHeaders.get('broker 1'), metadata.responseHeaders.get('cluster id'), metadata.responseHeaders.get('error codes')], [Outcome.clientError, 'broker-1:9092', 'cluster-x', '0 0 0 3']);
  assert.deepEqual(produce.fields, {
    'kafka.api': 'Produce', 'kafka.api_key': 0, 'kafka.api_version': 9, 'kafka.correlation_id': 3, 'kafka.client_id': 'app',
    'kafka.topic': 'orders', 'kafka.topics': 3, 'kafka.acks': -1, 'kafka.partition': 2, 'kafka.partitions': 4,
    'kafka.error': 6, 'kafka.error_name': 'NOT_LEADER_OR_FOLLOWER', 'kafka.records': 4, 'kafka.compression': 'none', 'kafka.undecoded': 0,
  });
  assert.equal(produce.outcome, Outcome.serverError, 'NOT_LEADER_OR_FOLLOWER outweighs UNKNOWN_TOPIC_OR_PARTITION');
  assert.deepEqual(produce.requestHeaders.toPairs(), [
    ['timeout ms', '30000'],
    ['orders[0]', '3 records, ' + set.length + ' bytes'], ['orders[1]', `1 record, ${second.length} bytes`], ['orders[2]', 'no records'],
    ['orders[0] @0 key', 'k1'], ['orders[0] @0 value', 'v1'], ['orders[0] @0 header trace', 't-1'],
    ['orders[0] @1 key', '(null)'], ['orders[0] @1 value', 'v2'],
    ['orders[0] @2 key', 'k3'], ['orders[0] @2 value', '(null)'],
    ['orders[1] @0 key', 'k4'], ['orders[1] @0 value', 'v4'],
  ]);
  assert.deepEqual(produce.responseHeaders.get('error codes'), '0 3 6 3');
  assert.equal(produce.requestBody.bytes.toString(), 'v1', 'the first record value is the payload');
  const c = result.counters.protocols.kafka;
  assert.deepEqual([c.connections, c.exchanges, c.parseErrors, c.orphanResponses, c.unanswered], [1, 3, 0, 0, 0]);
});

test('error codes: each code\'s outcome; acks=0 is one-way; unknown API keys are entries with key and version', async () => {
  const conv = conversation(41501);
  const codes = [0, 3, 6, -1, 27, 25, 15, 29, 999];
  codes.forEach((code, i) => {
    conv.send(request(12, 3, 10 + i, 'hb', Buffer.concat([str('group-a'), i32(7), str('member-1'), str(null)])));
    conv.reply(response(10 + i, Buffer.concat([i32(0), i16(code)])));
  });
  conv.send(request(0, 7, 30, 'fire', produceBody(7, 0, [['events', 0, batch(1, records([{ key: 'a', value: 'b' }]))]])));
  conv.send(request(200, 4, 31, 'odd', Buffer.from('opaque body')));
  conv.reply(response(31, Buffer.from('opaque answer')));
  // Request header v0: ControlledShutdown v0 sends no client id, its body (the broker id) follows the correlation id.
  conv.send(Buffer.concat([i32(12), i16(7), i16(0), i32(33), i32(5)]));
  conv.reply(response(33, Buffer.concat([i16(0), array([])])));
  conv.send(request(60, 0, 32, 'odd', Buffer.concat([i8(0), tags()]), true));
  conv.close();
  const { entries, result } = await importFrames(conv.frames);
  assert.deepEqual(entries.map(summary), [
    'Heartbeat v3 group-a 0 NONE',
    'Heartbeat v3 group-a 3 UNKNOWN_TOPIC_OR_PARTITION',
    'Heartbeat v3 group-a 6 NOT_LEADER_OR_FOLLOWER',
    'Heartbeat v3 group-a -1 UNKNOWN_SERVER_ERROR',
    'Heartbeat v3 group-a 27 REBALANCE_IN_PROGRESS',
    'Heartbeat v3 group-a 25 UNKNOWN_MEMBER_ID',
    'Heartbeat v3 group-a 15 COORDINATOR_NOT_AVAILABLE',
    'Heartbeat v3 group-a 29 TOPIC_AUTHORIZATION_FAILED',
    'Heartbeat v3 group-a 999 ERROR 999',
    'Produce v7 events one-way',
    'ApiKey 200 v4  0 ',
    'ControlledShutdown v0  0 ',
    'DescribeCluster v0  unanswered',
  ]);
  const o = Outcome;
  assert.deepEqual(entries.map((e) => e.outcome), [o.ok, o.clientError, o.serverError, o.serverError, o.clientError, o.clientError, o.serverError, o.clientError, o.serverError, o.oneWay, o.ok, o.ok, o.none]);
  const [fire, odd, shutdown, describe] = entries.slice(9);
  assert.deepEqual([shutdown.fields['kafka.client_id'], shutdown.fields['kafka.correlation_id'], shutdown.fields['kafka.unparsed']], ['', 33, 1]);
  assert.deepEqual([fire.unanswered, fire.durationUs, fire.fields['kafka.acks'], fire.fields['kafka.records']], [false, 0, 0, 1]);
  assert.deepEqual([odd.fields['kafka.api_key'], odd.fields['kafka.api_version'], odd.fields['kafka.unparsed'], odd.fields['kafka.error'], odd.fields['kafka.client_id']], [200, 4, 1, undefined, 'odd']);
  assert.deepEqual([describe.fields['kafka.api'], describe.fields['kafka.unparsed']], ['DescribeCluster', 1]);
  assert.equal(entries[0].fields['kafka.group'], 'group-a');
  const c = result.counters.protocols.kafka;
  assert.deepEqual([c.exchanges, c.parseErrors, c.orphanResponses, c.unanswered], [13, 0, 0, 1]);
});

const PLAIN = Buffer.from('\0alice\0hunter2-plain-secret');
const RAW = Buffer.from('\0bob\0raw-token-secret');

test('SASL: SaslAuthenticate bytes and raw tokens after SaslHandshake v0 are never kept; the connection goes on', async () => {
  const conv = conversation(41502);
  conv.send(request(17, 1, 1, 'auth', str('PLAIN')));
  conv.reply(response(1, Buffer.concat([i16(0), array([str('PLAIN'), str('SCRAM-SHA-256')])])));
  conv.send(request(36, 2, 2, 'auth', Buffer.concat([bytes(PLAIN, true), tags()]), true));
  conv.reply(response(2, Buffer.concat([i16(0), str(null, true), bytes(Buffer.from('server-final hunter2-plain-secret'), true), i64(3_600_000), tags()]), true));
  conv.send(request(3, 1, 3, 'auth', array([str('orders')])));
  conv.reply(response(3, Buffer.concat([array([]), i32(1), array([Buffer.concat([i16(0), str('orders'), i8(0), array([])])])])));
  conv.close();
  // The pre-KIP-152 flow: a v0 handshake, then the token framed by its length alone, and the server's empty answer.
  const legacy = conversation(41503);
  legacy.send(request(17, 0, 1, 'old', str('PLAIN')));
  legacy.reply(response(1, Buffer.concat([i16(0), array([str('PLAIN')])])));
  legacy.send(Buffer.concat([i32(RAW.length), RAW]));
  legacy.reply(i32(0));
  legacy.send(request(3, 1, 2, 'old', array([str('orders')])));
  legacy.reply(response(2, Buffer.concat([array([]), i32(1), array([])])));
  legacy.close();
  const { entries, result } = await importFrames([...conv.frames, ...legacy.frames.map((f) => ({ ...f, tsUs: f.tsUs + 1e6 }))]);
  assert.deepEqual(entries.map(summary), [
    'SaslHandshake v1  0 NONE',
    'SaslAuthenticate v2  0 NONE',
    'Metadata v1 orders 0 NONE',
    'SaslHandshake v0  0 NONE',
    'SASL token  one-way',
    'Metadata v1 orders 0 NONE',
  ]);
  assert.equal(entries[1].requestHeaders.get('auth bytes'), `${PLAIN.length} bytes, not kept`);
  assert.equal(entries[4].requestHeaders.get('auth bytes'), `${RAW.length} bytes, not kept`);
  assert.equal(entries[0].responseHeaders.get('mechanisms'), 'PLAIN, SCRAM-SHA-256');
  const everything = JSON.stringify(entries.map((e) => ({ ...e, requestHeaders: e.requestHeaders.toPairs(), responseHeaders: e.responseHeaders.toPairs(), req: e.requestBody.bytes.toString('latin1'), res: e.responseBody.bytes.toString('latin1') })));
  for (const secret of ['hunter2', 'raw-token-secret', 'alice', 'bob']) assert.ok(!everything.includes(secret), secret);
  const c = result.counters.protocols.kafka;
  assert.deepEqual([c.exchanges, c.parseErrors, c.orphanResponses], [6, 0, 0]);
});

test('bad input: a length of 2^31, counts that lie, a varint that never ends; each counted, the connection resumes', async () => {
  const conv = conversation(41504);
  // (Detection reads a whole first message: one that lies would not open the connection as Kafka.)
  conv.send(request(12, 0, 0, 'ok', Buffer.concat([str('g'), i32(1), str('m')])));
  conv.reply(response(0, i16(0)));
  // Counts that lie: 2^31-1 topics in a 40-byte request. Kept as an entry, cut; framing holds.
  conv.send(request(0, 7, 1, 'liar', Buffer.concat([str(null), i16(1), i32(1000), i32(0x7fffffff), str('t')])));
  conv.reply(response(1, produceResponseBody(7, 't', [[0, 0]])));
  // A compact string whose length varint never ends.
  conv.send(request(0, 9, 2, 'varint', Buffer.concat([uvarint(0), i16(1), i32(1000), uvarint(2), Buffer.alloc(40, 0xff)]), true));
  conv.reply(response(2, produceResponseBody(9, 't', [[0, 0]]), true));
  conv.send(request(12, 0, 3, 'ok', Buffer.concat([str('g'), i32(1), str('m')])));
  conv.reply(response(3, i16(0)));
  // 2^31 as a length: the framing is lost until a segment starts a request again.
  conv.send(Buffer.concat([Buffer.from([0x80, 0, 0, 0]), Buffer.alloc(20, 7)]));
  conv.send(request(12, 0, 4, 'ok', Buffer.concat([str('g'), i32(1), str('m')])));
  conv.reply(response(4, i16(0)));
  conv.close();
  const { entries, result } = await importFrames(conv.frames);
  assert.deepEqual(entries.map(summary), ['Heartbeat v0 g 0 NONE', 'Produce v7 t 0 NONE', 'Produce v9  0 NONE', 'Heartbeat v0 g 0 NONE', 'Heartbeat v0 g 0 NONE']);
  assert.deepEqual(entries.map((e) => e.incomplete), [false, true, true, false, false]);
  const c = result.counters.protocols.kafka;
  assert.deepEqual([c.exchanges, c.parseErrors, c.orphanResponses, c.unanswered], [5, 3, 0, 0]);
});

test('a message over the kept size is cut (the rest skipped), one split across segments is whole, a gap resumes at the next response', async () => {
  const conv = conversation(41505);
  const big = Buffer.alloc(1_500_000, 'x');
  conv.send(request(0, 7, 1, 'big', produceBody(7, 1, [['huge', 0, batch(1, records([{ key: 'big', value: big }]))]])));
  conv.reply(response(1, produceResponseBody(7, 'huge', [[0, 10]])));
  conv.send(request(0, 7, 2, 'small', produceBody(7, 1, [['small', 0, batch(1, records([{ key: 'k', value: 'v'.repeat(3000) }]))]])), 100);
  conv.reply(response(2, produceResponseBody(7, 'small', [[0, 0]])), 7);
  conv.send(request(1, 4, 3, 'c', Buffer.concat([i32(-1), i32(500), i32(1), i32(1 << 20), i8(0), array([Buffer.concat([str('small'), array([Buffer.concat([i32(0), i64(0), i32(1 << 20)])])])])])));
  const fetched = Buffer.concat([array([Buffer.concat([str('small'), array([Buffer.concat([i32(0), i16(0), i64(1), i64(1), array([]), bytes(batch(1, records([{ key: 'k', value: 'v'.repeat(3000) }])))])])])])]);
  const lost = conv.reply(response(3, Buffer.concat([i32(0), fetched])), 1000);
  conv.send(request(12, 0, 4, 'ok', Buffer.concat([str('g'), i32(1), str('m')])));
  conv.reply(response(4, i16(0)));
  conv.close();
  const frames = conv.frames.filter((f) => f !== lost[1]);
  const { entries, result } = await importFrames(frames);
  assert.deepEqual(entries.map(summary), ['Produce v7 huge 10 MESSAGE_TOO_LARGE', 'Produce v7 small 0 NONE', 'Heartbeat v0 g 0 NONE', 'Fetch v4 small unanswered']);
  const [huge, small] = entries;
  assert.deepEqual([huge.incomplete, huge.fields['kafka.partitions']], [true, 1]);
  assert.deepEqual([small.incomplete, small.fields['kafka.records'], small.requestBody.bytes.length, small.requestBody.size], [false, 1, 3000, 3000]);
  const c = result.counters.protocols.kafka;
  assert.deepEqual([c.exchanges, c.unanswered, c.orphanResponses], [4, 1, 0]);
  assert.ok(c.parseErrors >= 1);
});

test('detection: a request on any port; other bytes (HTTP, TLS, a response first) are not Kafka', () => {
  const detect = (b: Buffer) => kafkaDissector.stream!.detect(b, 0, b.length, { id: 1, transport: 'tcp', ip: ['a', 'b'], port: [1, 2], clientDir: 0, midStream: false });
  const metadata = request(3, 1, 0, 'x', array([]));
  assert.equal(detect(metadata), 1 + 1); // Detection.FromClient
  assert.equal(detect(metadata.subarray(0, 3)), 1); // More
  assert.equal(detect(Buffer.from('GET / HTTP/1.1\r\n\r\n')), 0);
  assert.equal(detect(Buffer.from([0x16, 3, 1, 0, 0xa5, 1, 0, 0, 0xa1, 3, 3, 0, 0, 0])), 0);
  assert.equal(detect(response(7, Buffer.concat([i16(0), array([])]))), 0);
  assert.equal(detect(request(250, 0, 1, 'x', none)), 0, 'an unknown API key does not open a connection');
  assert.equal(detect(request(3, 1, 1, 'bad\x01id', none)), 0);
});

test('fuzz through the pipeline: random and mutated chunks on Kafka connections never throw; entries stay bounded', async () => {
  const real = readFileSync(new URL('../fixtures/kafka/mock-messages.txt', import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => ({ request: l.startsWith('req'), bytes: Buffer.from(l.split(' ')[3], 'hex') }));
  const chunk = fc.oneof(
    fc.record({ fromClient: fc.boolean(), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)) }),
    fc.record({ i: fc.nat(real.length - 1), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), cut: fc.nat() }).map(({ i, at, value, cut }) => {
      const b = Buffer.from(real[i].bytes);
      b[at % b.length] = value;
      return { fromClient: real[i].request, bytes: b.subarray(0, 1 + (cut % b.length)) };
    }),
  );
  const conversations = fc.sample(fc.array(chunk, { minLength: 1, maxLength: 30 }), { numRuns: 200, seed: 0x9092 });
  const frames = conversations.flatMap((chunks, n) => {
    const conv = conversation(20000 + n);
    // A real first request opens each connection as Kafka; what follows is the fuzz.
    conv.send(request(12, 0, 0, 'ok', Buffer.concat([str('g'), i32(1), str('m')])));
    for (const c of chunks) {
      if (c.fromClient) conv.send(c.bytes);
      else conv.reply(c.bytes);
    }
    return (n % 3 === 0 ? conv.reset() : conv.close()).frames;
  });
  const { entries, result } = await importFrames(frames);
  const c = result.counters.protocols.kafka;
  assert.equal(c.connections, 200);
  assert.ok(c.parseErrors + c.orphanResponses > 0, 'bad messages were counted');
  assert.ok(entries.length <= 200 * 31);
  for (const e of entries) assert.ok(e.requestHeaders.count <= 64 + 2 + 5 * (2 + 8) && e.responseHeaders.count <= 64 + 1 + 5 * (2 + 8) && e.target.length <= 17 * 257);
});
