/** An HTTP/1.x message as the parser builds it, before pairing. */
import { equalsLowercaseAt, HeaderList } from '../../entries/headers.js';

/** A message's headers until its head is parsed (never appended to: trailers come after the head). */
const NO_HEADERS = HeaderList.of([]);

export interface HttpMessage {
  /** '1.0' or '1.1'. */
  version: string;
  method: string;
  target: string;
  status: number;
  statusText: string;
  headers: HeaderList;
  /** Capture times of the packets with the first and the last byte. */
  startUs: number;
  endUs: number;
  /** Head bytes beyond the header limit were skipped. */
  headTruncated: boolean;
  /** Body as received after removing chunked framing, cut at the body limit. */
  bodyParts: Buffer[];
  bodyKept: number;
  /** Body bytes after removing chunked framing (all of them, kept or not). */
  bodyLength: number;
  /** Body bytes on the wire, chunked framing included. */
  bodyWireLength: number;
  /** Part of the body was not kept (limit) or not captured (gap, snap length). */
  bodyCut: boolean;
  /** Bytes of the message were missing (gap, cut off by the end of the connection). */
  incomplete: boolean;
  // Framing facts, noted while the head is parsed (so nothing searches the headers again):
  /** Content-Length: -1 when absent, -2 when invalid or conflicting. */
  contentLength: number;
  /** Transfer-Encoding ends with chunked. */
  chunked: boolean;
  /** An Upgrade header is present. */
  upgrade: boolean;
  /** First Host header, '' when none. */
  host: string;
  /** Content-Encoding, lowercase, '' when none. */
  contentEncoding: string;
}

export function newMessage(startUs: number): HttpMessage {
  return {
    version: '',
    method: '',
    target: '',
    status: 0,
    statusText: '',
    headers: NO_HEADERS,
    startUs,
    endUs: startUs,
    headTruncated: false,
    bodyParts: [],
    bodyKept: 0,
    bodyLength: 0,
    bodyWireLength: 0,
    bodyCut: false,
    incomplete: false,
    contentLength: -1,
    chunked: false,
    upgrade: false,
    host: '',
    contentEncoding: '',
  };
}

/**
 * Notes what a header means for framing: its name is text[ns, ne), its value text[vs, ve). Read by
 * offsets: only the values kept (Host, Content-Encoding) become strings.
 */
export function noteHeader(msg: HttpMessage, text: string, ns: number, ne: number, vs: number, ve: number): void {
  // Every name that matters starts with c, h, t or u: most headers end here.
  const first = text.charCodeAt(ns) | 0x20;
  if (first !== 0x63 && first !== 0x68 && first !== 0x74 && first !== 0x75) return;
  switch (ne - ns) {
    case 4:
      if (msg.host === '' && equalsLowercaseAt(text, ns, ne, 'host')) msg.host = text.slice(vs, ve);
      return;
    case 7:
      if (equalsLowercaseAt(text, ns, ne, 'upgrade')) msg.upgrade = true;
      return;
    case 14:
      if (equalsLowercaseAt(text, ns, ne, 'content-length')) msg.contentLength = mergeContentLength(msg.contentLength, text, vs, ve);
      return;
    case 16:
      if (equalsLowercaseAt(text, ns, ne, 'content-encoding')) msg.contentEncoding = text.slice(vs, ve).trim().toLowerCase();
      return;
    case 17:
      if (equalsLowercaseAt(text, ns, ne, 'transfer-encoding')) {
        // The last coding decides (RFC 9112 section 6.3); a later header line overrides.
        const value = text.slice(vs, ve);
        const last = value.slice(value.lastIndexOf(',') + 1).trim().toLowerCase();
        msg.chunked = last === 'chunked';
      }
  }
}

/** Repeated Content-Length values (text[vs, ve)) must agree (RFC 9110 section 8.6). */
function mergeContentLength(current: number, text: string, vs: number, ve: number): number {
  if (current === -2) return -2;
  const n = ve - vs <= 15 ? digitsValue(text, vs, ve) : -1;
  if (n >= 0) return current >= 0 && current !== n ? -2 : n;
  let result = current;
  for (const part of text.slice(vs, ve).split(',')) {
    const t = part.trim();
    if (!/^\d{1,15}$/.test(t)) return -2;
    const v = Number(t);
    if (result >= 0 && result !== v) return -2;
    result = v;
  }
  return result;
}

/** The value of text[start, end) when it is 1 to 15 ASCII digits (exact in a double), -1 for anything else. */
function digitsValue(text: string, start: number, end: number): number {
  if (start === end) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Body bytes buf[start, end) of `msg` (`wire` bytes on the wire), kept up to `maxBodyBytes` (copied: the buffer is not ours). */
export function appendBody(msg: HttpMessage, buf: Buffer, start: number, end: number, wire: number, tsUs: number, maxBodyBytes: number): void {
  const n = end - start;
  msg.bodyLength += n;
  msg.bodyWireLength += wire;
  msg.endUs = tsUs;
  // Bytes after a gap cannot be decoded (chunks, gzip), so nothing more is kept then.
  if (msg.bodyCut) return;
  const keep = Math.min(n, maxBodyBytes - msg.bodyKept);
  if (keep > 0) {
    const copy = Buffer.allocUnsafe(keep);
    buf.copy(copy, 0, start, start + keep);
    msg.bodyParts.push(copy);
    msg.bodyKept += keep;
  }
  if (keep < n) msg.bodyCut = true;
}
