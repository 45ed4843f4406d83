/** Turns a message's captured body into the Entry's Body: content decoding, bounded. */
import { brotliDecompressSync, constants, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import type { Body } from '../../entries/entry.js';
import type { HttpMessage } from './message.js';

/** Decoding may produce this many times the body limit before it gives up on the full size. */
export const DECODE_FACTOR = 16;

const EMPTY = Buffer.alloc(0);

export function messageBody(msg: HttpMessage, maxBodyBytes: number): Body {
  const parts = msg.bodyParts;
  const raw = parts.length === 0 ? EMPTY : parts.length === 1 ? parts[0] : Buffer.concat(parts, msg.bodyKept);
  const coding = msg.contentEncoding;
  const base: Body = { bytes: raw, wireSize: msg.bodyWireLength, size: msg.bodyLength, truncated: msg.bodyCut, encoding: '' };
  if (raw.length === 0 || !(coding === 'gzip' || coding === 'x-gzip' || coding === 'deflate' || coding === 'br')) return base;
  const decoded = decode(raw, coding, maxBodyBytes * DECODE_FACTOR);
  if (!decoded) return base; // not what it claims to be: shown as received
  const cut = decoded.complete === false || msg.bodyCut;
  return {
    bytes: decoded.bytes.length > maxBodyBytes ? decoded.bytes.subarray(0, maxBodyBytes) : decoded.bytes,
    wireSize: msg.bodyWireLength,
    // Decoded size is exact only when the whole encoded body was kept and decoded.
    size: decoded.bytes.length,
    truncated: cut || decoded.bytes.length > maxBodyBytes,
    encoding: coding,
  };
}

interface Decoded {
  bytes: Buffer;
  complete: boolean;
}

function decode(input: Buffer, coding: string, cap: number): Decoded | undefined {
  // SYNC_FLUSH: a body cut by a limit or a gap decodes as far as it goes instead of failing.
  const opts = { maxOutputLength: cap, finishFlush: constants.Z_SYNC_FLUSH };
  const run = (buf: Buffer): Buffer => {
    if (coding === 'br') return brotliDecompressSync(buf, { maxOutputLength: cap });
    if (coding === 'deflate') {
      // "deflate" should be zlib-wrapped (RFC 9110), but some servers send raw deflate.
      const zlibHeader = buf.length >= 2 && (buf[0] & 0x0f) === 8 && (buf[0] * 256 + buf[1]) % 31 === 0;
      return zlibHeader ? inflateSync(buf, opts) : inflateRawSync(buf, opts);
    }
    return gunzipSync(buf, opts);
  };
  try {
    return { bytes: run(input), complete: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') return undefined;
  }
  // Decodes to more than the cap (a compression bomb, or just huge): decode a prefix that fits.
  for (let n = input.length >> 1; n > 0; n >>= 1) {
    try {
      return { bytes: run(input.subarray(0, n)), complete: false };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') return undefined;
    }
  }
  return undefined;
}
