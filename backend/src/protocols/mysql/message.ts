/**
 * MySQL / MariaDB payloads: the integers and strings of the wire format, the handshake, OK, ERR
 * and EOF packets, column definitions and rows (text and binary), with command and capability
 * numbers. Parsers read a payload prefix through one reused `Reader` and never throw: running
 * past the end sets `short`.
 */

export const Cap = {
  /** MariaDB: bit 0 clear in both handshakes means the extended capabilities are in the filler. */
  mysql: 1,
  connectWithDb: 0x8,
  compress: 0x20,
  localFiles: 0x80,
  protocol41: 0x200,
  ssl: 0x800,
  secureConnection: 0x8000,
  multiStatements: 1 << 16,
  multiResults: 1 << 17,
  pluginAuth: 1 << 19,
  connectAttrs: 1 << 20,
  pluginAuthLenencData: 1 << 21,
  sessionTrack: 1 << 23,
  deprecateEof: 1 << 24,
  optionalMetadata: 1 << 25,
  zstd: 1 << 26,
  queryAttributes: 1 << 27,
} as const;

/** MariaDB's extended capabilities (the upper 32 bits). */
export const MariaCap = {
  extendedMetadata: 1 << 3,
  cacheMetadata: 1 << 4,
} as const;

export const ServerStatus = {
  moreResults: 0x0008,
  cursorExists: 0x0040,
} as const;

export const Command = {
  sleep: 0x00,
  quit: 0x01,
  initDb: 0x02,
  query: 0x03,
  fieldList: 0x04,
  statistics: 0x09,
  changeUser: 0x11,
  stmtPrepare: 0x16,
  stmtExecute: 0x17,
  stmtSendLongData: 0x18,
  stmtClose: 0x19,
  stmtReset: 0x1a,
  stmtFetch: 0x1c,
  resetConnection: 0x1f,
  stmtBulkExecute: 0xfa,
} as const;

/** Command names as the envelope shows them (COM_ dropped). */
const COMMAND_NAMES: Record<number, string> = {
  0x00: 'SLEEP', 0x01: 'QUIT', 0x02: 'INIT_DB', 0x03: 'QUERY', 0x04: 'FIELD_LIST', 0x05: 'CREATE_DB', 0x06: 'DROP_DB',
  0x07: 'REFRESH', 0x08: 'SHUTDOWN', 0x09: 'STATISTICS', 0x0a: 'PROCESS_INFO', 0x0b: 'CONNECT', 0x0c: 'PROCESS_KILL',
  0x0d: 'DEBUG', 0x0e: 'PING', 0x0f: 'TIME', 0x10: 'DELAYED_INSERT', 0x11: 'CHANGE_USER', 0x12: 'BINLOG_DUMP',
  0x13: 'TABLE_DUMP', 0x14: 'CONNECT_OUT', 0x15: 'REGISTER_SLAVE', 0x16: 'STMT_PREPARE', 0x17: 'STMT_EXECUTE',
  0x18: 'STMT_SEND_LONG_DATA', 0x19: 'STMT_CLOSE', 0x1a: 'STMT_RESET', 0x1b: 'SET_OPTION', 0x1c: 'STMT_FETCH',
  0x1d: 'DAEMON', 0x1e: 'BINLOG_DUMP_GTID', 0x1f: 'RESET_CONNECTION', 0xfa: 'STMT_BULK_EXECUTE',
};

/** The command's name, or undefined for a byte that is no command (garbage, or a lost stream). */
export function commandName(c: number): string | undefined {
  return COMMAND_NAMES[c];
}

/** A cursor over one payload prefix. */
export class Reader {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;
  /** A read ran past the end of the kept bytes. */
  short = false;

  at(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.short = false;
    return this;
  }

  get left(): number {
    return this.end - this.pos;
  }

  private take(n: number): number {
    const p = this.pos;
    if (p + n > this.end) {
      this.short = true;
      this.pos = this.end;
      return -1;
    }
    this.pos = p + n;
    return p;
  }

  u8(): number {
    const p = this.take(1);
    return p < 0 ? 0 : this.buf[p];
  }

  u16(): number {
    const p = this.take(2);
    return p < 0 ? 0 : this.buf.readUInt16LE(p);
  }

  u24(): number {
    const p = this.take(3);
    return p < 0 ? 0 : this.buf[p] | (this.buf[p + 1] << 8) | (this.buf[p + 2] << 16);
  }

  u32(): number {
    const p = this.take(4);
    return p < 0 ? 0 : this.buf.readUInt32LE(p);
  }

  /** Little-endian 8 bytes as a number (exact to 2^53). */
  u64(): number {
    const p = this.take(8);
    return p < 0 ? 0 : this.buf.readUInt32LE(p) + this.buf.readUInt32LE(p + 4) * 0x100000000;
  }

  skip(n: number): void {
    this.take(n);
  }

  /** A length-encoded integer; -1 for the NULL marker (0xfb). */
  lenenc(): number {
    const b = this.u8();
    if (b < 0xfb) return b;
    if (b === 0xfb) return -1;
    if (b === 0xfc) return this.u16();
    if (b === 0xfd) return this.u24();
    return this.u64();
  }

  /** A run of `n` bytes: its start (the run is cut at the kept end). */
  span(n: number): number {
    const p = this.pos;
    this.pos = Math.min(this.end, p + Math.max(0, n));
    if (p + n > this.end) this.short = true;
    return p;
  }

  text(start: number, end: number): string {
    return this.buf.toString('utf8', start, end);
  }

  /** A string up to a NUL (or the end). */
  nul(): string {
    let i = this.pos;
    while (i < this.end && this.buf[i] !== 0) i++;
    const s = this.text(this.pos, i);
    if (i >= this.end) this.short = true;
    this.pos = Math.min(this.end, i + 1);
    return s;
  }

  /** A length-encoded string; null for NULL. */
  lenencText(): string | null {
    const n = this.lenenc();
    if (n < 0) return null;
    const p = this.span(n);
    return this.text(p, this.pos);
  }

  rest(): string {
    const s = this.text(this.pos, this.end);
    this.pos = this.end;
    return s;
  }
}

export interface Greeting {
  protocol: number;
  version: string;
  connectionId: number;
  capabilities: number;
  /** MariaDB's extended capabilities (0 for MySQL). */
  mariaCapabilities: number;
  authPlugin: string;
}

/** Protocol 10 handshake from the server. */
export function parseGreeting(r: Reader): Greeting {
  const protocol = r.u8();
  const version = r.nul();
  const connectionId = r.u32();
  r.skip(8 + 1); // scramble part 1 and its filler: never kept
  let capabilities = r.u16();
  let mariaCapabilities = 0;
  let authPlugin = '';
  if (r.left > 0) {
    r.skip(1 + 2); // charset, status
    capabilities |= r.u16() << 16;
    const scrambleLength = r.u8();
    r.skip(6);
    const ext = r.u32();
    if ((capabilities & Cap.mysql) === 0) mariaCapabilities = ext;
    if (capabilities & Cap.secureConnection) r.skip(Math.max(13, scrambleLength - 8));
    if (capabilities & Cap.pluginAuth) authPlugin = r.nul();
  }
  // MariaDB prefixes its version with 5.5.5- for old clients (replication checks): the rest is the version.
  const mariadb = (capabilities & Cap.mysql) === 0 && version.startsWith('5.5.5-');
  return { protocol, version: mariadb ? version.slice(6) : version, connectionId, capabilities: capabilities >>> 0, mariaCapabilities, authPlugin };
}

export interface Login {
  capabilities: number;
  mariaCapabilities: number;
  user: string;
  database: string;
  authPlugin: string;
  /** Bytes of the auth response (its content is never kept). */
  authBytes: number;
  attributes: Array<[string, string]>;
}

/** Longest connection attribute value kept. */
const ATTRIBUTE_CHARS = 256;

/** HandshakeResponse41 (or 320 from very old clients); the auth response is skipped, never read out. */
export function parseLogin(r: Reader): Login {
  const login: Login = { capabilities: 0, mariaCapabilities: 0, user: '', database: '', authPlugin: '', authBytes: 0, attributes: [] };
  let caps = r.u16();
  if ((caps & Cap.protocol41) === 0) {
    r.skip(3);
    login.capabilities = caps;
    login.user = r.nul();
    login.authBytes = r.left;
    return login;
  }
  caps |= r.u16() << 16;
  r.skip(4 + 1 + 19); // max packet, charset, filler
  const ext = r.u32();
  login.capabilities = caps >>> 0;
  if ((caps & Cap.mysql) === 0) login.mariaCapabilities = ext;
  login.user = r.nul();
  const authLength = caps & Cap.pluginAuthLenencData ? r.lenenc() : caps & Cap.secureConnection ? r.u8() : -2;
  if (authLength === -2) {
    const before = r.pos;
    r.nul();
    login.authBytes = r.pos - before;
  } else {
    r.span(authLength);
    login.authBytes = Math.max(0, authLength);
  }
  if (caps & Cap.connectWithDb) login.database = r.nul();
  if (caps & Cap.pluginAuth && r.left > 0) login.authPlugin = r.nul();
  if (caps & Cap.connectAttrs && r.left > 0) readAttributes(r, login.attributes);
  return login;
}

function readAttributes(r: Reader, into: Array<[string, string]>): void {
  const total = r.lenenc();
  const end = Math.min(r.end, r.pos + Math.max(0, total));
  while (r.pos < end && !r.short && into.length < 64) {
    const name = r.lenencText() ?? '';
    const value = r.lenencText() ?? '';
    into.push([name.slice(0, ATTRIBUTE_CHARS), value.slice(0, ATTRIBUTE_CHARS)]);
  }
}

/** COM_CHANGE_USER: a login in the middle of a connection (its auth response skipped too). */
export function parseChangeUser(r: Reader, caps: number): Login {
  const login: Login = { capabilities: caps, mariaCapabilities: 0, user: r.nul(), database: '', authPlugin: '', authBytes: 0, attributes: [] };
  const authLength = caps & Cap.secureConnection ? r.u8() : -1;
  if (authLength < 0) {
    const before = r.pos;
    r.nul();
    login.authBytes = r.pos - before;
  } else {
    r.span(authLength);
    login.authBytes = authLength;
  }
  login.database = r.nul();
  if (r.left >= 2) r.skip(2);
  if (caps & Cap.pluginAuth && r.left > 0) login.authPlugin = r.nul();
  if (caps & Cap.connectAttrs && r.left > 0) readAttributes(r, login.attributes);
  return login;
}

export interface Ok {
  affectedRows: number;
  insertId: number;
  status: number;
  warnings: number;
  info: string;
}

/** An OK packet (or the 0xfe one that ends rows under CLIENT_DEPRECATE_EOF), after its header byte. */
export function parseOk(r: Reader): Ok {
  const affectedRows = Math.max(0, r.lenenc());
  const insertId = Math.max(0, r.lenenc());
  const status = r.u16();
  const warnings = r.u16();
  // info is a length-encoded string with session tracking, else the rest of the packet.
  const info = r.left > 0 ? (status & 0x4000 ? (r.lenencText() ?? '') : r.rest()) : '';
  return { affectedRows, insertId, status, warnings, info };
}

export interface Err {
  errno: number;
  /** '' when the server sent none (before CLIENT_PROTOCOL_41 was agreed). */
  sqlstate: string;
  message: string;
}

/** An ERR packet after its 0xff. */
export function parseErr(r: Reader): Err {
  const errno = r.u16();
  let sqlstate = '';
  if (r.left >= 6 && r.buf[r.pos] === 0x23) {
    r.skip(1);
    const p = r.span(5);
    sqlstate = r.text(p, r.pos);
  }
  return { errno, sqlstate, message: r.rest() };
}

export interface Column {
  name: string;
  type: number;
  /** Column flags (UNSIGNED is 0x20). */
  flags: number;
}

/** Column definition 41; `extendedMetadata`: MariaDB sends one more string. */
export function parseColumn(r: Reader, extendedMetadata: boolean): Column {
  for (let i = 0; i < 4; i++) r.span(Math.max(0, r.lenenc())); // catalog, schema, table, original table
  const name = r.lenencText() ?? '';
  r.span(Math.max(0, r.lenenc())); // original name
  if (extendedMetadata) r.span(Math.max(0, r.lenenc()));
  r.lenenc(); // length of the fixed fields (0x0c)
  r.skip(2 + 4); // charset, column length
  const type = r.u8();
  const flags = r.u16();
  return { name, type, flags };
}

export const FieldType = {
  decimal: 0, tiny: 1, short: 2, long: 3, float: 4, double: 5, null: 6, timestamp: 7, longlong: 8, int24: 9,
  date: 10, time: 11, datetime: 12, year: 13,
} as const;

const UNSIGNED = 0x20;

/** What a RowWriter holds between replies. */
const START = 4096;

/**
 * A result set rendered as `mariadb --batch` prints it, into one reused buffer up to a limit:
 * values are copied as bytes (no string per value), `\t`, `\n`, `\\` and NUL escaped so one row
 * is one line.
 */
export class RowWriter {
  private buf: Buffer;
  length = 0;
  /** Something did not fit. */
  cut = false;

  constructor(private readonly limit: number) {
    this.buf = Buffer.allocUnsafe(Math.min(limit, START));
  }

  reset(): void {
    this.length = 0;
    this.cut = false;
  }

  get full(): boolean {
    return this.length >= this.limit;
  }

  /** A copy of what was written; a buffer grown for a big result is let go. */
  take(): Buffer {
    const copy = Buffer.from(this.buf.subarray(0, this.length));
    if (this.buf.length > START) this.buf = Buffer.allocUnsafe(START);
    return copy;
  }

  private room(n: number): boolean {
    if (this.length + n > this.buf.length && this.buf.length < this.limit) {
      const grown = Buffer.allocUnsafe(Math.min(this.limit, Math.max(this.buf.length * 2, this.length + n)));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    if (this.length + n <= this.buf.length) return true;
    this.cut = true;
    return false;
  }

  byte(c: number): void {
    if (this.room(1)) this.buf[this.length++] = c;
  }

  ascii(s: string): void {
    if (this.room(s.length)) this.length += this.buf.write(s, this.length, 'latin1');
  }

  text(s: string): void {
    const n = Buffer.byteLength(s);
    if (this.room(n)) this.length += this.buf.write(s, this.length, 'utf8');
  }

  /** `src[start, end)` escaped. */
  escaped(src: Buffer, start: number, end: number): void {
    let from = start;
    for (let i = start; i < end; i++) {
      const c = src[i];
      if (c !== 9 && c !== 10 && c !== 92 && c !== 0) continue;
      // Runs without a special byte are copied at once.
      if (!this.copy(src, from, i) || !this.room(2)) return;
      this.buf[this.length++] = 92;
      this.buf[this.length++] = c === 9 ? 116 : c === 10 ? 110 : c === 0 ? 48 : 92;
      from = i + 1;
    }
    this.copy(src, from, end);
  }

  private copy(src: Buffer, start: number, end: number): boolean {
    const n = end - start;
    if (n === 0) return true;
    if (!this.room(n)) {
      // What fits of the value, then the writer is full.
      const fits = Math.max(0, this.buf.length - this.length);
      src.copy(this.buf, this.length, start, start + fits);
      this.length += fits;
      return false;
    }
    // Short runs by hand: a native copy costs more than it saves below a few dozen bytes.
    if (n < 64) {
      const b = this.buf;
      let at = this.length;
      for (let i = start; i < end; i++) b[at++] = src[i];
    } else src.copy(this.buf, this.length, start, end);
    this.length += n;
    return true;
  }
}

const NULL_TEXT = 'NULL';

/** A text row: each value a length-encoded string or the NULL marker. */
export function textRow(r: Reader, columns: number, w: RowWriter): void {
  for (let i = 0; i < columns && !r.short; i++) {
    if (i > 0) w.byte(9);
    const n = r.lenenc();
    if (n < 0) w.ascii(NULL_TEXT);
    else {
      const p = r.span(n);
      w.escaped(r.buf, p, r.pos);
    }
  }
  w.byte(10);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function temporal(r: Reader, type: number): string {
  const n = r.u8();
  const start = r.pos;
  if (type === FieldType.time) {
    if (n === 0) return '00:00:00';
    const negative = r.u8() === 1;
    const days = r.u32();
    const h = r.u8() + days * 24;
    const text = `${negative ? '-' : ''}${pad(h)}:${pad(r.u8())}:${pad(r.u8())}`;
    const micros = n >= 12 ? r.u32() : 0;
    r.pos = Math.min(r.end, start + n);
    return micros ? `${text}.${pad(micros, 6)}` : text;
  }
  let text = n >= 4 ? `${pad(r.u16(), 4)}-${pad(r.u8())}-${pad(r.u8())}` : '0000-00-00';
  if (type !== FieldType.date) {
    text += n >= 7 ? ` ${pad(r.u8())}:${pad(r.u8())}:${pad(r.u8())}` : ' 00:00:00';
    if (n >= 11) text += `.${pad(r.u32(), 6)}`;
  }
  r.pos = Math.min(r.end, start + n);
  return text;
}

function binaryValue(r: Reader, c: Column): string {
  const unsigned = (c.flags & UNSIGNED) !== 0;
  switch (c.type) {
    case FieldType.tiny: {
      const v = r.u8();
      return String(unsigned || v < 0x80 ? v : v - 0x100);
    }
    case FieldType.short:
    case FieldType.year: {
      const v = r.u16();
      return String(unsigned || v < 0x8000 ? v : v - 0x10000);
    }
    case FieldType.long:
    case FieldType.int24: {
      const v = r.u32();
      return String(unsigned ? v : v | 0);
    }
    case FieldType.longlong: {
      const p = r.span(8);
      if (r.short) return '';
      return String(unsigned ? r.buf.readBigUInt64LE(p) : r.buf.readBigInt64LE(p));
    }
    case FieldType.float: {
      const p = r.span(4);
      return r.short ? '' : String(Math.fround(r.buf.readFloatLE(p)));
    }
    case FieldType.double: {
      const p = r.span(8);
      return r.short ? '' : String(r.buf.readDoubleLE(p));
    }
    case FieldType.null:
      return 'NULL';
    case FieldType.date:
    case FieldType.datetime:
    case FieldType.timestamp:
    case FieldType.time:
      return temporal(r, c.type);
    default:
      return r.lenencText() ?? '';
  }
}

/** Types whose binary value is a length-encoded string (every one but the numbers and times). */
const isNumberOrTime = (t: number) => t <= FieldType.year && t !== FieldType.decimal;

/** A binary (prepared statement) row: a NULL bitmap, then each value in its column's type. */
export function binaryRow(r: Reader, columns: readonly Column[], w: RowWriter): void {
  r.skip(1); // 0x00 header
  const bitmap = r.span((columns.length + 9) >> 3);
  for (let i = 0; i < columns.length && !r.short; i++) {
    const bit = i + 2;
    if (i > 0) w.byte(9);
    if ((r.buf[bitmap + (bit >> 3)] & (1 << (bit & 7))) !== 0) w.ascii(NULL_TEXT);
    else if (isNumberOrTime(columns[i].type)) w.ascii(binaryValue(r, columns[i]));
    else {
      const p = r.span(Math.max(0, r.lenenc()));
      w.escaped(r.buf, p, r.pos);
    }
  }
  w.byte(10);
}

/** Column names as the header line. */
export function headerRow(columns: readonly Column[], w: RowWriter): void {
  for (let i = 0; i < columns.length; i++) {
    if (i > 0) w.byte(9);
    w.text(columns[i].name);
  }
  w.byte(10);
}

/** Longest parameter value kept (a prepared statement's bound values). */
export const PARAMETER_CHARS = 256;

/**
 * COM_STMT_EXECUTE's bound values as text (strings quoted, cut at PARAMETER_CHARS); `types` are
 * the last types the client sent for this statement (it may send them only once).
 */
export function parameters(r: Reader, count: number, types: number[]): string[] {
  const values: string[] = [];
  if (count <= 0 || r.left === 0) return values;
  const bitmap = r.span((count + 7) >> 3);
  if (r.u8() === 1) {
    types.length = 0;
    for (let i = 0; i < count; i++) types.push(r.u16());
  }
  for (let i = 0; i < count && !r.short; i++) {
    if ((r.buf[bitmap + (i >> 3)] & (1 << (i & 7))) !== 0) {
      values.push('NULL');
      continue;
    }
    const t = types[i] ?? 0xfd;
    const column: Column = { name: '', type: t & 0xff, flags: t & 0x8000 ? UNSIGNED : 0 };
    const v = binaryValue(r, column);
    const numeric = column.type !== 0 && (column.type <= FieldType.int24 || column.type === FieldType.year) && column.type !== FieldType.timestamp && column.type !== FieldType.null;
    const text = v.length > PARAMETER_CHARS ? `${v.slice(0, PARAMETER_CHARS)}…` : v;
    values.push(numeric ? text : `'${text}'`);
  }
  return values;
}
