// The declarations of the two untyped codecs, for every program that reaches this file (the plugin's
// type check does, through the shared test support): an ambient file cannot be imported.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./codecs.d.ts" />
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
import { isUtf8 } from 'node:buffer';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import snappy from 'snappyjs';
import lz4 from 'lz4js';
import { decompress as zstdDecompress } from 'fzstd';
import { Reader } from './wire.js';

/** Records whose key, value and headers an entry keeps (the first ones of the exchange). */
export const KEPT_RECORDS = 5;
/** Headers of a record kept. */
const MAX_RECORD_HEADERS = 8;
/** A batch decompresses to at most this much (more is cut: the first records are what is shown). */
const MAX_DECOMPRESSED_BYTES = 1 << 20;
/** Batch header bytes after baseOffset and batchLength (magic 2). */
const BATCH_HEADER_REST = 49;

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

/** The reader of records inside a batch: one for all tallies (a batch is read to its end before the next). */
const inner = new Reader();

export interface KeptRecord {
  topic: string;
  partition: number;
  /** The record's offset (in a Produce request, its position in the batch: the broker assigns offsets). */
  offset: number;
  /** Key, value and header values as a person reads them (`text`): made at once, the bytes are not ours. */
  key: string;
  value: string;
  headers: Array<[string, string]>;
  /** The value's bytes, cut at the tally's cap: kept for the first record only (the entry's payload). */
  body: Buffer | null;
  valueSize: number;
}

/** Characters of a record key or value shown as text (or bytes shown as hex). */
const MAX_SHOWN_CHARS = 512;

/** Bytes as text when they are printable UTF-8, else as hex; cut at MAX_SHOWN_CHARS; null as `(null)`. */
export function text(buf: Buffer, start: number, end: number): string {
  const stop = Math.min(end, start + MAX_SHOWN_CHARS);
  const more = end > stop ? '…' : '';
  let printable = true;
  let ascii = true;
  for (let i = start; i < stop; i++) {
    const c = buf[i];
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) {
      printable = false;
      break;
    }
    if (c >= 0x80) ascii = false;
  }
  // ASCII (most keys and values) needs no UTF-8 check; a cut may split a UTF-8 sequence, which is no reason for hex.
  if (printable && ascii) return buf.toString('latin1', start, stop) + more;
  if (printable && (more !== '' || isUtf8(buf.subarray(start, stop)))) return buf.toString('utf8', start, stop) + more;
  const hexStop = Math.min(end, start + MAX_SHOWN_CHARS / 2);
  return `0x${buf.toString('hex', start, hexStop)}${end > hexStop ? '…' : ''}`;
}

const NULL_TEXT = '(null)';

/** What the record sets of one message held: counts for all of them, the first records kept. */
export class RecordTally {
  records = 0;
  batches = 0;
  /** Batches whose records could not be read (unknown codec, corrupt or cut compressed data). */
  undecoded = 0;
  /** The codec of the first batch ('' when there was none). */
  compression = '';
  readonly kept: KeptRecord[] = [];

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
    const r = inner.reset(data, 0, data.length);
    for (let i = 0; i < count && this.kept.length < KEPT_RECORDS && !r.cut; i++) {
      const length = r.varint();
      const recordEnd = r.pos + length;
      if (length <= 0 || recordEnd > r.end) break;
      r.i8(); // attributes
      r.varlong(); // timestamp delta
      const offsetDelta = r.varint();
      const key = this.varText(r);
      const valueSize = r.varint();
      const valueAt = r.pos;
      const value = this.shown(r, valueSize);
      const headers: Array<[string, string]> = [];
      const headerCount = r.varint();
      for (let h = 0; h < headerCount && h < MAX_RECORD_HEADERS && !r.cut; h++) {
        const nameLength = r.varint();
        const name = nameLength > 0 && nameLength <= r.left ? data.toString('utf8', r.pos, r.pos + Math.min(nameLength, 256)) : '';
        r.skip(Math.max(0, nameLength));
        headers.push([name, this.varText(r)]);
      }
      if (r.cut) break;
      this.keep(topic, partition, baseOffset + offsetDelta, key, value, headers, data, valueAt, valueSize);
      r.pos = recordEnd;
    }
    if (r.cut && codec !== 0) this.undecoded++;
  }

  /** A magic 0/1 message `buf[at, end)` (after offset and size): crc, magic, attributes, [timestamp], key, value. */
  private legacy(topic: string, partition: number, buf: Buffer, at: number, end: number, magic: number, offset: number): void {
    const codec = buf[at + 5] & 0x07;
    this.batches++;
    if (this.compression === '') this.compression = CODECS[codec] ?? `codec ${codec}`;
    const r = inner.reset(buf, at + 6 + (magic === 1 ? 8 : 0), end);
    const key = r.bytes(false);
    const valueSize = r.i32();
    const valueAt = r.pos;
    const value = this.shown(r, valueSize);
    if (codec !== 0) {
      // A wrapper: its value is a compressed message set whose messages are not read (counted as one).
      this.records++;
      this.undecoded++;
      return;
    }
    this.records++;
    if (r.cut || this.kept.length >= KEPT_RECORDS) return;
    this.keep(topic, partition, offset, key ? text(buf, key.start, key.end) : NULL_TEXT, value, [], buf, valueAt, valueSize);
  }

  private keep(topic: string, partition: number, offset: number, key: string, value: string, headers: Array<[string, string]>, buf: Buffer, valueAt: number, valueSize: number): void {
    const body = this.kept.length === 0 && valueSize >= 0 ? Buffer.from(buf.subarray(valueAt, valueAt + Math.min(valueSize, this.maxValueBytes))) : null;
    this.kept.push({ topic, partition, offset, key, value, headers, body, valueSize: Math.max(0, valueSize) });
  }

  /** A varint-length bytes field as text. */
  private varText(r: Reader): string {
    return this.shown(r, r.varint());
  }

  /** The next `n` bytes as text (`(null)` for a negative length), '' when they are not all there. */
  private shown(r: Reader, n: number): string {
    if (n < 0) return NULL_TEXT;
    const at = r.pos;
    r.skip(n);
    return r.cut ? '' : text(r.buf, at, at + n);
  }
}

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

/** The decompressed bytes (at most MAX_DECOMPRESSED_BYTES), or null when the codec is unknown or the data does not decode. */
function decompress(codec: number, data: Buffer): Buffer | null {
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
