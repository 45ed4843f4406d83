/**
 * gRPC's message framing and the schema-less protobuf decoder: messages encoded by protobufjs
 * (the real encoder grpc-js uses) decode to the fields it wrote; the message counter agrees with
 * the framing however DATA is split; random and mutated bytes never throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { gzipSync } from 'node:zlib';
import { MessageCounter, splitMessages } from '../../src/protocols/grpc/messages.js';
import { decodeRaw } from '../../src/protocols/grpc/protobuf.js';
import { decodeNamed, loadProtoDir, ProtoSchemaError } from '../../src/protocols/grpc/schemas.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PROTO = new URL('../fixtures/grpc/echo.proto', import.meta.url).pathname;
const root = protobuf.loadSync(PROTO);
const EchoRequest = root.lookupType('tapline.test.EchoRequest');
const encode = (value: Record<string, unknown>) => Buffer.from(EchoRequest.encode(EchoRequest.fromObject(value)).finish());
function framed(m: Buffer, compressed = false): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(m.length, 1);
  return Buffer.concat([prefix, m]);
}

test('protobufjs messages decode like protoc --decode_raw: varints, strings, bytes, nested and repeated fields', () => {
  const m = encode({ text: 'héllo "q"', count: -2, blob: Buffer.from([0, 1, 2, 0xff]), inner: { id: '18446744073709551615', tags: ['a', 'b'] } });
  assert.equal(
    decodeRaw(m),
    [
      '1: "héllo \\"q\\""',
      '2: 18446744073709551614', // int32 -2: sign-extended to ten bytes, read as unsigned 64-bit
      '3: "\\000\\001\\002\\377"',
      '4 {',
      '  1: 18446744073709551615',
      '  2: "a"',
      '  2: "b"',
      '}',
    ].join('\n'),
  );
  assert.equal(decodeRaw(Buffer.alloc(0)), '');
  assert.equal(decodeRaw(Buffer.from([0x08])), null, 'a varint cut short');
  assert.equal(decodeRaw(Buffer.from([0x0b])), null, 'groups are not decoded');
});

test('length-prefixed messages: split, compressed ones decompressed, a cut one marked', () => {
  const a = encode({ text: 'one' });
  const b = encode({ text: 'two '.repeat(100) });
  const body = Buffer.concat([framed(a), framed(gzipSync(b), true), framed(a).subarray(0, 6)]);
  const list = splitMessages(body, 'gzip', 1 << 16);
  assert.deepEqual(list.map((m) => [m.compressed, m.cut, m.bytes.length]), [[false, false, a.length], [true, false, b.length], [false, true, 1]]);
  assert.equal(decodeRaw(list[1].bytes), `1: "${'two '.repeat(100)}"`);
});

test('property: the counter agrees with the framing whatever the DATA split; random bytes never throw', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (messages, cuts) => {
      const body = Buffer.concat(messages.map((m) => framed(Buffer.from(m))));
      const counter = new MessageCounter();
      const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((x, y) => x - y);
      let at = 0;
      for (const p of [...points, body.length]) {
        counter.feed(body, at, p);
        at = p;
      }
      assert.equal(counter.messages, messages.length);
      assert.equal(splitMessages(body, '', 1024).length, messages.length);
      for (const m of messages) decodeRaw(Buffer.from(m));
    }),
    { numRuns: 1000 },
  );
});

test('--proto: a directory without .proto files, or with a broken one, is a ProtoSchemaError', () => {
  const empty = mkdtempSync(join(tmpdir(), 'tapline-proto-'));
  try {
    assert.throws(() => loadProtoDir(empty), (e: unknown) => e instanceof ProtoSchemaError && /no \.proto files/.test(e.message));
    writeFileSync(join(empty, 'bad.proto'), 'syntax = "proto3"; message M { strin x = 1; }');
    assert.throws(() => loadProtoDir(empty), ProtoSchemaError);
    assert.throws(() => loadProtoDir(join(empty, 'nope')), /cannot read --proto/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
  assert.equal(decodeNamed('tapline.test.Echo', 'Unary', 'request', encode({ text: 'x' })), null, 'no schema loaded in this process');
});
