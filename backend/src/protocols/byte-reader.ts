/**
 * A bounds-checked big-endian reader over captured bytes buf[pos, end), for binary protocols: a
 * read past the end (a cut frame, a length inside that lies) sets `short`, moves to the end and
 * returns an empty value, so a parser reads on without checking every step and says at the end
 * whether all of it was there.
 */
const EMPTY = Buffer.alloc(0);

export class ByteReader {
  short = false;

  constructor(
    readonly buf: Buffer,
    public pos: number,
    public end: number,
  ) {}

  get left(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos + 1 > this.end) return this.fail(0);
    return this.buf[this.pos++];
  }

  u16(): number {
    if (this.pos + 2 > this.end) return this.fail(0);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    if (this.pos + 4 > this.end) return this.fail(0);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** An unsigned 64-bit number; beyond 2^53 it loses precision (delivery tags and sizes never get there). */
  u64(): number {
    if (this.pos + 8 > this.end) return this.fail(0);
    const v = this.buf.readUInt32BE(this.pos) * 2 ** 32 + this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    return v;
  }

  /** The next `n` bytes, as a view (copy what you keep). */
  bytes(n: number): Buffer {
    if (n > this.end - this.pos) return this.fail(EMPTY);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number): void {
    if (n > this.end - this.pos) this.fail(0);
    else this.pos += n;
  }

  private fail<T>(v: T): T {
    this.short = true;
    this.pos = this.end;
    return v;
  }
}
