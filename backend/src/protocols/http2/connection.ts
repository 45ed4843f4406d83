/**
 * One HTTP/2 connection: each direction's frames (lengths checked against the peer's
 * SETTINGS_MAX_FRAME_SIZE), its header blocks decoded with its own HPACK state, and the streams
 * they make, each settled once when it ends (END_STREAM of the response, RST_STREAM, GOAWAY past
 * it, the pairing's limits, or the end of the connection).
 *
 * After lost bytes (a gap, a frame too long) a direction skips to the next chunk that starts with
 * frames (segments start frames in practice); its HPACK state is unknown from then on (what the
 * lost blocks inserted was not seen), see hpack.ts.
 */
import type { Direction, EndReason, StreamConsumer } from '../../net/stream.js';
import type { DissectorContext } from '../dissector.js';
import { appendBody, newMessage, type HttpMessage } from '../http/message.js';
import { KeyedPairing, type Timed } from '../pairing.js';
import {
  ACK_FLAG,
  CLIENT_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  errorCodeName,
  Flag,
  FRAME_HEADER_BYTES,
  FrameType,
  FrameWalk,
  MAX_FRAME_SIZE_LIMIT,
  Setting,
  walkFrames,
} from './frames.js';
import { HpackDecoder, HpackError, type DecodedBlock } from './hpack.js';

/** A side's header fields, as decoded (pseudo-headers included, in order). */
export interface FieldList {
  names: string[];
  values: string[];
}

/** One stream, as it is assembled. */
export interface Http2Stream extends Timed {
  id: number;
  startUs: number;
  /** Capture time of the last frame seen on the stream. */
  endUs: number;
  request: FieldList;
  /** Response headers (the final ones: interim 1xx are left out), null until they come. */
  response: FieldList | null;
  trailers: FieldList | null;
  /** Bodies (the DATA payloads, without padding), kept as HTTP/1's are. */
  requestBody: HttpMessage;
  responseBody: HttpMessage;
  requestEnded: boolean;
  responseEnded: boolean;
  /** The error code name of a RST_STREAM that ended it, '' when none did. */
  rstCode: string;
  /** The error code name of a GOAWAY that ended it (the stream was past its last stream id). */
  goawayCode: string;
  /** Header fields that referred to unseen dynamic-table entries. */
  unknownFields: number;
  /** Part of it was not seen (lost bytes, decoded-size cap, an HPACK error). */
  incomplete: boolean;
  /** Notified of each DATA payload (gRPC counts its messages). */
  onData: ((fromClient: boolean, buf: Buffer, start: number, end: number) => void) | null;
}

/** What the connection does with its streams: see one's request begin, and settle each once. */
export interface StreamHandler {
  /** The request's headers are in: a chance to watch its DATA (`stream.onData`). */
  opened(stream: Http2Stream): void;
  settled(stream: Http2Stream): void;
}

/** Frames lengths accepted before any SETTINGS was seen (a mid-stream pickup): a peer may have raised the limit. */
const UNSEEN_SETTINGS_MAX_FRAME = 1 << 20;

/** One direction's framing and decoding state. */
class Reader {
  /** Bytes of an unfinished frame (or preface), copied. */
  pending: Buffer | null = null;
  /** The first bytes were not read yet (the client preface may be there). */
  atStart = true;
  /** Lost bytes: skip to a chunk that starts with frames. */
  lost = false;
  /** SETTINGS_MAX_FRAME_SIZE of the peer: frames this direction may send. */
  maxFrame = UNSEEN_SETTINGS_MAX_FRAME;
  readonly hpack = new HpackDecoder(false);
  /** A header block being received over CONTINUATION frames. */
  blockStream = 0;
  blockParts: Buffer[] = [];
  blockBytes = 0;
  blockEndStream = false;
  /** PUSH_PROMISE: the stream the block's request is for (0 for HEADERS). */
  blockPromised = 0;
  /** Bytes of the block beyond the cap were dropped. */
  blockOverflow = false;
  blockStartUs = 0;
}

export class Http2Connection implements StreamConsumer {
  private readonly readers: [Reader, Reader] = [new Reader(), new Reader()];
  private readonly streams = new Map<number, Http2Stream>();
  private readonly pairing: KeyedPairing<number, Http2Stream, Http2Stream>;
  /** The connection ended by a cut (RST, eviction): what is open is incomplete. */
  private cut = false;
  /** The last stream id an orphan response was counted for (a stream's frames count once). */
  private lastOrphan = -1;
  private readonly decoded: DecodedBlock = { names: [], values: [], unknown: 0, truncated: false };

  constructor(
    private readonly ctx: DissectorContext,
    private readonly clientDir: Direction,
    private readonly handler: StreamHandler,
  ) {
    this.pairing = new KeyedPairing(ctx.limits, (stream) => {
      this.streams.delete(stream.id);
      if (!stream.responseEnded && (this.cut || stream.response !== null)) stream.incomplete = true;
      handler.settled(stream);
    });
  }

  data(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    const r = this.readers[dir];
    if (r.lost) {
      if (walkFrames(buf, start, end, r.maxFrame) === FrameWalk.No) return;
      r.lost = false;
    }
    let b = buf;
    let s = start;
    let e = end;
    if (r.atStart) {
      if (r.pending !== null) {
        b = Buffer.concat([r.pending, buf.subarray(start, end)]);
        s = 0;
        e = b.length;
        r.pending = null;
      }
      let preface = false;
      if (dir === this.clientDir) {
        const n = Math.min(e - s, CLIENT_PREFACE.length);
        if (b.compare(CLIENT_PREFACE, 0, n, s, s + n) === 0) {
          if (n < CLIENT_PREFACE.length) {
            r.pending = Buffer.from(b.subarray(s, e));
            return;
          }
          s += n;
          preface = true;
          this.fromStart();
        }
      }
      r.atStart = false;
      // Picked up mid-connection, a direction may begin inside a frame: wait for a chunk of frames
      // rather than read a frame header out of the middle of one.
      if (!preface && walkFrames(b, s, e, r.maxFrame) === FrameWalk.No) {
        r.lost = true;
        return;
      }
    }
    // A frame begun in an earlier chunk: completed with only the bytes it lacks.
    while (r.pending !== null && s < e) {
      const p = r.pending;
      const want = p.length < FRAME_HEADER_BYTES ? FRAME_HEADER_BYTES : FRAME_HEADER_BYTES + p.readUIntBE(0, 3);
      const take = Math.min(want - p.length, e - s);
      const joined = Buffer.concat([p, b.subarray(s, s + take)]);
      s += take;
      r.pending = joined;
      if (joined.length < want) return;
      if (want === FRAME_HEADER_BYTES && !this.frameLengthFits(dir, joined, 0)) return;
      if (joined.length === FRAME_HEADER_BYTES + joined.readUIntBE(0, 3)) {
        r.pending = null;
        this.frame(dir, joined, 0, joined.length, tsUs);
      }
    }
    while (e - s >= FRAME_HEADER_BYTES) {
      if (!this.frameLengthFits(dir, b, s)) return;
      const length = b.readUIntBE(s, 3);
      if (e - s - FRAME_HEADER_BYTES < length) break;
      this.frame(dir, b, s, s + FRAME_HEADER_BYTES + length, tsUs);
      s += FRAME_HEADER_BYTES + length;
    }
    if (s < e) r.pending = Buffer.from(b.subarray(s, e));
  }

  /** The frame header at buf[at] is within the peer's SETTINGS_MAX_FRAME_SIZE; if not, the direction is lost. */
  private frameLengthFits(dir: Direction, buf: Buffer, at: number): boolean {
    if (buf.readUIntBE(at, 3) <= this.readers[dir].maxFrame) return true;
    // FRAME_SIZE_ERROR: the framing cannot be trusted from here.
    this.ctx.counters.parseErrors++;
    this.lose(dir);
    return false;
  }

  gap(dir: Direction): void {
    this.ctx.counters.parseErrors++;
    this.lose(dir);
  }

  fin(): void {}

  end(reason: EndReason): void {
    this.cut = reason === 'rst' || reason === 'evicted';
    this.pairing.end();
  }

  tick(nowUs: number): void {
    this.pairing.tick(nowUs);
  }

  /** The client preface came first: the connection is seen from its start, settings and tables known. */
  private fromStart(): void {
    for (const r of this.readers) {
      r.maxFrame = DEFAULT_MAX_FRAME_SIZE;
      r.hpack.startsKnown();
    }
  }

  private lose(dir: Direction): void {
    const r = this.readers[dir];
    r.lost = true;
    r.pending = null;
    r.atStart = false;
    r.blockStream = 0;
    r.blockParts = [];
    r.hpack.lose();
    // Streams whose frames may have been in the lost bytes.
    for (const s of this.streams.values()) s.incomplete = true;
  }

  /** The frame buf[start, end) (its header and payload) sent by `dir`. */
  private frame(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    const type = buf[start + 3];
    const flags = buf[start + 4];
    const id = buf.readUInt32BE(start + 5) & 0x7fffffff;
    let p = start + FRAME_HEADER_BYTES;
    let e = end;
    const r = this.readers[dir];
    if (r.blockStream !== 0 && type !== FrameType.Continuation) {
      // A header block must continue before any other frame (RFC 9113 section 6.10).
      this.ctx.counters.parseErrors++;
      this.dropBlock(r);
    }
    switch (type) {
      case FrameType.Data: {
        if (id === 0 || !this.unpad(flags, buf, p, e)) return this.malformed();
        if (flags & Flag.Padded) {
          e -= buf[p];
          p++;
        }
        const stream = this.streams.get(id);
        if (!stream) return;
        const fromClient = dir === this.clientDir;
        stream.endUs = tsUs;
        appendBody(fromClient ? stream.requestBody : stream.responseBody, buf, p, e, end - start - FRAME_HEADER_BYTES, tsUs, this.ctx.limits.maxBodyBytes);
        stream.onData?.(fromClient, buf, p, e);
        if (flags & Flag.EndStream) this.endSide(stream, fromClient);
        return;
      }
      case FrameType.Headers:
      case FrameType.PushPromise: {
        if (id === 0 || !this.unpad(flags, buf, p, e)) return this.malformed();
        if (flags & Flag.Padded) {
          e -= buf[p];
          p++;
        }
        let promised = 0;
        if (type === FrameType.Headers && flags & Flag.Priority) p += 5;
        if (type === FrameType.PushPromise) {
          promised = buf.readUInt32BE(p) & 0x7fffffff;
          p += 4;
        }
        if (p > e) return this.malformed();
        r.blockStream = id;
        r.blockEndStream = type === FrameType.Headers && (flags & Flag.EndStream) !== 0;
        r.blockPromised = promised;
        r.blockParts = [];
        r.blockBytes = 0;
        r.blockOverflow = false;
        r.blockStartUs = tsUs;
        return this.fragment(dir, r, buf, p, e, flags, tsUs);
      }
      case FrameType.Continuation:
        if (r.blockStream === 0 || id !== r.blockStream) {
          this.ctx.counters.parseErrors++;
          this.dropBlock(r);
          return;
        }
        return this.fragment(dir, r, buf, p, e, flags, tsUs);
      case FrameType.RstStream: {
        if (e - p !== 4 || id === 0) return this.malformed();
        const stream = this.streams.get(id);
        if (!stream) return;
        stream.rstCode = errorCodeName(buf.readUInt32BE(p));
        stream.endUs = tsUs;
        this.settle(stream);
        return;
      }
      case FrameType.Settings:
        if (id !== 0 || (e - p) % 6 !== 0) return this.malformed();
        if (flags & ACK_FLAG) return;
        for (let at = p; at < e; at += 6) this.setting(dir, buf.readUInt16BE(at), buf.readUInt32BE(at + 2));
        return;
      case FrameType.Goaway: {
        if (id !== 0 || e - p < 8) return this.malformed();
        const last = buf.readUInt32BE(p) & 0x7fffffff;
        const code = errorCodeName(buf.readUInt32BE(p + 4));
        // Streams the sender never processed (past its last stream id) are over.
        const initiatedByReceiver = dir === this.clientDir ? 0 : 1;
        for (const stream of [...this.streams.values()]) {
          if (stream.id > last && stream.id % 2 === initiatedByReceiver) {
            stream.goawayCode = code;
            this.settle(stream);
          }
        }
        return;
      }
      case FrameType.Ping:
        if (id !== 0 || e - p !== 8) this.malformed();
        return;
      case FrameType.Priority:
        if (id === 0 || e - p !== 5) this.malformed();
        return;
      case FrameType.WindowUpdate:
        if (e - p !== 4) this.malformed();
        return;
      default:
        // Extension frames (RFC 9113 section 5.5) are ignored.
        return;
    }
  }

  private malformed(): void {
    this.ctx.counters.parseErrors++;
  }

  /** A PADDED frame's pad length fits its payload. */
  private unpad(flags: number, buf: Buffer, p: number, e: number): boolean {
    return (flags & Flag.Padded) === 0 || (p < e && buf[p] <= e - p - 1);
  }

  private setting(dir: Direction, id: number, value: number): void {
    const peer = this.readers[1 - dir];
    if (id === Setting.HeaderTableSize) peer.hpack.setLimit(value);
    else if (id === Setting.MaxFrameSize) {
      if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_FRAME_SIZE_LIMIT) this.malformed();
      else peer.maxFrame = value;
    }
  }

  private dropBlock(r: Reader): void {
    r.blockStream = 0;
    r.blockParts = [];
    // Its fields (and what they inserted into the table) are not known.
    r.hpack.lose();
  }

  private fragment(dir: Direction, r: Reader, buf: Buffer, p: number, e: number, flags: number, tsUs: number): void {
    const cap = this.ctx.limits.maxHeaderBytes;
    const endHeaders = (flags & Flag.EndHeaders) !== 0;
    if (endHeaders && r.blockParts.length === 0) {
      // The whole block in one frame (nearly always): decoded in place.
      this.block(dir, r, buf, p, e, tsUs);
      return;
    }
    if (r.blockBytes + e - p > cap) r.blockOverflow = true;
    else {
      r.blockParts.push(Buffer.from(buf.subarray(p, e)));
      r.blockBytes += e - p;
    }
    if (!endHeaders) return;
    const whole = Buffer.concat(r.blockParts, r.blockBytes);
    this.block(dir, r, whole, 0, whole.length, tsUs);
  }

  /** A complete header block of `r`'s current stream. */
  private block(dir: Direction, r: Reader, buf: Buffer, start: number, end: number, tsUs: number): void {
    const id = r.blockStream;
    const promised = r.blockPromised;
    const endStream = r.blockEndStream;
    const overflow = r.blockOverflow;
    r.blockStream = 0;
    r.blockParts = [];
    const d = this.decoded;
    d.names = [];
    d.values = [];
    d.unknown = 0;
    d.truncated = false;
    if (overflow) {
      // Longer than the cap: not decoded, and the table it changed is unknown from now on.
      this.ctx.counters.parseErrors++;
      r.hpack.lose();
      d.truncated = true;
    } else if (r.hpack.decode(buf, start, end, this.ctx.limits.maxHeaderBytes, d) !== HpackError.None) {
      this.ctx.counters.parseErrors++;
      d.truncated = true;
    }
    const fields: FieldList = { names: d.names, values: d.values };
    const fromClient = dir === this.clientDir;
    if (promised !== 0) {
      // A pushed request: the server answers it on the promised stream.
      this.open(promised, fields, d, r.blockStartUs, tsUs, true);
      return;
    }
    const stream = this.streams.get(id);
    if (fromClient) {
      if (!stream) {
        this.open(id, fields, d, r.blockStartUs, tsUs, endStream);
        return;
      }
      // Request trailers: kept with the request's fields.
      stream.request.names.push(...fields.names);
      stream.request.values.push(...fields.values);
      this.note(stream, d, tsUs);
      if (endStream) this.endSide(stream, true);
      return;
    }
    if (!stream) {
      if (id !== this.lastOrphan) this.ctx.counters.orphanResponses++;
      this.lastOrphan = id;
      return;
    }
    this.note(stream, d, tsUs);
    if (stream.response === null) {
      const status = fields.names[0] === ':status' ? fields.values[0] : '';
      // Interim (1xx) responses are not the answer; 101 cannot happen in HTTP/2.
      if (status.length === 3 && status[0] === '1' && !endStream) return;
      stream.response = fields;
    } else stream.trailers = fields;
    if (endStream) this.endSide(stream, false);
  }

  private open(id: number, fields: FieldList, d: DecodedBlock, startUs: number, tsUs: number, requestEnded: boolean): void {
    const stream: Http2Stream = {
      id,
      startUs,
      endUs: tsUs,
      request: fields,
      response: null,
      trailers: null,
      requestBody: newMessage(startUs),
      responseBody: newMessage(tsUs),
      requestEnded,
      responseEnded: false,
      rstCode: '',
      goawayCode: '',
      unknownFields: 0,
      incomplete: false,
      onData: null,
    };
    this.note(stream, d, tsUs);
    if (!this.pairing.request(id, stream)) {
      // A stream id used twice: the first stream's state is kept.
      this.ctx.counters.parseErrors++;
      return;
    }
    this.streams.set(id, stream);
    this.handler.opened(stream);
  }

  private note(stream: Http2Stream, d: DecodedBlock, tsUs: number): void {
    stream.unknownFields += d.unknown;
    if (d.unknown > 0 || d.truncated) stream.incomplete = true;
    stream.endUs = tsUs;
  }

  private endSide(stream: Http2Stream, fromClient: boolean): void {
    if (fromClient) stream.requestEnded = true;
    else {
      stream.responseEnded = true;
      this.settle(stream);
    }
  }

  private settle(stream: Http2Stream): void {
    this.pairing.response(stream.id, stream);
  }
}
