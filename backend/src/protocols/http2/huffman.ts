/**
 * HPACK's static Huffman code (RFC 7541 appendix B), decoding only. The code is canonical: the
 * codes of one length are consecutive, in symbol order, and each length's first code follows the
 * previous length's last; so the 257 code lengths below determine every code.
 */

/** Code length in bits of each symbol 0–255, then EOS (256), as appendix B lists them. */
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;
const MAX_LENGTH = 30;

/** The canonical code, as decoding tables: per length, its first code, and symbols sorted by (length, symbol). */
const firstCode = new Int32Array(MAX_LENGTH + 2);
const firstIndex = new Int32Array(MAX_LENGTH + 2);
const countOf = new Int32Array(MAX_LENGTH + 2);
const sortedSymbols = new Uint16Array(CODE_LENGTHS.length);
/** Codes of up to 8 bits, looked up by the next 8 bits: symbol << 4 | length, 0 for a longer code. */
const SHORT = new Uint16Array(256);

/** Each symbol's code (right-aligned), for tests and for the short table. */
export const huffmanCodes: readonly number[] = (() => {
  for (const len of CODE_LENGTHS) countOf[len]++;
  let code = 0;
  let index = 0;
  for (let len = 1; len <= MAX_LENGTH; len++) {
    code = (code + countOf[len - 1]) << 1;
    firstCode[len] = code;
    firstIndex[len] = index;
    index += countOf[len];
  }
  const next = Int32Array.from(firstCode);
  const fill = Int32Array.from(firstIndex);
  const codes: number[] = [];
  for (let s = 0; s < CODE_LENGTHS.length; s++) {
    const len = CODE_LENGTHS[s];
    codes.push(next[len]++);
    sortedSymbols[fill[len]++] = s;
  }
  for (let s = 0; s < EOS; s++) {
    const len = CODE_LENGTHS[s];
    if (len > 8) continue;
    const base = codes[s] << (8 - len);
    for (let k = 0; k < 1 << (8 - len); k++) SHORT[base + k] = (s << 4) | len;
  }
  return codes;
})();

export const huffmanCodeLengths = CODE_LENGTHS;

/** Decoded bytes go here (one thread, one string at a time); grown when a string needs more. */
let scratch = Buffer.alloc(4096);

/**
 * Decodes buf[start, end) into a latin1 string (header octets as HTTP/1's heads are read), or
 * null when the bytes are not a valid encoding (EOS inside, padding longer than 7 bits or not
 * all ones, RFC 7541 section 5.2).
 */
export function huffmanDecode(buf: Buffer, start: number, end: number): string | null {
  // The shortest code is 5 bits: at most 8 symbols per 5 bytes.
  const most = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < most) scratch = Buffer.alloc(Math.max(most, scratch.length * 2));
  const out = scratch;
  let n = 0;
  const totalBits = (end - start) * 8;
  let pos = 0;
  while (pos < totalBits) {
    const byte = start + (pos >> 3);
    const shift = pos & 7;
    // The next 8 bits (1s past the end: padding is a prefix of EOS, all ones).
    const window = (((buf[byte] << 8) | (byte + 1 < end ? buf[byte + 1] : 0xff)) >> (8 - shift)) & 0xff;
    const short = SHORT[window];
    const left = totalBits - pos;
    if (short !== 0 && (short & 15) <= left) {
      out[n++] = short >> 4;
      pos += short & 15;
      continue;
    }
    // A longer code, bit by bit; or the end: up to 7 bits of padding, all ones.
    let code = 0;
    let len = 0;
    let symbol = -1;
    while (len < MAX_LENGTH && pos + len < totalBits) {
      const p = pos + len;
      code = (code << 1) | ((buf[start + (p >> 3)] >> (7 - (p & 7))) & 1);
      len++;
      const k = code - firstCode[len];
      if (k >= 0 && k < countOf[len]) {
        symbol = sortedSymbols[firstIndex[len] + k];
        break;
      }
    }
    if (symbol === -1) {
      // Ran out of bits inside a code: valid only as padding (fewer than 8 bits, all ones).
      return left < 8 && code === (1 << left) - 1 ? out.toString('latin1', 0, n) : null;
    }
    if (symbol === EOS) return null;
    out[n++] = symbol;
    pos += len;
  }
  return out.toString('latin1', 0, n);
}
