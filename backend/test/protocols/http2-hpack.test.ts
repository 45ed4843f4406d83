/**
 * The HPACK decoder on hand-built blocks: RFC 7541 appendix C's examples (raw and Huffman, with
 * evictions), the Huffman code against appendix B, every error (integer overflow, index 0, an
 * index past a known table, bad Huffman, misplaced size updates, truncation), mid-stream
 * pickups (unseen entries read as [unknown], never a guess; resynchronised by a size update to 0
 * or by new entries pushing every unseen one out), a header-block bomb, and random bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HpackDecoder, HpackError, UNKNOWN, type DecodedBlock } from '../../src/protocols/http2/hpack.js';
import { huffmanCodeLengths, huffmanCodes, huffmanDecode } from '../../src/protocols/http2/huffman.js';
import { indexed, literal, sizeUpdate } from './http2-wire.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const block = (): DecodedBlock => ({ names: [], values: [], unknown: 0, truncated: false });

function decode(d: HpackDecoder, bytes: Buffer, cap = 64 * 1024): { error: HpackError; fields: string[]; unknown: number; truncated: boolean } {
  const out = block();
  const error = d.decode(bytes, 0, bytes.length, cap, out);
  return { error, fields: out.names.map((n, i) => `${n}: ${out.values[i]}`), unknown: out.unknown, truncated: out.truncated };
}

test('Huffman codes are RFC 7541 appendix B\'s', () => {
  // Spot checks across every code length band, as printed in appendix B.
  const printed: Array<[symbol: number, code: number, bits: number]> = [
    [0, 0x1ff8, 13], [1, 0x7fffd8, 23], [10, 0x3ffffffc, 30], [32, 0x14, 6], [48, 0x0, 5], [58, 0x5c, 7],
    [60, 0x7ffc, 15], [92, 0x7fff0, 19], [97, 0x3, 5], [123, 0x7ffe, 15], [127, 0xffffffc, 28], [128, 0xfffe6, 20],
    [153, 0x1fffdc, 21], [199, 0x1ffffec, 25], [203, 0x7ffffde, 27], [255, 0x3ffffee, 26], [256, 0x3fffffff, 30],
  ];
  for (const [s, code, bits] of printed) assert.deepEqual([huffmanCodes[s], huffmanCodeLengths[s]], [code, bits], `symbol ${s}`);
  // A complete prefix code: the Kraft sum is exactly 1.
  assert.equal(huffmanCodeLengths.reduce((sum, l) => sum + 2 ** -l, 0), 1);
});

test('Huffman strings from appendix C decode; EOS inside and bad padding are refused', () => {
  const cases: Array<[string, string]> = [
    ['f1e3 c2e5 f23a 6ba0 ab90 f4ff', 'www.example.com'],
    ['a8eb 1064 9cbf', 'no-cache'],
    ['25a8 49e9 5ba9 7d7f', 'custom-key'],
    ['25a8 49e9 5bb8 e8b4 bf', 'custom-value'],
    ['6402', '302'],
    ['aec3 771a 4b', 'private'],
    ['d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff', 'Mon, 21 Oct 2013 20:13:21 GMT'],
    ['9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3', 'https://www.example.com'],
    ['', ''],
  ];
  for (const [bytes, text] of cases) {
    const b = hex(bytes);
    assert.equal(huffmanDecode(b, 0, b.length), text);
  }
  // EOS (30 ones) then padding; 8 bits of padding; padding of zeros.
  for (const bad of ['ffff fffc', 'f1e3 c2e5 f23a 6ba0 ab90 f4ff ff', 'f1e3 c2e5 f23a 6ba0 ab90 f400']) {
    const b = hex(bad);
    assert.equal(huffmanDecode(b, 0, b.length), null, bad);
  }
});

test('RFC 7541 C.3 and C.4: three requests sharing a dynamic table, raw and Huffman-coded', () => {
  const third = [':method: GET', ':scheme: https', ':path: /index.html', ':authority: www.example.com', 'custom-key: custom-value'];
  const expected = [
    [':method: GET', ':scheme: http', ':path: /', ':authority: www.example.com'],
    [':method: GET', ':scheme: http', ':path: /', ':authority: www.example.com', 'cache-control: no-cache'],
    third,
  ];
  const raw = [
    '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
    '8286 84be 5808 6e6f 2d63 6163 6865',
    '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
  ];
  const huffman = ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'];
  for (const blocks of [raw, huffman]) {
    const d = new HpackDecoder(true);
    blocks.forEach((b, i) => assert.deepEqual(decode(d, hex(b)), { error: HpackError.None, fields: expected[i], unknown: 0, truncated: false }));
    assert.equal(d.synchronised, true);
  }
});

test('RFC 7541 C.5: responses in a 256-byte table, the oldest entries evicted', () => {
  const d = new HpackDecoder(true);
  const date = (s: number) => `date: Mon, 21 Oct 2013 20:13:${s} GMT`;
  const first = Buffer.concat([
    sizeUpdate(256),
    hex('4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'),
  ]);
  assert.deepEqual(decode(d, first).fields, [':status: 302', 'cache-control: private', date(21), 'location: https://www.example.com']);
  // ":status: 302" is evicted to make room for ":status: 307"; the others are referenced.
  assert.deepEqual(decode(d, hex('4803 3330 37c1 c0bf')).fields, [':status: 307', 'cache-control: private', date(21), 'location: https://www.example.com']);
  // Index 65 would be the evicted ":status: 302": past the table, an error.
  assert.equal(decode(d, indexed(66)).error, HpackError.BadIndex);
});

test('errors: integer overflow, index 0, an index past a known table, a misplaced or too large size update, truncation', () => {
  const overflow = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
  const cases: Array<[Buffer, HpackError]> = [
    [overflow, HpackError.IntegerOverflow],
    [Buffer.from([0x80]), HpackError.BadIndex],
    [indexed(62), HpackError.BadIndex],
    [Buffer.concat([indexed(2), sizeUpdate(0)]), HpackError.BadSizeUpdate],
    [sizeUpdate(8192), HpackError.BadSizeUpdate],
    [Buffer.from([0x41, 0x0a, 0x61]), HpackError.Truncated],
    [Buffer.from([0x40, 0x81, 0xff]), HpackError.BadHuffman],
    [Buffer.from([0x1f]), HpackError.Truncated],
  ];
  for (const [bytes, error] of cases) assert.equal(decode(new HpackDecoder(true), bytes).error, error, bytes.toString('hex'));
  // A size update within the peer's SETTINGS_HEADER_TABLE_SIZE is fine.
  const d = new HpackDecoder(true);
  d.setLimit(8192);
  assert.equal(decode(d, Buffer.concat([sizeUpdate(8192), indexed(2)])).error, HpackError.None);
});

test('mid-stream: unseen entries read as [unknown], seen ones exactly, nothing guessed', () => {
  const d = new HpackDecoder(false);
  // The encoder's table holds entries we never saw.
  assert.deepEqual(decode(d, Buffer.concat([indexed(2), indexed(62), literal(63, 'yes')])), {
    error: HpackError.None,
    fields: [':method: GET', `${UNKNOWN}: ${UNKNOWN}`, `${UNKNOWN}: yes`],
    unknown: 2,
    truncated: false,
  });
  // Entries inserted from now on are known; older indices stay unknown.
  assert.deepEqual(decode(d, Buffer.concat([literal('x-a', '1', true), indexed(62), indexed(63)])).fields, ['x-a: 1', 'x-a: 1', `${UNKNOWN}: ${UNKNOWN}`]);
  // A literal whose name was unknown is inserted with its value: its name stays unknown, not guessed.
  assert.deepEqual(decode(d, Buffer.concat([literal(64, 'v', true), indexed(62), indexed(63)])).fields, [`${UNKNOWN}: v`, `${UNKNOWN}: v`, 'x-a: 1']);
  assert.equal(d.synchronised, false);
});

test('mid-stream: a size update to 0 resynchronises (the table is empty, then known)', () => {
  const d = new HpackDecoder(false);
  assert.equal(decode(d, indexed(70)).unknown, 1);
  assert.deepEqual(decode(d, Buffer.concat([sizeUpdate(0), sizeUpdate(4096), literal('x-b', '2', true), indexed(62)])).fields, ['x-b: 2', 'x-b: 2']);
  assert.equal(d.synchronised, true);
  assert.equal(decode(d, indexed(63)).error, HpackError.BadIndex, 'past a known table: an error, not [unknown]');
});

test('mid-stream: new entries that fill a table of known size push out every unseen one', () => {
  const d = new HpackDecoder(false);
  // The size update tells the table's size; 4096 bytes of new entries leave no room for older ones.
  const fill: Buffer[] = [sizeUpdate(4096)];
  for (let i = 0; i < 4; i++) fill.push(literal(`x-fill-${i}`, 'f'.repeat(1000), true));
  assert.equal(decode(d, Buffer.concat(fill)).error, HpackError.None);
  assert.equal(d.synchronised, true);
  assert.deepEqual(decode(d, indexed(62)).fields, [`x-fill-3: ${'f'.repeat(1000)}`]);
  assert.equal(decode(d, indexed(66)).error, HpackError.BadIndex);
});

test('a header-block bomb (one big entry referenced thousands of times) is cut at the decoded-size cap', () => {
  const d = new HpackDecoder(true);
  const refs = Buffer.alloc(20_000, 0xbe); // 20 000 references to index 62
  const bomb = Buffer.concat([literal('x-bomb', 'b'.repeat(4000), true), refs]);
  const r = decode(d, bomb, 64 * 1024);
  assert.equal(r.error, HpackError.None);
  assert.equal(r.truncated, true);
  // Fields are kept while their decoded size (name + value + 32) stays within the cap.
  assert.equal(r.fields.length, Math.floor((64 * 1024) / (6 + 4000 + 32)));
  // The table stayed in step: the next block still reads the entry.
  assert.deepEqual(decode(d, indexed(62)).fields, [`x-bomb: ${'b'.repeat(4000)}`]);
});

test('property: random and mutated blocks never throw, fields stay under the cap, errors lose the table', () => {
  const seeds = ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf', '4803 3330 37c1 c0bf'].map(hex);
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.tuple(fc.nat({ max: seeds.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 5 })).map(([i, sets]) => {
      const b = Buffer.from(seeds[i]);
      for (const [at, v] of sets) b[at % b.length] = v;
      return b;
    }),
  );
  fc.assert(
    fc.property(fc.array(bytes, { minLength: 1, maxLength: 6 }), fc.boolean(), (blocks, fromStart) => {
      const d = new HpackDecoder(fromStart);
      for (const b of blocks) {
        const r = decode(d, b, 2048);
        let size = 0;
        for (const f of r.fields) size += f.length - 2 + 32;
        assert.ok(size <= 2048);
        if (r.error !== HpackError.None) assert.equal(d.synchronised, false);
      }
    }),
    { numRuns: 2000 },
  );
});
