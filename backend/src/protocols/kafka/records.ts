/**
 * Kafka record sets as Produce requests and Fetch responses carry them: record batches (magic 2,
 * varint records, https://kafka.apache.org/documentation/#recordbatch) and the older message sets
 * (magic 0 and 1). Every batch is counted from its header; the records of the first few are read
 * (decompressed when the batch is) to show their keys, values and headers.
 *
 * Codecs: gzip through zlib; snappy through `snappyjs`, unwrapping the xerial framing Java
 * clients write (raw snappy, as librdkafka writes it, too); lz4 through `lz4js` (Kafka uses the
 * LZ4 frame format); zstd through `fzstd`. Output is capped (MAX_DECOMPRESSED_BYTES); a batch that
 * does not decode is counted and marked (`undecoded`), never fatal.
 */
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import snappy from 'snappyjs';
import lz4 from 'lz4js';
import { decompress as zstdDecompress } from 'fzstd';
import { Reader } from './wire.js';

/** Records whose key, value and headers an entry keeps (the first ones of the exchange). */
export const KEPT_RECORDS = 5;
/** Bytes of a record key kept. */
const MAX_KEY_BYTES = 1024;
/** Headers of a record kept. */
const MAX_RECORD_HEADERS = 16;
/** A batch decompresses to at most this much (more is cut: the first records are what is shown). */
export const MAX_DECOMPRESSED_BYTES = 1 << 20;
/** Batch header bytes after baseOffset and batchLength (magic 2). */
const BATCH_HEADER_REST = 49;

export const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

export interface KeptRecord {
  topic: string;
  partition: number;
  /** The record's offset (in a Produce request, its position in the batch: the broker assigns offsets). */
  offset: number;
  key: Buffer | null;
  /** Cut at the tally's value cap. */
  value: Buffer | null;
  valueSize: number;
  headers: Array<[string, Buffer | null]>;
}

/** What the record sets of one message held: counts for all of them, the first records kept. */
export class RecordTally {
  records = 0;
  batches = 0;
  /** Batches whose records could not be read (unknown codec, corrupt or cut compressed data). */
  undecoded = 0;
  /** The codec of the first batch ('' when there was none). */
  compression = '';
  readonly kept: KeptRecord[] = [];
  private readonly inner = new Reader();

  constructor(private readonly maxValueBytes: number) {}

  /** Reads a partition's record set `buf[start, end)`. A batch cut at the end (Fetch responses cut them) ends it. */
  add(topic: string, partition: number, buf: Buffer, start: number, end: number): void {
    let at = start;
    // offset (8) + length (4) + the header up to magic (4 partitionLeaderEpoch / 4 crc + 1 magic).
    while (end - at >= 17) {
      const length = buf.readInt32BE(at + 8);
      if (length < 0) return;
      const next = at + 12 + length;
      const whole = next <= end;
      const magic = buf[at + 16];
      if (magic === 2) {
        if (length < BATCH_HEADER_REST || !whole) return;
        this.batch(topic, partition, buf, at, next);
      } else if (magic === 0 || magic === 1) {
        if (!whole || length < 14) return;
        this.legacy(topic, partition, buf, at + 12, next, magic, buf.readInt32BE(at) * 0x1_0000_0000 + buf.readUInt32BE(at + 4));
      } else return;
      at = next;
    }
  }

  /** A magic-2 batch at `buf[at, end)`. */
  private batch(topic: string, partition: number, buf: Buffer, at: number, end: number): void {
    const baseOffset = buf.readInt32BE(at) * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
    const attributes = buf.readInt16BE(at + 21);
    const count = buf.readInt32BE(at + 57);
    const codec = attributes & 0x07;
    this.batches++;
    if (count > 0) this.records += count;
    if (this.compression === '') this.compression = CODECS[codec] ?? `codec ${codec}`;
    if ((attributes & 0x20) !== 0 || this.kept.length >= KEPT_RECORDS || count <= 0) return; // a control batch, or enough kept
    const body = at + 61;
    const data = codec === 0 ? buf.subarray(body, end) : decompress(codec, buf.subarray(body, end));
    if (data === null) {
      this.undecoded++;
      return;
    }
    const r = this.inner.reset(data, 0, data.length);
    for (let i = 0; i < count && this.kept.length < KEPT_RECORDS && !r.cut; i++) {
      const length = r.varint();
      const recordEnd = r.pos + length;
      if (length <= 0 || recordEnd > r.end) break;
      r.i8(); // attributes
      r.varlong(); // timestamp delta
      const offsetDelta = r.varint();
      const key = this.varBytes(r, MAX_KEY_BYTES);
      const valueSize = r.varint();
      const value = this.slice(r, valueSize, this.maxValueBytes);
      const headers: Array<[string, Buffer | null]> = [];
      const headerCount = r.varint();
      for (let h = 0; h < headerCount && h < MAX_RECORD_HEADERS && !r.cut; h++) {
        const nameLength = r.varint();
        const name = nameLength > 0 && nameLength <= r.left ? data.toString('utf8', r.pos, r.pos + Math.min(nameLength, 256)) : '';
        r.skip(Math.max(0, nameLength));
        headers.push([name, this.varBytes(r, MAX_KEY_BYTES)]);
      }
      if (r.cut) break;
      this.kept.push({ topic, partition, offset: baseOffset + offsetDelta, key, value, valueSize: Math.max(0, valueSize), headers });
      r.pos = recordEnd;
    }
    if (r.cut && codec !== 0) this.undecoded++;
  }

  /** A magic 0/1 message `buf[at, end)` (after offset and size): crc, magic, attributes, [timestamp], key, value. */
  private legacy(topic: string, partition: number, buf: Buffer, at: number, end: number, magic: number, offset: number): void {
    const codec = buf[at + 5] & 0x07;
    this.batches++;
    if (this.compression === '') this.compression = CODECS[codec] ?? `codec ${codec}`;
    const r = this.inner.reset(buf, at + 6 + (magic === 1 ? 8 : 0), end);
    const key = r.bytes(false);
    const valueSize = r.i32();
    if (codec !== 0) {
      // A wrapper: its value is a compressed message set whose messages are not read (counted as one).
      this.records++;
      this.undecoded++;
      return;
    }
    this.records++;
    if (r.cut || this.kept.length >= KEPT_RECORDS) return;
    this.kept.push({
      topic,
      partition,
      offset,
      key: key ? Buffer.from(buf.subarray(key.start, Math.min(key.end, key.start + MAX_KEY_BYTES))) : null,
      value: this.slice(r, valueSize, this.maxValueBytes),
      valueSize: Math.max(0, valueSize),
      headers: [],
    });
  }

  /** A varint-length bytes field, copied up to `cap` (null for a negative length). */
  private varBytes(r: Reader, cap: number): Buffer | null {
    return this.slice(r, r.varint(), cap);
  }

  private slice(r: Reader, n: number, cap: number): Buffer | null {
    if (n < 0) return null;
    const at = r.pos;
    r.skip(n);
    return r.cut ? null : Buffer.from(r.buf.subarray(at, at + Math.min(n, cap)));
  }
}

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

/** The decompressed bytes (at most MAX_DECOMPRESSED_BYTES), or null when the codec is unknown or the data does not decode. */
export function decompress(codec: number, data: Buffer): Buffer | null {
  try {
    switch (codec) {
      case 1:
        // Sync flush: a cut stream gives what it has instead of an error.
        return gunzipSync(data, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: MAX_DECOMPRESSED_BYTES });
      case 2:
        return snappyUnframe(data);
      case 3: {
        const bound = Math.min(lz4.decompressBound(data), MAX_DECOMPRESSED_BYTES);
        const out = Buffer.alloc(bound);
        return out.subarray(0, Math.min(bound, lz4.decompressFrame(data, out)));
      }
      case 4: {
        // Given an output buffer fzstd writes into it and stops there; the frame header says how much is needed.
        const out = new Uint8Array(Math.min(zstdContentSize(data) ?? MAX_DECOMPRESSED_BYTES, MAX_DECOMPRESSED_BYTES));
        const result = zstdDecompress(data, out);
        return Buffer.from(result.buffer, result.byteOffset, result.byteLength);
      }
      default:
        return null;
    }
  } catch {
    return null;
  }
}

/** Snappy as Kafka carries it: xerial's framing (magic, version, compat, then length-prefixed blocks) or one raw block. */
function snappyUnframe(data: Buffer): Buffer | null {
  if (data.length < 16 || !data.subarray(0, 8).equals(XERIAL_MAGIC)) return snappy.uncompress(data, MAX_DECOMPRESSED_BYTES);
  const blocks: Buffer[] = [];
  let size = 0;
  for (let at = 16; at + 4 <= data.length && size < MAX_DECOMPRESSED_BYTES; ) {
    const n = data.readInt32BE(at);
    if (n <= 0 || at + 4 + n > data.length) break;
    const block = snappy.uncompress(data.subarray(at + 4, at + 4 + n), MAX_DECOMPRESSED_BYTES);
    blocks.push(block);
    size += block.length;
    at += 4 + n;
  }
  return Buffer.concat(blocks).subarray(0, MAX_DECOMPRESSED_BYTES);
}

/** A zstd frame's declared content size (RFC 8878 §3.1.1.1), null when it does not declare one. */
function zstdContentSize(data: Buffer): number | null {
  if (data.length < 6 || data.readUInt32LE(0) !== 0xfd2fb528) return null;
  const descriptor = data[4];
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor & 0x20) !== 0;
  const at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][descriptor & 0x03];
  const size = fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag];
  if (size === 0 || at + size > data.length) return null;
  switch (size) {
    case 1:
      return data[at];
    case 2:
      return data.readUInt16LE(at) + 256;
    case 4:
      return data.readUInt32LE(at);
    default:
      return data.readUInt32LE(at) + data.readUInt32LE(at + 4) * 0x1_0000_0000;
  }
}
