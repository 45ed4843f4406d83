/**
 * The Kafka readers on bytes: varints and lengths at their limits, record batches in every codec
 * (snappy raw and in xerial's framing), a gzip bomb, the old message sets; real messages from
 * kcat and kafkajs (fixtures/kafka/mock-messages.txt, captured against librdkafka's mock
 * cluster); and fast-check over random and mutated real messages: never a throw, bounded output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import snappy from 'snappyjs';
import lz4 from 'lz4js';
import { isFlexible, parseRequest, parseResponse, responseHeaderFlexible, Side } from '../../src/protocols/kafka/apis.js';
import { KEPT_RECORDS, RecordTally, text } from '../../src/protocols/kafka/records.js';
import { MAX_STRING_CHARS, Reader } from '../../src/protocols/kafka/wire.js';
import { batch, i16, i32, i64, i8, records, str } from './kafka-wire.js';

interface Message {
  request: boolean;
  key: number;
  version: number;
  bytes: Buffer;
}

const real: Message[] = readFileSync(new URL('../fixtures/kafka/mock-messages.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [dir, key, version, hex] = l.split(' ');
    return { request: dir === 'req', key: Number(key), version: Number(version), bytes: Buffer.from(hex, 'hex') };
  });

/** Parses a size-prefixed message as the dissector does after framing: header, then body. */
function parse(m: Message, maxValueBytes = 4096): { side: Side; reader: Reader } {
  const r = new Reader().reset(m.bytes, 4, m.bytes.length);
  const side = new Side(maxValueBytes);
  if (m.request) {
    r.skip(8);
    r.str(false);
    if (isFlexible(m.key, m.version)) r.tags(true);
    parseRequest(m.key, r, m.version, side);
  } else {
    r.skip(4);
    if (responseHeaderFlexible(m.key, m.version)) r.tags(true);
    parseResponse(m.key, r, m.version, side);
  }
  return { side, reader: r };
}

test('varints: zig-zag values, a 5-byte limit for 32 bits, a varint that never ends is a cut', () => {
  const r = new Reader();
  assert.deepEqual([r.reset(Buffer.from([0x01]), 0, 1).varint(), r.reset(Buffer.from([0x02]), 0, 1).varint(), r.reset(Buffer.from([0xac, 0x02]), 0, 2).uvarint()], [-1, 1, 300]);
  assert.equal(r.reset(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), 0, 5).uvarint(), 0xffffffff);
  r.reset(Buffer.alloc(64, 0xff), 0, 64).uvarint();
  assert.deepEqual([r.cut, r.pos], [true, 5]);
  r.reset(Buffer.alloc(3, 0x80), 0, 3).varlong();
  assert.equal(r.cut, true);
  assert.equal(r.reset(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 0, 9).varlong(), 2 ** 55);
});

test('lengths and counts that lie: a string past the end, 2^31-1 elements, a long string cut to its cap', () => {
  const r = new Reader();
  r.reset(Buffer.concat([i16(100), Buffer.from('short')]), 0, 7);
  assert.deepEqual([r.str(false), r.cut], ['', true]);
  r.reset(Buffer.concat([i32(0x7fffffff), Buffer.alloc(10)]), 0, 14);
  assert.deepEqual([r.array(false), r.cut], [0, true]);
  const long = str('t'.repeat(5000));
  assert.equal(r.reset(long, 0, long.length).str(false).length, MAX_STRING_CHARS);
  assert.deepEqual([r.cut, r.left], [false, 0]);
  assert.deepEqual([r.reset(i16(-1), 0, 2).str(false), r.cut], ['', false], 'null reads as empty');
  assert.deepEqual([r.reset(i64(-2), 0, 8).i64()], [-2]);
});

test('record bytes as text: printable UTF-8 as is, other bytes as hex, long ones cut', () => {
  const t = (b: Buffer) => text(b, 0, b.length);
  assert.equal(t(Buffer.from('{"a":"é ✓"}\n')), '{"a":"é ✓"}\n');
  assert.equal(t(Buffer.from([0, 1, 0xff, 0x41])), '0x0001ff41');
  assert.equal(t(Buffer.from([0xc3, 0x28])), '0xc328', 'invalid UTF-8');
  assert.equal(t(Buffer.alloc(2000, 'a')), `${'a'.repeat(512)}…`);
  assert.equal(t(Buffer.alloc(2000, 1)), `0x${'01'.repeat(256)}…`);
  assert.equal(t(Buffer.alloc(0)), '');
});

const recs = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `value ${i} `.repeat(20), headers: [['h', `x${i}`]] as Array<[string, string]> }));

/** xerial's snappy framing, as Java clients write it: magic, version 1, compat 1, length-prefixed blocks. */
function xerial(data: Buffer, block = 64): Buffer {
  const parts: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]), i32(1), i32(1)];
  for (let at = 0; at < data.length; at += block) {
    const c = snappy.compress(data.subarray(at, at + block));
    parts.push(i32(c.length), c);
  }
  return Buffer.concat(parts);
}

test('record batches in each codec: gzip, snappy (raw and xerial-framed), lz4 frames; the first records kept', () => {
  const plain = records(recs(8));
  const cases: Array<[string, number, Buffer]> = [
    ['none', 0, plain],
    ['gzip', 1, gzipSync(plain)],
    ['snappy', 2, snappy.compress(plain)],
    ['snappy', 2, xerial(plain)],
    ['lz4', 3, Buffer.from(lz4.compress(plain))],
  ];
  for (const [name, codec, payload] of cases) {
    const t = new RecordTally(100);
    const set = batch(8, payload, codec, 40);
    t.add('t', 3, set, 0, set.length);
    assert.deepEqual([t.records, t.batches, t.undecoded, t.compression, t.kept.length], [8, 1, 0, name, KEPT_RECORDS], name);
    assert.deepEqual(t.kept.map((k) => [k.offset, k.key, k.value, k.valueSize, k.headers.map(([h, v]) => `${h}=${v}`).join()]), [0, 1, 2, 3, 4].map((i) => [40 + i, `k${i}`, `value ${i} `.repeat(20), `value ${i} `.repeat(20).length, `h=x${i}`]), name);
    // The first record's value is the payload, cut at the cap; the others are text only.
    assert.deepEqual(t.kept.map((k) => k.body?.toString() ?? null), [`value 0 `.repeat(20).slice(0, 100), null, null, null, null], name);
  }
});

test('undecodable batches are counted and marked: corrupt data, an unknown codec, a gzip bomb; control batches are not read', () => {
  const plain = records(recs(2));
  const bomb = gzipSync(Buffer.alloc(64 << 20));
  assert.ok(bomb.length < 100_000);
  for (const [codec, payload] of [[1, Buffer.from('not gzip at all')], [3, Buffer.from('nor lz4')], [2, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1])], [6, plain], [1, bomb]] as const) {
    const t = new RecordTally(100);
    const set = batch(2, payload, codec);
    t.add('t', 0, set, 0, set.length);
    assert.deepEqual([t.records, t.undecoded, t.kept.length], [2, 1, 0], `codec ${codec}`);
  }
  const t = new RecordTally(100);
  const control = batch(1, records([{ key: 'ctl', value: 'x' }]), 0, 0, 0x20);
  t.add('t', 0, control, 0, control.length);
  assert.deepEqual([t.records, t.kept.length], [1, 0]);
  // A batch cut at the end (a Fetch response's last) ends the set without a complaint.
  const two = Buffer.concat([batch(2, plain), batch(2, plain)]);
  const cut = new RecordTally(100);
  cut.add('t', 0, two, 0, two.length - 10);
  assert.deepEqual([cut.batches, cut.records, cut.undecoded], [1, 2, 0]);
});

test('the old message sets (magic 0 and 1): each message a record; a compressed wrapper counted, not read', () => {
  const message = (magic: number, attributes: number, key: string | null, value: string) => {
    const body = Buffer.concat([i8(magic), i8(attributes), magic === 1 ? i64(1_700_000_000_000) : Buffer.alloc(0), key === null ? i32(-1) : Buffer.concat([i32(key.length), Buffer.from(key)]), i32(value.length), Buffer.from(value)]);
    const withCrc = Buffer.concat([i32(0), body]);
    return Buffer.concat([i64(7), i32(withCrc.length), withCrc]);
  };
  const set = Buffer.concat([message(0, 0, 'a', 'first'), message(1, 0, null, 'second'), message(1, 1, null, 'gzipped set')]);
  const t = new RecordTally(100);
  t.add('old', 1, set, 0, set.length);
  assert.deepEqual([t.records, t.batches, t.undecoded, t.compression], [3, 3, 1, 'none']);
  assert.deepEqual(t.kept.map((k) => [k.offset, k.key, k.value]), [[7, 'a', 'first'], [7, '(null)', 'second']]);
});

test('real messages from kcat and kafkajs: every one reads whole; each Produce batch decodes in its codec to the values sent', () => {
  assert.ok(real.length > 50);
  const codecs = new Set<string>();
  for (const m of real) {
    const { side, reader } = parse(m);
    assert.equal(reader.cut, false, `${m.request ? 'request' : 'response'} ${m.key} v${m.version}`);
    if (m.request && m.key === 0) {
      const t = side.tally!;
      const codec = /^f(none|gzip|snappy|lz4|zstd)$/.exec(side.topics[0] ?? '')?.[1];
      if (codec === undefined) continue; // kafkajs's
      codecs.add(codec);
      assert.deepEqual([t.compression, t.undecoded], [codec, 0]);
      for (const k of t.kept) {
        assert.match(k.value, new RegExp(`^value-${codec}-\\d the quick brown fox jumps over the lazy dog the quick brown fox$`));
        assert.deepEqual(k.headers.map(([n, v]) => `${n}=${v}`), ['h1=x']);
      }
    }
  }
  assert.deepEqual([...codecs].sort(), ['gzip', 'lz4', 'none', 'snappy', 'zstd']);
});

/** Every API with a parser, at every version up to its highest (and a few beyond). */
const apis = [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 17, 18, 19, 36];

function bounded(side: Side): void {
  assert.ok(side.rows.length <= 64 && side.topics.length <= 16 && side.errors.length <= 64);
  for (const [n, v] of side.rows) assert.ok(n.length <= 2048 && v.length <= 4096);
  const t = side.tally;
  if (t) assert.ok(t.kept.length <= KEPT_RECORDS && t.kept.every((k) => k.value.length <= 1100 && k.key.length <= 1100 && (k.body?.length ?? 0) <= 4096));
}

test('fuzz: random bodies for every API and version never throw, and what is kept stays bounded', () => {
  fc.assert(
    fc.property(fc.constantFrom(...apis), fc.integer({ min: 0, max: 17 }), fc.boolean(), fc.uint8Array({ maxLength: 600 }), (key, version, request, body) => {
      const head = request ? Buffer.concat([i16(key), i16(version), i32(1), str('fuzz')]) : i32(1);
      const bytes = Buffer.concat([i32(head.length + body.length), head, body]);
      bounded(parse({ request, key, version, bytes }).side);
    }),
    { numRuns: 20_000, seed: 0x6b61666b },
  );
});

test('fuzz: mutated real messages (bytes set, lengths grown, cut anywhere) never throw, and stay bounded', () => {
  const mutation = fc.oneof(
    fc.record({ at: fc.nat(), value: fc.oneof(fc.constant(0xff), fc.constant(0x7f), fc.constant(0), fc.integer({ min: 0, max: 255 })) }),
    fc.record({ cut: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: real.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 8 }), (i, mutations) => {
      let b = Buffer.from(real[i].bytes);
      for (const m of mutations) {
        if ('cut' in m) b = b.subarray(0, 4 + (m.cut % Math.max(1, b.length - 3)));
        else if (b.length > 4) b[4 + (m.at % (b.length - 4))] = m.value;
      }
      bounded(parse({ ...real[i], bytes: b }).side);
    }),
    { numRuns: 20_000, seed: 0x1eaf },
  );
});
