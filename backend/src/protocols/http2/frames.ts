/** HTTP/2 framing (RFC 9113 section 4 and 6): frame types, flags, error codes, and what a plausible frame looks like. */

export const FRAME_HEADER_BYTES = 9;
/** SETTINGS_MAX_FRAME_SIZE until a peer's SETTINGS says otherwise. */
export const DEFAULT_MAX_FRAME_SIZE = 16384;
/** The largest SETTINGS_MAX_FRAME_SIZE a peer may announce. */
export const MAX_FRAME_SIZE_LIMIT = 2 ** 24 - 1;

export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const enum FrameType {
  Data = 0,
  Headers = 1,
  Priority = 2,
  RstStream = 3,
  Settings = 4,
  PushPromise = 5,
  Ping = 6,
  Goaway = 7,
  WindowUpdate = 8,
  Continuation = 9,
}

export const enum Flag {
  /** On DATA and HEADERS; the same bit is ACK_FLAG on SETTINGS and PING. */
  EndStream = 0x1,
  EndHeaders = 0x4,
  Padded = 0x8,
  Priority = 0x20,
}

/** SETTINGS and PING: this frame acknowledges the peer's. */
export const ACK_FLAG = 0x1;

export const enum Setting {
  HeaderTableSize = 1,
  MaxFrameSize = 5,
}

const ERROR_NAMES = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED',
  'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

/** An error code's name (RFC 9113 section 7), `0x…` when unassigned. */
export function errorCodeName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

/** Frames of these types belong to the connection (stream 0); the others to a stream. */
function onConnection(type: number): boolean {
  return type === FrameType.Settings || type === FrameType.Ping || type === FrameType.Goaway;
}

/** Does buf[at, at + 9) read as the header of a frame a peer could send (length within `maxLength`)? */
export function plausibleFrameHeader(buf: Buffer, at: number, maxLength: number): boolean {
  const length = buf.readUIntBE(at, 3);
  const type = buf[at + 3];
  const stream = buf.readUInt32BE(at + 5);
  if (length > maxLength || type > FrameType.Continuation || stream > 0x7fffffff) return false;
  if (type === FrameType.WindowUpdate) return length === 4;
  if (onConnection(type) !== (stream === 0)) return false;
  switch (type) {
    case FrameType.Settings:
      return length % 6 === 0;
    case FrameType.Ping:
      return length === 8;
    case FrameType.RstStream:
      return length === 4;
    case FrameType.Priority:
      return length === 5;
    case FrameType.Goaway:
      return length >= 8;
  }
  return true;
}

/** What the frames at the start of a chunk show, for detection and for resuming after lost bytes. */
export const enum FrameWalk {
  /** Not frames. */
  No,
  /** Frames, but none that tells a client from a server. */
  Frames,
  /** A HEADERS block that begins like a request (its first field is :method, :path, :scheme or :authority). */
  Request,
  /** A HEADERS block that begins like a response (:status). */
  Response,
}

/**
 * Walks the frames of buf[start, end) (the last may continue past `end`). Header blocks start
 * with a static-table reference or a name from it for their pseudo-headers, in practice always:
 * that tells requests from responses without the dynamic table.
 */
export function walkFrames(buf: Buffer, start: number, end: number, maxLength: number): FrameWalk {
  let at = start;
  let seen = FrameWalk.No;
  while (end - at >= FRAME_HEADER_BYTES) {
    if (!plausibleFrameHeader(buf, at, maxLength)) return FrameWalk.No;
    const length = buf.readUIntBE(at, 3);
    if (buf[at + 3] === FrameType.Headers) {
      const kind = firstField(buf, at + FRAME_HEADER_BYTES, Math.min(end, at + FRAME_HEADER_BYTES + length), buf[at + 4]);
      if (kind !== FrameWalk.Frames) return kind;
    }
    seen = FrameWalk.Frames;
    at += FRAME_HEADER_BYTES + length;
  }
  return seen;
}

/** What the first field of a HEADERS payload (buf[start, end)) says. */
function firstField(buf: Buffer, start: number, end: number, flags: number): FrameWalk {
  let at = start;
  if (flags & Flag.Padded) at++;
  if (flags & Flag.Priority) at += 5;
  while (at < end && (buf[at] & 0xe0) === 0x20) at++; // a size update (small values fit the first byte)
  if (at >= end) return FrameWalk.Frames;
  const b = buf[at];
  // Indexed (1xxxxxxx) or literal with incremental indexing (01xxxxxx), never indexed/without (0000/0001).
  const index = b & 0x80 ? b & 0x7f : (b & 0xc0) === 0x40 ? b & 0x3f : b & 0x0f;
  if (index >= 1 && index <= 7) return FrameWalk.Request;
  if (index >= 8 && index <= 14) return FrameWalk.Response;
  return FrameWalk.No;
}
