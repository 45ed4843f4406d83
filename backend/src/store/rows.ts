/**
 * Entry <-> `entries` row.
 *
 * Writing: `TsvBatch` encodes entries as TabSeparated lines in `ENTRY_COLUMNS` order.
 * TabSeparated because @clickhouse/client has no RowBinary insert and JSON cannot carry raw bytes:
 * every line is valid UTF-8 (bytes of a non-UTF-8 body are written as `\xHH` escapes, which the
 * engine decodes back to the bytes), so it survives any transport, chDB's included.
 * Header names/values and other text fields are stored as the UTF-8 bytes of the JS string, so any
 * string round-trips (characters U+0000–U+00FF included, as a latin1-decoding agent produces).
 *
 * Reading: select `ENTRY_SELECT` in a JSON format and pass each row to `rowToEntry`
 * (bodies come back base64-encoded, times as integer microseconds).
 */
import { isIP } from 'node:net';
import { isUtf8 } from 'node:buffer';
import type { Body, Endpoint, Entry, HeaderList } from '../entries/entry.js';

/** Insert column order of `TsvBatch` (every column but `ingested_at`, which defaults). */
export const ENTRY_COLUMNS = [
  'id', 'agent', 'protocol', 'protocol_version', 'start_time', 'end_time', 'duration_us',
  ...endpointColumnNames('src'), ...endpointColumnNames('dst'),
  'method', 'path', 'query', 'host', 'status', 'status_text',
  ...bodyColumnNames('request'), ...bodyColumnNames('response'),
  'unanswered', 'incomplete',
] as const;

function endpointColumnNames<S extends 'src' | 'dst'>(s: S) {
  return [`${s}_ip`, `${s}_port`, `${s}_pod`, `${s}_namespace`, `${s}_service`, `${s}_workload`, `${s}_node`] as const;
}

function bodyColumnNames<S extends 'request' | 'response'>(s: S) {
  return [
    `${s}_header_names`, `${s}_header_values`, `${s}_body`, `${s}_body_size`, `${s}_body_wire_size`,
    `${s}_body_truncated`, `${s}_body_encoding`,
  ] as const;
}

/** An entry that cannot be stored as it is (the message names the field and the value). */
export class EntryEncodeError extends Error {
  readonly code = 'ENTRY_ENCODE';
  constructor(
    readonly entryId: string,
    readonly field: string,
    detail: string,
  ) {
    super(`entry ${JSON.stringify(entryId)}: ${field} ${detail}`);
  }
}

const TSV_SPECIAL = /[\\\t\n\r\0]/;
const TSV_SPECIAL_G = /[\\\t\n\r\0]/g;
const QUOTED_SPECIAL = /[\\'\t\n\r\0]/;
const QUOTED_SPECIAL_G = /[\\'\t\n\r\0]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0', "'": "\\'" };
const escapeChar = (c: string): string => ESCAPES[c];

/** Escape letter for the bytes TabSeparated escapes (0 = copy the byte as is). */
const BYTE_ESCAPE = new Uint8Array(256);
BYTE_ESCAPE[0x5c] = 0x5c; // \\
BYTE_ESCAPE[0x09] = 0x74; // \t
BYTE_ESCAPE[0x0a] = 0x6e; // \n
BYTE_ESCAPE[0x0d] = 0x72; // \r
BYTE_ESCAPE[0x00] = 0x30; // \0
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const TAB = 0x09;

/**
 * Encodes entries as TabSeparated lines (`ENTRY_COLUMNS` order) straight into one growing Buffer:
 * no string per line, no join, little garbage on the per-entry path. `take()` hands the batch over.
 */
export class TsvBatch {
  private buf: Buffer;
  private pos = 0;
  private count = 0;

  constructor(private readonly initialBytes = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Entries in the batch. */
  get rows(): number {
    return this.count;
  }

  /** Encoded bytes in the batch. */
  get bytes(): number {
    return this.pos;
  }

  /** Appends one entry as a line. Throws EntryEncodeError (and appends nothing) for a bad field. */
  append(e: Entry): void {
    const start = this.pos;
    try {
      this.line(e);
    } catch (err) {
      this.pos = start;
      throw err;
    }
    this.count++;
  }

  /** The batch so far (its own memory), leaving this one empty. */
  take(): { body: Buffer; rows: number } {
    const out = { body: this.buf.subarray(0, this.pos), rows: this.count };
    this.buf = Buffer.allocUnsafe(Math.max(this.initialBytes, this.pos));
    this.pos = 0;
    this.count = 0;
    return out;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  private raw(s: string): void {
    const n = s.length;
    this.ensure(n * 3);
    // Most fields are short ASCII: copying them by hand beats Buffer#write's per-call cost, which
    // was the largest share of encoding time. Anything else (or longer) goes through Buffer#write.
    if (n <= 64) {
      const buf = this.buf;
      const p = this.pos;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p + i] = c;
      }
      if (i === n) {
        this.pos = p + n;
        return;
      }
    }
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A top-level string field. */
  private str(s: string): void {
    this.raw(TSV_SPECIAL.test(s) ? s.replace(TSV_SPECIAL_G, escapeChar) : s);
  }

  /** A string inside an Array: single-quoted with backslash escapes. */
  private quoted(s: string): void {
    this.byte(0x27);
    this.raw(QUOTED_SPECIAL.test(s) ? s.replace(QUOTED_SPECIAL_G, escapeChar) : s);
    this.byte(0x27);
  }

  private uint(n: number): void {
    this.raw(String(n));
  }

  /** Raw bytes: valid UTF-8 as is (escaping only what TSV needs), anything else as \\xHH per byte. */
  private bytesField(src: Buffer): void {
    const utf8 = isUtf8(src);
    this.ensure(src.length * 4);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < src.length; i++) {
      const b = src[i];
      const esc = BYTE_ESCAPE[b];
      if (esc !== 0) {
        buf[p++] = 0x5c;
        buf[p++] = esc;
      } else if (utf8 || (b >= 0x20 && b < 0x7f)) {
        buf[p++] = b;
      } else {
        buf[p++] = 0x5c;
        buf[p++] = 0x78; // x
        buf[p++] = HEX_DIGITS[b >> 4];
        buf[p++] = HEX_DIGITS[b & 15];
      }
    }
    this.pos = p;
  }

  /** Microseconds as seconds with six decimals (DateTime64(6) text). */
  private time(us: number): void {
    const sec = Math.floor(us / 1e6);
    const frac = us - sec * 1e6;
    this.uint(sec);
    this.byte(0x2e);
    this.raw(frac >= 100_000 ? String(frac) : String(frac).padStart(6, '0'));
  }

  private endpoint(e: Entry, side: 'src' | 'dst', p: Endpoint): void {
    this.raw(ip(e, `${side}.ip`, p.ip));
    this.byte(TAB);
    this.uint(uint(e, `${side}.port`, p.port, 65535));
    this.byte(TAB);
    this.str(p.pod);
    this.byte(TAB);
    this.str(p.namespace);
    this.byte(TAB);
    this.str(p.service);
    this.byte(TAB);
    this.str(p.workload);
    this.byte(TAB);
    this.str(p.node);
  }

  private headers(h: HeaderList, which: 0 | 1): void {
    this.byte(0x5b);
    for (let i = 0; i < h.length; i++) {
      if (i > 0) this.byte(0x2c);
      this.quoted(h[i][which]);
    }
    this.byte(0x5d);
  }

  private body(e: Entry, side: 'request' | 'response', h: HeaderList, b: Body): void {
    this.headers(h, 0);
    this.byte(TAB);
    this.headers(h, 1);
    this.byte(TAB);
    this.bytesField(b.bytes);
    this.byte(TAB);
    this.uint(uint(e, `${side}Body.size`, b.size));
    this.byte(TAB);
    this.uint(uint(e, `${side}Body.wireSize`, b.wireSize));
    this.byte(TAB);
    this.byte(b.truncated ? 0x31 : 0x30);
    this.byte(TAB);
    this.str(b.encoding);
  }

  private line(e: Entry): void {
    this.str(e.id);
    this.byte(TAB);
    this.str(e.agent);
    this.byte(TAB);
    this.str(e.protocol);
    this.byte(TAB);
    this.str(e.protocolVersion);
    this.byte(TAB);
    this.time(uint(e, 'startUs', e.startUs));
    this.byte(TAB);
    this.time(uint(e, 'endUs', e.endUs));
    this.byte(TAB);
    this.uint(uint(e, 'durationUs', e.durationUs));
    this.byte(TAB);
    this.endpoint(e, 'src', e.src);
    this.byte(TAB);
    this.endpoint(e, 'dst', e.dst);
    this.byte(TAB);
    this.str(e.method);
    this.byte(TAB);
    this.str(e.path);
    this.byte(TAB);
    this.str(e.query);
    this.byte(TAB);
    this.str(e.host);
    this.byte(TAB);
    this.uint(uint(e, 'status', e.status, 65535));
    this.byte(TAB);
    this.str(e.statusText);
    this.byte(TAB);
    this.body(e, 'request', e.requestHeaders, e.requestBody);
    this.byte(TAB);
    this.body(e, 'response', e.responseHeaders, e.responseBody);
    this.byte(TAB);
    this.byte(e.unanswered ? 0x31 : 0x30);
    this.byte(TAB);
    this.byte(e.incomplete ? 0x31 : 0x30);
    this.byte(0x0a);
  }
}

function uint(e: Entry, field: string, v: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new EntryEncodeError(e.id, field, `must be an integer 0..${max}, got ${v}`);
  return v;
}

function ip(e: Entry, field: string, v: string): string {
  if (v === '') return '::';
  if (isIP(v) === 0) throw new EntryEncodeError(e.id, field, `is not an IP address: ${JSON.stringify(v)}`);
  return v;
}

/** Entries as one TabSeparated body (tests, tools); the writer uses TsvBatch directly. */
export function encodeEntriesTsv(entries: Iterable<Entry>): Buffer {
  const batch = new TsvBatch(64 * 1024);
  for (const e of entries) batch.append(e);
  return batch.take().body;
}

/** Select list (no leading SELECT) whose JSON rows `rowToEntry` reads. */
export const ENTRY_SELECT = [
  'id', 'agent', 'protocol', 'protocol_version',
  'toUnixTimestamp64Micro(start_time) AS start_us', 'toUnixTimestamp64Micro(end_time) AS end_us', 'duration_us',
  ...(['src', 'dst'] as const).flatMap((s) => [
    `toString(${s}_ip) AS ${s}_ip`, `${s}_port`, `${s}_pod`, `${s}_namespace`, `${s}_service`, `${s}_workload`, `${s}_node`,
  ]),
  'method', 'path', 'query', 'host', 'status', 'status_text',
  ...(['request', 'response'] as const).flatMap((s) => [
    `${s}_header_names`, `${s}_header_values`, `base64Encode(${s}_body) AS ${s}_body_base64`, `${s}_body_size`,
    `${s}_body_wire_size`, `${s}_body_truncated`, `${s}_body_encoding`,
  ]),
  'unanswered', 'incomplete', 'toUnixTimestamp64Micro(ingested_at) AS ingested_us',
].join(', ');

/** 64-bit integers arrive as JSON numbers from chDB and as strings from a server. */
type Int = number | string;

/** One row of `SELECT ${ENTRY_SELECT}` in JSONEachRow. */
export interface EntryRow {
  id: string; agent: string; protocol: string; protocol_version: string;
  start_us: Int; end_us: Int; duration_us: Int;
  src_ip: string; src_port: number; src_pod: string; src_namespace: string; src_service: string; src_workload: string; src_node: string;
  dst_ip: string; dst_port: number; dst_pod: string; dst_namespace: string; dst_service: string; dst_workload: string; dst_node: string;
  method: string; path: string; query: string; host: string; status: number; status_text: string;
  request_header_names: string[]; request_header_values: string[];
  request_body_base64: string; request_body_size: Int; request_body_wire_size: Int; request_body_truncated: boolean; request_body_encoding: string;
  response_header_names: string[]; response_header_values: string[];
  response_body_base64: string; response_body_size: Int; response_body_wire_size: Int; response_body_truncated: boolean; response_body_encoding: string;
  unanswered: boolean; incomplete: boolean;
  /** Insert time (µs); absent in rows built by `entryToRow`. */
  ingested_us?: Int;
}

/** IP text as stored (IPv6, IPv4-mapped) -> as in an Entry ('' for the unknown address `::`). */
export function ipFromStore(text: string): string {
  if (text === '::') return '';
  if (text.startsWith('::ffff:') && text.includes('.')) return text.slice(7);
  return text;
}

function endpointFromRow(r: EntryRow, s: 'src' | 'dst'): Endpoint {
  return {
    ip: ipFromStore(r[`${s}_ip`]), port: Number(r[`${s}_port`]), pod: r[`${s}_pod`], namespace: r[`${s}_namespace`],
    service: r[`${s}_service`], workload: r[`${s}_workload`], node: r[`${s}_node`],
  };
}

function headersFromRow(names: string[], values: string[]): HeaderList {
  return names.map((n, i) => [n, values[i] ?? '']);
}

function bodyFromRow(r: EntryRow, s: 'request' | 'response'): Body {
  return {
    bytes: Buffer.from(r[`${s}_body_base64`], 'base64'), size: Number(r[`${s}_body_size`]),
    wireSize: Number(r[`${s}_body_wire_size`]), truncated: Boolean(r[`${s}_body_truncated`]),
    encoding: r[`${s}_body_encoding`],
  };
}

export function rowToEntry(r: EntryRow): Entry {
  return {
    id: r.id, agent: r.agent, protocol: r.protocol, protocolVersion: r.protocol_version,
    startUs: Number(r.start_us), endUs: Number(r.end_us), durationUs: Number(r.duration_us),
    src: endpointFromRow(r, 'src'), dst: endpointFromRow(r, 'dst'),
    method: r.method, path: r.path, query: r.query, host: r.host, status: Number(r.status), statusText: r.status_text,
    requestHeaders: headersFromRow(r.request_header_names, r.request_header_values),
    responseHeaders: headersFromRow(r.response_header_names, r.response_header_values),
    requestBody: bodyFromRow(r, 'request'), responseBody: bodyFromRow(r, 'response'),
    unanswered: Boolean(r.unanswered), incomplete: Boolean(r.incomplete),
  };
}

function storedIp(ipText: string): string {
  if (ipText === '') return '::';
  return isIP(ipText) === 4 ? `::ffff:${ipText}` : ipText;
}

/** The row `SELECT ${ENTRY_SELECT}` would return for this entry (without `ingested_us`). */
export function entryToRow(e: Entry): EntryRow {
  const ep = (s: 'src' | 'dst', p: Endpoint) => ({
    [`${s}_ip`]: storedIp(p.ip), [`${s}_port`]: p.port, [`${s}_pod`]: p.pod, [`${s}_namespace`]: p.namespace,
    [`${s}_service`]: p.service, [`${s}_workload`]: p.workload, [`${s}_node`]: p.node,
  });
  const body = (s: 'request' | 'response', h: HeaderList, b: Body) => ({
    [`${s}_header_names`]: h.map((x) => x[0]), [`${s}_header_values`]: h.map((x) => x[1]),
    [`${s}_body_base64`]: b.bytes.toString('base64'), [`${s}_body_size`]: b.size,
    [`${s}_body_wire_size`]: b.wireSize, [`${s}_body_truncated`]: b.truncated, [`${s}_body_encoding`]: b.encoding,
  });
  return {
    id: e.id, agent: e.agent, protocol: e.protocol, protocol_version: e.protocolVersion,
    start_us: e.startUs, end_us: e.endUs, duration_us: e.durationUs,
    ...ep('src', e.src), ...ep('dst', e.dst),
    method: e.method, path: e.path, query: e.query, host: e.host, status: e.status, status_text: e.statusText,
    ...body('request', e.requestHeaders, e.requestBody), ...body('response', e.responseHeaders, e.responseBody),
    unanswered: e.unanswered, incomplete: e.incomplete,
  } as EntryRow;
}
