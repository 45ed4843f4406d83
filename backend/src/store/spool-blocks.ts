/**
 * Spooled blocks across versions. A spool file is a Native block as an earlier run encoded it
 * (./native.ts), and the run that replays it may be a later version whose `entries` table has
 * other columns: migration 6 renamed `method`/`path` and added `transport`, `outcome` and the
 * field maps. Before replaying a file the writer asks `replayableBlock`, which reads the block's
 * column list and answers:
 *
 * - the current columns: the block as it is;
 * - the columns every version from the Native spool (b0a9771) up to migration 6 wrote (`V5_COLUMNS`,
 *   all HTTP): the same rows rewritten into the current columns — `method`/`path` as
 *   `operation`/`target`, transport 'tcp', the outcome by HTTP's mapping, no fields;
 * - anything else: a reason, and the writer sets the file aside instead of inserting what it
 *   cannot map (an insert by column names would fill missing columns with defaults, or fail).
 */
import { ENTRY_COLUMNS } from './rows.js';
import { ENTRY_BLOCK_TYPES } from './native.js';

/** The columns (name, block type) of the blocks spooled by versions before migration 6, in order. */
export const V5_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['id', 'String'], ['agent', 'String'], ['protocol', 'String'], ['protocol_version', 'String'],
  ['start_time', "DateTime64(6, 'UTC')"], ['end_time', "DateTime64(6, 'UTC')"], ['duration_us', 'UInt64'],
  ...(['src', 'dst'] as const).flatMap((s) => [
    [`${s}_ip`, 'IPv6'], [`${s}_port`, 'UInt16'], [`${s}_pod`, 'String'], [`${s}_namespace`, 'String'],
    [`${s}_service`, 'String'], [`${s}_workload`, 'String'], [`${s}_node`, 'String'],
  ] as const),
  ['method', 'String'], ['path', 'String'], ['query', 'String'], ['host', 'String'], ['status', 'UInt16'], ['status_text', 'String'],
  ...(['request', 'response'] as const).flatMap((s) => [
    [`${s}_header_names`, 'Array(String)'], [`${s}_header_values`, 'Array(String)'], [`${s}_body`, 'String'],
    [`${s}_body_size`, 'UInt64'], [`${s}_body_wire_size`, 'UInt64'], [`${s}_body_truncated`, 'Bool'], [`${s}_body_encoding`, 'String'],
  ] as const),
  ['unanswered', 'Bool'], ['incomplete', 'Bool'], ['ingested_at', "Nullable(DateTime64(6, 'UTC'))"],
];

/** One column of a block: where its values are in the block's bytes. */
interface BlockColumnAt {
  name: string;
  type: string;
  /** The column's values: [start, end) of the block. */
  start: number;
  end: number;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new RangeError(`the block ends at byte ${this.buf.length}, inside a value at byte ${this.pos}`);
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const b = this.buf[this.pos++];
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
    }
    throw new RangeError(`a length at byte ${this.pos} runs past 10 bytes`);
  }

  str(): string {
    const n = this.varint();
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  skipStrings(count: number): void {
    for (let i = 0; i < count; i++) this.skip(this.varint());
  }

  /** `rows` UInt64 offsets; returns the last one (the element count). */
  offsets(rows: number): number {
    this.skip(8 * rows);
    if (rows === 0) return 0;
    const last = this.buf.readBigUInt64LE(this.pos - 8);
    if (last > BigInt(this.buf.length)) throw new RangeError(`an array offset ${last} is past the block`);
    return Number(last);
  }
}

const FIXED: Record<string, number> = {
  UInt8: 1, Bool: 1, UInt16: 2, UInt64: 8, Float64: 8, IPv6: 16, "DateTime64(6, 'UTC')": 8,
};

/** Skips one column of `type` holding `rows` values (the types this store's blocks use). */
function skipValues(r: Reader, type: string, rows: number): void {
  const width = FIXED[type];
  if (width !== undefined) return r.skip(width * rows);
  if (type === 'String') return r.skipStrings(rows);
  const nullable = /^Nullable\((.*)\)$/.exec(type);
  if (nullable) {
    r.skip(rows);
    return skipValues(r, nullable[1], rows);
  }
  if (type === 'Array(String)') return r.skipStrings(r.offsets(rows));
  const map = /^Map\(String, (String|Float64)\)$/.exec(type);
  if (map) {
    const n = r.offsets(rows);
    r.skipStrings(n);
    return skipValues(r, map[1], n);
  }
  throw new RangeError(`column type ${type} is not one this store writes`);
}

/** The rows and columns of one Native block (without block info), as the encoder writes them. */
export function blockLayout(body: Buffer): { rows: number; columns: BlockColumnAt[] } {
  const r = new Reader(body);
  const count = r.varint();
  const rows = r.varint();
  const columns: BlockColumnAt[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.str();
    const type = r.str();
    const start = r.pos;
    skipValues(r, type, rows);
    columns.push({ name, type, start, end: r.pos });
  }
  if (r.pos !== body.length) throw new RangeError(`${body.length - r.pos} bytes follow the block`);
  return { rows, columns };
}

const sameColumns = (columns: BlockColumnAt[], want: ReadonlyArray<readonly [string, string]>) =>
  columns.length === want.length && columns.every((c, i) => c.name === want[i][0] && c.type === want[i][1]);

const CURRENT: ReadonlyArray<readonly [string, string]> = ENTRY_COLUMNS.map((c) => [c, ENTRY_BLOCK_TYPES[c]] as const);

export type ReplayableBlock =
  | { ok: true; body: Buffer; rows: number; from: 'current' | 'v5' }
  | { ok: false; reason: string };

/** A spooled block as the current `entries` columns take it, or why it cannot be. */
export function replayableBlock(body: Buffer): ReplayableBlock {
  let layout: ReturnType<typeof blockLayout>;
  try {
    layout = blockLayout(body);
  } catch (err) {
    return { ok: false, reason: `not a Native block of entries: ${(err as Error).message}` };
  }
  const { rows, columns } = layout;
  if (sameColumns(columns, CURRENT)) return { ok: true, body, rows, from: 'current' };
  if (sameColumns(columns, V5_COLUMNS)) return { ok: true, body: fromV5(body, rows, columns), rows, from: 'v5' };
  const names = columns.map((c) => `${c.name} ${c.type}`).join(', ');
  return { ok: false, reason: `its columns are neither this version's nor those of the versions before migration 6: ${names}` };
}

/** Rewrites a block of `V5_COLUMNS` into the current columns (all its rows are HTTP). */
function fromV5(body: Buffer, rows: number, columns: BlockColumnAt[]): Buffer {
  const at = new Map(columns.map((c) => [c.name, c]));
  const values = (name: string) => {
    const c = at.get(name) as BlockColumnAt;
    return body.subarray(c.start, c.end);
  };
  const status = values('status');
  const unanswered = values('unanswered');
  const data: Record<string, () => Buffer> = {
    operation: () => values('method'),
    target: () => values('path'),
    transport: () => Buffer.alloc(4 * rows, Buffer.from([3, 0x74, 0x63, 0x70])), // 'tcp'
    // HTTP's mapping (httpOutcome): unanswered 0, 5xx and above 3, 4xx 2, else 1.
    outcome: () => {
      const out = Buffer.alloc(rows);
      for (let i = 0; i < rows; i++) {
        const s = status.readUInt16LE(2 * i);
        out[i] = unanswered[i] !== 0 ? 0 : s >= 500 ? 3 : s >= 400 ? 2 : 1;
      }
      return out;
    },
    // No fields: every row ends at offset 0.
    fields_text: () => Buffer.alloc(8 * rows),
    fields_number: () => Buffer.alloc(8 * rows),
  };
  const parts: Buffer[] = [varint(ENTRY_COLUMNS.length), varint(rows)];
  for (const name of ENTRY_COLUMNS) {
    parts.push(str(name), str(ENTRY_BLOCK_TYPES[name]), data[name] ? data[name]() : values(name));
  }
  return Buffer.concat(parts);
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n >= 0x80) {
    bytes.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([varint(b.length), b]);
}
