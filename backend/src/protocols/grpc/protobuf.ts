/**
 * Protocol Buffers without a schema, as `protoc --decode_raw` prints them: field numbers, varints
 * as unsigned decimals, fixed32/fixed64 as hex, length-delimited fields as a nested message when
 * they parse as one, else as a string when they are printable UTF-8, else as escaped bytes.
 */

const MAX_DEPTH = 16;
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

interface Field {
  number: number;
  /** A scalar's text, or a nested message's fields. */
  value: string | Field[];
}

class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  /** A varint as decimal text (64-bit exact), or null when it runs past the end or is longer than 10 bytes. */
  varint(): string | null {
    let v = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) return null;
      const b = this.buf[this.pos++];
      v |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) return (v & 0xffffffffffffffffn).toString();
    }
    return null;
  }
}

/** Fields of buf[start, end), or null when the bytes are not a message. */
function parse(buf: Buffer, start: number, end: number, depth: number): Field[] | null {
  const r = new Reader(buf, start, end);
  const fields: Field[] = [];
  while (r.pos < end) {
    const key = r.varint();
    if (key === null) return null;
    const k = Number(key);
    const number = Math.floor(k / 8);
    const wire = k % 8;
    if (number === 0 || number > 536870911) return null;
    let value: string | Field[];
    switch (wire) {
      case WIRE_VARINT: {
        const v = r.varint();
        if (v === null) return null;
        value = v;
        break;
      }
      case WIRE_FIXED64:
        if (end - r.pos < 8) return null;
        value = `0x${buf.readBigUInt64LE(r.pos).toString(16)}`;
        r.pos += 8;
        break;
      case WIRE_FIXED32:
        if (end - r.pos < 4) return null;
        value = `0x${buf.readUInt32LE(r.pos).toString(16)}`;
        r.pos += 4;
        break;
      case WIRE_LENGTH: {
        const len = r.varint();
        if (len === null || Number(len) > end - r.pos) return null;
        const s = r.pos;
        r.pos += Number(len);
        value = lengthDelimited(buf, s, r.pos, depth);
        break;
      }
      default:
        return null; // groups (deprecated) and invalid wire types
    }
    fields.push({ number, value });
  }
  return fields;
}

function lengthDelimited(buf: Buffer, start: number, end: number, depth: number): string | Field[] {
  if (start < end && depth < MAX_DEPTH) {
    const nested = parse(buf, start, end, depth + 1);
    if (nested !== null) return nested;
  }
  const text = buf.toString('utf8', start, end);
  // Printable: no replacement characters (invalid UTF-8) and no control characters but whitespace.
  // eslint-disable-next-line no-control-regex
  if (!/[\ufffd\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) return JSON.stringify(text);
  let escaped = '"';
  for (let i = start; i < end; i++) {
    const b = buf[i];
    escaped += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`;
  }
  return `${escaped}"`;
}

function render(fields: Field[], indent: string, out: string[]): void {
  for (const f of fields) {
    if (typeof f.value === 'string') out.push(`${indent}${f.number}: ${f.value}`);
    else {
      out.push(`${indent}${f.number} {`);
      render(f.value, `${indent}  `, out);
      out.push(`${indent}}`);
    }
  }
}

/** The message buf[start, end) as `protoc --decode_raw` text, or null when it is not a protobuf message. */
export function decodeRaw(buf: Buffer, start = 0, end = buf.length): string | null {
  const fields = parse(buf, start, end, 0);
  if (fields === null) return null;
  const out: string[] = [];
  render(fields, '', out);
  return out.join('\n');
}
