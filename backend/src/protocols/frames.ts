/**
 * Splitting one direction of a TCP connection into the length-prefixed frames most binary
 * protocols send (MQTT packets, AMQP frames, …): frames that arrive whole in a chunk are handed
 * over in place (no copy); only a frame split across chunks is held, and a frame longer than
 * `keepBytes` is held only up to that and the rest skipped (its length still reported), so one
 * direction never holds more than `keepBytes`. Bytes that cannot start a frame are a parse error;
 * the direction then waits for a chunk the protocol says starts one (frames start at segment
 * boundaries in practice), as it does after a gap.
 */
import type { Direction, EndReason, StreamConsumer } from '../net/stream.js';
import type { DissectorContext, ProtocolCounters } from './dissector.js';

/** What `FrameFormat.length` says besides a length. */
export const FRAME_MORE = 0;
export const FRAME_INVALID = -1;

export interface FrameFormat {
  /**
   * The whole length (header included) of the frame starting at buf[start], from the bytes up to
   * `end`: FRAME_MORE when its header is not all there yet, FRAME_INVALID when no frame starts here.
   */
  length(buf: Buffer, start: number, end: number): number;
  /**
   * One frame, buf[start, end): shorter than `wireLength` when cut at `keepBytes`. `startUs` is
   * the capture time of its first byte, `endUs` of its last. Copy what you keep.
   */
  frame(buf: Buffer, start: number, end: number, wireLength: number, startUs: number, endUs: number): void;
  /** After a gap or bad bytes: may a frame start at buf[start] (the first bytes of a chunk)? */
  startsFrame(buf: Buffer, start: number, end: number): boolean;
}

const EMPTY = Buffer.alloc(0);

export class FrameSplitter {
  private held: Buffer = EMPTY;
  private heldStartUs = 0;
  /** A frame longer than keepBytes: its first keepBytes, the bytes of it still to skip, when it began. */
  private cut: Buffer = EMPTY;
  private cutWire = 0;
  private skipping = 0;
  private cutStartUs = 0;
  /** After a gap or bad bytes, until a chunk starts a frame. */
  private lost = false;

  constructor(
    private readonly format: FrameFormat,
    private readonly keepBytes: number,
    private readonly counters: ProtocolCounters,
  ) {}

  data(chunk: Buffer, start: number, end: number, tsUs: number): void {
    if (this.skipping > 0) {
      const n = Math.min(this.skipping, end - start);
      this.skipping -= n;
      start += n;
      if (this.skipping > 0) return;
      const cut = this.cut;
      this.cut = EMPTY;
      this.format.frame(cut, 0, cut.length, this.cutWire, this.cutStartUs, tsUs);
      if (start === end) return;
    }
    if (this.lost) {
      if (!this.format.startsFrame(chunk, start, end)) return;
      this.lost = false;
    }
    let b = chunk;
    let s = start;
    let e = end;
    let startUs = tsUs;
    if (this.held.length > 0) {
      b = Buffer.concat([this.held, chunk.subarray(start, end)]);
      s = 0;
      e = b.length;
      startUs = this.heldStartUs;
    }
    while (s < e) {
      const len = this.format.length(b, s, e);
      if (len === FRAME_INVALID) {
        this.counters.parseErrors++;
        this.lose();
        return;
      }
      if (len === FRAME_MORE) break;
      const have = e - s;
      if (len <= this.keepBytes || have >= len) {
        if (have < len) break;
        this.format.frame(b, s, s + Math.min(len, this.keepBytes), len, startUs, tsUs);
        s += len;
        startUs = tsUs;
        continue;
      }
      if (have < this.keepBytes) break;
      // Longer than we keep: its head now, the rest skipped as it comes.
      this.cut = Buffer.from(b.subarray(s, s + this.keepBytes));
      this.cutWire = len;
      this.skipping = len - have;
      this.cutStartUs = startUs;
      s = e;
    }
    // What is left is less than one kept frame; copied, the chunk is not ours.
    this.held = s === e ? EMPTY : Buffer.from(b.subarray(s, e));
    this.heldStartUs = startUs;
  }

  /** Bytes of this direction are missing: what was held is lost with them. */
  gap(): void {
    if (this.held.length > 0 || this.skipping > 0) this.counters.parseErrors++;
    this.lose();
  }

  private lose(): void {
    this.held = EMPTY;
    this.cut = EMPTY;
    this.skipping = 0;
    this.lost = true;
  }
}

/**
 * A connection of a framed protocol: both directions split (frames up to the header and body
 * limits kept), each frame handed to `frame` with `dir` set to the direction it came from.
 */
export abstract class FramedConnection implements StreamConsumer, FrameFormat {
  private readonly splitters: [FrameSplitter, FrameSplitter];
  /** The direction of the frame being handed over. */
  protected dir: Direction = 0;
  /** The connection was cut (RST, eviction): what still waits is incomplete. */
  protected cut = false;

  constructor(protected readonly ctx: DissectorContext) {
    const keep = ctx.limits.maxHeaderBytes + ctx.limits.maxBodyBytes;
    this.splitters = [new FrameSplitter(this, keep, ctx.counters), new FrameSplitter(this, keep, ctx.counters)];
  }

  abstract length(buf: Buffer, start: number, end: number): number;
  abstract frame(buf: Buffer, start: number, end: number, wireLength: number, startUs: number, endUs: number): void;
  abstract startsFrame(buf: Buffer, start: number, end: number): boolean;
  abstract tick(nowUs: number): void;
  /** The connection is gone: settle what waits. */
  protected abstract ended(): void;

  data(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    this.dir = dir;
    this.splitters[dir].data(buf, start, end, tsUs);
  }

  gap(dir: Direction): void {
    this.splitters[dir].gap();
  }

  fin(): void {}

  end(reason: EndReason): void {
    this.cut = reason === 'rst' || reason === 'evicted';
    this.ended();
  }
}
