/** An HTTP/1.x message as the parser builds it, before pairing. */
import type { HeaderList } from '../../entries/entry.js';
import { equalsLowercase } from '../header-names.js';

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
    headers: [],
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

/** Notes what a header means for framing; `name` as sent. */
export function noteHeader(msg: HttpMessage, name: string, value: string): void {
  // Every name that matters starts with c, h, t or u: most headers end here.
  const first = name.charCodeAt(0) | 0x20;
  if (first !== 0x63 && first !== 0x68 && first !== 0x74 && first !== 0x75) return;
  switch (name.length) {
    case 4:
      if (msg.host === '' && equalsLowercase(name, 'host')) msg.host = value;
      return;
    case 7:
      if (equalsLowercase(name, 'upgrade')) msg.upgrade = true;
      return;
    case 14:
      if (equalsLowercase(name, 'content-length')) msg.contentLength = mergeContentLength(msg.contentLength, value);
      return;
    case 16:
      if (equalsLowercase(name, 'content-encoding')) msg.contentEncoding = value.trim().toLowerCase();
      return;
    case 17:
      if (equalsLowercase(name, 'transfer-encoding')) {
        // The last coding decides (RFC 9112 section 6.3); a later header line overrides.
        const last = value.slice(value.lastIndexOf(',') + 1).trim().toLowerCase();
        msg.chunked = last === 'chunked';
      }
  }
}

/** Repeated Content-Length values must agree (RFC 9110 section 8.6). */
function mergeContentLength(current: number, value: string): number {
  if (current === -2) return -2;
  const n = value.length <= 15 ? digitsValue(value) : -1;
  if (n >= 0) return current >= 0 && current !== n ? -2 : n;
  let result = current;
  for (const part of value.split(',')) {
    const t = part.trim();
    if (!/^\d{1,15}$/.test(t)) return -2;
    const v = Number(t);
    if (result >= 0 && result !== v) return -2;
    result = v;
  }
  return result;
}

/** The value of a string of 1 to 15 ASCII digits (exact in a double), -1 for anything else. */
function digitsValue(s: string): number {
  if (s.length === 0) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
