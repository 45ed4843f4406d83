/** An HTTP/1.x message as the parser builds it, before pairing. */
import type { HeaderList } from '../../entries/entry.js';

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
  };
}

/** First value of a header (names compared case-insensitively), or undefined. */
export function header(msg: HttpMessage, lowerName: string): string | undefined {
  for (const [name, value] of msg.headers) {
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return value;
  }
  return undefined;
}

/** Every value of a header, for fields that may repeat (Transfer-Encoding, Content-Length). */
export function headerValues(msg: HttpMessage, lowerName: string): string[] {
  const out: string[] = [];
  for (const [name, value] of msg.headers) {
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) out.push(value);
  }
  return out;
}
