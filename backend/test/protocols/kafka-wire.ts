/** Test support: Kafka messages built byte by byte (https://kafka.apache.org/protocol), as a client or a broker writes them. */

export const i8 = (v: number) => Buffer.from([v & 0xff]);
export const i16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v, 0);
  return b;
};
export const i32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v | 0, 0);
  return b;
};
export const i64 = (v: number) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(v), 0);
  return b;
};

export function uvarint(v: number): Buffer {
  const out: number[] = [];
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return Buffer.from(out);
}

export const varint = (v: number) => uvarint(v >= 0 ? v * 2 : -v * 2 - 1);

/** A string: int16 length, or (flexible) compact: uvarint length + 1. null writes the null string. */
export function str(s: string | null, flexible = false): Buffer {
  if (s === null) return flexible ? uvarint(0) : i16(-1);
  const b = Buffer.from(s);
  return Buffer.concat([flexible ? uvarint(b.length + 1) : i16(b.length), b]);
}

export function bytes(b: Buffer | null, flexible = false): Buffer {
  if (b === null) return flexible ? uvarint(0) : i32(-1);
  return Buffer.concat([flexible ? uvarint(b.length + 1) : i32(b.length), b]);
}

export function array(items: Buffer[], flexible = false): Buffer {
  return Buffer.concat([flexible ? uvarint(items.length + 1) : i32(items.length), ...items]);
}

/** Tagged fields: none, or the given (tag, data) pairs. */
export function tags(fields: Array<[number, Buffer]> = []): Buffer {
  return Buffer.concat([uvarint(fields.length), ...fields.flatMap(([t, d]) => [uvarint(t), uvarint(d.length), d])]);
}

const framed = (body: Buffer) => Buffer.concat([i32(body.length), body]);

/** A size-prefixed request: header v1, or v2 (with tagged fields) when `flexible`. */
export function request(key: number, version: number, correlationId: number, clientId: string | null, body: Buffer, flexible = false): Buffer {
  return framed(Buffer.concat([i16(key), i16(version), i32(correlationId), str(clientId), flexible ? tags() : Buffer.alloc(0), body]));
}

/** A size-prefixed response: header v0, or v1 (with tagged fields) when `flexible`. */
export function response(correlationId: number, body: Buffer, flexible = false): Buffer {
  return framed(Buffer.concat([i32(correlationId), flexible ? tags() : Buffer.alloc(0), body]));
}

export interface RecordSpec {
  key: string | null;
  value: string | Buffer | null;
  headers?: Array<[string, string]>;
}

const varBytes = (b: Buffer | null) => (b === null ? varint(-1) : Buffer.concat([varint(b.length), b]));
const buf = (s: string | Buffer | null) => (s === null ? null : typeof s === 'string' ? Buffer.from(s) : s);

/** The records of a batch, varint-framed. */
export function records(list: RecordSpec[]): Buffer {
  return Buffer.concat(
    list.map((r, i) => {
      const headers = r.headers ?? [];
      const body = Buffer.concat([
        i8(0),
        varint(i), // timestamp delta
        varint(i), // offset delta
        varBytes(buf(r.key)),
        varBytes(buf(r.value)),
        varint(headers.length),
        ...headers.flatMap(([k, v]) => [varBytes(Buffer.from(k)), varBytes(Buffer.from(v))]),
      ]);
      return Buffer.concat([varint(body.length), body]);
    }),
  );
}

/** A record batch (magic 2); `payload` is the records as they travel (compressed by the caller when `codec` is not 0). */
export function batch(count: number, payload: Buffer, codec = 0, baseOffset = 0, attributes = 0): Buffer {
  const afterLength = Buffer.concat([
    i32(0), // partition leader epoch
    i8(2),
    i32(0), // crc (not checked by Tapline)
    i16(codec | attributes),
    i32(count - 1),
    i64(1_700_000_000_000),
    i64(1_700_000_000_000),
    i64(-1),
    i16(-1),
    i32(-1),
    i32(count),
    payload,
  ]);
  return Buffer.concat([i64(baseOffset), i32(afterLength.length), afterLength]);
}

/** A Produce request body (v3+: transactional id) with one partition per topic holding `recordSet`. */
export function produceBody(version: number, acks: number, topics: Array<[topic: string, partition: number, recordSet: Buffer | null]>): Buffer {
  const f = version >= 9;
  return Buffer.concat([
    version >= 3 ? str(null, f) : Buffer.alloc(0),
    i16(acks),
    i32(30_000),
    array(topics.map(([t, p, set]) => Buffer.concat([str(t, f), array([Buffer.concat([i32(p), bytes(set, f), f ? tags() : Buffer.alloc(0)])], f), f ? tags() : Buffer.alloc(0)])), f),
    f ? tags() : Buffer.alloc(0),
  ]);
}

/** A Produce response body (v2..v8, or flexible v9+) with one error code per partition of one topic. */
export function produceResponseBody(version: number, topic: string, partitions: Array<[partition: number, error: number]>): Buffer {
  const f = version >= 9;
  const parts = partitions.map(([p, e]) =>
    Buffer.concat([
      i32(p),
      i16(e),
      i64(42),
      i64(-1),
      version >= 5 ? i64(0) : Buffer.alloc(0),
      version >= 8 ? Buffer.concat([array([], f), str(null, f)]) : Buffer.alloc(0),
      f ? tags() : Buffer.alloc(0),
    ]),
  );
  return Buffer.concat([array([Buffer.concat([str(topic, f), array(parts, f), f ? tags() : Buffer.alloc(0)])], f), i32(0), f ? tags() : Buffer.alloc(0)]);
}
