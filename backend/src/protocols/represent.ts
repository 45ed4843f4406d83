/**
 * Building blocks for a descriptor's `represent`: the sections most protocols show (a summary
 * table, each side's attributes and payload, the typed fields), so each protocol writes only what
 * is its own.
 */
import type { Body, Entry, HeaderList } from '../entries/entry.js';
import type { Dissector, Section } from './dissector.js';

/** A name/value table, without the rows whose value is empty. */
export function table(title: string, rows: ReadonlyArray<readonly [string, string | number]>): Section {
  return { kind: 'table', title, rows: rows.filter(([, v]) => v !== '').map(([n, v]) => [n, String(v)]) };
}

function attributes(title: string, list: HeaderList): Section[] {
  return list.count === 0 ? [] : [{ kind: 'table', title, rows: list.toPairs() }];
}

function payload(title: string, body: Body, contentType: string): Section[] {
  return body.size === 0 && body.wireSize === 0 ? [] : [{ kind: 'body', title, body, contentType }];
}

/** One side: its attributes table and its payload, each left out when empty. */
export function side(entry: Entry, which: 'request' | 'response', names: { attributes: string; payload: string; contentType?: string }): Section[] {
  const list = which === 'request' ? entry.requestHeaders : entry.responseHeaders;
  const body = which === 'request' ? entry.requestBody : entry.responseBody;
  return [...attributes(names.attributes, list), ...payload(names.payload, body, names.contentType ?? '')];
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
