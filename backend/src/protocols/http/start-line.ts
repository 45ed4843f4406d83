/**
 * Recognising HTTP/1.x start lines, for detection and for resynchronising after a gap.
 *
 * A method is any token (RFC 9110 §9.1: `PURGE`, `M-SEARCH`, `RPC_IN_DATA`…). The usual ones are
 * told from their first bytes; any other token is a request only once its whole line is seen and
 * ends with ` HTTP/1.0` or ` HTTP/1.1`, so a text protocol's first line (`EHLO host`, `PING`) is
 * never taken for one. `GET /path` alone on its line is an HTTP/0.9 request. Empty lines before a
 * message are tolerated (RFC 9112 §2.2).
 */
import { Detection } from '../dissector.js';

/** Methods told from their first bytes (RFC 9110 and WebDAV): no need to wait for the line's end. */
const METHODS = [
  'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE',
  'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'REPORT', 'SEARCH',
].map((m) => Buffer.from(`${m} `, 'latin1'));
const RESPONSE = Buffer.from('HTTP/1.', 'latin1');
const GET = Buffer.from('GET ', 'latin1');

/** Methods by their first byte: a start line is told from other bytes without trying them all. */
const BY_FIRST: Array<Buffer[] | undefined> = [];
for (const m of [...METHODS, RESPONSE]) (BY_FIRST[m[0]] ??= []).push(m);

/** RFC 9110 tchar, by byte. */
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-") TCHAR[c.charCodeAt(0)] = 1;

/** Longest method token considered; longest request line waited for before saying "not HTTP". */
const MAX_METHOD = 32;
const MAX_LINE = 8192;
/** Empty lines skipped before a start line at most (each CRLF or LF). */
const MAX_LEADING_BREAKS = 8;

/** Does buf[start, end) begin like a request line, a status line, or can't it be told yet? */
export function detectStartLine(buf: Buffer, start: number, end: number): Detection {
  let s = start;
  while (s < end && s - start < 2 * MAX_LEADING_BREAKS && (buf[s] === 13 || buf[s] === 10)) s++;
  if (s >= end) return Detection.More;
  const candidates = BY_FIRST[buf[s]];
  let more = false;
  if (candidates) {
    for (const m of candidates) {
      if (m === RESPONSE) continue;
      const r = prefixMatch(buf, s, end, m);
      if (r === 1) return Detection.FromClient;
      if (r === 0) more = true;
    }
    const r = prefixMatch(buf, s, end, RESPONSE);
    if (r === 1) {
      if (end - s < RESPONSE.length + 1) return Detection.More;
      const minor = buf[s + RESPONSE.length];
      return minor === 0x30 || minor === 0x31 ? Detection.FromServer : Detection.No;
    }
    if (r === 0) more = true;
  }
  const token = tokenRequestLine(buf, s, end);
  if (token === Detection.FromClient) return token;
  return more || token === Detection.More ? Detection.More : Detection.No;
}

/**
 * A request line with any method token: `token SP target SP HTTP/1.x` (or HTTP/0.9's
 * `GET SP target`) once its line ends; More while it may still become one.
 */
function tokenRequestLine(buf: Buffer, start: number, end: number): Detection {
  let i = start;
  while (i < end && i - start <= MAX_METHOD && TCHAR[buf[i]] === 1) i++;
  if (i === start || i - start > MAX_METHOD) return Detection.No;
  if (i === end) return Detection.More;
  if (buf[i] !== 32) return Detection.No;
  const limit = Math.min(end, start + MAX_LINE);
  const nl = buf.indexOf(10, i);
  if (nl < 0 || nl >= limit) return limit === end && end - start < MAX_LINE ? Detection.More : Detection.No;
  let lineEnd = nl;
  if (lineEnd > i && buf[lineEnd - 1] === 13) lineEnd--;
  for (let j = i + 1; j < lineEnd; j++) if (buf[j] < 32 || buf[j] === 127) return Detection.No;
  if (lineEnd - i >= 10 && buf[lineEnd - 9] === 32 && prefixMatch(buf, lineEnd - 8, lineEnd, RESPONSE) === 1) {
    const minor = buf[lineEnd - 1];
    if (minor === 0x30 || minor === 0x31) return Detection.FromClient;
  }
  return isHttp09Request(buf, start, lineEnd) ? Detection.FromClient : Detection.No;
}

/** `GET /target` with nothing after the target: HTTP/0.9's whole request. */
function isHttp09Request(buf: Buffer, start: number, lineEnd: number): boolean {
  if (prefixMatch(buf, start, lineEnd, GET) !== 1 || buf[start + 4] !== 0x2f) return false;
  for (let j = start + 4; j < lineEnd; j++) if (buf[j] === 32) return false;
  return true;
}

/** 1: buf starts with `want`; 0: buf is a proper prefix of `want`; -1: it differs. */
function prefixMatch(buf: Buffer, start: number, end: number, want: Buffer): number {
  const n = Math.min(end - start, want.length);
  for (let i = 0; i < n; i++) if (buf[start + i] !== want[i]) return -1;
  return n === want.length ? 1 : 0;
}

/**
 * Where, in buf[start, end), the next line that starts a message begins (a request line when
 * `requests`, else a status line), or -1. Only line starts are considered (and `start` itself
 * when `atLineStart`: a segment's first byte); a candidate cut by the end of the data counts (the
 * head parser validates it once complete).
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
