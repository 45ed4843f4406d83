/**
 * Kafka's primitive types read from captured bytes (https://kafka.apache.org/protocol#protocol_types):
 * big-endian integers, zig-zag varints, (compact) strings, bytes and arrays, tagged fields.
 *
 * Why not a library: kafkajs' decoder (the one npm client that has one) reads from a socket it
 * owns and throws on the first short read; capture needs a reader that keeps what parsed when a
 * message is cut, lies about its lengths or never ends a varint. This reader never throws: a read
 * past the end returns 0 or '' and sets `cut`; the parsers stop at the next check. Array counts are
 * capped by the bytes left (an element is at least one byte), so a count of 2^31 costs nothing.
 */

/** Characters of a string kept (names, ids, messages): enough for any real topic or group. */
export const MAX_STRING_CHARS = 256;

function zigzag(u: number): number {
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

export class Reader {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;
  /** A read went past the end (or a varint never ended): what follows is unknown. */
  cut = false;

  reset(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.cut = false;
    return this;
  }

  get left(): number {
    return this.end - this.pos;
  }

  private take(n: number): number {
    const at = this.pos;
    if (this.cut || n > this.end - at) {
      this.cut = true;
      this.pos = this.end;
      return -1;
    }
    this.pos = at + n;
    return at;
  }

  i8(): number {
    const at = this.take(1);
    return at < 0 ? 0 : this.buf.readInt8(at);
  }

  i16(): number {
    const at = this.take(2);
    return at < 0 ? 0 : this.buf.readInt16BE(at);
  }

  i32(): number {
    const at = this.take(4);
    return at < 0 ? 0 : this.buf.readInt32BE(at);
  }

  /** An int64 as a number (exact to 2^53: offsets and timestamps). */
  i64(): number {
    const at = this.take(8);
    return at < 0 ? 0 : this.buf.readInt32BE(at) * 0x1_0000_0000 + this.buf.readUInt32BE(at + 4);
  }

  skip(n: number): void {
    this.take(n);
  }

  /** An unsigned varint of at most `bytes` bytes; a longer one is corrupt (cut). Exact to 2^53. */
  private unsigned(bytes: number): number {
    let v = 0;
    for (let shift = 0; shift < 7 * bytes; shift += 7) {
      const at = this.take(1);
      if (at < 0) return 0;
      const b = this.buf[at];
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
    }
    this.cut = true;
    return 0;
  }

  /** An unsigned varint of up to 32 bits (5 bytes). */
  uvarint(): number {
    return this.unsigned(5);
  }

  /** A zig-zag varint (records' lengths and deltas): 32 bits. */
  varint(): number {
    return zigzag(this.unsigned(5));
  }

  /** A zig-zag varlong (records' timestamp deltas), up to 10 bytes. */
  varlong(): number {
    return zigzag(this.unsigned(10));
  }

  /** The byte length of a (compact) string or bytes, -1 for null. */
  private length(flexible: boolean, wide: boolean): number {
    if (flexible) return this.uvarint() - 1;
    return wide ? this.i32() : this.i16();
  }

  /** A (nullable, compact when flexible) string, cut to MAX_STRING_CHARS; null reads as ''. */
  str(flexible: boolean): string {
    const n = this.length(flexible, false);
    if (n <= 0) return '';
    const at = this.take(n);
    return at < 0 ? '' : this.buf.toString('utf8', at, at + Math.min(n, MAX_STRING_CHARS * 4)).slice(0, MAX_STRING_CHARS);
  }

  /** A (nullable, compact when flexible) bytes field: its range in `buf`, or null (null or cut). */
  bytes(flexible: boolean): { start: number; end: number } | null {
    const n = this.length(flexible, true);
    if (n < 0) return null;
    const at = this.take(n);
    return at < 0 ? null : { start: at, end: at + n };
  }

  /** Skips a (compact) bytes field, returning its length (-1 for null): credentials are never read. */
  skipBytes(flexible: boolean): number {
    const n = this.length(flexible, true);
    if (n > 0) this.take(n);
    return n;
  }

  /** An array's element count (compact when flexible), null for null, capped by the bytes left. */
  array(flexible: boolean): number {
    const n = flexible ? this.uvarint() - 1 : this.i32();
    if (n <= 0) return 0;
    if (n > this.left) {
      // Every element takes at least a byte: a longer count lies.
      this.cut = true;
      return 0;
    }
    return n;
  }

  /** A flexible version's tagged fields (skipped: none of them is shown). */
  tags(flexible: boolean): void {
    if (!flexible) return;
    const n = this.uvarint();
    for (let i = 0; i < n && !this.cut; i++) {
      this.uvarint(); // the tag
      this.skip(this.uvarint());
    }
  }

  uuid(): string {
    const at = this.take(16);
    return at < 0 ? '' : this.buf.toString('hex', at, at + 16);
  }
}
