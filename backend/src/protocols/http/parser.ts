/**
 * An incremental HTTP/1.x parser for one direction of a captured connection. Hand-written
 * because captured streams have gaps, start mid-message and carry garbage: after any of these it
 * resynchronises on the next start line instead of giving up on the connection (llhttp stops at
 * the first error and cannot skip bytes it never saw). Body bytes are only copied when kept.
 */
import { isAscii } from 'node:buffer';
import { HeaderList, TRAILER_PREFIX } from '../../entries/headers.js';
import { defaultDissectorLimits, Detection, type DissectorLimits } from '../dissector.js';
import { capturedHeaders } from '../captured-headers.js';
import { appendBody, newMessage, noteHeader, type HttpMessage } from './message.js';
import { detectStartLine, findStartLine, TCHAR } from './start-line.js';

const enum State {
  /** Between messages. */
  Idle,
  Head,
  BodyLength,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  /** A response without length: the body ends with the connection. */
  BodyUntilClose,
  /** After an upgrade or CONNECT: the bytes are another protocol's. */
  Tunnel,
  /** After garbage or a gap: skipping to the next start line. */
  Resync,
}

/** How a message's body is delimited, decided once its head is parsed. */
export const enum BodyKind {
  None,
  Length,
  Chunked,
  UntilClose,
  /** No body, and the connection leaves HTTP after this message (101, CONNECT 2xx). */
  Tunnel,
}

export interface ParserEvents {
  /** The head is parsed; returns how the body is delimited (responses depend on the request). */
  head(msg: HttpMessage): BodyKind;
  /** Responses: bytes that start no status line answer an HTTP/0.9 request (a bare body until the close). */
  headless?(): boolean;
  /** The message is complete (or ended early: then msg.incomplete is set). */
  message(msg: HttpMessage): void;
  /** Bytes that are not HTTP were skipped. */
  parseError(reason: string): void;
  /** Bytes after an upgrade or CONNECT (another protocol's): buf[start, end), or a gap of `bytes`. */
  tunnel(buf: Buffer, start: number, end: number, tsUs: number): void;
  tunnelGap(bytes: number, tsUs: number): void;
}

const MAX_CHUNK_LINE = 1024;
const LINE_MIDDLE = 0;
const LINE_START = 1;
const LINE_START_CR = 2;
/**
 * A head this many times over the limit without a blank line is not a head (4 MiB at the default
 * 64 KiB: past the kept part only its length is counted, so this bounds time, not memory).
 */
const MAX_HEAD_FACTOR = 64;

export class HttpParser {
  private state = State.Idle;
  private msg: HttpMessage | null = null;
  /** Head bytes so far (copied: heads can span segments). */
  private head = Buffer.allocUnsafe(1024);
  private headLen = 0;
  /** Where the head scan stands: in a line, at a line start, or at a line start after a CR. */
  private lineState = LINE_START;
  /** Trailer scan: length of the current line, CRs not counted. */
  private lineLen = 0;
  private headBytes = 0;
  /** Bytes decoded at first when looking for a whole head (adapts to this direction's heads). */
  private headProbe = PROBE_SLACK * 2;
  private remaining = 0;
  private chunkLine = '';
  private atLineStart = true;

  constructor(
    /** Parses requests when true, responses when false. */
    readonly requests: boolean,
    private readonly events: ParserEvents,
    private readonly limits: DissectorLimits = defaultDissectorLimits,
  ) {}

  /** Bytes buf[start, end) of this direction, captured at tsUs. */
  data(buf: Buffer, start: number, end: number, tsUs: number): void {
    let pos = start;
    while (pos < end) {
      switch (this.state) {
        case State.Idle: {
          // Tolerate stray line breaks between messages (RFC 9112 section 2.2).
          while (pos < end && (buf[pos] === 13 || buf[pos] === 10)) pos++;
          if (pos === end) return;
          const looks = detectStartLine(buf, pos, end);
          if (looks !== Detection.FromServer && !this.requests && this.events.headless?.()) {
            this.beginHead(tsUs);
            this.msg!.version = '0.9';
            this.startBody(BodyKind.UntilClose);
            break;
          }
          if (looks === Detection.No || looks === (this.requests ? Detection.FromServer : Detection.FromClient)) {
            this.events.parseError(`not an HTTP ${this.requests ? 'request' : 'response'}`);
            this.state = State.Resync;
            this.atLineStart = false;
            break;
          }
          this.beginHead(tsUs);
          break;
        }
        case State.Head:
          pos = this.feedHead(buf, pos, end, tsUs);
          break;
        case State.BodyLength: {
          const n = Math.min(this.remaining, end - pos);
          this.body(buf, pos, pos + n, n, tsUs);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finishMessage(false);
          break;
        }
        case State.ChunkSize:
          pos = this.feedChunkLine(buf, pos, end, tsUs);
          break;
        case State.ChunkData: {
          const n = Math.min(this.remaining, end - pos);
          this.body(buf, pos, pos + n, n, tsUs);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          break;
        }
        case State.ChunkDataEnd: {
          // The CRLF after chunk data (a bare LF is tolerated).
          const c = buf[pos++];
          this.msg!.bodyWireLength++;
          if (c === 10) this.state = State.ChunkSize;
          else if (c !== 13) this.fail('no line break after chunk data', false);
          break;
        }
        case State.Trailers:
          pos = this.feedTrailers(buf, pos, end, tsUs);
          break;
        case State.BodyUntilClose: {
          this.body(buf, pos, end, end - pos, tsUs);
          pos = end;
          break;
        }
        case State.Tunnel:
          if (pos < end) this.events.tunnel(buf, pos, end, tsUs);
          return;
        case State.Resync: {
          // A segment that starts a message counts as a line start, whatever came before it
          // (binary bytes, a gap): senders write a message's head in one go.
          const atStart = this.atLineStart || (pos === start && detectStartLine(buf, pos, end) === (this.requests ? Detection.FromClient : Detection.FromServer));
          const at = findStartLine(buf, pos, end, this.requests, atStart);
          if (at < 0) {
            this.atLineStart = buf[end - 1] === 10;
            return;
          }
          pos = at;
          // Idle skips the empty lines a start line may follow, then begins the head.
          this.state = State.Idle;
          break;
        }
      }
    }
  }

  /** `bytes` of this direction were not captured. */
  gap(bytes: number, tsUs: number): void {
    const msg = this.msg;
    switch (this.state) {
      case State.BodyLength:
        msg!.incomplete = true;
        msg!.bodyCut = true;
        msg!.bodyLength += Math.min(bytes, this.remaining);
        msg!.bodyWireLength += Math.min(bytes, this.remaining);
        msg!.endUs = tsUs;
        if (bytes >= this.remaining) {
          const over = bytes > this.remaining;
          this.remaining = 0;
          this.finishMessage(false);
          if (over) this.resync();
        } else this.remaining -= bytes;
        return;
      case State.BodyUntilClose:
        msg!.incomplete = true;
        msg!.bodyCut = true;
        msg!.bodyLength += bytes;
        msg!.bodyWireLength += bytes;
        return;
      case State.Tunnel:
        this.events.tunnelGap(bytes, tsUs);
        return;
      case State.Idle:
      case State.Resync:
        this.resync();
        return;
      case State.Head:
        // A head cut short (snap length, loss): what its complete lines say is still an entry,
        // marked incomplete; the line the gap cut is left out rather than guessed.
        if (msg && this.headLen > 0) {
          const text = this.head.toString('latin1', 0, this.headLen);
          const cut = text.lastIndexOf('\n') + 1;
          if (cut > 0) {
            msg.headTruncated = true;
            this.parseHead(text, cut, isAscii(this.head.subarray(0, cut)), true);
          }
        }
        this.msg = null;
        this.resync();
        return;
      default:
        // Inside the chunked framing: the message cannot be followed further.
        if (msg) {
          msg.bodyCut = true;
          this.finishMessage(true);
        }
        this.msg = null;
        this.resync();
    }
  }

  /** The direction ended (FIN, RST, timeout): a body delimited by the close is complete now. */
  finish(): void {
    if (this.state === State.BodyUntilClose) this.finishMessage(false);
    else if (this.msg && this.state !== State.Head && this.state !== State.Tunnel) {
      this.msg.bodyCut = true;
      this.finishMessage(true);
    }
    this.msg = null;
    this.state = State.Idle;
  }

  /** A message is under way: its head or its body is arriving. */
  inMessage(): boolean {
    return this.msg !== null;
  }

  /** After a refused upgrade the client carries on with HTTP: look for the next start line. */
  resume(): void {
    if (this.state === State.Tunnel) this.resync();
  }

  /** Stop parsing: the connection switched protocols. */
  tunnel(): void {
    this.state = State.Tunnel;
    this.msg = null;
  }

  private resync(): void {
    this.state = State.Resync;
    this.atLineStart = true; // after a gap the next segment often starts a message
  }

  private beginHead(tsUs: number): void {
    this.msg = newMessage(tsUs);
    this.state = State.Head;
    this.headLen = 0;
    this.headBytes = 0;
    this.lineState = LINE_START;
  }

  /**
   * Finds the blank line that ends the head. A head that lies whole in this segment (nearly all)
   * is found with one or two native searches, decoded once and parsed where it lies; otherwise it
   * is scanned line by line and copied, across segments if need be.
   */
  private feedHead(buf: Buffer, pos: number, end: number, tsUs: number): number {
    const msg = this.msg!;
    if (this.headBytes === 0) {
      // Decoded first and searched as a string (no native search per line, no views); the text
      // is parsed as it is, past the head too (a slice of it would be slower to read).
      const limit = Math.min(end, pos + this.limits.maxHeaderBytes);
      let text = buf.toString('latin1', pos, Math.min(limit, pos + this.headProbe));
      let n = headLength(text);
      if (n < 0 && limit - pos > text.length) {
        text = buf.toString('latin1', pos, limit);
        n = headLength(text);
      }
      // HTTP/0.9: the request line is the whole request (no headers, no blank line).
      if (n < 0 && this.requests) n = http09Length(text);
      if (n > 0) {
        // Heads on one connection are alike: the next probe decodes about this much.
        this.headProbe = n + (n >> 2) + PROBE_SLACK;
        this.headBytes = n;
        msg.endUs = tsUs;
        this.parseHead(text, n, isAscii(buf.subarray(pos, pos + n)));
        return pos + n;
      }
    }
    // indexOf searches to the end of the buffer: bound it to this segment's data.
    const view = end === buf.length ? buf : buf.subarray(0, end);
    let i = pos;
    let state = this.lineState;
    let done = false;
    while (i < end) {
      if (state !== LINE_MIDDLE) {
        const c = view[i];
        if (c === 10) {
          done = true;
          i++;
          break;
        }
        if (c === 13 && state === LINE_START) {
          state = LINE_START_CR;
          i++;
          continue;
        }
        state = LINE_MIDDLE;
      }
      const nl = view.indexOf(10, i);
      if (nl < 0) {
        i = end;
        break;
      }
      i = nl + 1;
      state = LINE_START;
    }
    this.lineState = done ? LINE_START : state;
    const n = i - pos;
    this.headBytes += n;
    const room = this.limits.maxHeaderBytes - this.headLen;
    if (room > 0) this.appendHead(buf, pos, pos + Math.min(n, room));
    if (n > room) msg.headTruncated = true;
    if (!done) {
      if (this.headBytes > MAX_HEAD_FACTOR * this.limits.maxHeaderBytes) this.fail('head without end', false);
      return i;
    }
    msg.endUs = tsUs;
    this.parseHead(this.head.toString('latin1', 0, this.headLen), this.headLen, isAscii(this.head.subarray(0, this.headLen)));
    return i;
  }

  private appendHead(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.headLen + n > this.head.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.head.length * 2, this.headLen + n));
      this.head.copy(bigger, 0, 0, this.headLen);
      this.head = bigger;
    }
    buf.copy(this.head, this.headLen, start, end);
    this.headLen += n;
  }

  /**
   * Parses the head text[0, len) (up to and including its blank line, or cut by the head limit):
   * start line, then header lines. Headers are kept as offsets into the text (no strings of their
   * own); the start line's fields and the framing values that matter are the only strings made.
   */
  /** `ascii`: the head's bytes are all below 0x80 (told natively from the bytes: nearly every head). */
  private parseHead(text: string, len: number, ascii: boolean, cut = false): void {
    const msg = this.msg!;
    let nl = text.indexOf('\n');
    if (nl < 0 || nl > len) nl = len;
    let lineEnd = nl;
    if (lineEnd > 0 && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    // A start line cut by the head limit (a 200 KB path): its method and the target's start, version unknown.
    const lineCut = nl === len && msg.headTruncated;
    const ok = this.requests ? parseRequestLine(text, 0, lineEnd, msg, lineCut) : parseStatusLine(text, 0, lineEnd, msg);
    if (!ok) {
      this.fail(lineEnd === 0 ? 'empty head' : `bad ${this.requests ? 'request' : 'status'} line`, true);
      return;
    }
    const headersFrom = Math.min(nl + 1, len);
    const headers = capturedHeaders;
    headers.begin(text);
    for (let lineStart = headersFrom; lineStart < len; lineStart = nl + 1) {
      nl = text.indexOf('\n', lineStart);
      if (nl < 0 || nl > len) nl = len;
      lineEnd = nl;
      if (lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
      if (lineEnd === lineStart) continue; // the blank line at the end
      const c = text.charCodeAt(lineStart);
      if ((c === 32 || c === 9) && headers.count > 0) {
        // Obsolete line folding: the line continues the previous header's value.
        let f = lineStart;
        let fEnd = lineEnd;
        while (f < fEnd && isTrimmed(text.charCodeAt(f))) f++;
        while (fEnd > f && isTrimmed(text.charCodeAt(fEnd - 1))) fEnd--;
        headers.foldIntoLast(f, fEnd);
        continue;
      }
      const colon = text.indexOf(':', lineStart);
      // A line without a colon is not a header: tolerated and dropped, as browsers do.
      if (colon <= lineStart || colon >= lineEnd) continue;
      // The name without the spaces some senders put before the colon; the value trimmed as
      // String#trim would (the same characters).
      let nameEnd = colon;
      const last = text.charCodeAt(nameEnd - 1);
      if (last === 32 || last === 9) while (nameEnd > lineStart && isTrimmed(text.charCodeAt(nameEnd - 1))) nameEnd--;
      let v = colon + 1;
      let vEnd = lineEnd;
      while (v < vEnd && isTrimmed(text.charCodeAt(v))) v++;
      while (vEnd > v && isTrimmed(text.charCodeAt(vEnd - 1))) vEnd--;
      headers.add(lineStart, nameEnd, v, vEnd);
      noteHeader(msg, text, lineStart, nameEnd, v, vEnd);
    }
    msg.headers = headers.finish();
    if (!ascii) decodeUtf8(msg);
    const kind = this.events.head(msg);
    if (cut) this.finishMessage(true);
    else this.startBody(kind);
  }

  private startBody(kind: BodyKind): void {
    const msg = this.msg!;
    switch (kind) {
      case BodyKind.None:
        this.finishMessage(false);
        return;
      case BodyKind.Tunnel:
        this.finishMessage(false);
        this.state = State.Tunnel;
        return;
      case BodyKind.Chunked:
        this.state = State.ChunkSize;
        this.chunkLine = '';
        return;
      case BodyKind.UntilClose:
        this.state = State.BodyUntilClose;
        return;
      case BodyKind.Length: {
        const length = msg.contentLength;
        if (length < 0) {
          this.events.parseError('bad Content-Length');
          this.finishMessage(true);
          this.resync();
          return;
        }
        this.remaining = length;
        if (length === 0) this.finishMessage(false);
        else this.state = State.BodyLength;
      }
    }
  }

  private body(buf: Buffer, start: number, end: number, wire: number, tsUs: number): void {
    appendBody(this.msg!, buf, start, end, wire, tsUs, this.limits.maxBodyBytes);
  }

  private feedChunkLine(buf: Buffer, pos: number, end: number, tsUs: number): number {
    const nl = buf.indexOf(10, pos);
    const stop = nl < 0 || nl >= end ? end : nl + 1;
    this.msg!.bodyWireLength += stop - pos;
    this.msg!.endUs = tsUs;
    this.chunkLine += buf.toString('latin1', pos, stop);
    if (this.chunkLine.length > MAX_CHUNK_LINE) {
      this.fail('chunk size line too long', false);
      return stop;
    }
    if (stop === end && (nl < 0 || nl >= end)) return stop;
    // chunk-size [; extensions] CRLF
    const m = /^\s*([0-9a-fA-F]+)\s*(;[^\r\n]*)?\r?\n$/.exec(this.chunkLine);
    this.chunkLine = '';
    if (!m || m[1].length > 12) {
      this.fail('bad chunk size', true);
      return stop;
    }
    const size = parseInt(m[1], 16);
    if (size === 0) {
      this.state = State.Trailers;
      this.lineLen = 0;
      this.chunkLine = '';
      return stop;
    }
    this.remaining = size;
    this.state = State.ChunkData;
    return stop;
  }

  private feedTrailers(buf: Buffer, pos: number, end: number, tsUs: number): number {
    const msg = this.msg!;
    let lineLen = this.lineLen;
    let i = pos;
    let lineStart = pos;
    for (; i < end; i++) {
      const c = buf[i];
      if (c === 10) {
        if (lineLen === 0) {
          i++;
          msg.bodyWireLength += i - pos;
          msg.endUs = tsUs;
          this.chunkLine = '';
          this.finishMessage(false);
          return i;
        }
        const line = this.chunkLine + buf.toString('latin1', lineStart, i);
        const colon = line.indexOf(':');
        // Trailers are the message's, not its head's: kept apart by their prefix.
        if (colon > 0) msg.headers.append(TRAILER_PREFIX + line.slice(0, colon).trim(), line.slice(colon + 1).trim());
        this.chunkLine = '';
        lineStart = i + 1;
        lineLen = 0;
      } else if (c !== 13) lineLen++;
    }
    // A trailer line cut by the segment end: keep its start (bounded like a chunk line).
    if (this.chunkLine.length < MAX_CHUNK_LINE) this.chunkLine += buf.toString('latin1', lineStart, end);
    this.lineLen = lineLen;
    msg.bodyWireLength += i - pos;
    return i;
  }

  private finishMessage(incomplete: boolean): void {
    const msg = this.msg!;
    if (incomplete) msg.incomplete = true;
    this.msg = null;
    this.state = State.Idle;
    this.events.message(msg);
  }

  /** Not HTTP after all: count it, drop the message so far and look for the next start line. */
  private fail(reason: string, atLineStart: boolean): void {
    this.events.parseError(reason);
    const msg = this.msg;
    if (msg !== null && this.state !== State.Head) {
      msg.bodyCut = true;
      this.finishMessage(true);
    }
    this.msg = null;
    this.state = State.Resync;
    this.atLineStart = atLineStart;
  }
}

/** Bytes a head probe decodes beyond the last head's length (plus a quarter of it). */
const PROBE_SLACK = 128;

/**
 * Length of the head at the start of `text` (a start line, never a line break) up to and including
 * the blank line that ends it ("\n\r\n" or "\n\n": an empty line or one holding only a CR), -1 when
 * there is none.
 */
function headLength(text: string): number {
  const crlf = text.indexOf('\n\r\n');
  const lf = text.indexOf('\n\n');
  // The first "\n\r\n" ends a CRLF head unless a bare "\n\n" comes before it.
  if (lf >= 0 && (crlf < 0 || lf < crlf)) return lf + 2;
  return crlf < 0 ? -1 : crlf + 3;
}

const HIGH_BYTE = /[\u0080-\u00ff]/;

/** Whether a (short) string holds a character above 0x7f. */
const hasHighBytes = (s: string): boolean => HIGH_BYTE.test(s);

/** Latin-1 text of bytes that are valid UTF-8, as UTF-8; anything else as it is (RFC 9110 obs-text). */
function utf8(s: string): string {
  if (!hasHighBytes(s)) return s;
  const decoded = Buffer.from(s, 'latin1').toString('utf8');
  return decoded.includes('\ufffd') ? s : decoded;
}

/** Header values and the target with UTF-8 bytes (`Düsseldorf`, not `DÃ¼sseldorf`), names as sent. */
function decodeUtf8(msg: HttpMessage): void {
  msg.target = utf8(msg.target);
  msg.statusText = utf8(msg.statusText);
  msg.host = utf8(msg.host);
  msg.headers = HeaderList.of(msg.headers.toPairs().map(([n, v]) => [n, utf8(v)]));
}

/** Length of an HTTP/0.9 request (`GET /target` and its line break) at the start of `text`, -1 when it is not one. */
function http09Length(text: string): number {
  const nl = text.indexOf('\n');
  if (nl < 0) return -1;
  const line = text.charCodeAt(nl - 1) === 13 ? text.slice(0, nl - 1) : text.slice(0, nl);
  return /^GET \/[^ ]*$/.test(line) ? nl + 1 : -1;
}

/** What String#trim removes, within latin1: tab, line feed, VT, FF, CR, space, no-break space. */
function isTrimmed(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10 || c === 11 || c === 12 || c === 160;
}

/** "HTTP/1.0" or "HTTP/1.1" at text[at, at + 8): the version ('1.0', '1.1'), else ''. */
function httpVersion(text: string, at: number): string {
  if (!text.startsWith('HTTP/1.', at)) return '';
  const minor = text.charCodeAt(at + 7);
  return minor === 0x31 ? '1.1' : minor === 0x30 ? '1.0' : '';
}

/**
 * method SP target SP HTTP/1.x in text[start, end), the method any token. The target ends at the
 * first space, as RFC 9112 reads it and tshark does (`GET /a b HTTP/1.1` asks for /a); the version
 * is the line's last word. `GET /target` alone is HTTP/0.9. A line cut by the head limit (`lineCut`) keeps its
 * method and the target's start, its version unknown ('').
 */
function parseRequestLine(text: string, start: number, end: number, msg: HttpMessage, lineCut = false): boolean {
  const sp1 = text.indexOf(' ', start);
  if (sp1 <= start || sp1 >= end) return false;
  for (let i = start; i < sp1; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  let targetEnd = text.indexOf(' ', sp1 + 1);
  if (targetEnd < 0 || targetEnd > end) targetEnd = end;
  if (targetEnd === sp1 + 1) return false;
  const sp2 = text.lastIndexOf(' ', end - 1);
  let version = sp2 > sp1 && end - sp2 - 1 === 8 ? httpVersion(text, sp2 + 1) : '';
  if (version === '' && !lineCut) {
    if (targetEnd !== end || text.slice(start, sp1) !== 'GET' || text.charCodeAt(sp1 + 1) !== 0x2f) return false;
    version = '0.9';
  }
  msg.method = text.slice(start, sp1);
  msg.target = text.slice(sp1 + 1, targetEnd);
  msg.version = version;
  return true;
}

/** HTTP/1.x SP 3DIGIT [SP reason] in text[start, end); the reason holds no CR. */
function parseStatusLine(text: string, start: number, end: number, msg: HttpMessage): boolean {
  if (end - start < 12) return false;
  const version = httpVersion(text, start);
  if (version === '' || text.charCodeAt(start + 8) !== 32) return false;
  let status = 0;
  for (let i = start + 9; i < start + 12; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    status = status * 10 + d;
  }
  let reason = '';
  if (end > start + 12) {
    if (text.charCodeAt(start + 12) !== 32) return false;
    for (let i = start + 13; i < end; i++) if (text.charCodeAt(i) === 13) return false;
    reason = text.slice(start + 13, end);
  }
  msg.version = version;
  msg.status = status;
  msg.statusText = reason;
  return true;
}
