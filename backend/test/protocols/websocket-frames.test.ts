/**
 * WebSocket on hand-built conversations (an HTTP/1.1 upgrade, then frames written byte by byte as
 * RFC 6455 draws them), through the whole pipeline: messages, masking, fragmentation, control
 * frames, close codes, permessage-deflate with and without context takeover, and bad input (a
 * 2^63 length, a missing mask, garbage, a deflate bomb). Expected values are what the test wrote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { defaultDissectorLimits } from '../../src/protocols/dissector.js';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { closeOutcome } from '../../src/protocols/websocket/dissector.js';
import { Conversation } from '../capture/frames.js';
import { importFrames, text } from '../agent/run.js';
import { client, closePayload, deflateMessages, frame, upgradeRequest, upgradeResponse } from './websocket-wire.js';

const clientEnd = { ip: '192.168.9.10', port: 52000 };
const server = { ip: '192.168.9.20', port: 8080 };

function upgraded(extensions = '', port = clientEnd.port): Conversation {
  const c = new Conversation({ ip: clientEnd.ip, port }, server).handshake();
  c.send(upgradeRequest('/chat?room=1', extensions));
  c.reply(upgradeResponse(extensions));
  return c;
}

const ws = (entries: Entry[]) => entries.filter((e) => e.protocol === 'websocket');
const row = (e: Entry) => [e.operation, e.fields['websocket.direction'], text(e.requestBody)];

test('text and binary messages both ways: one entry each, one-way, linked to the handshake entry', async () => {
  const c = upgraded();
  c.send(client(1, 'hello server'));
  c.reply(frame(1, 'hello client'));
  c.send(client(2, Buffer.from([0, 1, 2, 0xff])));
  c.reply(frame(2, Buffer.alloc(300, 7))); // 16-bit length
  c.send(client(1, 'x'.repeat(70_000))); // 64-bit length, many segments
  c.close();
  const { entries, result } = await importFrames(c.frames);
  const [hs, ...msgs] = entries;
  assert.deepEqual([hs.protocol, hs.operation, hs.target, hs.status], ['http', 'GET', '/chat', 101]);
  assert.equal(msgs.length, 5);
  assert.deepEqual(msgs.slice(0, 2).map(row), [['text', 'client', 'hello server'], ['text', 'server', 'hello client']]);
  assert.deepEqual(msgs.map((e) => e.fields['websocket.opcode']), [1, 1, 2, 2, 1]);
  assert.deepEqual([...msgs[2].requestBody.bytes], [0, 1, 2, 0xff]);
  assert.deepEqual(msgs[3].requestBody.bytes, Buffer.alloc(300, 7));
  assert.equal(msgs[3].requestBody.wireSize, 4 + 300);
  // Kept up to the body limit, the size counted whole.
  assert.equal(msgs[4].requestBody.size, 70_000);
  assert.equal(msgs[4].requestBody.bytes.length, defaultDissectorLimits.maxBodyBytes);
  assert.equal(msgs[4].requestBody.truncated, true);
  assert.equal(text(msgs[4].requestBody), 'x'.repeat(defaultDissectorLimits.maxBodyBytes));
  for (const m of msgs) {
    assert.equal(m.fields['websocket.handshake'], hs.id);
    assert.equal(m.outcome, Outcome.oneWay);
    assert.equal(m.target, '/chat');
    assert.equal(m.host, 'ws.test');
    assert.equal(m.src.ip, clientEnd.ip);
    assert.equal(m.dst.port, server.port);
    assert.equal(m.unanswered, false);
    assert.equal(m.incomplete, false);
  }
  assert.equal(result.counters.protocols.websocket.parseErrors, 0);
  assert.equal(result.counters.protocols.websocket.exchanges, 5);
});

test('a fragmented message is one entry; a ping between its fragments is its own, paired with the pong', async () => {
  const c = upgraded();
  c.send(client(1, 'frag-', { fin: false }));
  c.send(client(0, 'ment', { fin: false }));
  c.send(client(9, 'are you there'));
  c.reply(frame(10, 'are you there'));
  c.send(client(0, '-ed'));
  c.reply(frame(10, 'unsolicited')); // a heartbeat nobody asked for
  c.reply(frame(9, 'p2')); // the server's ping, never answered
  c.close();
  const { entries } = await importFrames(c.frames);
  const msgs = ws(entries);
  assert.deepEqual(msgs.map((e) => [e.operation, e.fields['websocket.direction'], text(e.requestBody), text(e.responseBody), e.outcome]), [
    ['ping', 'client', 'are you there', 'are you there', Outcome.ok],
    ['text', 'client', 'frag-ment-ed', '', Outcome.oneWay],
    ['pong', 'server', 'unsolicited', '', Outcome.oneWay],
    ['ping', 'server', 'p2', '', Outcome.none],
  ]);
  assert.equal(msgs[1].fields['websocket.frames'], 3);
  assert.equal(msgs[0].durationUs, msgs[0].endUs - msgs[0].startUs);
  assert.ok(msgs[0].durationUs > 0);
  assert.equal(msgs[3].unanswered, true);
});

test('close codes: the close and its echo are one entry, its code and reason the status and outcome', async () => {
  const run = async (code: number, reason: string, echo: boolean) => {
    const c = upgraded();
    c.send(client(8, closePayload(code, reason)));
    if (echo) c.reply(frame(8, closePayload(code)));
    c.close();
    const [e] = ws((await importFrames(c.frames)).entries);
    return [e.operation, e.status, e.statusText, e.fields['websocket.close_code'], e.outcome, e.unanswered];
  };
  assert.deepEqual(await run(1000, 'bye', true), ['close', 1000, 'bye', 1000, Outcome.ok, false]);
  assert.deepEqual(await run(1001, 'going away', false), ['close', 1001, 'going away', 1001, Outcome.ok, true]);
  assert.deepEqual(await run(1008, 'policy', true), ['close', 1008, 'policy', 1008, Outcome.clientError, false]);
  assert.deepEqual(await run(1011, 'oops', true), ['close', 1011, 'oops', 1011, Outcome.serverError, false]);
  assert.deepEqual(await run(4001, 'app', true), ['close', 4001, 'app', 4001, Outcome.ok, false]);
  // A close without a payload has no code.
  const c = upgraded();
  c.reply(frame(8, ''));
  c.send(client(8, ''));
  const [e] = ws((await importFrames(c.frames)).entries);
  assert.deepEqual([e.fields['websocket.direction'], e.status, e.fields['websocket.close_code'], e.outcome, e.unanswered], ['server', 0, undefined, Outcome.ok, false]);
});

test('close codes by RFC 6455 §7.4: 1000/1001 ok, 1002/1003/1007–1010 client errors, 1011–1015 server errors', () => {
  const classes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 1005, 2000, 3000, 4999].map(closeOutcome);
  const { ok, clientError: c, serverError: s } = Outcome;
  assert.deepEqual(classes, [ok, ok, c, c, c, c, c, c, s, s, s, s, s, c, c, ok, ok]);
});

test('permessage-deflate with context takeover: every message decompressed, each referring back to the ones before', async () => {
  const texts = ['{"price":101.5,"symbol":"ACME"}', '{"price":101.6,"symbol":"ACME"}', '{"price":101.6,"symbol":"ACME"}'];
  const fromClient = await deflateMessages(texts, true);
  const fromServer = await deflateMessages(texts, true, 10);
  // The later messages are back-references to the first: they cannot be read alone.
  assert.ok(fromClient[2].length < 8, `${fromClient[2].length} bytes`);
  const c = upgraded('permessage-deflate; client_max_window_bits=15; server_max_window_bits=10');
  for (let i = 0; i < texts.length; i++) {
    c.send(client(1, fromClient[i], { rsv1: true }));
    c.reply(frame(1, fromServer[i], { rsv1: true }));
  }
  c.send(client(1, 'plain, not compressed'));
  const { entries, result } = await importFrames(c.frames);
  const msgs = ws(entries);
  assert.deepEqual(msgs.map((e) => text(e.requestBody)), [texts[0], texts[0], texts[1], texts[1], texts[2], texts[2], 'plain, not compressed']);
  assert.deepEqual(msgs.map((e) => e.fields['websocket.compressed']), [1, 1, 1, 1, 1, 1, 0]);
  assert.equal(msgs[4].requestBody.encoding, 'permessage-deflate');
  assert.equal(msgs[4].requestBody.wireSize, 2 + 4 + fromClient[2].length);
  assert.equal(msgs[4].requestBody.size, texts[2].length);
  assert.equal(result.counters.protocols.websocket.parseErrors, 0);
});

test('permessage-deflate without context takeover: each message alone; a bomb is bounded by the limit', async () => {
  const texts = ['aaaa-bbbb-cccc', 'aaaa-bbbb-cccc'];
  const independent = await deflateMessages(texts, false);
  assert.deepEqual(independent[0], independent[1]);
  const c = upgraded('permessage-deflate; server_no_context_takeover; client_no_context_takeover');
  c.send(client(1, independent[0], { rsv1: true }));
  c.reply(frame(1, independent[1], { rsv1: true }));
  // 64 MB of zeros in a few kB: decompression stops at its cap, nothing of it is kept.
  const bomb = deflateRawSync(Buffer.alloc(64 << 20), { level: 9 });
  assert.ok(bomb.length < 100_000);
  c.send(client(2, bomb, { rsv1: true }));
  c.send(client(1, independent[0], { rsv1: true }));
  const { entries, result } = await importFrames(c.frames);
  const msgs = ws(entries);
  assert.deepEqual(msgs.map((e) => e.requestBody.bytes.length <= defaultDissectorLimits.maxBodyBytes), [true, true, true, true]);
  assert.deepEqual([text(msgs[0].requestBody), text(msgs[1].requestBody), text(msgs[3].requestBody)], [texts[0], texts[1], texts[0]]);
  assert.equal(msgs[2].requestBody.truncated, true);
  assert.equal(msgs[2].requestBody.size, bomb.length);
  // Without context takeover the bomb costs nothing to the message after it.
  assert.equal(result.counters.protocols.websocket.parseErrors, 1);
});

test('a 2^63 length fails its direction; the other direction goes on; nothing hangs or grows', async () => {
  const c = upgraded();
  c.send(client(1, 'before'));
  c.send(Buffer.concat([client(2, '', { length: 1n << 63n }), Buffer.alloc(1000, 1)]));
  c.reply(frame(1, 'server still talks'));
  c.send(client(1, 'never read'));
  c.close();
  const { entries, result } = await importFrames(c.frames);
  assert.deepEqual(ws(entries).map(row), [['text', 'client', 'before'], ['text', 'server', 'server still talks']]);
  assert.equal(result.counters.protocols.websocket.parseErrors, 1);
});

test('a client frame without a mask is counted and still read; garbage after the handshake is counted once', async () => {
  const c = upgraded();
  c.send(frame(1, 'unmasked')); // RFC 6455 §5.1: the server must fail the connection; the bytes still say what was sent
  c.reply(Buffer.from('this is not a websocket frame at all, just text'));
  c.close();
  const { entries, result } = await importFrames(c.frames);
  assert.deepEqual(ws(entries).map(row), [['text', 'client', 'unmasked']]);
  assert.equal(result.counters.protocols.websocket.parseErrors, 2);
});

test('a message cut by the end of the connection is incomplete, with what was kept', async () => {
  const c = upgraded();
  const f = client(1, 'a long message cut in the middle');
  c.send(f.subarray(0, 12));
  c.close();
  const [e] = ws((await importFrames(c.frames)).entries);
  assert.deepEqual([e.operation, e.incomplete, e.requestBody.truncated], ['text', true, true]);
  assert.equal(text(e.requestBody), 'a long');
});

test('a gap ends the direction: the message it cut is incomplete, what follows is not guessed at; the other side goes on', async () => {
  const c = upgraded();
  c.send(client(1, 'before the gap'));
  const cut = c.send(client(2, Buffer.alloc(3000, 5)), 1000); // three segments
  c.send(client(1, 'after the gap'));
  c.reply(frame(1, 'the server is unaffected'));
  c.close();
  const lost = cut[1];
  const { entries, result } = await importFrames(c.frames.filter((f) => f !== lost));
  assert.ok(result.counters.gaps > 0);
  const msgs = ws(entries);
  // Sorted: when the reassembly gives up on the hole decides where the cut message falls.
  assert.deepEqual(msgs.map((e) => `${e.operation} ${e.fields['websocket.direction']} ${e.incomplete} ${e.operation === 'text' ? text(e.requestBody) : ''}`).sort(), [
    'binary client true ',
    'text client false before the gap',
    'text server false the server is unaffected',
  ]);
  // What was kept of the cut message is the bytes before the gap.
  const kept = msgs.find((e) => e.operation === 'binary')!.requestBody;
  assert.ok(kept.bytes.length < 3000 && kept.bytes.every((b) => b === 5), `${kept.bytes.length} bytes kept`);
  assert.equal(result.counters.protocols.websocket.parseErrors, 0);
});
