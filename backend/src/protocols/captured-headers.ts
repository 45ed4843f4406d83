/**
 * Builds HeaderLists over captured heads: a list keeps the head's text (the string the parser
 * decoded it into) and four offsets a header, in an offset slab shared by every connection. A list
 * costs one object: no strings, and no copy of the head (copying it into a byte slab cost more,
 * measured, than the encoder's reading characters out of the text).
 */
import { HeaderList } from '../entries/headers.js';

/** Four offsets a header: room for 512 headers. */
const OFFSET_SLAB = 2048;

/** One list at a time: begin, add headers (and folds), finish. */
export class CapturedHeaders {
  private offsets = new Int32Array(OFFSET_SLAB);
  private offsetPos = 0;
  /** The list being built: its head's text, its first offset and its count. */
  private text = '';
  private first = 0;
  private n = 0;
  /** Values of folded headers (obsolete line folding: not a range of the text), by index. */
  private folded: Map<number, string> | null = null;

  /** Starts the list of a head; later calls take indices into `text`. */
  begin(text: string): void {
    this.text = text;
    this.first = this.offsetPos;
    this.n = 0;
    this.folded = null;
  }

  /** A header whose name is text[nameStart, nameEnd) and value text[valueStart, valueEnd). */
  add(nameStart: number, nameEnd: number, valueStart: number, valueEnd: number): void {
    let o = this.first + 4 * this.n;
    let offsets = this.offsets;
    if (o + 4 > offsets.length) {
      // This head's offsets move to a new slab (bigger than the slab for a head this long).
      const bigger = new Int32Array(Math.max(OFFSET_SLAB, 8 * (this.n + 1)));
      bigger.set(offsets.subarray(this.first, o));
      this.offsets = offsets = bigger;
      this.first = 0;
      o = 4 * this.n;
    }
    offsets[o] = nameStart;
    offsets[o + 1] = nameEnd;
    offsets[o + 2] = valueStart;
    offsets[o + 3] = valueEnd;
    this.n++;
  }

  /** Headers added to this list so far. */
  get count(): number {
    return this.n;
  }

  /** Obsolete line folding: the last header's value continues with text[from, to), after one space. */
  foldIntoLast(from: number, to: number): void {
    const last = this.n - 1;
    const o = this.first + 4 * last;
    const value = this.folded?.get(last) ?? this.text.slice(this.offsets[o + 2], this.offsets[o + 3]);
    (this.folded ??= new Map()).set(last, `${value} ${this.text.slice(from, to)}`);
  }

  /** The list of the headers added since `begin`. */
  finish(): HeaderList {
    const list = new HeaderList(this.text, this.offsets, this.first, this.n);
    const folded = this.folded;
    if (folded === null) {
      this.offsetPos = this.first + 4 * this.n;
      return list;
    }
    // Rare: a list of its own, with the folded values as sent after unfolding.
    this.folded = null;
    return HeaderList.of(list.toPairs().map(([name, value], i) => [name, folded.get(i) ?? value]));
  }
}

/** The offset slab every parser shares (one thread: lists are built one at a time). */
export const capturedHeaders = new CapturedHeaders();
