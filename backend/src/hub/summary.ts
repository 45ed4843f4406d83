/**
 * Entries as the API shows them: the summary (lists, live stream) and the full entry (one entry),
 * both built from the store's own row mapping (store/rows.ts), so there is one reading of a row.
 */
import { bodyToJson, type JsonBody } from '../agent/json-sink.js';
import type { Body, Endpoint, Entry } from '../entries/entry.js';
import { ENTRY_SELECT, rowToEntry, type EntryRow } from '../store/index.js';

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

export interface EntrySummary {
  id: string;
  startUs: number;
  durationUs: number;
  protocol: string;
  protocolVersion: string;
  method: string;
  path: string;
  query: string;
  host: string;
  status: number;
  unanswered: boolean;
  incomplete: boolean;
  src: Endpoint;
  dst: Endpoint;
  requestSize: number;
  responseSize: number;
  agent: string;
}

export function summaryOf(e: Entry): EntrySummary {
  return {
    id: e.id,
    startUs: e.startUs,
    durationUs: e.durationUs,
    protocol: e.protocol,
    protocolVersion: e.protocolVersion,
    method: e.method,
    path: e.path,
    query: e.query,
    host: e.host,
    status: e.status,
    unanswered: e.unanswered,
    incomplete: e.incomplete,
    src: { ...e.src },
    dst: { ...e.dst },
    requestSize: e.requestBody.size,
    responseSize: e.responseBody.size,
    agent: e.agent,
  };
}

export function summaryFromRow(row: EntryRow): EntrySummary {
  return summaryOf(rowToEntry(row));
}

export interface BodyJson extends JsonBody {
  contentType: string;
}

function bodyJson(b: Body, headers: Entry['requestHeaders']): BodyJson {
  const contentType = headers.get('content-type') ?? '';
  return { ...bodyToJson(b), contentType };
}

export function detailOf(e: Entry) {
  return {
    ...summaryOf(e),
    endUs: e.endUs,
    statusText: e.statusText,
    requestHeaders: e.requestHeaders.toPairs(),
    responseHeaders: e.responseHeaders.toPairs(),
    requestBody: bodyJson(e.requestBody, e.requestHeaders),
    responseBody: bodyJson(e.responseBody, e.responseHeaders),
  };
}
