/**
 * RESP2 and RESP3, read from one direction of a captured TCP stream.
 *
 * The Redis clients' parsers (ioredis' redis-parser, hiredis) assume a live socket: they hold a
 * whole reply in memory before handing it over and have no notion of a gap or of bytes to skip.
 * This reader is resumable at any byte (a message may span any number of segments), keeps at most
 * a bounded rendering of each message (the body limit), never buffers a bulk string, and reports
 * what a dissector needs without building the value: the first top-level items as text, where
 * each top-level item sits in the rendering, and the errors inside an aggregate (EXEC).
 *
 * The rendering is redis-cli's (`redis-cli --no-raw`): `"bar"`, `(integer) 1`, `(error) ERR …`,
 * `(nil)`, numbered aggregates (`1) …`, `1# key => value`, `1~ …`) indented as redis-cli
 * indents them. A command renders as MONITOR shows it: each argument quoted, space-separated.
 */

/** Type bytes. */
export const T = {
  array: 0x2a, // *
  bulk: 0x24, // $
  simple: 0x2b, // +
  error: 0x2d, // -
  integer: 0x3a, // :
  nil: 0x5f, // _
  double: 0x2c, // ,
  boolean: 0x23, // #
  bignum: 0x28, // (
  bulkError: 0x21, // !
  verbatim: 0x3d, // =
  map: 0x25, // %
  set: 0x7e, // ~
  attribute: 0x7c, // |
  push: 0x3e, // >
} as const;

const TYPE_NAMES: Record<number, string> = {
  [T.array]: 'array', [T.bulk]: 'bulk', [T.simple]: 'simple', [T.error]: 'error', [T.integer]: 'integer', [T.nil]: 'null',
  [T.double]: 'double', [T.boolean]: 'boolean', [T.bignum]: 'bignum', [T.bulkError]: 'error', [T.verbatim]: 'verbatim',
  [T.map]: 'map', [T.set]: 'set', [T.push]: 'push',
};

/** The reply type's name as the `redis.reply` field holds it ('null' for a nil bulk or array too). */
export function typeName(type: number, count: number): string {
  return count < 0 ? 'null' : (TYPE_NAMES[type] ?? 'inline');
}

/** Redis' own limits: proto-max-bulk-len (512 MiB) and a multibulk length that fits an int. */
const MAX_BULK = 512 * 1024 * 1024;
const MAX_COUNT = 0x7fffffff;
/** Nesting deeper than this is not a reply any Redis command gives: a parse error. */
const MAX_DEPTH = 32;
/** A simple string, error or header line longer than this is a parse error (Redis' inline limit). */
const MAX_LINE = 64 * 1024;
/** Top-level items kept as text, and their length (bytes). */
const MAX_ITEMS = 16;
const MAX_ITEM_BYTES = 1024;
/** Top-level items whose place in the rendering is recorded (for redaction). */
const MAX_OFFSETS = 256;

/** One whole top-level message. */
export interface RespMessage {
  /** The top-level type byte; 0 for an inline command. */
  type: number;
  /** Aggregates: elements declared (a map's pairs count twice); bulk: its length; -1 for a null. */
  count: number;
  /** The first top-level items as text (aggregate items '' ), or the scalar's value alone. */
  items: string[];
  /** Type bytes of `items`. */
  itemTypes: number[];
  /** The rendering, cut at the body limit. */
  rendering: Buffer;
  truncated: boolean;
  /** [start, end) of each of the first MAX_OFFSETS top-level items in `rendering` (end clamped to it). */
  offsets: Int32Array;
  /** Top-level items seen (may exceed what `offsets` records). */
  itemCount: number;
  /** Top-level items of an aggregate that are errors, and the first one's text. */
  elementErrors: number;
  firstError: string;
  wireBytes: number;
  startUs: number;
  endUs: number;
}

interface Frame {
  type: number;
  /** Elements still to come. */
  remaining: number;
  /** Elements started. */
  index: number;
  /** Digits of the largest index (redis-cli pads to it). */
  idxlen: number;
  /** Width of the indentation of this aggregate's later lines. */
  indent: number;
  /** An attribute (RESP3 `|`): read and not rendered; it does not count as a value of its parent. */
  mute: boolean;
}

const enum State {
  Line,
  Bulk,
  BulkEnd,
  /** After a parse error: skipping until a chunk starts like a message. */
  Lost,
}

const CR = 0x0d;
const LF = 0x0a;
const HEX = '0123456789abcdef';

export type OnMessage = (msg: RespMessage) => void;
/** Whether a message's item offsets are wanted (only where redaction may need them: they cost a copy). */
export type WantsOffsets = (msg: RespMessage) => boolean;

/**
 * Reads one direction. `client`: the client's side (top level: an array of bulk strings or an
 * inline command); otherwise replies and pushes of any RESP2/RESP3 type.
 */
export class RespReader {
  private state = State.Line;
  private readonly stack: Frame[] = [];
  /** A line split across chunks, gathered here (copies). */
  private lineParts: Buffer[] = [];
  private lineLength = 0;
  /** The bulk being read: bytes left, its type, and whether it is a top-level item whose text is kept. */
  private bulkLeft = 0;
  private bulkType = 0;
  private bulkItem = false;
  private bulkSkip = 0;
  private readonly out: Buffer;
  private outLen = 0;
  private truncated = false;
  /** A newline owed after the last value (written before the next, dropped at the end). */
  private newline = false;
  private readonly itemBuf = Buffer.allocUnsafe(MAX_ITEM_BYTES);
  private itemLen = 0;
  private msg: RespMessage | null = null;
  /** Where the top-level item being read starts in the rendering. */
  private itemStart = 0;
  private offsets = new Int32Array(2 * MAX_OFFSETS);

  constructor(
    private readonly client: boolean,
    maxBodyBytes: number,
    private readonly onMessage: OnMessage,
    private readonly onError: () => void,
    private readonly wantsOffsets: WantsOffsets = () => true,
  ) {
    this.out = Buffer.allocUnsafe(maxBodyBytes);
  }

  data(buf: Buffer, start: number, end: number, tsUs: number): void {
    let p = start;
    if (this.state === State.Lost) {
      // Messages start at segment boundaries in practice: resume at a chunk that starts like one.
      if (!this.startsMessage(buf[p])) return;
      this.state = State.Line;
    }
    while (p < end) {
      if (this.msg === null) this.begin(tsUs);
      const msg = this.msg!;
      if (this.state === State.Line) {
        const nl = buf.indexOf(LF, p);
        if (nl < 0 || nl >= end) {
          this.keepLinePart(buf, p, end);
          msg.wireBytes += end - p;
          return;
        }
        msg.wireBytes += nl + 1 - p;
        let ok: boolean;
        if (this.lineLength > 0) {
          this.keepLinePart(buf, p, nl);
          const length = this.lineLength;
          const line = length > MAX_LINE ? null : Buffer.concat(this.lineParts, length);
          this.lineParts = [];
          this.lineLength = 0;
          ok = line !== null && this.line(line, 0, line.length, tsUs);
        } else ok = nl - p <= MAX_LINE && this.line(buf, p, nl, tsUs);
        p = nl + 1;
        if (!ok) return this.fail();
      } else if (this.state === State.Bulk) {
        const n = Math.min(this.bulkLeft, end - p);
        this.bulkBytes(buf, p, p + n);
        msg.wireBytes += n;
        this.bulkLeft -= n;
        p += n;
        if (this.bulkLeft === 0) {
          this.state = State.BulkEnd;
          this.bulkLeft = 2;
        }
      } else {
        // The CRLF after a bulk's payload.
        const c = buf[p];
        if (c !== (this.bulkLeft === 2 ? CR : LF)) return this.fail();
        msg.wireBytes++;
        p++;
        if (--this.bulkLeft === 0) {
          this.state = State.Line;
          this.bulkDone(tsUs);
        }
      }
    }
  }

  /** Bytes are missing: whatever message was in progress is lost. */
  gap(): void {
    if (this.msg !== null || this.state !== State.Line) this.fail();
    else this.state = State.Lost;
  }

  private startsMessage(c: number): boolean {
    if (this.client) return c === T.array || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    return TYPE_NAMES[c] !== undefined || c === T.attribute;
  }

  private fail(): void {
    this.onError();
    this.reset();
    this.state = State.Lost;
  }

  private reset(): void {
    this.stack.length = 0;
    this.lineParts = [];
    this.lineLength = 0;
    this.msg = null;
    this.outLen = 0;
    this.truncated = false;
    this.newline = false;
    this.state = State.Line;
  }

  private keepLinePart(buf: Buffer, s: number, e: number): void {
    this.lineLength += e - s;
    // Beyond the limit nothing more is kept: the line is a parse error once its end arrives.
    if (this.lineLength > MAX_LINE) return;
    this.lineParts.push(Buffer.from(buf.subarray(s, e)));
  }

  private begin(tsUs: number): void {
    this.msg = {
      type: 0, count: 0, items: [], itemTypes: [], rendering: EMPTY, truncated: false, offsets: EMPTY_OFFSETS, itemCount: 0,
      elementErrors: 0, firstError: '', wireBytes: 0, startUs: tsUs, endUs: tsUs,
    };
  }

  /** One header or scalar line, `buf[s, e)` without the LF. False on a protocol error. */
  private line(buf: Buffer, s: number, e: number, tsUs: number): boolean {
    if (e > s && buf[e - 1] === CR) e--;
    const depth = this.stack.length;
    if (e === s) {
      // An empty line between commands is what Redis skips (inline); anywhere else it is garbage.
      if (this.client && depth === 0) {
        this.msg = null;
        return true;
      }
      return false;
    }
    const type = buf[s];
    if (this.client) {
      if (depth === 0 && type !== T.array) return this.inline(buf, s, e, tsUs);
      if (depth > 0 && type !== T.bulk) return false;
    }
    switch (type) {
      case T.array:
      case T.set:
      case T.push:
      case T.map:
      case T.attribute: {
        const n = parseCount(buf, s + 1, e);
        if (n === null || n > MAX_COUNT || (n < 0 && type !== T.array)) return false;
        if (depth >= MAX_DEPTH) return false;
        const elements = type === T.map || type === T.attribute ? n * 2 : n;
        if (elements > MAX_COUNT) return false;
        this.aggregate(type, elements, tsUs);
        return true;
      }
      case T.bulk:
      case T.verbatim:
      case T.bulkError: {
        const n = parseCount(buf, s + 1, e);
        if (n === null || n > MAX_BULK || (n < 0 && type !== T.bulk)) return false;
        if (n < 0) {
          this.startValue(type, -1);
          this.write('(nil)');
          this.valueDone(type, '', tsUs);
          return true;
        }
        this.startValue(type, n);
        this.bulkType = type;
        this.bulkItem = this.stack.length <= 1;
        this.itemLen = 0;
        // A verbatim string's `txt:` is its format, not its text.
        this.bulkSkip = type === T.verbatim ? Math.min(4, n) : 0;
        if (type === T.bulkError) this.write('(error) ');
        else this.writeByte(0x22);
        this.bulkLeft = n;
        this.state = n === 0 ? State.BulkEnd : State.Bulk;
        if (n === 0) this.bulkLeft = 2;
        return true;
      }
      case T.simple:
      case T.error:
      case T.integer:
      case T.double:
      case T.boolean:
      case T.bignum:
      case T.nil: {
        if (type === T.integer && parseCount(buf, s + 1, e) === null) return false;
        if (type === T.nil && e !== s + 1) return false;
        if (type === T.boolean && (e !== s + 2 || (buf[s + 1] !== 0x74 && buf[s + 1] !== 0x66))) return false;
        const text = buf.toString('utf8', s + 1, Math.min(e, s + 1 + MAX_ITEM_BYTES));
        this.startValue(type, 0);
        this.scalar(type, buf, s + 1, e);
        this.valueDone(type, text, tsUs);
        return true;
      }
      default:
        return false;
    }
  }

  /** A command sent as a line of words (telnet style): a message of its own. */
  private inline(buf: Buffer, s: number, e: number, tsUs: number): boolean {
    const words = splitArgs(buf, s, e);
    if (words === null) return false;
    if (words.length === 0) {
      this.msg = null;
      return true;
    }
    const msg = this.msg!;
    msg.type = 0;
    msg.count = words.length;
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      if (i > 0) this.writeByte(0x20);
      const at = this.outLen;
      this.writeByte(0x22);
      this.repr(w, 0, w.length);
      this.writeByte(0x22);
      this.noteItem(i, at, T.bulk, w.toString('utf8', 0, Math.min(w.length, MAX_ITEM_BYTES)));
    }
    msg.itemCount = words.length;
    this.finish(tsUs);
    return true;
  }

  /** A value begins: its place in its aggregate (the prefix redis-cli writes before it). */
  private startValue(type: number, count: number): void {
    const depth = this.stack.length;
    if (depth === 0) {
      const msg = this.msg!;
      msg.type = type;
      msg.count = count;
      return;
    }
    const f = this.stack[depth - 1];
    const i = f.index++;
    if (f.mute) return;
    if (this.client && depth === 1) {
      if (i > 0) this.writeByte(0x20);
      this.itemStart = this.outLen;
      return;
    }
    if ((f.type === T.map || f.type === T.attribute) && i % 2 === 1) {
      this.newline = false;
      this.write(' => ');
      return;
    }
    if (this.newline) {
      this.writeByte(LF);
      this.newline = false;
    }
    if (i > 0) this.spaces(f.indent);
    const human = (f.type === T.map ? i >> 1 : i) + 1;
    const digits = String(human);
    this.spaces(f.idxlen - digits.length);
    this.write(digits);
    this.writeByte(f.type === T.set ? 0x7e : f.type === T.map ? 0x23 : 0x29);
    this.writeByte(0x20);
    if (depth === 1) this.itemStart = this.outLen;
  }

  private aggregate(type: number, elements: number, tsUs: number): void {
    const parentMute = this.stack.length > 0 && this.stack[this.stack.length - 1].mute;
    const mute = type === T.attribute || parentMute;
    if (type !== T.attribute) this.startValue(type, elements);
    if (elements < 0) {
      if (!mute) this.write('(nil)');
      this.valueDone(type, '', tsUs);
      return;
    }
    if (elements === 0) {
      if (!mute) this.write(type === T.map ? '(empty hash)' : type === T.set ? '(empty set)' : type === T.push ? '(empty push)' : '(empty array)');
      if (type === T.attribute) return;
      this.valueDone(type, '', tsUs);
      return;
    }
    const parent = this.stack[this.stack.length - 1];
    let idxlen = 0;
    for (let i = elements; i > 0; i = Math.floor(i / 10)) idxlen++;
    this.stack.push({
      type, remaining: elements, index: 0, idxlen, mute,
      indent: parent === undefined || (this.client && this.stack.length === 1) ? 0 : parent.indent + parent.idxlen + 2,
    });
  }

  /** A scalar's rendering, redis-cli's. */
  private scalar(type: number, buf: Buffer, s: number, e: number): void {
    if (this.muted()) return;
    switch (type) {
      case T.simple:
        return this.raw(buf, s, e);
      case T.error:
        this.write('(error) ');
        return this.raw(buf, s, e);
      case T.integer:
        this.write('(integer) ');
        return this.raw(buf, s, e);
      case T.double:
        this.write('(double) ');
        return this.raw(buf, s, e);
      case T.bignum:
        this.write('(big number) ');
        return this.raw(buf, s, e);
      case T.boolean:
        return this.write(buf[s] === 0x74 ? '(true)' : '(false)');
      default:
        return this.write('(nil)');
    }
  }

  private bulkBytes(buf: Buffer, s: number, e: number): void {
    if (this.bulkSkip > 0) {
      const skip = Math.min(this.bulkSkip, e - s);
      this.bulkSkip -= skip;
      s += skip;
    }
    if (this.bulkItem && this.itemLen < MAX_ITEM_BYTES) {
      const n = Math.min(e - s, MAX_ITEM_BYTES - this.itemLen);
      copyBytes(buf, s, s + n, this.itemBuf, this.itemLen);
      this.itemLen += n;
    }
    if (this.muted()) return;
    if (this.bulkType === T.bulkError) this.raw(buf, s, e);
    else this.repr(buf, s, e);
  }

  private bulkDone(tsUs: number): void {
    if (this.bulkType !== T.bulkError) this.writeByte(0x22);
    this.valueDone(this.bulkType, this.bulkItem ? this.itemBuf.toString('utf8', 0, this.itemLen) : '', tsUs);
  }

  /** A value ended: count it in its aggregate, close the aggregates it completes, or end the message. */
  private valueDone(type: number, text: string, tsUs: number): void {
    const depth = this.stack.length;
    const msg = this.msg!;
    if (depth === 0) {
      if (!isAggregate(type)) {
        msg.items.push(text);
        msg.itemTypes.push(type);
        if (type === T.error || type === T.bulkError) msg.firstError = text;
      }
      return this.finish(tsUs);
    }
    const f = this.stack[depth - 1];
    if (!f.mute) {
      this.newline = true;
      if (depth === 1) {
        const i = f.index - 1;
        this.noteItem(i, this.itemStart, type, text);
        msg.itemCount = i + 1;
      }
    }
    if (--f.remaining > 0) return;
    this.stack.pop();
    // An attribute ends; the value it annotates is still to come.
    if (f.type === T.attribute) return;
    this.valueDone(f.type, '', tsUs);
  }

  private noteItem(i: number, at: number, type: number, text: string): void {
    const msg = this.msg!;
    if (i < MAX_ITEMS) {
      msg.items.push(text);
      msg.itemTypes.push(type);
    }
    if (type === T.error || type === T.bulkError) {
      if (msg.elementErrors++ === 0) msg.firstError = text;
    }
    if (i < MAX_OFFSETS) {
      this.offsets[2 * i] = at;
      this.offsets[2 * i + 1] = this.outLen;
    }
  }

  private finish(tsUs: number): void {
    const msg = this.msg!;
    msg.endUs = tsUs;
    msg.truncated = this.truncated;
    msg.rendering = Buffer.allocUnsafe(this.outLen);
    copyBytes(this.out, 0, this.outLen, msg.rendering, 0);
    const recorded = Math.min(msg.itemCount, MAX_OFFSETS);
    msg.offsets = recorded === 0 || !this.wantsOffsets(msg) ? EMPTY_OFFSETS : this.offsets.slice(0, 2 * recorded);
    this.reset();
    this.onMessage(msg);
  }

  private muted(): boolean {
    const n = this.stack.length;
    return n > 0 && this.stack[n - 1].mute;
  }

  private writeByte(c: number): void {
    if (this.outLen < this.out.length) this.out[this.outLen++] = c;
    else this.truncated = true;
  }

  private write(s: string): void {
    for (let i = 0; i < s.length; i++) this.writeByte(s.charCodeAt(i));
  }

  private spaces(n: number): void {
    for (let i = 0; i < n; i++) this.writeByte(0x20);
  }

  private raw(buf: Buffer, s: number, e: number): void {
    const n = Math.min(e - s, this.out.length - this.outLen);
    copyBytes(buf, s, s + n, this.out, this.outLen);
    this.outLen += n;
    if (n < e - s) this.truncated = true;
  }

  /** redis-cli's (sdscatrepr's) escaping of a string's bytes, without the quotes. */
  private repr(buf: Buffer, s: number, e: number): void {
    for (let i = s; i < e; i++) {
      const c = buf[i];
      if (c === 0x5c || c === 0x22) {
        this.writeByte(0x5c);
        this.writeByte(c);
      } else if (c >= 0x20 && c < 0x7f) this.writeByte(c);
      else if (c === LF) this.write('\\n');
      else if (c === CR) this.write('\\r');
      else if (c === 0x09) this.write('\\t');
      else if (c === 0x07) this.write('\\a');
      else if (c === 0x08) this.write('\\b');
      else {
        this.write('\\x');
        this.writeByte(HEX.charCodeAt(c >> 4));
        this.writeByte(HEX.charCodeAt(c & 15));
      }
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** src[s, e) into dst at `at`: a loop for the few bytes most values have (Buffer#copy's call costs more). */
function copyBytes(src: Buffer, s: number, e: number, dst: Buffer, at: number): void {
  if (e - s > 64) {
    src.copy(dst, at, s, e);
    return;
  }
  for (let i = s; i < e; i++) dst[at++] = src[i];
}

function isAggregate(type: number): boolean {
  return type === T.array || type === T.map || type === T.set || type === T.push;
}
const EMPTY_OFFSETS = new Int32Array(0);

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
const hexDigit = (c: number) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1);
const ESCAPES: Record<number, number> = { 0x6e: LF, 0x72: CR, 0x74: 0x09, 0x62: 0x08, 0x61: 0x07 };

/**
 * An inline command's words as Redis splits them (sdssplitargs): spaces apart, "double quotes"
 * with \n \r \t \b \a \xHH escapes, 'single quotes' with \' alone. Null for unbalanced
 * quotes (Redis answers a protocol error and closes).
 */
export function splitArgs(buf: Buffer, s: number, e: number): Buffer[] | null {
  const words: Buffer[] = [];
  let p = s;
  while (true) {
    while (p < e && isSpace(buf[p])) p++;
    if (p >= e) return words;
    const word: number[] = [];
    let inDouble = false;
    let inSingle = false;
    for (;;) {
      if (inDouble) {
        if (p >= e) return null;
        const c = buf[p];
        if (c === 0x5c && p + 3 < e && buf[p + 1] === 0x78 && hexDigit(buf[p + 2]) >= 0 && hexDigit(buf[p + 3]) >= 0) {
          word.push(hexDigit(buf[p + 2]) * 16 + hexDigit(buf[p + 3]));
          p += 3;
        } else if (c === 0x5c && p + 1 < e) {
          p++;
          word.push(ESCAPES[buf[p]] ?? buf[p]);
        } else if (c === 0x22) {
          // The closing quote must be followed by a space or the end.
          if (p + 1 < e && !isSpace(buf[p + 1])) return null;
          p++;
          break;
        } else word.push(c);
      } else if (inSingle) {
        if (p >= e) return null;
        const c = buf[p];
        if (c === 0x5c && p + 1 < e && buf[p + 1] === 0x27) {
          p++;
          word.push(0x27);
        } else if (c === 0x27) {
          if (p + 1 < e && !isSpace(buf[p + 1])) return null;
          p++;
          break;
        } else word.push(c);
      } else {
        if (p >= e || isSpace(buf[p])) break;
        const c = buf[p];
        if (c === 0x22) inDouble = true;
        else if (c === 0x27) inSingle = true;
        else word.push(c);
      }
      p++;
    }
    words.push(Buffer.from(word));
  }
}

/** A decimal count `buf[s, e)` (optionally negative), null when it is not one. */
export function parseCount(buf: Buffer, s: number, e: number): number | null {
  let neg = false;
  if (s < e && buf[s] === 0x2d) {
    neg = true;
    s++;
  } else if (s < e && buf[s] === 0x2b) s++;
  if (s >= e || e - s > 19) return null;
  let n = 0;
  for (let i = s; i < e; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return neg ? -n : n;
}
