/** How the drawer shows bodies (any protocol's payloads), and "copy as curl" (HTTP entries). */
import type { BodyJson, EntryDetail } from '../datasource/types.js';

export type BodyView =
  | { kind: 'empty' }
  | { kind: 'json'; text: string }
  | { kind: 'text'; text: string }
  | { kind: 'hex'; text: string; shown: number };

const HEX_LIMIT = 4096;

/** Pretty JSON when it parses, text when the hub sent text, a hex dump (first 4 KiB) for binary. */
export function bodyView(b: BodyJson): BodyView {
  if (b.text !== undefined && b.text !== '') {
    const looksJson = /json/i.test(b.contentType) || /^\s*[[{]/.test(b.text);
    if (looksJson) {
      try {
        return { kind: 'json', text: JSON.stringify(JSON.parse(b.text), null, 2) };
      } catch {
        // not JSON after all (or cut short): show it as text
      }
    }
    return { kind: 'text', text: b.text };
  }
  if (b.base64) {
    const bin = atob(b.base64);
    const n = Math.min(bin.length, HEX_LIMIT);
    const lines: string[] = [];
    for (let off = 0; off < n; off += 16) {
      const bytes = Array.from(bin.slice(off, Math.min(off + 16, n)), (c) => c.charCodeAt(0));
      const hex = bytes.map((x) => x.toString(16).padStart(2, '0')).join(' ');
      const ascii = bytes.map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
      lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
    }
    return { kind: 'hex', text: lines.join('\n'), shown: n };
  }
  return { kind: 'empty' };
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Headers curl sets itself or that would make the copy lie about the body. */
const SKIP = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'accept-encoding']);

/** Whether "copy as curl" makes sense: an HTTP entry. */
export function hasCurl(e: Pick<EntryDetail, 'protocol'>): boolean {
  return e.protocol === 'http';
}

/** An HTTP request as a curl command line (to the Host it was sent to). */
export function curlCommand(e: EntryDetail): string {
  const host = e.host || `${e.dst.ip}:${e.dst.port}`;
  const url = `http://${host}${e.target}${e.query ? `?${e.query}` : ''}`;
  const parts = ['curl'];
  if (e.operation && e.operation !== 'GET') parts.push('-X', e.operation);
  for (const [k, v] of e.requestHeaders) if (!SKIP.has(k.toLowerCase())) parts.push('-H', shellQuote(`${k}: ${v}`));
  if (e.requestBody.text) parts.push('--data-raw', shellQuote(e.requestBody.text));
  parts.push(shellQuote(url));
  const binary = !e.requestBody.text && e.requestBody.base64 ? ` # the binary body (${e.requestBody.size} bytes) is left out` : '';
  return parts.join(' ') + binary;
}
