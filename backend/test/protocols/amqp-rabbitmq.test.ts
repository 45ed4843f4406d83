/**
 * AMQP 0-9-1 with real peers: a RabbitMQ node of the test's own (the Debian package) on
 * 127.0.0.1, amqp-tools (declare, publish, consume) and amqplib (exchanges, bindings, consume
 * with ack / reject / nack, get, publisher confirms, an unroutable mandatory publish, a declare
 * with mismatched arguments → 406, a missing queue → 404, closes), captured by tcpdump on lo;
 * the entries must be tshark's method frames, paired by the spec's rules (a method with its -Ok
 * on its channel, a close ending the request it interrupts, confirms by sequence number), with
 * the same channels, exchanges, routing keys, queues and reply codes, exactly. The broker's
 * password (PLAIN) is nowhere in the store or the hub.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import amqplib from 'amqplib';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { amqpDissector } from '../../src/protocols/amqp/dissector.js';
import { importCaptureFile } from '../../src/agent/import-file.js';
import { CollectingSink } from '../../src/agent/json-sink.js';
import { tempFile } from '../agent/run.js';
import { Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { fixture, getJson } from '../hub/fixture.js';
import { readBack } from '../store/read-back.js';
import { waitFor } from '../../../test/support/wait.js';
import { amqpTool, RabbitMq, tsharkAmqp, type TsharkMethod } from './amqp-support.js';

const PASSWORD = 'rabb1t-Pa55-Sekr1t';
let rabbit: RabbitMq;
let file: string;
let entries: Entry[];
/** Client ports of the connections that sent random bytes and a frame without its end octet. */
const junkPorts: number[] = [];

async function entriesOf(path: string, redact: boolean): Promise<Entry[]> {
  const sink = new CollectingSink();
  const { error } = await importCaptureFile(path, sink, { redaction: { enabled: redact, headers: [], queryParams: [] } });
  assert.equal(error, undefined);
  return [...sink.entries].sort((a, b) => a.startUs - b.startUs);
}

async function traffic(url: string): Promise<void> {
  // amqp-tools (librabbitmq): declare, publish, consume one.
  await amqpTool('amqp-declare-queue', url, '-q', 'tools.q');
  await amqpTool('amqp-publish', url, '-r', 'tools.q', '-b', 'hello from amqp-tools', '-C', 'text/plain');
  assert.equal(await amqpTool('amqp-consume', url, '-q', 'tools.q', '-c', '1', 'cat'), 'hello from amqp-tools');

  // amqplib: a topic exchange, a bound queue, three deliveries acked, rejected and nacked.
  const conn = await amqplib.connect(url);
  const ch = await conn.createChannel();
  await ch.assertExchange('orders', 'topic', { durable: false });
  await ch.assertQueue('orders.eu', { durable: false, arguments: { 'x-max-length': 10 } });
  await ch.bindQueue('orders.eu', 'orders', 'eu.*');
  await ch.prefetch(5);
  for (const n of [1, 2, 3]) ch.publish('orders', 'eu.new', Buffer.from(`{"order":${n}}`), { contentType: 'application/json', headers: { 'x-trace': `t-${n}` } });
  const seen: string[] = [];
  const { consumerTag } = await ch.consume('orders.eu', (msg) => {
    if (!msg) return;
    seen.push(msg.content.toString());
    if (seen.length === 1) ch.ack(msg);
    else if (seen.length === 2) ch.reject(msg, false);
    else ch.nack(msg, false, false);
  });
  await waitFor('three deliveries', () => seen.length === 3);
  await ch.cancel(consumerTag);
  assert.equal(await ch.get('orders.eu'), false); // Get-Empty
  ch.publish('', 'orders.eu', Buffer.from('got'));
  await waitFor('the message to be got', async () => {
    const m = await ch.get('orders.eu', { noAck: true });
    return m !== false && m.content.toString() === 'got';
  });
  // A confirm channel: three confirmed publishes, one mandatory to nowhere (Basic.Return, then its ack).
  const confirm = await conn.createConfirmChannel();
  for (const n of [1, 2, 3]) confirm.publish('orders', 'eu.confirmed', Buffer.from(`c${n}`));
  await confirm.waitForConfirms();
  let returned = false;
  confirm.on('return', () => (returned = true));
  confirm.publish('orders', 'us.nobody', Buffer.from('lost'), { mandatory: true });
  await confirm.waitForConfirms();
  await waitFor('the return', () => returned);
  await confirm.close();
  // A declare with mismatched arguments: the broker closes the channel with 406.
  const bad = await conn.createChannel();
  bad.on('error', () => {});
  await assert.rejects(bad.assertQueue('orders.eu', { durable: false, arguments: { 'x-max-length': 20 } }), /PRECONDITION_FAILED/);
  const missing = await conn.createChannel();
  missing.on('error', () => {});
  await assert.rejects(missing.checkQueue('no.such.queue'), /NOT_FOUND/);
  await ch.deleteQueue('orders.eu');
  await ch.close();
  await conn.close();
}

before(async () => {
  await tsharkAvailable();
  rabbit = await RabbitMq.start('tapline', PASSWORD);
  file = tempFile('amqp.pcap');
  // Only 127.0.0.1: other suites on this machine may listen on the same port number elsewhere.
  const dump = await Tcpdump.start('lo', `host 127.0.0.1 and tcp port ${rabbit.port}`, file);
  try {
    await traffic(rabbit.url);
    // Random bytes on the port, then an AMQP frame without its end octet after a real header.
    for (const bytes of [randomBytes(3000), Buffer.concat([Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'), Buffer.from([1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 11, 0x00])])]) {
      const s = createConnection({ host: '127.0.0.1', port: rabbit.port });
      s.on('error', () => {});
      s.on('connect', () => junkPorts.push(s.localPort!));
      s.resume(); // reading is what sees the broker's reset
      const closed = new Promise((resolve) => s.on('close', resolve));
      s.write(bytes);
      await closed;
    }
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  entries = (await entriesOf(file, true)).filter((e) => e.protocol === 'amqp');
});

after(() => rabbit?.stop());

/** A method and what answered it, as both sides are compared. */
interface Row {
  port: number;
  from: string;
  channel: number;
  method: string;
  exchange: string;
  routingKey: string;
  queue: string;
  /** The method that answered it (null: none). */
  reply: string | null;
  code: number | null;
}

/** Method names by class and method id (the spec's, written out for the reference). */
const NAMES: Record<string, string> = {
  '10.10': 'Connection.Start', '10.11': 'Connection.Start-Ok', '10.30': 'Connection.Tune', '10.31': 'Connection.Tune-Ok',
  '10.40': 'Connection.Open', '10.41': 'Connection.Open-Ok', '10.50': 'Connection.Close', '10.51': 'Connection.Close-Ok',
  '20.10': 'Channel.Open', '20.11': 'Channel.Open-Ok', '20.40': 'Channel.Close', '20.41': 'Channel.Close-Ok',
  '40.10': 'Exchange.Declare', '40.11': 'Exchange.Declare-Ok', '50.10': 'Queue.Declare', '50.11': 'Queue.Declare-Ok',
  '50.20': 'Queue.Bind', '50.21': 'Queue.Bind-Ok', '50.40': 'Queue.Delete', '50.41': 'Queue.Delete-Ok',
  '60.10': 'Basic.Qos', '60.11': 'Basic.Qos-Ok', '60.20': 'Basic.Consume', '60.21': 'Basic.Consume-Ok',
  '60.30': 'Basic.Cancel', '60.31': 'Basic.Cancel-Ok', '60.40': 'Basic.Publish', '60.50': 'Basic.Return',
  '60.60': 'Basic.Deliver', '60.70': 'Basic.Get', '60.71': 'Basic.Get-Ok', '60.72': 'Basic.Get-Empty',
  '60.80': 'Basic.Ack', '60.90': 'Basic.Reject', '60.120': 'Basic.Nack', '85.10': 'Confirm.Select', '85.11': 'Confirm.Select-Ok',
};
/** The spec's synchronous requests and the replies that answer them. */
const ANSWERS: Record<string, string[]> = {
  'Connection.Start': ['Connection.Start-Ok'], 'Connection.Tune': ['Connection.Tune-Ok'], 'Connection.Open': ['Connection.Open-Ok'],
  'Connection.Close': ['Connection.Close-Ok'], 'Channel.Open': ['Channel.Open-Ok'], 'Channel.Close': ['Channel.Close-Ok'],
  'Exchange.Declare': ['Exchange.Declare-Ok'], 'Queue.Declare': ['Queue.Declare-Ok'], 'Queue.Bind': ['Queue.Bind-Ok'],
  'Queue.Delete': ['Queue.Delete-Ok'], 'Basic.Qos': ['Basic.Qos-Ok'], 'Basic.Consume': ['Basic.Consume-Ok'], 'Basic.Cancel': ['Basic.Cancel-Ok'],
  'Basic.Get': ['Basic.Get-Ok', 'Basic.Get-Empty'], 'Confirm.Select': ['Confirm.Select-Ok'],
};

/**
 * tshark's method frames as exchanges, by the spec: a request waits on its channel for its reply
 * from the other side; a Channel.Close (Connection.Close) from the other side ends it instead; on
 * a channel after Confirm.Select-Ok, publishes are numbered and the broker's Basic.Ack settles
 * its tag (or all up to it, with multiple); the rest stand alone.
 */
function tsharkRows(methods: TsharkMethod[], brokerPort: number): Row[] {
  const rows: Row[] = [];
  const waiting = new Map<string, Row>();
  const confirms = new Map<string, { next: number; pending: Map<number, Row> }>();
  for (const m of methods) {
    const fromBroker = m.srcPort === brokerPort;
    const port = fromBroker ? m.dstPort : m.srcPort;
    const [from, other] = fromBroker ? ['broker', 'client'] : ['client', 'broker'];
    const method = NAMES[`${m.classId}.${m.methodId}`] ?? `${m.classId}.${m.methodId}`;
    const code = m.args.reply_code === undefined ? null : Number(m.args.reply_code);
    const row: Row = { port, from, channel: m.channel, method, exchange: m.args.exchange ?? '', routingKey: m.args.routing_key ?? '', queue: m.args.queue ?? '', reply: null, code };
    const answered = [...waiting.entries()].find(([k, w]) => k.startsWith(`${port} ${m.channel} ${other}`) && ANSWERS[w.method]?.includes(method));
    if (answered) {
      answered[1].reply = method;
      waiting.delete(answered[0]);
      if (method === 'Confirm.Select-Ok') confirms.set(`${port} ${m.channel}`, { next: 1, pending: new Map() });
      continue;
    }
    if (method === 'Channel.Close' || method === 'Connection.Close') {
      for (const [k, w] of waiting) {
        if (!k.startsWith(method === 'Channel.Close' ? `${port} ${m.channel} ${other}` : `${port} `) || !k.endsWith(other) || w.method.endsWith('.Close')) continue;
        w.reply = method;
        w.code = code;
        waiting.delete(k);
      }
    }
    const c = confirms.get(`${port} ${m.channel}`);
    if (method === 'Basic.Ack' && fromBroker && c) {
      const tag = Number(m.args.delivery_tag);
      for (const [seq, w] of c.pending) {
        if (m.args.multiple === '1' ? seq > tag : seq !== tag) continue;
        w.reply = method;
        c.pending.delete(seq);
      }
      continue;
    }
    rows.push(row);
    if (method === 'Basic.Publish' && c) c.pending.set(c.next++, row);
    else if (ANSWERS[method] && m.args.nowait !== '1') waiting.set(`${port} ${m.channel} ${from}`, row);
  }
  return rows;
}

function ourRows(list: Entry[], brokerPort: number): Row[] {
  return list.map((e) => {
    const fromBroker = e.src.port === brokerPort;
    const req = (n: string) => e.requestHeaders.get(n) ?? '';
    return {
      port: fromBroker ? e.dst.port : e.src.port,
      from: fromBroker ? 'broker' : 'client',
      channel: Number(e.fields['amqp.channel']),
      method: e.operation,
      exchange: req('exchange'),
      routingKey: req('routing_key'),
      queue: req('queue'),
      reply: e.responseHeaders.get('method') ?? null,
      code: e.fields['amqp.reply_code'] === undefined ? null : Number(e.fields['amqp.reply_code']),
    };
  });
}

const rowKey = (r: Row) => JSON.stringify([r.port, r.from, r.channel, r.method, r.exchange, r.routingKey, r.queue, r.reply, r.code]);

test('amqp-tools and amqplib against RabbitMQ: the entries are tshark\'s methods, paired by the spec, with the same arguments and reply codes', async () => {
  const theirs = tsharkRows(await tsharkAmqp(file, rabbit.port), rabbit.port);
  assert.ok(theirs.length >= 60, `${theirs.length} exchanges from tshark`);
  assert.deepEqual(ourRows(entries, rabbit.port).map(rowKey).sort(), theirs.map(rowKey).sort());
});

test('what the comparison does not cover: targets, properties, bodies, outcomes, confirms, reply texts, latencies', () => {
  const outcome = (e: Entry) => amqpDissector.outcome({ ...e, clientDir: 0 });
  const find = (f: (e: Entry) => boolean) => entries.filter(f);
  const publishes = find((e) => e.operation === 'Basic.Publish' && e.fields['amqp.routing_key'] === 'eu.new');
  assert.deepEqual(publishes.map((e) => [e.target, e.fields['amqp.exchange'], e.requestBody.bytes.toString(), e.requestHeaders.get('content-type'), e.requestHeaders.get('x-trace'), outcome(e)]), [
    ['eu.new', 'orders', '{"order":1}', 'application/json', 't-1', Outcome.oneWay],
    ['eu.new', 'orders', '{"order":2}', 'application/json', 't-2', Outcome.oneWay],
    ['eu.new', 'orders', '{"order":3}', 'application/json', 't-3', Outcome.oneWay],
  ]);
  const deliveries = find((e) => e.operation === 'Basic.Deliver' && e.fields['amqp.routing_key'] === 'eu.new');
  assert.deepEqual(deliveries.map((e) => [e.src.port, e.fields['amqp.delivery_tag'], e.requestBody.bytes.toString(), outcome(e)]), [
    [rabbit.port, 1, '{"order":1}', Outcome.oneWay],
    [rabbit.port, 2, '{"order":2}', Outcome.oneWay],
    [rabbit.port, 3, '{"order":3}', Outcome.oneWay],
  ]);
  const consumerPort = deliveries[0].dst.port;
  assert.deepEqual(find((e) => ['Basic.Ack', 'Basic.Reject', 'Basic.Nack'].includes(e.operation) && e.src.port === consumerPort).map((e) => [e.operation, e.fields['amqp.delivery_tag']]), [
    ['Basic.Ack', 1], ['Basic.Reject', 2], ['Basic.Nack', 3],
  ]);
  const confirmed = find((e) => e.fields['amqp.confirm'] !== undefined);
  assert.deepEqual(confirmed.map((e) => [e.target, e.fields['amqp.confirm'], e.statusText, outcome(e)]), [
    ['eu.confirmed', 'ack', 'Basic.Ack', Outcome.ok], ['eu.confirmed', 'ack', 'Basic.Ack', Outcome.ok], ['eu.confirmed', 'ack', 'Basic.Ack', Outcome.ok],
    ['us.nobody', 'ack', 'Basic.Ack', Outcome.ok],
  ]);
  const [ret] = find((e) => e.operation === 'Basic.Return');
  assert.deepEqual([ret.status, ret.statusText, ret.requestBody.bytes.toString(), outcome(ret)], [312, 'NO_ROUTE', 'lost', Outcome.clientError]);
  const [mismatch] = find((e) => e.operation === 'Queue.Declare' && e.requestHeaders.get('arguments.x-max-length') === '20');
  assert.equal(mismatch.status, 406);
  assert.match(mismatch.statusText, /^PRECONDITION_FAILED - inequivalent arg 'x-max-length'/);
  assert.equal(outcome(mismatch), Outcome.clientError);
  const [closed406] = find((e) => e.operation === 'Channel.Close' && e.status === 406);
  assert.deepEqual([closed406.src.port, closed406.responseHeaders.get('method'), outcome(closed406)], [rabbit.port, 'Channel.Close-Ok', Outcome.clientError]);
  const [notFound] = find((e) => e.operation === 'Queue.Declare' && e.target === 'no.such.queue');
  assert.deepEqual([notFound.status, notFound.requestHeaders.get('passive'), outcome(notFound)], [404, 'true', Outcome.clientError]);
  const [empty] = find((e) => e.operation === 'Basic.Get' && e.responseHeaders.get('method') === 'Basic.Get-Empty');
  assert.deepEqual([empty.target, outcome(empty)], ['orders.eu', Outcome.ok]);
  const [got] = find((e) => e.operation === 'Basic.Get' && e.responseHeaders.get('method') === 'Basic.Get-Ok');
  assert.deepEqual([got.responseBody.bytes.toString(), got.fields['amqp.delivery_tag'], got.fields['amqp.queue']], ['got', 4, 'orders.eu']);
  const [declared] = find((e) => e.operation === 'Queue.Declare' && e.target === 'tools.q');
  assert.deepEqual([declared.responseHeaders.get('method'), declared.responseHeaders.get('queue'), outcome(declared)], ['Queue.Declare-Ok', 'tools.q', Outcome.ok]);
  assert.ok(declared.durationUs > 0 && declared.durationUs < 5e6, `latency ${declared.durationUs} µs`);
  const starts = find((e) => e.operation === 'Connection.Start' && !e.unanswered);
  assert.equal(starts.length, 4, 'amqp-tools 3, amqplib 1');
  assert.ok(starts.every((e) => e.src.port === rabbit.port && e.responseHeaders.get('mechanism') === 'PLAIN'), 'the broker starts, the client answers PLAIN');
  const [consume] = find((e) => e.operation === 'Basic.Consume' && e.target === 'orders.eu');
  assert.match(String(consume.fields['amqp.consumer_tag']), /^amq\.ctag-/);
  for (const e of entries) assert.deepEqual([e.protocol, e.protocolVersion], ['amqp', '0-9-1']);
});

test('random bytes on the port and a frame without its end octet: counted, no entry invented, no crash', async () => {
  const sink = new CollectingSink();
  const { counters } = await importCaptureFile(file, sink);
  assert.equal(junkPorts.length, 2);
  const [randomPort, noEndPort] = junkPorts;
  // RabbitMQ answers random bytes with its own protocol header and closes: AMQP, but nothing to show.
  assert.deepEqual(sink.entries.filter((e) => e.src.port === randomPort || e.dst.port === randomPort), []);
  // The other client's Start-Ok lacks its end octet: a parse error, and the broker's Start stays unanswered.
  const noEnd = sink.entries.filter((e) => e.src.port === noEndPort || e.dst.port === noEndPort);
  assert.deepEqual(noEnd.map((e) => [e.operation, e.unanswered]), [['Connection.Start', true]]);
  assert.equal(amqpDissector.outcome({ ...noEnd[0], clientDir: 0 }), Outcome.none);
  assert.equal(counters.protocols.amqp.parseErrors, 1);
  assert.equal(counters.protocols.amqp.connections, 6, 'amqp-tools 3, amqplib 1, the two bad clients');
});

test('the PLAIN password is nowhere in the store or the hub; the user name is kept', async () => {
  const raw = await entriesOf(file, false);
  const startOk = raw.find((e) => e.operation === 'Connection.Start' && e.responseHeaders.get('response') !== undefined);
  assert.ok(startOk, 'a Start-Ok');
  // The credentials ride in the reply (the client's Start-Ok answers the broker's Start).
  assert.ok(raw.some((e) => JSON.stringify(e.responseHeaders.toPairs()).includes(PASSWORD)), 'without redaction the password is there');
  const f = await fixture(0);
  try {
    await f.write(entries);
    const stored = await readBack(f.temp.store, entries.map((e) => e.id).sort());
    assert.equal(stored.length, entries.length);
    const dump = JSON.stringify(await f.sql(`SELECT * FROM ${f.temp.store.database}.entries`));
    assert.ok(dump.includes('Connection.Start') && dump.includes('tapline'));
    assert.ok(!dump.includes(PASSWORD), 'the password is in a stored row');
    const base = await f.hub();
    for (const e of entries.filter((x) => x.operation.startsWith('Connection.'))) {
      const { status, body } = await getJson(`${base}/api/v1/entries/${e.id}`);
      assert.equal(status, 200);
      assert.ok(!JSON.stringify(body).includes(PASSWORD), `the hub serves the password in ${e.operation}`);
    }
    const start = stored.find((e) => e.operation === 'Connection.Start' && e.responseHeaders.get('username') === 'tapline');
    assert.equal(start?.responseHeaders.get('response'), '[REDACTED]');
  } finally {
    await f.dispose();
  }
});
