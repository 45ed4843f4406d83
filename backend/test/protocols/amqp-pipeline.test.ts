/**
 * AMQP 0-9-1 through the agent's pipeline on hand-built frames (encoded below from the spec):
 * AMQPLAIN credentials, publisher confirms with a multiple ack and a nack, a body in several
 * frames and split byte by byte, nowait, Get-Ok with its message, a Connection.Close that ends the
 * requests of every channel, orphans, a frame without its end octet, a body beyond the limit, a
 * gap, the sections; then fast-check: any segmentation gives the same entries, and random or
 * mutated frames never throw nor keep more than the limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { amqpDissector } from '../../src/protocols/amqp/dissector.js';
import { protocols } from '../../src/protocols/registry.js';
import { lookupField } from '../../src/query/fields.js';
import { Conversation } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';
import { bits, body, channelOpen, channelOpenOk, contentHeader, declareOk, frame, HEADER, method, publish, queueDeclare, shortstr, start, startOk, table, u16, u32, u64 } from './amqp-wire.js';

const client = { ip: '10.9.3.5', port: 42500 };
const broker = { ip: '10.9.3.72', port: 5672 };
const outcome = (e: Entry) => amqpDissector.outcome({ ...e, clientDir: 0 });
const summary = (e: Entry) => `${e.operation} ${e.target} ${e.responseHeaders.get('method') ?? (e.unanswered ? 'unanswered' : '-')} ${e.status}`.replace(/ +/g, ' ');

test('AMQP is a built-in protocol with its filter fields; credentials are its secret', () => {
  assert.equal(protocols.get('amqp'), amqpDissector);
  assert.deepEqual(
    ['amqp.exchange', 'amqp.routing_key', 'amqp.queue', 'amqp.method', 'amqp.reply_code', 'amqp.channel', 'amqp.confirm'].map((n) => lookupField(n)?.type),
    ['string', 'string', 'string', 'string', 'int', 'int', 'string'],
  );
  assert.ok(amqpDissector.secrets.length > 0);
});

test('AMQPLAIN, confirms (multiple ack, nack), a body in frames split byte by byte, nowait, Get-Ok, a Connection.Close ending every channel\'s request', async () => {
  const c = new Conversation(client, { ...broker, port: 15999 }).handshake();
  c.send(HEADER);
  c.reply(start());
  c.send(startOk());
  c.send(channelOpen(1));
  c.reply(channelOpenOk(1));
  c.send(method(1, 85, 10, bits(false)));
  c.reply(method(1, 85, 11));
  c.send(Buffer.concat([publish(1, 'orders', 'eu.new'), contentHeader(1, 11, 'application/json', { 'x-trace': 't-1' }), body(1, '{"order":'), body(1, '1}')]), 1);
  c.send(Buffer.concat([publish(1, 'orders', 'eu.new'), contentHeader(1, 0)]));
  c.send(Buffer.concat([publish(1, 'orders', 'eu.old'), contentHeader(1, 1), body(1, 'x')]));
  c.reply(method(1, 60, 80, u64(2), bits(true))); // acks publishes 1 and 2
  c.reply(method(1, 60, 120, u64(3), bits(false, false))); // nacks 3
  c.reply(method(1, 60, 80, u64(9), bits(false))); // nothing waits for 9
  c.send(queueDeclare(1, 'fire.and.forget', true));
  c.send(method(1, 60, 70, u16(0), shortstr('jobs'), bits(true)));
  c.reply(Buffer.concat([method(1, 60, 71, u64(1), bits(false), shortstr(''), shortstr('jobs'), u32(0)), contentHeader(1, 3, 'text/plain'), body(1, 'job')]));
  c.reply(declareOk(2, 'nobody.asked')); // an orphan
  c.send(channelOpen(2));
  c.reply(channelOpenOk(2));
  c.send(method(2, 50, 20, u16(0), shortstr('q2'), shortstr('amq.direct'), shortstr('k'), bits(false), table({})));
  c.send(queueDeclare(1, 'q1'));
  c.reply(method(0, 10, 50, u16(320), shortstr('CONNECTION_FORCED - broker forced connection closure with reason \'shutdown\''), u16(0), u16(0)));
  c.send(method(0, 10, 51));
  c.close();
  const { entries, result } = await importFrames(c.frames);
  assert.deepEqual(entries.map(summary), [
    'Connection.Start Connection.Start-Ok 0',
    'Channel.Open Channel.Open-Ok 0',
    'Confirm.Select Confirm.Select-Ok 0',
    'Basic.Publish eu.new Basic.Ack 0',
    'Basic.Publish eu.new Basic.Ack 0',
    'Basic.Publish eu.old Basic.Nack 0',
    'Queue.Declare fire.and.forget - 0',
    'Basic.Get jobs Basic.Get-Ok 0',
    'Channel.Open Channel.Open-Ok 0',
    'Queue.Bind q2 Connection.Close 320',
    'Queue.Declare q1 Connection.Close 320',
    'Connection.Close Connection.Close-Ok 320',
  ]);
  assert.deepEqual([result.counters.protocols.amqp.orphanResponses, result.counters.protocols.amqp.parseErrors], [2, 0]);
  const [startEntry, , , p1, p2, p3, nowait, get, , bind, , close] = entries;
  assert.deepEqual([startEntry.src.port, startEntry.responseHeaders.get('username'), startEntry.responseHeaders.get('response'), startEntry.responseHeaders.get('mechanism')], [15999, 'svc', '[REDACTED]', 'AMQPLAIN']);
  assert.ok(!JSON.stringify(startEntry.responseHeaders.toPairs()).includes('s3cr3t'));
  assert.deepEqual([p1.requestBody.bytes.toString(), p1.requestBody.wireSize, p1.requestHeaders.get('content-type'), p1.requestHeaders.get('x-trace'), p1.fields['amqp.confirm'], outcome(p1)], ['{"order":1}', 11, 'application/json', 't-1', 'ack', Outcome.ok]);
  assert.deepEqual([p2.requestBody.size, p2.fields['amqp.exchange'], outcome(p2)], [0, 'orders', Outcome.ok]);
  assert.deepEqual([p3.fields['amqp.confirm'], p3.statusText, outcome(p3)], ['nack', 'Basic.Nack', Outcome.serverError]);
  assert.deepEqual([nowait.unanswered, outcome(nowait)], [false, Outcome.oneWay]);
  assert.deepEqual([get.responseBody.bytes.toString(), get.responseHeaders.get('content-type'), get.fields['amqp.delivery_tag'], outcome(get)], ['job', 'text/plain', 1, Outcome.ok]);
  assert.deepEqual([bind.fields['amqp.channel'], bind.fields['amqp.reply_code'], bind.statusText.startsWith('CONNECTION_FORCED'), outcome(bind)], [2, 320, true, Outcome.serverError]);
  assert.deepEqual([close.src.port, outcome(close)], [15999, Outcome.serverError]);
});

test('a frame without its end octet is a parse error and the next segment resynchronises; a body beyond the limit is cut; a gap loses its message only', async () => {
  const c = new Conversation({ ...client, port: 42501 }, broker).handshake();
  c.send(HEADER);
  c.send(channelOpen(1));
  c.reply(channelOpenOk(1));
  c.send(frame(1, 1, Buffer.concat([u16(50), u16(10), u16(0), shortstr('broken'), bits(), table({})]), 0x00));
  c.send(queueDeclare(1, 'after.bad'));
  c.reply(declareOk(1, 'after.bad'));
  const big = Buffer.alloc(200_000, 0x62);
  c.send(Buffer.concat([publish(1, '', 'big'), contentHeader(1, big.length), body(1, big.subarray(0, 131_000)), body(1, big.subarray(131_000))]));
  const lost = c.send(Buffer.concat([publish(1, '', 'lost'), contentHeader(1, 3000), body(1, Buffer.alloc(3000, 1))]), 1000);
  c.send(Buffer.concat([publish(1, '', 'after.gap'), contentHeader(1, 2), body(1, 'ok')]));
  c.close();
  const { entries, result } = await importFrames(c.frames.filter((f) => f !== lost[1]));
  assert.deepEqual(entries.map(summary), [
    'Channel.Open Channel.Open-Ok 0', 'Queue.Declare after.bad Queue.Declare-Ok 0', 'Basic.Publish big - 0', 'Basic.Publish lost - 0', 'Basic.Publish after.gap - 0',
  ]);
  assert.equal(result.counters.protocols.amqp.parseErrors, 2);
  // The lost message's body frame never came whole: no body bytes, the entry incomplete.
  const [, , cut, lostHalf, afterGap] = entries;
  assert.deepEqual([lostHalf.incomplete, lostHalf.requestBody.wireSize, afterGap.incomplete, afterGap.requestBody.bytes.toString()], [true, 0, false, 'ok']);
  assert.deepEqual([cut.requestBody.bytes.length, cut.requestBody.wireSize, cut.requestBody.truncated, cut.incomplete], [64 * 1024, 200_000, true, false]);
});

test('sections: the summary, the arguments and properties, the message, the reply, the fields', async () => {
  const c = new Conversation({ ...client, port: 42502 }, broker).handshake();
  c.send(HEADER);
  c.send(channelOpen(3));
  c.reply(channelOpenOk(3));
  c.reply(Buffer.concat([method(3, 60, 60, shortstr('ctag-1'), u64(7), bits(true), shortstr('orders'), shortstr('eu.new')), contentHeader(3, 2, 'text/plain'), body(3, 'hi')]));
  const { entries } = await importFrames(c.frames);
  const deliver = entries[1];
  const sections = amqpDissector.represent(deliver);
  assert.deepEqual(sections.map((s) => s.title), ['AMQP', 'Arguments', 'Message', 'Fields']);
  assert.deepEqual(sections[0], { kind: 'table', title: 'AMQP', rows: [['Method', 'Basic.Deliver'], ['Channel', '3'], ['Exchange', 'orders'], ['Routing key', 'eu.new']] });
  assert.deepEqual(sections[1], { kind: 'table', title: 'Arguments', rows: [['consumer_tag', 'ctag-1'], ['delivery_tag', '7'], ['redelivered', 'true'], ['exchange', 'orders'], ['routing_key', 'eu.new'], ['content-type', 'text/plain']] });
  assert.deepEqual([deliver.src.port, outcome(deliver)], [broker.port, Outcome.oneWay]);
  assert.deepEqual(sections[3], {
    kind: 'table', title: 'Fields',
    rows: [['amqp.method', 'Basic.Deliver'], ['amqp.channel', '3'], ['amqp.exchange', 'orders'], ['amqp.routing_key', 'eu.new'], ['amqp.delivery_tag', '7'], ['amqp.consumer_tag', 'ctag-1']],
  });
});

const conversation: Array<[toBroker: boolean, bytes: Buffer]> = [
  [true, HEADER],
  [false, start()],
  [true, startOk('PLAIN', Buffer.from('\0u\0p'))],
  [true, channelOpen(1)],
  [false, channelOpenOk(1)],
  [true, Buffer.concat([publish(1, 'ex', 'k'), contentHeader(1, 700, 'text/plain'), body(1, Buffer.alloc(700, 3))])],
  [true, queueDeclare(1, 'q')],
  [false, declareOk(1, 'q')],
];

test('property: a conversation gives the same entries in any segmentation', async () => {
  const build = (port: number, mss: number[]) => {
    const c = new Conversation({ ...client, port }, broker).handshake();
    for (const [i, [toBroker, b]] of conversation.entries()) {
      if (toBroker) c.send(b, mss[i]);
      else c.reply(b, mss[i]);
    }
    return c.frames;
  };
  const reference = (await importFrames(build(42600, conversation.map(() => 1460)))).entries.map(summary);
  assert.equal(reference.length, 4);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: conversation.length, maxLength: conversation.length }), async (mss) => {
      assert.deepEqual((await importFrames(build(42601, mss))).entries.map(summary), reference);
    }),
    { numRuns: 40, seed: 3 },
  );
});

test('property: random and mutated frames after the header never throw; entries and what they keep stay bounded', async () => {
  const seeds = conversation.slice(1).map(([, b]) => b);
  const chunk = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 4 })).map(([s, edits]) => {
      const b = Buffer.from(s);
      for (const [at, v] of edits) b[at % b.length] = v;
      return b;
    }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), chunk), { maxLength: 30 }), async (steps) => {
      const c = new Conversation({ ...client, port: 42700 }, broker).handshake();
      c.send(HEADER);
      for (const [toBroker, b] of steps) {
        if (toBroker) c.send(b, 113);
        else c.reply(b, 113);
      }
      c.close();
      const { entries, result } = await importFrames(c.frames);
      assert.equal(result.counters.protocols.amqp.connections, 1);
      assert.ok(entries.length <= steps.length * 40);
      for (const e of entries) {
        assert.equal(e.protocol, 'amqp');
        assert.ok(e.requestBody.bytes.length <= 64 * 1024 && e.responseBody.bytes.length <= 64 * 1024 && e.durationUs >= 0);
      }
    }),
    { numRuns: 80, seed: 13 },
  );
});
