/**
 * Entry -> `entries` rows in ClickHouse's Native format: one block, column after column.
 *
 * Native rather than TabSeparated because the engine's share of an insert is most of its cost and
 * a columnar binary block is what it reads cheapest (no text parsing, no escaping; bodies and
 * header values are raw bytes with a length, so any byte round-trips). Measured in
 * bench/RESULTS.md ("Store: ingest").
 *
 * Block layout (Native format, no block info): varint columns, varint rows, then per column its
 * name, its type and its values. Strings are varint length + bytes; fixed-width values are
 * little-endian; `Array(String)` is the cumulative UInt64 end offset of each row, then every
 * element; `Map(String, V)` is laid out as `Array(Tuple(String, V))`: the cumulative UInt64 end
 * offset of each row, then every key, then every value (Float64 little-endian); IPv6 is the 16
 * address bytes (IPv4 as IPv4-mapped, `::` for an unknown address).
 * LowCardinality columns (map keys included) are declared as plain String here: the insert
 * converts them. An entry's typed fields go to `fields_text` (strings) or `fields_number`
 * (numbers); most protocols fill none (NO_FIELDS), which costs an offset a map.
 * Text fields are stored as the UTF-8 bytes of the JS string (as `Buffer#write` makes them).
 * Header names and values are written from the ranges of the text their HeaderList holds (the
 * captured head), without strings of their own; a redacted value as REDACTED.
 */
import { isIP } from 'node:net';
import { NO_FIELDS, OUTCOME_NAMES, REDACTED, type Body, type Endpoint, type Entry, type HeaderList, type ProtocolFields } from '../entries/entry.js';
import { ENTRY_COLUMNS, EntryEncodeError } from './rows.js';

/** The type each insert column has in the block (the table converts String to LowCardinality). */
export const ENTRY_BLOCK_TYPES: Record<(typeof ENTRY_COLUMNS)[number], string> = (() => {
  const types: Record<string, string> = {};
  for (const c of ENTRY_COLUMNS) types[c] = 'String';
  for (const c of ['start_time', 'end_time']) types[c] = "DateTime64(6, 'UTC')";
  for (const s of ['src', 'dst']) {
    types[`${s}_ip`] = 'IPv6';
    types[`${s}_port`] = 'UInt16';
  }
  types.status = 'UInt16';
  types.outcome = 'UInt8';
  types.duration_us = 'UInt64';
  types.fields_text = 'Map(String, String)';
  types.fields_number = 'Map(String, Float64)';
  for (const s of ['request', 'response']) {
    types[`${s}_header_names`] = 'Array(String)';
    types[`${s}_header_values`] = 'Array(String)';
    types[`${s}_body_size`] = 'UInt64';
    types[`${s}_body_wire_size`] = 'UInt64';
    types[`${s}_body_truncated`] = 'Bool';
  }
  types.unanswered = 'Bool';
  types.incomplete = 'Bool';
  // NULL (no ingestedUs) takes the column default, the insert time (input_format_null_as_default).
  types.ingested_at = "Nullable(DateTime64(6, 'UTC'))";
  return types as Record<(typeof ENTRY_COLUMNS)[number], string>;
})();

const TWO_32 = 4294967296;

/** A column of the block: its encoded values are its parts' bytes, one part after the other. */
interface BlockColumn {
  readonly parts: readonly Column[];
  reset(): void;
}

/** Bytes written to the columns of one batch, kept as they are written (the writer asks per entry). */
class Tally {
  bytes = 0;
}

/** One column's values (or one run of them), in a growing Buffer. */
class Column implements BlockColumn {
  buf: Buffer;
  pos = 0;
  readonly parts: readonly Column[] = [this];
  constructor(
    size: number,
    readonly tally: Tally,
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  reset(): void {
    this.pos = 0;
  }

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
    this.tally.bytes += 1;
  }

  u16(v: number): void {
    this.reserve(2);
    const p = this.pos;
    this.buf[p] = v & 0xff;
    this.buf[p + 1] = v >>> 8;
    this.pos = p + 2;
    this.tally.bytes += 2;
  }

  /** An integer 0..2^53-1 as UInt64 (or a non-negative Int64). */
  u64(v: number): void {
    this.reserve(8);
    const buf = this.buf;
    const p = this.pos;
    const lo = v % TWO_32;
    const hi = (v - lo) / TWO_32;
    // Byte stores (a Uint8Array keeps the low 8 bits): cheaper than writeUInt32LE's checks.
    buf[p] = lo;
    buf[p + 1] = lo >>> 8;
    buf[p + 2] = lo >>> 16;
    buf[p + 3] = lo >>> 24;
    buf[p + 4] = hi;
    buf[p + 5] = hi >>> 8;
    buf[p + 6] = hi >>> 16;
    buf[p + 7] = hi >>> 24;
    this.pos = p + 8;
    this.tally.bytes += 8;
  }

  varint(n: number): void {
    this.reserve(10);
    const start = this.pos;
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
    this.tally.bytes += this.pos - start;
  }

  str(s: string): void {
    this.strAt(s, 0, s.length);
  }

  /** s[start, end) as a String value, without making it a string of its own when it is short ASCII. */
  strAt(s: string, start: number, end: number): void {
    const n = end - start;
    // Most fields are short ASCII: copying them by hand beats Buffer#write's per-call cost.
    if (n < 0x80) {
      this.reserve(1 + n);
      const buf = this.buf;
      const p = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(start + i);
        if (c >= 0x80) break;
        buf[p + i] = c;
      }
      if (i === n) {
        buf[p - 1] = n;
        this.pos = p + n;
        this.tally.bytes += 1 + n;
        return;
      }
    }
    const part = start === 0 && end === s.length ? s : s.slice(start, end);
    const len = Buffer.byteLength(part, 'utf8');
    this.varint(len);
    this.reserve(len);
    this.pos += this.buf.write(part, this.pos, 'utf8');
    this.tally.bytes += len;
  }

  f64(v: number): void {
    this.reserve(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
    this.tally.bytes += 8;
  }

  bytes(b: Buffer): void {
    this.varint(b.length);
    this.raw(b);
  }

  raw(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    this.tally.bytes += b.length;
  }
}

/** A column whose values are two runs one after the other (offsets then elements, null flags then values). */
class TwoPartColumn implements BlockColumn {
  readonly parts: readonly Column[];
  constructor(
    protected readonly first: Column,
    protected readonly second: Column,
  ) {
    this.parts = [first, second];
  }

  reset(): void {
    this.first.reset();
    this.second.reset();
  }
}

/** `Array(String)`: each row's end offset (UInt64), then the elements. */
class StringArrayColumn extends TwoPartColumn {
  private end = 0;
  constructor(rows: number, elementBytes: number, t: Tally) {
    super(new Column(8 * rows, t), new Column(elementBytes, t));
  }

  /** Appends the names (`which` 0) or values (1) of a header list as one row. */
  headers(h: HeaderList, which: 0 | 1): void {
    const col = this.second;
    const { text, offsets, count } = h;
    const marks = which === 1 ? h.redacted : null;
    const first = h.at + 2 * which;
    // One reservation for the whole list (a length byte and the text of each field), then short
    // ASCII fields copied without a call each: this loop is the encoder's hottest.
    let room = 0;
    for (let i = 0, o = first; i < count; i++, o += 4) room += 1 + offsets[o + 1] - offsets[o];
    col.reserve(room);
    let buf = col.buf;
    let p = col.pos;
    for (let i = 0, o = first; i < count; i++, o += 4) {
      const start = offsets[o];
      const n = offsets[o + 1] - start;
      if ((marks === null || marks[i] !== 1) && n < 0x80) {
        let k = 0;
        for (; k < n; k++) {
          const c = text.charCodeAt(start + k);
          if (c >= 0x80) break;
          buf[p + 1 + k] = c;
        }
        if (k === n) {
          buf[p] = n;
          p += 1 + n;
          continue;
        }
      }
      // Redacted, long or not ASCII: the general path (it reserves for itself).
      col.tally.bytes += p - col.pos;
      col.pos = p;
      if (marks !== null && marks[i] === 1) col.str(REDACTED);
      else col.strAt(text, start, offsets[o + 1]);
      buf = col.buf;
      p = col.pos;
    }
    col.tally.bytes += p - col.pos;
    col.pos = p;
    this.end += count;
    this.first.u64(this.end);
  }

  override reset(): void {
    super.reset();
    this.end = 0;
  }
}

/** `Nullable(DateTime64(6))`: a null flag per row, then a value per row (0 under a null). */
class NullableTimeColumn extends TwoPartColumn {
  constructor(n: number, t: Tally) {
    super(new Column(n, t), new Column(8 * n, t));
  }

  append(us: number | undefined): void {
    this.first.u8(us === undefined ? 1 : 0);
    this.second.u64(us ?? 0);
  }
}

/** `Map(String, V)`: each row's end offset (UInt64), then every key, then every value. */
class MapColumn implements BlockColumn {
  readonly offsets: Column;
  readonly keys: Column;
  readonly values: Column;
  readonly parts: readonly Column[];
  /** Entries so far (the end offset of the row being written). */
  end = 0;
  /** `rows`: initial capacity in rows; `entryBytes`: in keys and in values (they grow as needed). */
  constructor(rows: number, entryBytes: number, t: Tally) {
    this.offsets = new Column(8 * rows, t);
    this.keys = new Column(entryBytes, t);
    this.values = new Column(entryBytes, t);
    this.parts = [this.offsets, this.keys, this.values];
  }

  endRow(): void {
    this.offsets.u64(this.end);
  }

  reset(): void {
    this.offsets.reset();
    this.keys.reset();
    this.values.reset();
    this.end = 0;
  }
}

/** An entry's typed fields: text ones in `fields_text`, numbers in `fields_number`. */
class FieldColumns {
  readonly text: MapColumn;
  readonly number: MapColumn;
  constructor(n: number, t: Tally) {
    // Sized for entries without fields (most protocols): keys and values grow when fields come.
    this.text = new MapColumn(n, 256, t);
    this.number = new MapColumn(n, 256, t);
  }

  append(f: ProtocolFields): void {
    if (f !== NO_FIELDS) {
      const text = this.text;
      const number = this.number;
      for (const k in f) {
        const v = f[k];
        if (typeof v === 'number') {
          number.keys.str(k);
          number.values.f64(v);
          number.end++;
        } else {
          text.keys.str(k);
          text.values.str(v);
          text.end++;
        }
      }
    }
    this.text.endRow();
    this.number.endRow();
  }

  columns(): BlockColumn[] {
    return [this.text, this.number];
  }
}

class EndpointColumns {
  readonly ip: Column;
  readonly port: Column;
  readonly pod: Column;
  readonly namespace: Column;
  readonly service: Column;
  readonly workload: Column;
  readonly node: Column;
  constructor(n: number, t: Tally) {
    this.ip = new Column(16 * n, t);
    this.port = new Column(2 * n, t);
    this.pod = new Column(16 * n, t);
    this.namespace = new Column(8 * n, t);
    this.service = new Column(8 * n, t);
    this.workload = new Column(8 * n, t);
    this.node = new Column(8 * n, t);
  }

  append(p: Endpoint, ip: Uint8Array): void {
    this.ip.raw(ip);
    this.port.u16(p.port);
    this.pod.str(p.pod);
    this.namespace.str(p.namespace);
    this.service.str(p.service);
    this.workload.str(p.workload);
    this.node.str(p.node);
  }

  columns(): BlockColumn[] {
    return [this.ip, this.port, this.pod, this.namespace, this.service, this.workload, this.node];
  }
}

class BodyColumns {
  readonly headerNames: StringArrayColumn;
  readonly headerValues: StringArrayColumn;
  readonly body: Column;
  readonly size: Column;
  readonly wireSize: Column;
  readonly truncated: Column;
  readonly encoding: Column;
  constructor(n: number, t: Tally) {
    this.headerNames = new StringArrayColumn(n, 64 * n, t);
    this.headerValues = new StringArrayColumn(n, 64 * n, t);
    this.body = new Column(64 * n, t);
    this.size = new Column(8 * n, t);
    this.wireSize = new Column(8 * n, t);
    this.truncated = new Column(n, t);
    this.encoding = new Column(2 * n, t);
  }

  append(h: HeaderList, b: Body): void {
    this.headerNames.headers(h, 0);
    this.headerValues.headers(h, 1);
    this.body.bytes(b.bytes);
    this.size.u64(b.size);
    this.wireSize.u64(b.wireSize);
    this.truncated.u8(b.truncated ? 1 : 0);
    this.encoding.str(b.encoding);
  }

  columns(): BlockColumn[] {
    return [this.headerNames, this.headerValues, this.body, this.size, this.wireSize, this.truncated, this.encoding];
  }
}

/**
 * Encodes entries into one Native block, column by column. `append` validates the whole entry
 * before writing any of it, so a bad entry leaves the batch as it was. `take()` hands the block
 * over (its own memory) and keeps the column buffers for the next batch.
 */
export class NativeBatch {
  private readonly id: Column;
  private readonly agent: Column;
  private readonly protocol: Column;
  private readonly protocolVersion: Column;
  private readonly transport: Column;
  private readonly startTime: Column;
  private readonly endTime: Column;
  private readonly durationUs: Column;
  private readonly src: EndpointColumns;
  private readonly dst: EndpointColumns;
  private readonly operation: Column;
  private readonly target: Column;
  private readonly query: Column;
  private readonly host: Column;
  private readonly status: Column;
  private readonly statusText: Column;
  private readonly outcome: Column;
  private readonly request: BodyColumns;
  private readonly response: BodyColumns;
  private readonly fields: FieldColumns;
  private readonly unanswered: Column;
  private readonly incomplete: Column;
  private readonly ingestedAt: NullableTimeColumn;
  /** Every column in ENTRY_COLUMNS order. */
  private readonly all: BlockColumn[];
  private readonly tally = new Tally();
  private count = 0;
  private readonly srcIp = new AddressBytes();
  private readonly dstIp = new AddressBytes();

  /** `expectedRows`: initial capacity (columns grow as needed). */
  constructor(expectedRows = 10_000) {
    const n = Math.max(16, expectedRows);
    const t = this.tally;
    this.id = new Column(40 * n, t);
    this.agent = new Column(8 * n, t);
    this.protocol = new Column(8 * n, t);
    this.protocolVersion = new Column(4 * n, t);
    this.transport = new Column(4 * n, t);
    this.startTime = new Column(8 * n, t);
    this.endTime = new Column(8 * n, t);
    this.durationUs = new Column(8 * n, t);
    this.src = new EndpointColumns(n, t);
    this.dst = new EndpointColumns(n, t);
    this.operation = new Column(8 * n, t);
    this.target = new Column(32 * n, t);
    this.query = new Column(16 * n, t);
    this.host = new Column(16 * n, t);
    this.status = new Column(2 * n, t);
    this.statusText = new Column(8 * n, t);
    this.outcome = new Column(n, t);
    this.request = new BodyColumns(n, t);
    this.response = new BodyColumns(n, t);
    this.fields = new FieldColumns(n, t);
    this.unanswered = new Column(n, t);
    this.incomplete = new Column(n, t);
    this.ingestedAt = new NullableTimeColumn(n, t);
    this.all = [
      this.id, this.agent, this.protocol, this.protocolVersion, this.transport, this.startTime, this.endTime, this.durationUs,
      ...this.src.columns(), ...this.dst.columns(),
      this.operation, this.target, this.query, this.host, this.status, this.statusText, this.outcome,
      ...this.request.columns(), ...this.response.columns(),
      ...this.fields.columns(),
      this.unanswered, this.incomplete, this.ingestedAt,
    ];
  }

  /** Entries in the batch. */
  get rows(): number {
    return this.count;
  }

  /** Encoded bytes in the batch (column data, without the block header). */
  get bytes(): number {
    return this.tally.bytes;
  }

  /** Appends one entry. Throws EntryEncodeError (and appends nothing) for a bad field. */
  append(e: Entry): void {
    this.srcIp.parse(e, 'src.ip', e.src.ip);
    this.dstIp.parse(e, 'dst.ip', e.dst.ip);
    uint(e, 'src.port', e.src.port, 65535);
    uint(e, 'dst.port', e.dst.port, 65535);
    uint(e, 'startUs', e.startUs);
    uint(e, 'endUs', e.endUs);
    uint(e, 'durationUs', e.durationUs);
    uint(e, 'status', e.status, 65535);
    uint(e, 'outcome', e.outcome, MAX_OUTCOME);
    if (e.fields !== NO_FIELDS) checkFields(e);
    uint(e, 'requestBody.size', e.requestBody.size);
    uint(e, 'requestBody.wireSize', e.requestBody.wireSize);
    uint(e, 'responseBody.size', e.responseBody.size);
    uint(e, 'responseBody.wireSize', e.responseBody.wireSize);
    if (e.ingestedUs !== undefined) uint(e, 'ingestedUs', e.ingestedUs);

    this.id.str(e.id);
    this.agent.str(e.agent);
    this.protocol.str(e.protocol);
    this.protocolVersion.str(e.protocolVersion);
    this.transport.str(e.transport);
    this.startTime.u64(e.startUs);
    this.endTime.u64(e.endUs);
    this.durationUs.u64(e.durationUs);
    this.src.append(e.src, this.srcIp.bytes);
    this.dst.append(e.dst, this.dstIp.bytes);
    this.operation.str(e.operation);
    this.target.str(e.target);
    this.query.str(e.query);
    this.host.str(e.host);
    this.status.u16(e.status);
    this.statusText.str(e.statusText);
    this.outcome.u8(e.outcome);
    this.request.append(e.requestHeaders, e.requestBody);
    this.response.append(e.responseHeaders, e.responseBody);
    this.fields.append(e.fields);
    this.unanswered.u8(e.unanswered ? 1 : 0);
    this.incomplete.u8(e.incomplete ? 1 : 0);
    this.ingestedAt.append(e.ingestedUs);
    this.count++;
  }

  /**
   * The batch so far as one Native block, leaving this one empty. The block is written into
   * `into(bytes)` (a buffer of at least that many bytes: the writer recycles them) or into memory of
   * its own; `body` is the block, the first bytes of that buffer.
   */
  take(into: (bytes: number) => Buffer = Buffer.allocUnsafe): { body: Buffer; rows: number } {
    const head = new Column(64 * ENTRY_COLUMNS.length, new Tally());
    head.varint(ENTRY_COLUMNS.length);
    head.varint(this.count);
    const parts: Buffer[] = [];
    let total = 0;
    const add = (b: Buffer) => {
      parts.push(b);
      total += b.length;
    };
    let headFrom = 0;
    for (let i = 0; i < ENTRY_COLUMNS.length; i++) {
      const name = ENTRY_COLUMNS[i];
      head.str(name);
      head.str(ENTRY_BLOCK_TYPES[name]);
      add(head.buf.subarray(headFrom, head.pos));
      headFrom = head.pos;
      for (const part of this.all[i].parts) add(part.buf.subarray(0, part.pos));
    }
    const body = into(total).subarray(0, total);
    let at = 0;
    for (const part of parts) at += part.copy(body, at);
    for (const c of this.all) c.reset();
    this.tally.bytes = 0;
    const rows = this.count;
    this.count = 0;
    return { body, rows };
  }
}

/**
 * The 16 stored bytes of the last address parsed: consecutive entries mostly share their client
 * and server addresses (one connection, one pod), and parsing one costs more than the rest of
 * its row's fixed-width columns.
 */
class AddressBytes {
  readonly bytes = new Uint8Array(16);
  private text: string | null = null;

  /** Sets `bytes` to address `v`; throws EntryEncodeError when it is not one. */
  parse(e: Entry, field: string, v: string): void {
    if (v === this.text) return;
    this.text = null;
    ipBytes(e, field, v, this.bytes);
    this.text = v;
  }
}

/** The largest outcome class (entries/entry.ts `Outcome`). */
const MAX_OUTCOME = OUTCOME_NAMES.length - 1;

/** Every typed field is a string or a finite number (Float64 holds no NaN or infinity we would want). */
function checkFields(e: Entry): void {
  const f = e.fields;
  for (const k in f) {
    const v: unknown = f[k];
    if (typeof v === 'number' ? !Number.isFinite(v) : typeof v !== 'string') {
      throw new EntryEncodeError(e.id, `fields[${JSON.stringify(k)}]`, `must be a string or a finite number, got ${String(v)}`);
    }
  }
}

function uint(e: Entry, field: string, v: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new EntryEncodeError(e.id, field, `must be an integer 0..${max}, got ${v}`);
}

/**
 * Writes the 16 bytes of an address as stored (IPv6; IPv4 IPv4-mapped; '' = `::`) into `out`.
 * Node's isIP() checks the syntax; the parse below relies on it.
 */
function ipBytes(e: Entry, field: string, v: string, out: Uint8Array): void {
  out.fill(0);
  if (v === '') return;
  const kind = isIP(v);
  if (kind === 4) {
    out[10] = 0xff;
    out[11] = 0xff;
    ipv4Into(v, out, 12);
    return;
  }
  if (kind === 0 || v.includes('%')) {
    throw new EntryEncodeError(e.id, field, `is not an IP address${kind === 6 ? ' without a zone' : ''}: ${JSON.stringify(v)}`);
  }
  // IPv6: groups before '::' fill from the front, after it from the back; a dotted quad at the end
  // fills the last four bytes.
  let text = v;
  let tailEnd = 16;
  if (text.includes('.')) {
    const lastColon = text.lastIndexOf(':');
    ipv4Into(text.slice(lastColon + 1), out, 12);
    tailEnd = 12;
    text = text.slice(0, lastColon + 1); // keep a '::' whole, drop a lone ':'
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const gap = text.indexOf('::');
  const head = gap < 0 ? text : text.slice(0, gap);
  const tail = gap < 0 ? '' : text.slice(gap + 2);
  let p = 0;
  for (const g of head === '' ? [] : head.split(':')) {
    const n = parseInt(g, 16);
    out[p++] = n >>> 8;
    out[p++] = n & 0xff;
  }
  const tailGroups = tail === '' ? [] : tail.split(':');
  p = tailEnd - 2 * tailGroups.length;
  for (const g of tailGroups) {
    const n = parseInt(g, 16);
    out[p++] = n >>> 8;
    out[p++] = n & 0xff;
  }
}

function ipv4Into(v: string, out: Uint8Array, at: number): void {
  let n = 0;
  let p = at;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x2e) {
      out[p++] = n;
      n = 0;
    } else n = n * 10 + c - 0x30;
  }
  out[p] = n;
}

/** Entries as one Native block (tests, tools); the writer uses NativeBatch directly. */
export function encodeEntriesNative(entries: Iterable<Entry>): Buffer {
  const batch = new NativeBatch(64);
  for (const e of entries) batch.append(e);
  return batch.take().body;
}
