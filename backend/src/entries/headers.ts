/**
 * A message's headers as ranges of the text they arrived in, not as strings of their own.
 *
 * The agent turns every captured head into an Entry and the store's Native encoder writes every
 * header: kept as offsets into the head's text (the latin1 string the parser decoded the head into
 * anyway), no header becomes a pair of strings on that path. Strings are made on demand, when
 * someone reads a name or a value (the hub, JSON output, tests).
 */

/**
 * What trailer names start with in a side's attributes (HTTP chunked trailers, HTTP/2 and gRPC
 * trailers): a header name holds no space, so `trailer grpc-status` is never a header's.
 */
export const TRAILER_PREFIX = 'trailer ';

/** What a redacted value reads as, wherever it is rendered (store, JSON, hub). */
export const REDACTED = '[REDACTED]';

/** Offsets of every empty list (nothing writes into a list's offsets once it is made). */
const NO_OFFSETS = new Int32Array(0);

/** Header lists keep order and repeats, as on the wire. Names are kept as sent. */
export class HeaderList implements Iterable<[name: string, value: string]> {
  /**
   * For encoders: header i's name is text[offsets[at + 4i], offsets[at + 4i + 1]), its value
   * text[offsets[at + 4i + 2], offsets[at + 4i + 3]) (unless redacted). `offsets` may be shared
   * with other lists (a slab): read only this list's.
   */
  text: string;
  offsets: Int32Array;
  at: number;
  count: number;
  /** Per header, 1 when its value is redacted; null while none is. */
  redacted: Uint8Array | null = null;

  constructor(text: string, offsets: Int32Array, at: number, count: number) {
    this.text = text;
    this.offsets = offsets;
    this.at = at;
    this.count = count;
  }

  /** A list of these pairs (one string holding them all, and its offsets). */
  static of(pairs: ReadonlyArray<readonly [name: string, value: string]>): HeaderList {
    const offsets = pairs.length === 0 ? NO_OFFSETS : new Int32Array(4 * pairs.length);
    let text = '';
    for (let i = 0; i < pairs.length; i++) {
      const [name, value] = pairs[i];
      offsets[4 * i] = text.length;
      offsets[4 * i + 1] = offsets[4 * i + 2] = text.length + name.length;
      text += name + value;
      offsets[4 * i + 3] = text.length;
    }
    return new HeaderList(text, offsets, 0, pairs.length);
  }

  /** Header i's name, as sent. */
  name(i: number): string {
    const o = this.at + 4 * i;
    return this.text.slice(this.offsets[o], this.offsets[o + 1]);
  }

  /** Header i's value, or REDACTED when it is redacted. */
  value(i: number): string {
    if (this.isRedacted(i)) return REDACTED;
    const o = this.at + 4 * i;
    return this.text.slice(this.offsets[o + 2], this.offsets[o + 3]);
  }

  isRedacted(i: number): boolean {
    return this.redacted !== null && this.redacted[i] === 1;
  }

  /** From now on header i's value reads as REDACTED (its characters stay in the text, unread). */
  redact(i: number): void {
    (this.redacted ??= new Uint8Array(this.count))[i] = 1;
  }

  /** Length of header i's name (most names are told apart by it before any comparison). */
  nameLength(i: number): number {
    const o = this.at + 4 * i;
    return this.offsets[o + 1] - this.offsets[o];
  }

  /** Header i's name compared case-insensitively with `lower` (already lowercase), without a string. */
  nameIs(i: number, lower: string): boolean {
    const o = this.at + 4 * i;
    return equalsLowercaseAt(this.text, this.offsets[o], this.offsets[o + 1], lower);
  }

  /** The value of the first header named `lower` (any case), undefined when there is none. */
  get(lower: string): string | undefined {
    for (let i = 0; i < this.count; i++) if (this.nameIs(i, lower)) return this.value(i);
    return undefined;
  }

  /** Adds a header at the end (chunked trailers: rare): the list moves to a text of its own. */
  append(name: string, value: string): void {
    const grown = HeaderList.of([...this.toPairs(), [name, value]]);
    const marks = this.redacted;
    this.text = grown.text;
    this.offsets = grown.offsets;
    this.at = 0;
    this.count = grown.count;
    if (marks !== null) {
      this.redacted = new Uint8Array(this.count);
      this.redacted.set(marks);
    }
  }

  /** Plain [name, value] pairs, redacted values as REDACTED. */
  toPairs(): Array<[name: string, value: string]> {
    const pairs: Array<[string, string]> = new Array(this.count);
    for (let i = 0; i < this.count; i++) pairs[i] = [this.name(i), this.value(i)];
    return pairs;
  }

  /** JSON sees the pairs, `[["Host","example"],…]`, as the hub API and `--json` always showed them. */
  toJSON(): Array<[name: string, value: string]> {
    return this.toPairs();
  }

  *[Symbol.iterator](): IterableIterator<[name: string, value: string]> {
    for (let i = 0; i < this.count; i++) yield [this.name(i), this.value(i)];
  }
}

/**
 * s.slice(start, end).toLowerCase() === lower, where `lower` is already lowercase, without making
 * either string: latin1 names (what captured bytes decode to) are compared character by character,
 * others are left to toLowerCase. Framing headers and redaction compare every header name with it.
 */
export function equalsLowercaseAt(s: string, start: number, end: number, lower: string): boolean {
  const n = end - start;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(start + i);
    if ((c >= 65 && c <= 90) || (c >= 192 && c <= 222 && c !== 215)) c += 32;
    else if (c > 255) return s.slice(start, end).toLowerCase() === lower;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return n === lower.length;
}
