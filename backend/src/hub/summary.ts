/**
 * Entries as the API shows them (shapes.ts): the summary (lists, live stream) and the full entry
 * (one entry, with its protocol's sections), both built from the store's own row mapping
 * (store/rows.ts), so there is one reading of a row.
 */
import type { Body, Entry, HeaderList } from '../entries/entry.js';
import { bodyToJson } from '../entries/json.js';
import type { Section } from '../protocols/dissector.js';
import { protocols } from '../protocols/registry.js';
import { table, side } from '../protocols/represent.js';
import { ENTRY_SELECT, rowToEntry, type EntryRow } from '../store/index.js';
import type { BodyJson, EntryDetail, EntrySummary, SectionJson } from './shapes.js';

export type { EntrySummary, EntryDetail } from './shapes.js';

/**
 * `ENTRY_SELECT` without the heavy columns (headers, bodies): a list row still reads as an
 * EntryRow, with empty headers and bodies.
 */
export const SUMMARY_SELECT = ENTRY_SELECT.split(', ')
  .map((col) => {
    const header = /^(request|response)_header_(names|values)$/.exec(col);
    if (header) return `CAST([], 'Array(String)') AS ${col}`;
    const body = /^base64Encode\((request|response)_body\) AS (\w+)$/.exec(col);
    if (body) return `'' AS ${body[2]}`;
    return col;
  })
  .join(', ');

export function summaryOf(e: Entry): EntrySummary {
  return {
    id: e.id,
    startUs: e.startUs,
    durationUs: e.durationUs,
    protocol: e.protocol,
    protocolVersion: e.protocolVersion,
    transport: e.transport,
    operation: e.operation,
    target: e.target,
    query: e.query,
    host: e.host,
    status: e.status,
    statusText: e.statusText,
    outcome: e.outcome,
    unanswered: e.unanswered,
    incomplete: e.incomplete,
    src: { ...e.src },
    dst: { ...e.dst },
    requestSize: e.requestBody.size,
    responseSize: e.responseBody.size,
    agent: e.agent,
    fields: e.fields,
  };
}

export function summaryFromRow(row: EntryRow): EntrySummary {
  return summaryOf(rowToEntry(row));
}

function bodyJson(b: Body, contentType: string): BodyJson {
  return { ...bodyToJson(b), contentType };
}

const contentType = (h: HeaderList) => h.get('content-type') ?? '';

/**
 * Sections of an entry whose protocol this process does not know (written by a newer agent, or a
 * protocol registered elsewhere): the summary, attributes, payloads and fields as they are.
 */
function genericSections(e: Entry): Section[] {
  return [
    table('Summary', [
      ['Operation', e.operation],
      ['Target', e.target],
      ['Status', `${e.status || ''} ${e.statusText}`.trim()],
    ]),
    ...side(e, 'request', { attributes: 'Request attributes', payload: 'Request payload' }),
    ...side(e, 'response', { attributes: 'Response attributes', payload: 'Response payload' }),
    table('Fields', Object.entries(e.fields)),
  ];
}

export function sectionsOf(e: Entry): Section[] {
  const d = protocols.get(e.protocol);
  return (d ? d.represent(e) : genericSections(e)).filter((s) => s.kind === 'body' || s.rows.length > 0);
}

export function sectionToJson(s: Section): SectionJson {
  return s.kind === 'table' ? s : { kind: 'body', title: s.title, body: bodyJson(s.body, s.contentType) };
}

export function detailOf(e: Entry): EntryDetail {
  return {
    ...summaryOf(e),
    endUs: e.endUs,
    requestHeaders: e.requestHeaders.toPairs(),
    responseHeaders: e.responseHeaders.toPairs(),
    requestBody: bodyJson(e.requestBody, contentType(e.requestHeaders)),
    responseBody: bodyJson(e.responseBody, contentType(e.responseHeaders)),
    sections: sectionsOf(e).map(sectionToJson),
  };
}
