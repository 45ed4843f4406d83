/**
 * WebSocket framing (RFC 6455 §5): one direction's bytes → frames → messages. Incremental (a frame
 * may span any number of TCP segments), payloads unmasked while they are copied and kept up to a
 * limit, sizes counted beyond it. The `ws` library parses frames from a live socket it also writes
 * to (it answers pings and fails connections); here nothing is sent and a capture may stop
 * anywhere, hence this parser.
 *
 * A protocol error (a reserved opcode or RSV bit, a fragmented or oversized control frame, a
 * continuation out of place, a length with the top bit set) fails the direction as a peer would
 * fail the connection: counted once, the rest of the direction is skipped. A client frame without
 * a mask (or a masked server frame) is counted and still read: its framing is intact.
 */

export const Opcode = {
  continuation: 0,
  text: 1,
  binary: 2,
  close: 8,
  ping: 9,
  pong: 10,
} as const;

/** Opcode names as entries show them (operation). */
export function opcodeName(op: number): string {
  switch (op) {
    case Opcode.text:
      return 'text';
    case Opcode.binary:
      return 'binary';
    case Opcode.close:
      return 'close';
    case Opcode.ping:
      return 'ping';
    case Opcode.pong:
      return 'pong';
    default:
      return String(op);
  }
}

/** A message (data frames up to the one with FIN) or a control frame. */
export interface WsMessage {
  /** The first frame's opcode: text, binary, or a control opcode. */
  opcode: number;
  /** RSV1 on the first frame: compressed by permessage-deflate. */
  compressed: boolean;
  frames: number;
  /** Capture times of the first and the last byte. */
  startUs: number;
  endUs: number;
  /** Payload as sent (unmasked, still compressed if it was), cut at the limit. */
  parts: Buffer[];
  kept: number;
  /** Payload bytes of every frame, kept or not. */
  size: number;
  /** Bytes on the wire: headers and payloads. */
  wireSize: number;
  /** Part of the payload was not kept (limit). */
  cut: boolean;
  /** Bytes were missing (a gap, or the connection ended inside the message). */
  incomplete: boolean;
}

export interface FrameEvents {
  /** A data message's last frame, or a control frame, has been read. */
  message(msg: WsMessage): void;
  /** A protocol error or a mask anomaly. */
  parseError(): void;
}

/** A frame header is 2 to 14 bytes: 2, + 2 or 8 of extended length, + 4 of mask. */
const MAX_HEADER = 14;
/** The largest control frame payload (RFC 6455 §5.5). */
const MAX_CONTROL = 125;

function newMessage(opcode: number, compressed: boolean, tsUs: number): WsMessage {
  return { opcode, compressed, frames: 0, startUs: tsUs, endUs: tsUs, parts: [], kept: 0, size: 0, wireSize: 0, cut: false, incomplete: false };
}

export class FrameParser {
  private readonly header = Buffer.alloc(MAX_HEADER);
  private headerHave = 0;
  /** Payload bytes of the current frame still to come; -1 while a header is being read. */
  private remaining = -1;
  private masked = false;
  private readonly mask = Buffer.alloc(4);
  /** Payload bytes of the current frame seen so far (the mask's position). */
  private frameSeen = 0;
  /** Where the current frame's kept bytes go, and how far it is filled. */
  private frameBuf: Buffer | null = null;
  private frameFill = 0;
  /** The data message being received (fragments so far), and the current frame's message. */
  private assembling: WsMessage | null = null;
  private current: WsMessage | null = null;
  private fin = false;
  /** The direction failed (protocol error or gap): nothing more is read. */
  dead = false;

  constructor(
    /** Client frames must be masked, server frames must not (RFC 6455 §5.1). */
    private readonly fromClient: boolean,
    /** RSV1 is allowed (permessage-deflate was negotiated). */
    private readonly deflate: boolean,
    private readonly keepLimit: number,
    private readonly events: FrameEvents,
  ) {}

  data(buf: Buffer, start: number, end: number, tsUs: number): void {
    let p = start;
    while (p < end && !this.dead) {
      if (this.remaining < 0) {
        p = this.readHeader(buf, p, end, tsUs);
        continue;
      }
      const n = Math.min(end - p, this.remaining);
      this.payload(buf, p, p + n);
      p += n;
      this.remaining -= n;
      if (this.remaining === 0) this.frameDone(tsUs);
    }
  }

  /**
   * The direction ended, or bytes are missing (framing is lost: frames carry no marker to find the
   * next one by): a message under way is emitted incomplete, nothing more is read.
   */
  stop(tsUs: number): void {
    if (this.dead) return;
    this.dead = true;
    const open = this.current ?? this.assembling;
    if (this.remaining >= 0 && this.current) this.closeFrame();
    this.current = null;
    this.assembling = null;
    this.remaining = -1;
    if (open && open.frames > 0) {
      open.incomplete = true;
      open.endUs = tsUs;
      this.events.message(open);
    }
  }

  private fail(): void {
    this.events.parseError();
    this.dead = true;
  }

  /** Reads header bytes from buf[p, end); returns where it stopped. */
  private readHeader(buf: Buffer, p: number, end: number, tsUs: number): number {
    const h = this.header;
    while (p < end) {
      h[this.headerHave++] = buf[p++];
      const need = this.headerLength();
      if (this.headerHave >= need) {
        this.startFrame(tsUs);
        return p;
      }
    }
    return p;
  }

  /** The header's length from the bytes read so far (2 until the second byte is in). */
  private headerLength(): number {
    if (this.headerHave < 2) return 2;
    const b1 = this.header[1];
    const len7 = b1 & 0x7f;
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
  }

  private startFrame(tsUs: number): void {
    const h = this.header;
    const headerBytes = this.headerHave;
    this.headerHave = 0;
    const b0 = h[0];
    const b1 = h[1];
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let o = 2;
    if (length === 126) {
      length = h.readUInt16BE(2);
      o = 4;
    } else if (length === 127) {
      const hi = h.readUInt32BE(2);
      // The top bit must be 0 (RFC 6455 §5.2); beyond 2^53 the length is no exact number either.
      if (hi >= 0x200000) return this.fail();
      length = hi * 0x100000000 + h.readUInt32BE(6);
      o = 10;
    }
    const control = opcode >= 8;
    if ((b0 & 0x30) !== 0 || (opcode > 2 && opcode < 8) || opcode > 10) return this.fail();
    if (control && (!fin || length > MAX_CONTROL || rsv1)) return this.fail();
    if (rsv1 && (!this.deflate || opcode === Opcode.continuation)) return this.fail();
    if (!control && (opcode === Opcode.continuation) !== (this.assembling !== null)) return this.fail();
    if (masked !== this.fromClient) this.events.parseError();
    if (masked) h.copy(this.mask, 0, o, o + 4);
    this.masked = masked;
    let msg: WsMessage;
    if (control) msg = newMessage(opcode, false, tsUs);
    else msg = this.assembling ??= newMessage(opcode, rsv1, tsUs);
    msg.frames++;
    msg.size += length;
    msg.wireSize += headerBytes + length;
    this.current = msg;
    this.fin = fin;
    this.frameSeen = 0;
    const keep = Math.min(length, this.keepLimit - msg.kept);
    if (keep < length) msg.cut = true;
    this.frameBuf = keep > 0 ? Buffer.allocUnsafe(keep) : null;
    this.frameFill = 0;
    this.remaining = length;
    if (length === 0) this.frameDone(tsUs);
  }

  /** Payload bytes buf[s, e) of the current frame: copied (unmasked) as far as the frame keeps. */
  private payload(buf: Buffer, s: number, e: number): void {
    const fb = this.frameBuf;
    if (fb !== null && this.frameFill < fb.length) {
      const n = Math.min(e - s, fb.length - this.frameFill);
      buf.copy(fb, this.frameFill, s, s + n);
      if (this.masked) {
        const mask = this.mask;
        const from = this.frameFill;
        let m = this.frameSeen & 3;
        for (let i = from; i < from + n; i++) {
          fb[i] ^= mask[m];
          m = (m + 1) & 3;
        }
      }
      this.frameFill += n;
    }
    this.frameSeen += e - s;
  }

  /** Keeps the current frame's bytes in its message. */
  private closeFrame(): void {
    const msg = this.current!;
    const fb = this.frameBuf;
    if (fb !== null && this.frameFill > 0) {
      msg.parts.push(this.frameFill === fb.length ? fb : fb.subarray(0, this.frameFill));
      msg.kept += this.frameFill;
    }
    this.frameBuf = null;
  }

  private frameDone(tsUs: number): void {
    const msg = this.current!;
    this.closeFrame();
    this.current = null;
    this.remaining = -1;
    msg.endUs = tsUs;
    if (!this.fin) return;
    if (msg === this.assembling) this.assembling = null;
    this.events.message(msg);
  }
}

/** A message's kept payload as one buffer. */
export function payloadOf(msg: WsMessage): Buffer {
  return msg.parts.length === 1 ? msg.parts[0] : Buffer.concat(msg.parts, msg.kept);
}
