/** A settled HTTP/2 stream as an exchange: what HTTP/2 entries and gRPC calls share. */
import { STATUS_CODES } from 'node:http';
import { HeaderList, type Entry } from '../../entries/entry.js';
import type { Direction } from '../../net/stream.js';
import type { DissectorLimits, Exchange } from '../dissector.js';
import { capturedHeaders } from '../captured-headers.js';
import { messageBody } from '../http/body.js';
import type { FieldList, Http2Stream } from './connection.js';

/** The first value of field `name` (lowercase, as HTTP/2 sends names), undefined when absent. */
export function fieldValue(list: FieldList | null, name: string): string | undefined {
  if (list === null) return undefined;
  const i = list.names.indexOf(name);
  return i < 0 ? undefined : list.values[i];
}

/**
 * The fields that are not pseudo-headers, as a header list (`extra` appended: trailers): one text
 * holding them all, its offsets in the shared slab (no string or array per header).
 */
function regular(list: FieldList | null, extra: FieldList | null = null): HeaderList {
  let text = '';
  for (const l of [list, extra]) {
    if (l === null) continue;
    for (let i = 0; i < l.names.length; i++) if (l.names[i].charCodeAt(0) !== 58) text += l.names[i] + l.values[i];
  }
  capturedHeaders.begin(text);
  let at = 0;
  for (const l of [list, extra]) {
    if (l === null) continue;
    for (let i = 0; i < l.names.length; i++) {
      const name = l.names[i];
      if (name.charCodeAt(0) === 58) continue;
      const valueAt = at + name.length;
      at = valueAt + l.values[i].length;
      capturedHeaders.add(valueAt - name.length, valueAt, valueAt, at);
    }
  }
  return capturedHeaders.finish();
}

/** Regular fields of a list (how many trailers are at the end of the response headers). */
export function regularCount(list: FieldList | null): number {
  return list === null ? 0 : list.names.filter((n) => n.charCodeAt(0) !== 58).length;
}

/** The stream as an HTTP exchange (fields left for the protocol). */
export function streamExchange(s: Http2Stream, clientDir: Direction, limits: DissectorLimits): Exchange {
  const path = fieldValue(s.request, ':path') ?? '';
  const q = path.indexOf('?');
  const res = s.response;
  const status = Number(fieldValue(res, ':status') ?? 0) || 0;
  s.requestBody.contentEncoding = (fieldValue(s.request, 'content-encoding') ?? '').trim().toLowerCase();
  s.responseBody.contentEncoding = (fieldValue(res, 'content-encoding') ?? '').trim().toLowerCase();
  return {
    clientDir,
    protocolVersion: '2',
    startUs: s.startUs,
    endUs: s.endUs,
    durationUs: res ? Math.max(0, s.endUs - s.startUs) : 0,
    operation: fieldValue(s.request, ':method') ?? '',
    target: q < 0 ? path : path.slice(0, q),
    query: q < 0 ? '' : path.slice(q + 1),
    host: fieldValue(s.request, ':authority') ?? fieldValue(s.request, 'host') ?? '',
    status,
    statusText: STATUS_CODES[status] ?? '',
    requestHeaders: regular(s.request),
    responseHeaders: regular(res, s.trailers),
    requestBody: messageBody(s.requestBody, limits.maxBodyBytes),
    responseBody: messageBody(s.responseBody, limits.maxBodyBytes),
    fields: {},
    unanswered: res === null,
    incomplete: s.incomplete || s.rstCode !== '' || s.goawayCode !== '',
  };
}

/** The response's own headers and its trailers (the last `http2.trailers` of its list). */
export function splitTrailers(e: Entry, countField: string): { headers: Array<[string, string]>; trailers: Array<[string, string]> } {
  const all = e.responseHeaders.toPairs();
  const n = Number(e.fields[countField] ?? 0);
  return { headers: all.slice(0, all.length - n), trailers: all.slice(all.length - n) };
}
