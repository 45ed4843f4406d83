/** Recognising HTTP/1.x start lines, for detection and for resynchronising after a gap. */
import { Detection } from '../dissector.js';

/** Methods that mark the start of a request (RFC 9110 and WebDAV), for content detection. */
const METHODS = [
  'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE',
  'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'REPORT', 'SEARCH',
].map((m) => Buffer.from(`${m} `, 'latin1'));
const RESPONSE = Buffer.from('HTTP/1.', 'latin1');

/** Methods by their first byte: a start line is told from other bytes without trying them all. */
const BY_FIRST: Array<Buffer[] | undefined> = [];
for (const m of [...METHODS, RESPONSE]) (BY_FIRST[m[0]] ??= []).push(m);

/** Does buf[start, end) begin like a request line, a status line, or can't it be told yet? */
export function detectStartLine(buf: Buffer, start: number, end: number): Detection {
  if (start >= end) return Detection.More;
  const candidates = BY_FIRST[buf[start]];
  if (!candidates) return Detection.No;
  let more = false;
  for (const m of candidates) {
    if (m === RESPONSE) continue;
    const r = prefixMatch(buf, start, end, m);
    if (r === 1) return Detection.FromClient;
    if (r === 0) more = true;
  }
  const r = prefixMatch(buf, start, end, RESPONSE);
  if (r === 1) {
    if (end - start < RESPONSE.length + 1) return Detection.More;
    const minor = buf[start + RESPONSE.length];
    return minor === 0x30 || minor === 0x31 ? Detection.FromServer : Detection.No;
  }
  if (r === 0) more = true;
  return more ? Detection.More : Detection.No;
}

/** 1: buf starts with `want`; 0: buf is a proper prefix of `want`; -1: it differs. */
function prefixMatch(buf: Buffer, start: number, end: number, want: Buffer): number {
  const n = Math.min(end - start, want.length);
  for (let i = 0; i < n; i++) if (buf[start + i] !== want[i]) return -1;
  return n === want.length ? 1 : 0;
}

/**
 * Where, in buf[start, end), the next line that starts a message begins (a request line when
 * `requests`, else a status line), or -1. Only line starts are considered; a candidate cut by the
 * end of the data counts (the head parser validates it once complete).
 */
export function findStartLine(buf: Buffer, start: number, end: number, requests: boolean, atLineStart: boolean): number {
  let i = start;
  if (!atLineStart) {
    const nl = buf.indexOf(10, start);
    if (nl < 0 || nl >= end) return -1;
    i = nl + 1;
  }
  while (i < end) {
    const d = detectStartLine(buf, i, end);
    if (d === (requests ? Detection.FromClient : Detection.FromServer)) return i;
    if (d === Detection.More && end - i < 16) return i;
    const nl = buf.indexOf(10, i);
    if (nl < 0 || nl >= end) return -1;
    i = nl + 1;
  }
  return -1;
}
