/**
 * The HTTP/2 connection on hand-built frames: detection (preface, server SETTINGS, mid-stream
 * frames), the SETTINGS_MAX_FRAME_SIZE check, padding, CONTINUATION, the concurrent-stream cap,
 * and bad input (random bytes after a valid preface, a frame longer than the limit, an HPACK
 * integer overflow, a header-block bomb, mutated real frames): counted, bounded, never a throw,
 * and the streams before the damage kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Detection, defaultDissectorLimits } from '../../src/protocols/dissector.js';
import { http2Dissector } from '../../src/protocols/http2/dissector.js';
import type { ConnectionInfo } from '../../src/net/stream.js';
import { connection, DATA, END_HEADERS, END_STREAM, frame, HEADERS, indexed, literal, PREFACE, requestBlock } from './http2-wire.js';

const conn: ConnectionInfo = { id: 1, transport: 'tcp', ip: ['127.0.0.1', '127.0.0.2'], port: [40000, 80], clientDir: undefined, midStream: true };
const detect = (b: Buffer) => http2Dissector.stream!.detect(b, 0, b.length, conn);
const SETTINGS = frame(4, 0, 0, Buffer.from([0, 4, 0, 0, 0xff, 0xff]));
const response = (stream: number, status = 8) => frame(HEADERS, END_HEADERS | END_STREAM, stream, indexed(status));
const request = (stream: number, path: string) => frame(HEADERS, END_HEADERS | END_STREAM, stream, requestBlock('GET', path));
const rows = (xs: Array<{ operation: string; target: string; status: number; unanswered: boolean }>) => xs.map((x) => `${x.operation} ${x.target} ${x.unanswered ? '-' : x.status}`);

test('detection: the preface (whole or begun), a server SETTINGS, mid-stream frames that begin a request or a response', () => {
  assert.equal(detect(PREFACE), Detection.FromClient);
  assert.equal(detect(PREFACE.subarray(0, 10)), Detection.More);
  assert.equal(detect(SETTINGS), Detection.FromServer);
  assert.equal(detect(Buffer.concat([frame(8, 0, 0, Buffer.alloc(4)), request(7, '/x')])), Detection.FromClient);
  assert.equal(detect(response(7)), Detection.FromServer);
  assert.equal(detect(Buffer.from('GET / HTTP/1.1\r\n\r\n')), Detection.No);
  assert.equal(detect(Buffer.from([0x16, 3, 1, 0, 0x50, 1, 0, 0, 0x4c, 3, 3])), Detection.No, 'a TLS ClientHello');
  assert.equal(detect(frame(0, 0, 1, 'body only')), Detection.No, 'frames, but nothing that tells the sides apart');
});

test('a connection from its start: padding, priority, CONTINUATION, DATA, pairing by stream id whatever the order', () => {
  const c = connection();
  c.send(0, Buffer.concat([PREFACE, SETTINGS]));
  c.send(1, SETTINGS);
  const block = requestBlock('POST', '/upload?x=1', [literal('x-long', 'l'.repeat(100))]);
  // Padded HEADERS with a priority, its block split over CONTINUATION.
  const padded = Buffer.concat([Buffer.from([3]), Buffer.alloc(5), block.subarray(0, 20), Buffer.alloc(3)]);
  c.send(0, Buffer.concat([frame(HEADERS, 0x08 | 0x20, 1, padded), frame(9, END_HEADERS, 1, block.subarray(20)), frame(DATA, 0x08 | END_STREAM, 1, Buffer.concat([Buffer.from([2]), Buffer.from('abc'), Buffer.alloc(2)]))]));
  c.send(0, request(3, '/second'));
  c.send(1, response(3, 13)); // 404 first, for the later stream
  c.send(1, Buffer.concat([frame(HEADERS, END_HEADERS, 1, indexed(8)), frame(DATA, END_STREAM, 1, 'done')]));
  c.consumer.end('fin', 0);
  assert.deepEqual(rows(c.exchanges), ['GET /second 404', 'POST /upload 200']);
  const post = c.exchanges[1];
  assert.equal(post.query, 'x=1');
  assert.equal(post.requestHeaders.get('x-long'), 'l'.repeat(100));
  assert.equal(post.requestBody.bytes.toString(), 'abc');
  assert.equal(post.responseBody.bytes.toString(), 'done');
  assert.equal(c.counters.http2.parseErrors, 0);
});

test('a frame longer than SETTINGS_MAX_FRAME_SIZE is a counted error; the direction resumes at the next chunk of frames', () => {
  const c = connection();
  c.send(0, Buffer.concat([PREFACE, SETTINGS, request(1, '/before')]));
  c.send(1, response(1));
  const tooLong = Buffer.alloc(9 + 20_000);
  tooLong.writeUIntBE(20_000, 0, 3); // a DATA frame of 20 000 bytes: above the default 16 384
  tooLong.writeUInt32BE(3, 5);
  c.send(0, tooLong);
  assert.equal(c.counters.http2.parseErrors, 1);
  // The client's HPACK state is unknown now; a request with static and literal fields still reads.
  c.send(0, request(5, '/after'));
  c.send(1, response(5));
  c.consumer.end('fin', 0);
  assert.deepEqual(rows(c.exchanges), ['GET /before 200', 'GET /after 200']);
});

test('random bytes after a valid preface: counted, no throw, and the stream before them kept', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), (junk) => {
      const c = connection();
      c.send(0, Buffer.concat([PREFACE, SETTINGS, request(1, '/ok')]));
      c.send(1, Buffer.concat([SETTINGS, response(1)]));
      c.send(0, Buffer.from(junk));
      c.send(1, Buffer.from(junk));
      c.consumer.end('fin', 0);
      assert.deepEqual(rows(c.exchanges.slice(0, 1)), ['GET /ok 200']);
      for (const x of c.exchanges) {
        for (const [n, v] of x.requestHeaders) assert.ok(n.length + v.length <= defaultDissectorLimits.maxHeaderBytes);
      }
    }),
    { numRuns: 300 },
  );
});

test('an HPACK integer overflow and a header-block bomb: counted or cut, bounded', () => {
  const c = connection();
  c.send(0, Buffer.concat([PREFACE, SETTINGS]));
  const overflow = Buffer.concat([requestBlock('GET', '/overflow'), Buffer.from([0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])]);
  c.send(0, frame(HEADERS, END_HEADERS | END_STREAM, 1, overflow));
  // 16 000 references to one 4 000-byte entry: 64 MB decoded from 16 kB.
  const bomb = Buffer.concat([requestBlock('GET', '/bomb'), literal('x-bomb', 'b'.repeat(4000), true), Buffer.alloc(12_000, 0xbe)]);
  c.send(0, frame(HEADERS, END_HEADERS | END_STREAM, 3, bomb));
  c.send(1, Buffer.concat([SETTINGS, response(1), response(3)]));
  c.consumer.end('fin', 0);
  assert.equal(c.counters.http2.parseErrors, 1);
  const [overflowed, bombed] = c.exchanges;
  assert.deepEqual(rows(c.exchanges), ['GET /overflow 200', 'GET /bomb 200']);
  assert.equal(overflowed.incomplete, true);
  assert.equal(bombed.incomplete, true);
  assert.ok(bombed.requestHeaders.count <= 17, `${bombed.requestHeaders.count} headers kept`);
});

test('concurrent streams are capped: the oldest open stream is given up as unanswered', () => {
  const c = connection({ ...defaultDissectorLimits, maxPendingRequests: 4 });
  c.send(0, Buffer.concat([PREFACE, SETTINGS]));
  for (let id = 1; id <= 11; id += 2) c.send(0, request(id, `/s${id}`));
  assert.deepEqual(rows(c.exchanges), ['GET /s1 -', 'GET /s3 -']);
  c.send(1, response(11));
  assert.deepEqual(rows(c.exchanges).slice(2), ['GET /s11 200']);
  c.consumer.end('rst', 0);
  assert.equal(c.exchanges.length, 6);
  assert.ok(c.exchanges.slice(3).every((x) => x.unanswered));
});

test('property: mutated real frames never throw, every entry stays within the limits', () => {
  const seed = Buffer.concat([PREFACE, SETTINGS, frame(HEADERS, END_HEADERS, 1, requestBlock('POST', '/m', [literal('x-k', 'v', true), indexed(62)])), frame(DATA, END_STREAM, 1, 'payload')]);
  const reply = Buffer.concat([SETTINGS, frame(HEADERS, END_HEADERS, 1, Buffer.concat([indexed(8), literal(31, 'text/plain', true)])), frame(DATA, 0, 1, 'x'), frame(HEADERS, END_HEADERS | END_STREAM, 1, literal('grpc-status', '0'))]);
  const limits = { ...defaultDissectorLimits, maxBodyBytes: 64, maxHeaderBytes: 512 };
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat({ max: 40 }), (sets, cut) => {
      const a = Buffer.from(seed);
      const b = Buffer.from(reply);
      for (const [client, at, v] of sets) (client ? a : b)[at % (client ? a : b).length] = v;
      const c = connection(limits);
      c.send(0, a.subarray(0, a.length - cut));
      c.send(1, b);
      c.consumer.end('fin', 0);
      for (const x of c.exchanges) {
        assert.ok(x.requestBody.bytes.length <= 64 && x.responseBody.bytes.length <= 64);
        assert.ok(x.requestHeaders.count <= 512 / 32);
      }
    }),
    { numRuns: 1000 },
  );
});

test('picked up mid-connection, a direction that begins inside a frame waits for a chunk of frames', () => {
  const c = connection();
  c.send(0, request(7, '/x'));
  // The tail of an earlier frame: read as a frame header it would claim 40 bytes and swallow the response.
  c.send(1, Buffer.from([0, 0, 40, 1, 4, 0, 0, 0, 7, 0xbe, 0xbf, 1, 2, 3]));
  c.send(1, response(7));
  c.consumer.end('fin', 0);
  assert.deepEqual(rows(c.exchanges), ['GET /x 200']);
});
