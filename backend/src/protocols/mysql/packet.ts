/**
 * MySQL packet framing for one direction of a connection: 3-byte length + sequence id, payloads of
 * 16 MiB - 1 or more continued by further packets (joined here, with the sequence ids checked),
 * and the compressed protocol's outer frames (7-byte header; zlib or zstd) when negotiated.
 *
 * Only a prefix of each payload is kept (`keepBytes`): a 1 GiB row costs its prefix and a count,
 * not a gigabyte. mysql2 and the MariaDB connectors parse from a live socket and would buffer
 * whole payloads and stall on a capture gap, so the framing is written here.
 */
import { inflateSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import type { ProtocolCounters } from '../dissector.js';

/** A packet this long is continued by the next one (the payload is their concatenation). */
export const MAX_PACKET = 0xffffff;
const HEADER = 4;
const COMPRESSED_HEADER = 7;

export interface PacketSink {
  /**
   * One payload (continuations joined): `buf[start, end)` is its kept prefix, `length` its whole
   * size. The bytes are only valid during the call.
   */
  packet(seq: number, buf: Buffer, start: number, end: number, length: number, startUs: number, endUs: number): void;
}

/** Whether `buf[start, end)` can start a packet (after a gap: where framing may resume). */
export type Resync = (buf: Buffer, start: number, end: number) => boolean;

const u24 = (b: Buffer, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);

/** Plain packets. */
export class PacketFramer {
  private readonly header = Buffer.alloc(HEADER);
  private headerHave = 0;
  /** Bytes left in the current physical packet. */
  private remaining = 0;
  private physicalLength = 0;
  /** A payload has begun (its first physical packet's header was read). */
  private inPayload = false;
  private seq = 0;
  private lastSeq = 0;
  private total = 0;
  private startUs = 0;
  /**
   * The kept prefix of a payload that spans chunks (reused: the sink copies what it keeps), sized
   * to the payload; one larger than SMALL is let go once delivered, so idle connections hold little.
   */
  private kept: Buffer | null = null;
  private keptLength = 0;
  private lost = false;
  /** Set by the sink during `packet`: stop after this packet (the rest of the stream is compressed). */
  halt = false;

  constructor(
    private readonly sink: PacketSink,
    private readonly keepBytes: number,
    private readonly counters: ProtocolCounters,
    private readonly resync: Resync,
  ) {}

  /** A payload is partly read (at the end of the connection: it was cut). */
  get midPacket(): boolean {
    return this.inPayload || this.headerHave > 0;
  }

  /** Frames `buf[start, end)`; returns where it stopped (`end`, or after the packet that set `halt`). */
  push(buf: Buffer, start: number, end: number, tsUs: number): number {
    let i = start;
    if (this.lost) {
      if (!this.resync(buf, start, end)) return end;
      this.lost = false;
    }
    while (i < end) {
      if (this.remaining === 0) {
        let len: number;
        let seq: number;
        if (this.headerHave === 0 && end - i >= HEADER) {
          len = u24(buf, i);
          seq = buf[i + 3];
          i += HEADER;
          if (!this.inPayload && len < MAX_PACKET && end - i >= len) {
            // The common case: a whole packet inside the chunk, handed over as a view.
            this.sink.packet(seq, buf, i, i + Math.min(len, this.keepBytes), len, tsUs, tsUs);
            i += len;
            if (this.halt) break;
            continue;
          }
        } else {
          const n = Math.min(HEADER - this.headerHave, end - i);
          buf.copy(this.header, this.headerHave, i, i + n);
          this.headerHave += n;
          i += n;
          if (this.headerHave < HEADER) break;
          this.headerHave = 0;
          len = u24(this.header, 0);
          seq = this.header[3];
        }
        this.begin(len, seq, tsUs);
        if (this.remaining === 0 && this.finish(tsUs)) break;
        continue;
      }
      const n = Math.min(this.remaining, end - i);
      const room = this.keepBytes - this.keptLength;
      if (room > 0) {
        const k = Math.min(room, n);
        const kept = this.kept !== null && this.kept.length >= this.keptLength + k ? this.kept : this.grow(Math.min(this.keepBytes, this.total));
        buf.copy(kept, this.keptLength, i, i + k);
        this.keptLength += k;
      }
      this.remaining -= n;
      i += n;
      if (this.remaining === 0 && this.finish(tsUs)) break;
    }
    const stopped = i;
    this.halt = false;
    return stopped;
  }

  /** Bytes are missing: the payload being read is dropped, and framing resumes where `resync` says. */
  gap(): void {
    if (this.midPacket) this.counters.parseErrors++;
    this.inPayload = false;
    this.headerHave = 0;
    this.remaining = 0;
    this.lost = true;
  }

  private begin(len: number, seq: number, tsUs: number): void {
    if (!this.inPayload) {
      this.inPayload = true;
      this.seq = seq;
      this.total = 0;
      this.keptLength = 0;
      this.startUs = tsUs;
    } else if (seq !== ((this.lastSeq + 1) & 0xff)) {
      // A continuation out of sequence: counted, and joined anyway (the length said it continues).
      this.counters.parseErrors++;
    }
    this.lastSeq = seq;
    this.physicalLength = len;
    this.remaining = len;
    this.total += len;
  }

  /** The physical packet is read; returns true when the sink asked to halt. */
  private finish(tsUs: number): boolean {
    if (this.physicalLength === MAX_PACKET) return false;
    this.inPayload = false;
    this.sink.packet(this.seq, this.kept ?? EMPTY, 0, this.keptLength, this.total, this.startUs, tsUs);
    if (this.kept !== null && this.kept.length > SMALL) this.kept = null;
    return this.halt;
  }

  private grow(size: number): Buffer {
    const next = Buffer.allocUnsafe(Math.max(size, SMALL));
    if (this.kept !== null) this.kept.copy(next, 0, 0, this.keptLength);
    this.kept = next;
    return next;
  }
}

const EMPTY = Buffer.alloc(0);
/** A kept buffer up to this size stays with the framer between payloads. */
const SMALL = 4096;

export type Compression = 'zlib' | 'zstd';

/**
 * The compressed protocol's outer frames: compressed length (3), sequence id (1), length before
 * compression (3, 0 when sent as is), then the bytes, which carry plain packets as one stream
 * (a packet may span frames). A frame holds at most 16 MiB each way, so inflating is bounded by
 * what its header declares; a frame that inflates past that is counted and dropped.
 */
export class CompressedFramer {
  private readonly header = Buffer.alloc(COMPRESSED_HEADER);
  private headerHave = 0;
  private frame: Buffer[] | null = null;
  private frameLength = 0;
  private frameHave = 0;
  private inflatedLength = 0;
  private lost = false;

  constructor(
    private readonly inner: PacketFramer,
    private readonly compression: Compression,
    private readonly counters: ProtocolCounters,
  ) {}

  get midPacket(): boolean {
    return this.headerHave > 0 || this.frame !== null || this.inner.midPacket;
  }

  push(buf: Buffer, start: number, end: number, tsUs: number): void {
    let i = start;
    if (this.lost) {
      if (!looksCompressed(buf, start, end)) return;
      this.lost = false;
    }
    while (i < end) {
      if (this.frame === null) {
        let len: number;
        let inflated: number;
        if (this.headerHave === 0 && end - i >= COMPRESSED_HEADER) {
          len = u24(buf, i);
          inflated = u24(buf, i + 4);
          i += COMPRESSED_HEADER;
          if (end - i >= len) {
            this.unpack(buf, i, i + len, inflated, tsUs);
            i += len;
            continue;
          }
        } else {
          const n = Math.min(COMPRESSED_HEADER - this.headerHave, end - i);
          buf.copy(this.header, this.headerHave, i, i + n);
          this.headerHave += n;
          i += n;
          if (this.headerHave < COMPRESSED_HEADER) break;
          this.headerHave = 0;
          len = u24(this.header, 0);
          inflated = u24(this.header, 4);
        }
        // A frame split across chunks is gathered whole (at most 16 MiB, by its 3-byte length),
        // as its bytes come: a length that lies costs what really arrives.
        this.frame = [];
        this.frameLength = len;
        this.frameHave = 0;
        this.inflatedLength = inflated;
        if (len === 0) this.flush(tsUs);
        continue;
      }
      const n = Math.min(this.frameLength - this.frameHave, end - i);
      this.frame.push(Buffer.from(buf.subarray(i, i + n)));
      this.frameHave += n;
      i += n;
      if (this.frameHave === this.frameLength) this.flush(tsUs);
    }
  }

  gap(): void {
    if (this.headerHave > 0 || this.frame !== null) this.counters.parseErrors++;
    this.headerHave = 0;
    this.frame = null;
    this.lost = true;
    this.inner.gap();
  }

  private flush(tsUs: number): void {
    const f = Buffer.concat(this.frame!, this.frameLength);
    this.frame = null;
    this.unpack(f, 0, f.length, this.inflatedLength, tsUs);
  }

  private unpack(buf: Buffer, start: number, end: number, inflated: number, tsUs: number): void {
    if (inflated === 0) {
      this.inner.push(buf, start, end, tsUs);
      return;
    }
    let out: Buffer;
    try {
      out = this.compression === 'zlib' ? inflateSync(buf.subarray(start, end), { maxOutputLength: inflated }) : zstd(buf.subarray(start, end), inflated);
    } catch {
      // Corrupt, or more than the header declared (ERR_BUFFER_TOO_LARGE): the inner stream has a hole.
      this.counters.parseErrors++;
      this.inner.gap();
      return;
    }
    if (out.length !== inflated) this.counters.parseErrors++;
    this.inner.push(out, 0, out.length, tsUs);
  }
}

function zstd(input: Buffer, inflated: number): Buffer {
  // fzstd writes into the buffer given and throws when the data needs more.
  const out = Buffer.allocUnsafe(inflated);
  const r = zstdDecompress(input, out);
  return Buffer.from(r.buffer, r.byteOffset, r.byteLength);
}

/** A compressed frame header that fits the chunk: where framing resumes after a gap. */
function looksCompressed(buf: Buffer, start: number, end: number): boolean {
  if (end - start < COMPRESSED_HEADER) return false;
  const len = u24(buf, start);
  const inflated = u24(buf, start + 4);
  return len > 0 && COMPRESSED_HEADER + len <= end - start && (inflated === 0 || inflated >= len - 64);
}
