/**
 * AMQP 0-9-1 frames read from captured bytes (amqplib's codec reads a live socket and throws on
 * what it does not expect; a capture is cut, gappy and may carry garbage, so this reader
 * bounds-checks every read and says what it could not read).
 *
 * A frame: type (1 method, 2 content header, 3 body, 8 heartbeat), channel, a 4-byte size, the
 * payload and the frame-end octet 0xCE. The client opens with the protocol header "AMQP\0\0\x09\x01".
 */
import { ByteReader } from '../byte-reader.js';
import { Detection } from '../dissector.js';
import { FRAME_INVALID, FRAME_MORE } from '../frames.js';
import { methodKey, methodSpec, type ArgType, type MethodSpec } from './methods.js';

export const FrameType = { method: 1, header: 2, body: 3, heartbeat: 8 } as const;
export const FRAME_END = 0xce;
/** Type, channel, size. */
export const FRAME_HEADER_BYTES = 7;
export const PROTOCOL_HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');
/** Beyond this a size is not a frame: RabbitMQ's frame_max tops out far lower (128 KiB by default). */
const MAX_FRAME_SIZE = 64 * 1024 * 1024;
/** Field tables nest (arrays of tables of arrays…): past this depth the rest is not read. */
const MAX_TABLE_DEPTH = 8;

const isType = (t: number) => t === FrameType.method || t === FrameType.header || t === FrameType.body || t === FrameType.heartbeat;

/** Is buf[start, end) the start of the protocol header? (true also for a prefix of it) */
function protocolHeaderAt(buf: Buffer, start: number, end: number): boolean {
  const n = Math.min(end - start, PROTOCOL_HEADER.length);
  return n > 0 && buf[start] === 0x41 && PROTOCOL_HEADER.compare(buf, start, start + n, 0, n) === 0;
}

/**
 * The whole length of the frame at buf[start] (header, payload and end octet), or of the protocol
 * header. A frame whose end octet is not 0xCE is no frame: FRAME_INVALID (checked once it is all there).
 */
export function frameLength(buf: Buffer, start: number, end: number): number {
  if (buf[start] === 0x41) {
    // "AMQP" then 4 bytes: the header the client (or a refusing server) sends once.
    if (end - start < 4) return protocolHeaderAt(buf, start, end) ? FRAME_MORE : FRAME_INVALID;
    return buf.toString('latin1', start, start + 4) === 'AMQP' ? PROTOCOL_HEADER.length : FRAME_INVALID;
  }
  if (!isType(buf[start])) return FRAME_INVALID;
  if (end - start < FRAME_HEADER_BYTES) return FRAME_MORE;
  const size = buf.readUInt32BE(start + 3);
  if (size > MAX_FRAME_SIZE) return FRAME_INVALID;
  const len = FRAME_HEADER_BYTES + size + 1;
  if (end - start >= len && buf[start + len - 1] !== FRAME_END) return FRAME_INVALID;
  return len;
}

/**
 * After a gap or bad bytes, does a frame (or the protocol header) start at buf[start]? Only a
 * frame whole in this chunk, its end octet checked: the bytes of a body lost halfway look like
 * any frame header.
 */
export function startsFrame(buf: Buffer, start: number, end: number): boolean {
  const len = frameLength(buf, start, end);
  return len > 0 && len <= end - start;
}

/** Detection: the client's protocol header (More while only a prefix of it is there). */
export function detectProtocolHeader(buf: Buffer, start: number, end: number): Detection {
  if (!protocolHeaderAt(buf, start, end)) return Detection.No;
  return end - start >= PROTOCOL_HEADER.length ? Detection.FromClient : Detection.More;
}

function shortstr(r: ByteReader): string {
  return r.bytes(r.u8()).toString('utf8');
}

function longstr(r: ByteReader): Buffer {
  return r.bytes(r.u32());
}

/** One field value of a table or array (RabbitMQ's type letters, the ones amqplib and the broker send). */
function fieldValue(r: ByteReader, depth: number): string {
  const type = String.fromCharCode(r.u8());
  switch (type) {
    case 't':
      return String(r.u8() !== 0);
    case 'b':
      return String((r.u8() << 24) >> 24);
    case 'B':
      return String(r.u8());
    case 's':
      return String((r.u16() << 16) >> 16);
    case 'u':
      return String(r.u16());
    case 'I':
      return String(r.u32() | 0);
    case 'i':
      return String(r.u32());
    case 'l':
    case 'T': {
      const b = r.bytes(8);
      return b.length === 8 ? String(b.readBigInt64BE(0)) : '';
    }
    case 'f': {
      const b = r.bytes(4);
      return b.length === 4 ? String(b.readFloatBE(0)) : '';
    }
    case 'd': {
      const b = r.bytes(8);
      return b.length === 8 ? String(b.readDoubleBE(0)) : '';
    }
    case 'D': {
      const scale = r.u8();
      return String((r.u32() | 0) / 10 ** scale);
    }
    case 'S':
      return longstr(r).toString('utf8');
    case 'x':
      return longstr(r).toString('hex');
    case 'V':
      return '';
    case 'A':
      return `[${listOf(r, depth, (x) => fieldValue(x, depth + 1)).join(', ')}]`;
    case 'F':
      return `{${table(r, depth + 1).map(([k, v]) => `${k}: ${v}`).join(', ')}}`;
    default:
      // An unknown type has an unknown length: nothing after it can be read.
      r.skip(r.left + 1);
      return '';
  }
}

/** A 4-byte length then items until it is used up. */
function listOf(r: ByteReader, depth: number, item: (r: ByteReader) => string): string[] {
  const len = r.u32();
  const end = r.pos + len;
  if (end > r.end) {
    r.skip(r.left + 1);
    return [];
  }
  const out: string[] = [];
  if (depth >= MAX_TABLE_DEPTH) {
    r.pos = end;
    return out;
  }
  const sub = new ByteReader(r.buf, r.pos, end);
  while (sub.left > 0 && !sub.short) out.push(item(sub));
  r.pos = end;
  if (sub.short) r.short = true;
  return out;
}

/** A field table as name/value pairs (nested tables and arrays as text). */
function table(r: ByteReader, depth = 0): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  listOf(r, depth, (sub) => {
    const name = shortstr(sub);
    pairs.push([name, fieldValue(sub, depth)]);
    return '';
  });
  return pairs;
}

/** AMQPLAIN's response: a field table's entries without the table's length. */
export function tableEntries(b: Buffer): Array<[string, string]> {
  const r = new ByteReader(b, 0, b.length);
  const pairs: Array<[string, string]> = [];
  while (r.left > 0 && !r.short) pairs.push([shortstr(r), fieldValue(r, 1)]);
  return pairs;
}

export interface MethodFrame {
  key: number;
  /** The arguments as name/value text, in order (tables as text). */
  args: Array<[string, string]>;
  /** The same by name, as read (strings, numbers, booleans). */
  values: Map<string, string | number | boolean>;
  /** Field tables by argument name (client properties, queue arguments, …); null when none. */
  tables: Map<string, Array<[string, string]>> | null;
  /** Long strings by argument name, as views (Start-Ok's response); null when none. */
  binary: Map<string, Buffer> | null;
  /** Part of the arguments could not be read. */
  short: boolean;
}

/** A method frame's payload buf[start, end): class, method, arguments (what is known of them). */
export function readMethod(buf: Buffer, start: number, end: number): MethodFrame {
  const r = new ByteReader(buf, start, end);
  const key = methodKey(r.u16(), r.u16());
  const m: MethodFrame = { key, args: [], values: new Map(), tables: null, binary: null, short: false };
  const spec = methodSpec(key);
  let bits = 0;
  let bit = 8;
  for (const [name, type] of spec?.args ?? NO_ARGS) {
    let v: string | number | boolean;
    if (type === 'bit') {
      // Consecutive bits share an octet, lowest bit first.
      if (bit === 8) {
        bits = r.u8();
        bit = 0;
      }
      v = ((bits >> bit++) & 1) === 1;
    } else {
      bit = 8;
      v = readArg(r, type, name, m);
    }
    m.values.set(name, v);
    // Tables are shown entry by entry (`arguments.x-max-length`); the ticket is a deprecated 0.
    if (name !== 'ticket' && type !== 'table') m.args.push([name, String(v)]);
  }
  m.short = r.short;
  return m;
}

const NO_ARGS: MethodSpec['args'] = [];

function readArg(r: ByteReader, type: Exclude<ArgType, 'bit'>, name: string, m: MethodFrame): string | number {
  switch (type) {
    case 'octet':
      return r.u8();
    case 'short':
      return r.u16();
    case 'long':
      return r.u32();
    case 'longlong':
    case 'timestamp':
      return r.u64();
    case 'shortstr':
      return shortstr(r);
    case 'longstr': {
      const b = longstr(r);
      (m.binary ??= new Map()).set(name, b);
      return b.toString('utf8');
    }
    case 'table':
      (m.tables ??= new Map()).set(name, table(r));
      return '';
  }
}

/** Content header properties in flag order (bit 15 first). */
const PROPERTIES: ReadonlyArray<readonly [string, 'shortstr' | 'octet' | 'table' | 'timestamp']> = [
  ['content-type', 'shortstr'],
  ['content-encoding', 'shortstr'],
  ['headers', 'table'],
  ['delivery-mode', 'octet'],
  ['priority', 'octet'],
  ['correlation-id', 'shortstr'],
  ['reply-to', 'shortstr'],
  ['expiration', 'shortstr'],
  ['message-id', 'shortstr'],
  ['timestamp', 'timestamp'],
  ['type', 'shortstr'],
  ['user-id', 'shortstr'],
  ['app-id', 'shortstr'],
  ['cluster-id', 'shortstr'],
];

export interface ContentHeader {
  bodySize: number;
  /** Properties by name; the message's `headers` table entries under their own names. */
  properties: Array<[string, string]>;
  short: boolean;
}

/** A content header frame's payload: class, weight, body size, property flags and list. */
export function readContentHeader(buf: Buffer, start: number, end: number): ContentHeader {
  const r = new ByteReader(buf, start, end);
  r.skip(4); // class id, weight
  const bodySize = r.u64();
  const flags = r.u16();
  // Bit 0 set: another flags word follows (no 0-9-1 property lives there).
  let more = flags & 1;
  while (more && !r.short) more = r.u16() & 1;
  const properties: Array<[string, string]> = [];
  for (let i = 0; i < PROPERTIES.length && !r.short; i++) {
    if ((flags & (1 << (15 - i))) === 0) continue;
    const [name, type] = PROPERTIES[i];
    if (type === 'table') properties.push(...table(r));
    else if (type === 'octet') properties.push([name, String(r.u8())]);
    else if (type === 'timestamp') properties.push([name, String(r.u64())]);
    else properties.push([name, shortstr(r)]);
  }
  return { bodySize, properties, short: r.short };
}
