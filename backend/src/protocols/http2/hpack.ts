/**
 * HPACK (RFC 7541) decoding for captured traffic. Written here rather than taken from a library:
 * HPACK libraries decode for a live peer, and on a capture that starts mid-connection (or loses
 * bytes) they throw on the first reference to a dynamic-table entry they never saw, or resolve it
 * against the wrong entry. This decoder knows which entries it has seen: a reference to any other
 * is decoded as UNKNOWN (counted), never as a guess, and the table becomes fully known again when
 * the protocol allows it to be (a size update that empties it, or enough new entries to push out
 * every entry older than the capture).
 */
import { huffmanDecode } from './huffman.js';

/** What a name or value that refers to an unseen dynamic-table entry reads as. */
export const UNKNOWN = '[unknown]';

/** RFC 7541 appendix A, index 1–61. */
const STATIC: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];
const STATIC_COUNT = STATIC.length;

/** Bytes an entry costs beyond its name and value (RFC 7541 section 4.1). */
const ENTRY_OVERHEAD = 32;
export const DEFAULT_TABLE_SIZE = 4096;
/** Integers beyond this are an overflow (no legitimate length or index comes near it). */
const MAX_INTEGER = 2 ** 31 - 1;

interface TableEntry {
  /** null: the name came from an entry this decoder never saw. */
  name: string | null;
  /** null: the whole entry is one this decoder never saw. */
  value: string | null;
  /** Size as RFC 7541 counts it; the least it can be when the name is unknown. */
  size: number;
}

/** The static table as entries (looked up without allocating), and what an unseen entry reads as. */
const STATIC_ENTRIES: readonly TableEntry[] = STATIC.map(([name, value]) => ({ name, value, size: name.length + value.length + 32 }));
const UNSEEN: TableEntry = { name: null, value: null, size: 0 };

/** One decoded header block. */
export interface DecodedBlock {
  names: string[];
  values: string[];
  /** Fields whose name or value referred to an unseen entry (read as UNKNOWN). */
  unknown: number;
  /** Fields past the decoded-size cap were not kept (the table still saw them). */
  truncated: boolean;
}

export const enum HpackError {
  None,
  /** An integer longer than any length or index could be. */
  IntegerOverflow,
  /** The block ends inside a field. */
  Truncated,
  /** Index 0, or an index past the table when the table is fully known. */
  BadIndex,
  BadHuffman,
  /** A dynamic table size update above the limit, or after the first field. */
  BadSizeUpdate,
}

/** The decoding state of one direction of a connection (its encoder's dynamic table). */
export class HpackDecoder {
  /** Newest last; `oldest` is the first live one. */
  private entries: TableEntry[] = [];
  private oldest = 0;
  private size = 0;
  private maxSize = DEFAULT_TABLE_SIZE;
  /** The peer's SETTINGS_HEADER_TABLE_SIZE: what size updates may ask for. */
  private limit = DEFAULT_TABLE_SIZE;
  /** Entries older than those seen may exist (mid-stream pickup, lost bytes): unknown. */
  private unseenOlder: boolean;
  /** The table's maximum size is known (seen from the connection's start, or from a size update). */
  private maxSizeKnown: boolean;
  private pos = 0;
  private error = HpackError.None;

  constructor(fromStart: boolean) {
    this.unseenOlder = !fromStart;
    this.maxSizeKnown = fromStart;
  }

  /** The table is exactly the encoder's (nothing read as UNKNOWN can come from it). */
  get synchronised(): boolean {
    return !this.unseenOlder && this.entries.every((e, i) => i < this.oldest || e.name !== null);
  }

  /** The state is known from the connection's start after all (the preface came first). */
  startsKnown(): void {
    if (this.entries.length > 0) return;
    this.unseenOlder = false;
    this.maxSizeKnown = true;
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE. */
  setLimit(limit: number): void {
    this.limit = limit;
  }

  /** Bytes of this direction were lost: whatever they inserted is unknown, so is every entry. */
  lose(): void {
    this.entries = [];
    this.oldest = 0;
    this.size = 0;
    this.unseenOlder = true;
  }

  /**
   * Decodes the block buf[start, end), keeping fields until their decoded size (names, values and
   * 32 bytes each, as SETTINGS_MAX_HEADER_LIST_SIZE counts) passes `maxDecoded`. On an error the
   * fields decoded so far are returned and the table is lost (what the rest inserted is unknown).
   */
  decode(buf: Buffer, start: number, end: number, maxDecoded: number, out: DecodedBlock): HpackError {
    this.pos = start;
    this.error = HpackError.None;
    let decoded = 0;
    let first = true;
    while (this.pos < end && this.error === HpackError.None) {
      const b = buf[this.pos];
      let name: string | null;
      let value: string | null;
      if (b & 0x80) {
        const index = this.integer(buf, end, 7);
        if (index < 0) break;
        const e = this.lookup(index);
        if (e === undefined) break;
        name = e.name;
        value = e.value;
        if (e.name === null || e.value === null) out.unknown++;
      } else if ((b & 0xe0) === 0x20) {
        const size = this.integer(buf, end, 5);
        if (size < 0) break;
        if (!first || (this.maxSizeKnown && size > this.limit)) this.error = HpackError.BadSizeUpdate;
        this.resize(size);
        continue;
      } else {
        const indexing = (b & 0xc0) === 0x40;
        const index = this.integer(buf, end, indexing ? 6 : 4);
        if (index < 0) break;
        if (index === 0) name = this.string(buf, end);
        else {
          const e = this.lookup(index);
          if (e === undefined) break;
          name = e.name;
        }
        if (this.error !== HpackError.None) break;
        value = this.string(buf, end);
        if (value === null) break;
        if (name === null) out.unknown++;
        if (indexing) this.insert(name, value);
      }
      first = false;
      const cost = (name?.length ?? UNKNOWN.length) + (value?.length ?? UNKNOWN.length) + ENTRY_OVERHEAD;
      decoded += cost;
      if (decoded > maxDecoded) out.truncated = true;
      else {
        out.names.push(name ?? UNKNOWN);
        out.values.push(value ?? UNKNOWN);
      }
    }
    if (this.error !== HpackError.None) this.lose();
    return this.error;
  }

  /** An integer with an `prefix`-bit prefix (RFC 7541 section 5.1); -1 on an error. */
  private integer(buf: Buffer, end: number, prefix: number): number {
    const max = (1 << prefix) - 1;
    let v = buf[this.pos++] & max;
    if (v < max) return v;
    let shift = 0;
    for (;;) {
      if (this.pos >= end) {
        this.error = HpackError.Truncated;
        return -1;
      }
      const b = buf[this.pos++];
      v += (b & 0x7f) * 2 ** shift;
      if (v > MAX_INTEGER) {
        this.error = HpackError.IntegerOverflow;
        return -1;
      }
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  }

  /** A string literal, Huffman-coded or not; null on an error. */
  private string(buf: Buffer, end: number): string | null {
    if (this.pos >= end) {
      this.error = HpackError.Truncated;
      return null;
    }
    const huffman = (buf[this.pos] & 0x80) !== 0;
    const len = this.integer(buf, end, 7);
    if (len < 0) return null;
    if (len > end - this.pos) {
      this.error = HpackError.Truncated;
      return null;
    }
    const s = this.pos;
    this.pos += len;
    if (!huffman) return buf.toString('latin1', s, s + len);
    const text = huffmanDecode(buf, s, s + len);
    if (text === null) this.error = HpackError.BadHuffman;
    return text;
  }

  /** The entry at `index` (UNSEEN when it is older than the capture); undefined on an error. */
  private lookup(index: number): TableEntry | undefined {
    if (index === 0) {
      this.error = HpackError.BadIndex;
      return undefined;
    }
    if (index <= STATIC_COUNT) return STATIC_ENTRIES[index - 1];
    const back = index - STATIC_COUNT;
    const live = this.entries.length - this.oldest;
    if (back <= live) return this.entries[this.entries.length - back];
    if (this.unseenOlder) return UNSEEN;
    this.error = HpackError.BadIndex;
    return undefined;
  }

  private insert(name: string | null, value: string): void {
    const size = (name?.length ?? 0) + value.length + ENTRY_OVERHEAD;
    this.entries.push({ name, value, size });
    this.size += size;
    this.evict();
  }

  private resize(size: number): void {
    this.maxSize = size;
    this.maxSizeKnown = true;
    this.evict();
  }

  private evict(): void {
    // Older unseen entries go first; once even the smallest could not fit beside the seen ones,
    // none is left and the table is fully known again.
    if (this.unseenOlder && this.maxSizeKnown && this.size + ENTRY_OVERHEAD > this.maxSize) this.unseenOlder = false;
    while (this.size > this.maxSize && this.oldest < this.entries.length) this.size -= this.entries[this.oldest++].size;
    if (this.oldest > 64 && this.oldest * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.oldest);
      this.oldest = 0;
    }
  }
}
