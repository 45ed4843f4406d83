/**
 * Building blocks for a descriptor's `represent`: the sections most protocols show (a summary
 * table, each side's attributes and payload, the typed fields), so each protocol writes only what
 * is its own.
 */
import type { Body, Entry } from '../entries/entry.js';
import { TRAILER_PREFIX } from '../entries/headers.js';
import type { Dissector, Section } from './dissector.js';

/** A name/value table, without the rows whose value is empty. */
export function table(title: string, rows: ReadonlyArray<readonly [string, string | number]>): Section {
  return { kind: 'table', title, rows: rows.filter(([, v]) => v !== '').map(([n, v]) => [n, String(v)]) };
}

function attributes(title: string, rows: Array<[string, string]>): Section[] {
  return rows.length === 0 ? [] : [{ kind: 'table', title, rows }];
}

function payload(title: string, body: Body, contentType: string): Section[] {
  return body.size === 0 && body.wireSize === 0 ? [] : [{ kind: 'body', title, body, contentType }];
}

/** One side: its attributes table, its payload and its trailers (TRAILER_PREFIX), each left out when empty. */
export function side(
  entry: Entry,
  which: 'request' | 'response',
  names: { attributes: string; payload: string; contentType?: string; trailers?: string },
): Section[] {
  const pairs = (which === 'request' ? entry.requestHeaders : entry.responseHeaders).toPairs();
  const body = which === 'request' ? entry.requestBody : entry.responseBody;
  const trailers = pairs.filter(([n]) => n.startsWith(TRAILER_PREFIX)).map(([n, v]): [string, string] => [n.slice(TRAILER_PREFIX.length), v]);
  return [
    ...attributes(names.attributes, trailers.length === 0 ? pairs : pairs.filter(([n]) => !n.startsWith(TRAILER_PREFIX))),
    ...payload(names.payload, body, names.contentType ?? ''),
    ...attributes(names.trailers ?? `${which === 'request' ? 'Request' : 'Response'} trailers`, trailers),
  ];
}

/** The typed fields the descriptor declares that this entry has, in declaration order. */
export function fieldsTable(entry: Entry, d: Dissector, title = 'Fields'): Section[] {
  const rows: Array<[string, string]> = [];
  for (const f of d.fields) {
    const v = entry.fields[f.name];
    if (v !== undefined && v !== '') rows.push([f.name, String(v)]);
  }
  return rows.length === 0 ? [] : [{ kind: 'table', title, rows }];
}
