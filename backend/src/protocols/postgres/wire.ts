/**
 * PostgreSQL's v3 wire format: framing of one direction's byte stream into messages (a type byte
 * and a length, or, for the client's first messages, a length and a request code), and readers for
 * the message bodies the dissector looks into.
 *
 * node-postgres (`pg-protocol`) parses a live server's stream; it cannot start inside a stream,
 * skip a gap or bound what it keeps of a 1 GB DataRow, so the framing is written here.
 */

/** Request codes of the messages a client sends without a type byte. */
export const enum StartupCode {
  Protocol3 = 196608,
  Cancel = 80877102,
  Ssl = 80877103,
  Gssenc = 80877104,
}

/** The largest message PostgreSQL accepts or sends (1 GB); a longer length is garbage. */
export const MAX_MESSAGE_BYTES = 0x40000000;
/** A startup packet longer than this is not one (the server refuses beyond 10000). */
const MAX_STARTUP_BYTES = 10_000;

const FRONTEND_TYPES = 'BCDEFHPQSXcdfp';
const BACKEND_TYPES = 'RKSZTDCIENA123nstGHWdcVv';
const frontendType = new Uint8Array(256);
const backendType = new Uint8Array(256);
for (const c of FRONTEND_TYPES) frontendType[c.charCodeAt(0)] = 1;
for (const c of BACKEND_TYPES) backendType[c.charCodeAt(0)] = 1;

/** Message lengths the protocol fixes (the length field, which counts itself), by type; 0: any. */
const FRONTEND_FIXED = new Int32Array(256);
const BACKEND_FIXED = new Int32Array(256);
for (const c of 'SHXc') FRONTEND_FIXED[c.charCodeAt(0)] = 4;
for (const c of '123nIsc') BACKEND_FIXED[c.charCodeAt(0)] = 4;
BACKEND_FIXED['Z'.charCodeAt(0)] = 5;
BACKEND_FIXED['K'.charCodeAt(0)] = 12;

/** Whether a typed message of this type and length field may come from this side. */
export function validMessage(fromClient: boolean, type: number, length: number): boolean {
  if ((fromClient ? frontendType : backendType)[type] !== 1) return false;
  if (length < 4 || length > MAX_MESSAGE_BYTES) return false;
  const fixed = (fromClient ? FRONTEND_FIXED : BACKEND_FIXED)[type];
  return fixed === 0 || fixed === length;
}

/** Whether buf[start, start + 8) opens a startup packet (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest). */
export function startupAt(buf: Buffer, start: number, end: number): boolean {
  if (end - start < 8) return false;
  const len = buf.readUInt32BE(start);
  const code = buf.readUInt32BE(start + 4);
  if (code === StartupCode.Ssl || code === StartupCode.Gssenc) return len === 8;
  if (code === StartupCode.Cancel) return len === 16;
  return code >>> 16 === 3 && len >= 9 && len <= MAX_STARTUP_BYTES;
}

/** Receives one direction's messages: `body` holds the first bytes of it (all, unless `bodyBytes` is larger). */
export interface MessageHandler {
  /** `type` 0: a startup packet (its body starts with the request code). */
  message(type: number, body: Buffer, bodyBytes: number, startUs: number, endUs: number): void;
  /** One unframed byte (the server's answer to SSLRequest/GSSENCRequest). */
  answerByte(byte: number, tsUs: number): void;
  /** Bytes that are no message: framing is lost until a chunk opens one again. */
  garbage(): void;
}

const enum Expect {
  /** A type byte and a length. */
  Typed,
  /** A length and a request code (the client before and during startup). */
  Startup,
  /** One byte (the server's 'S'/'N'/'G' after SSLRequest or GSSENCRequest). */
  AnswerByte,
  /** Nothing more is readable (TLS or GSS encryption follows). */
  Encrypted,
}

/**
 * Splits one direction into messages. A message whose body fits in the chunk it arrived in is
 * handed over as a view of that chunk; others are gathered into a buffer of at most `keepBytes`
 * (the rest of a longer body is counted and skipped).
 */
export class Framer {
  private expect = Expect.Typed;
  private readonly head = Buffer.alloc(5);
  private headBytes = 0;
  private type = 0;
  /** Body length of the message being read, -1 while its head is incomplete. */
  private bodyBytes = -1;
  private kept: Buffer | null = null;
  private keptBytes = 0;
  private seenBytes = 0;
  private startUs = 0;
  /** After garbage or a gap: wait for a chunk that opens a message. */
  lost = false;

  constructor(
    private readonly fromClient: boolean,
    private readonly keepBytes: number,
    private readonly handler: MessageHandler,
  ) {}

  /** The next message is a startup packet (the client at connection start, after a refused SSLRequest). */
  expectStartup(): void {
    this.expect = Expect.Startup;
  }

  expectAnswerByte(): void {
    this.expect = Expect.AnswerByte;
  }

  /** Encryption follows: no more bytes are read. */
  stop(): void {
    this.expect = Expect.Encrypted;
  }

  get stopped(): boolean {
    return this.expect === Expect.Encrypted;
  }

  data(buf: Buffer, start: number, end: number, tsUs: number): void {
    if (this.expect === Expect.Encrypted) return;
    if (this.lost) {
      if (!this.opensMessage(buf, start, end)) return;
      this.lost = false;
    }
    let i = start;
    while (i < end && !this.lost && !this.stopped) {
      if (this.expect === Expect.AnswerByte) {
        this.expect = this.fromClient ? Expect.Startup : Expect.Typed;
        this.handler.answerByte(buf[i++], tsUs);
        continue;
      }
      if (this.bodyBytes < 0) {
        const want = this.expect === Expect.Startup ? 4 : 5;
        if (this.headBytes === 0) this.startUs = tsUs;
        // A whole message inside the chunk: no copy at all.
        if (this.headBytes === 0 && end - i >= want) {
          const body = this.readHead(buf, i, want);
          if (body < 0) return;
          i += want;
          if (end - i >= body) {
            this.deliver(buf.subarray(i, i + body), body, tsUs);
            i += body;
            continue;
          }
          this.startBody(body);
          continue;
        }
        const take = Math.min(want - this.headBytes, end - i);
        buf.copy(this.head, this.headBytes, i, i + take);
        this.headBytes += take;
        i += take;
        if (this.headBytes < want) return;
        const body = this.readHead(this.head, 0, want);
        if (body < 0) return;
        this.startBody(body);
        if (body === 0) this.finish(tsUs);
        continue;
      }
      const take = Math.min(this.bodyBytes - this.seenBytes, end - i);
      const keep = Math.min(take, this.kept!.length - this.keptBytes);
      if (keep > 0) {
        buf.copy(this.kept!, this.keptBytes, i, i + keep);
        this.keptBytes += keep;
      }
      this.seenBytes += take;
      i += take;
      if (this.seenBytes === this.bodyBytes) this.finish(tsUs);
    }
  }

  /** Bytes of this direction are missing: the message being read is lost, and framing with it. */
  gap(): void {
    if (this.expect === Expect.Encrypted) return;
    this.reset();
    this.expect = Expect.Typed;
    this.lost = true;
  }

  /** Whether buf[start, end) starts with a message this side could send (to resynchronise). */
  private opensMessage(buf: Buffer, start: number, end: number): boolean {
    if (this.expect === Expect.Startup && startupAt(buf, start, end)) return true;
    if (end - start < 5) return false;
    const ok = validMessage(this.fromClient, buf[start], buf.readUInt32BE(start + 1));
    if (ok) this.expect = Expect.Typed;
    return ok;
  }

  /** The body length the head announces, or -1 (garbage: framing lost). */
  private readHead(b: Buffer, at: number, size: number): number {
    let length: number;
    if (size === 4) {
      this.type = 0;
      length = b.readUInt32BE(at);
      if (length < 8 || length > MAX_STARTUP_BYTES) return this.fail();
      // A startup packet is followed by typed messages unless it asks for encryption (answered by a byte).
      this.expect = Expect.Typed;
    } else {
      this.type = b[at];
      length = b.readUInt32BE(at + 1);
      if (!validMessage(this.fromClient, this.type, length)) return this.fail();
    }
    return length - 4;
  }

  private fail(): number {
    this.reset();
    this.lost = true;
    this.handler.garbage();
    return -1;
  }

  private startBody(bodyBytes: number): void {
    this.bodyBytes = bodyBytes;
    this.kept = Buffer.allocUnsafe(Math.min(bodyBytes, this.keepBytes));
    this.keptBytes = 0;
    this.seenBytes = 0;
  }

  private finish(tsUs: number): void {
    const body = this.kept!.subarray(0, this.keptBytes);
    const bytes = this.bodyBytes;
    this.reset();
    this.deliver(body, bytes, tsUs);
  }

  private deliver(body: Buffer, bodyBytes: number, tsUs: number): void {
    this.handler.message(this.type, body.length > this.keepBytes ? body.subarray(0, this.keepBytes) : body, bodyBytes, this.startUs, tsUs);
  }

  private reset(): void {
    this.headBytes = 0;
    this.bodyBytes = -1;
    this.kept = null;
  }
}

/** Reads a message body: C strings, integers, byte runs; past the end every read gives '' or 0 (a cut body). */
export class BodyReader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  get left(): number {
    return this.buf.length - this.pos;
  }

  cstring(): string {
    const b = this.buf;
    let end = b.indexOf(0, this.pos);
    if (end < 0) end = b.length;
    const s = b.toString('utf8', this.pos, end);
    this.pos = Math.min(end + 1, b.length);
    return s;
  }

  int16(): number {
    if (this.left < 2) return (this.pos = this.buf.length), 0;
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    if (this.left < 4) return (this.pos = this.buf.length), 0;
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  byte(): number {
    return this.left < 1 ? 0 : this.buf[this.pos++];
  }

  /** The next `n` bytes (fewer when the body is cut), as a view. */
  bytes(n: number): Buffer {
    const end = Math.min(this.buf.length, this.pos + Math.max(0, n));
    const v = this.buf.subarray(this.pos, end);
    this.pos = end;
    return v;
  }
}

/** The fields of an ErrorResponse or NoticeResponse, by their one-letter code. */
export function errorFields(body: Buffer): Map<string, string> {
  const r = new BodyReader(body);
  const fields = new Map<string, string>();
  while (r.left > 0) {
    const code = r.byte();
    if (code === 0) break;
    fields.set(String.fromCharCode(code), r.cstring());
  }
  return fields;
}

/** A column of a RowDescription: its name and whether its values come in binary. */
export interface Column {
  name: string;
  binary: boolean;
}

export function rowDescription(body: Buffer): Column[] {
  const r = new BodyReader(body);
  const count = r.int16();
  const columns: Column[] = [];
  for (let i = 0; i < count && r.left > 0; i++) {
    const name = r.cstring();
    r.bytes(16); // table oid, column number, type oid, size, modifier
    columns.push({ name, binary: r.int16() === 1 });
  }
  return columns;
}

/** A value as text: text-format values as sent, binary ones as \x hex (PostgreSQL's bytea output). */
export function valueText(value: Buffer, binary: boolean, maxChars: number): string {
  if (binary) return `\\x${value.subarray(0, maxChars >> 1).toString('hex')}`;
  return value.toString('utf8', 0, Math.min(value.length, maxChars));
}
