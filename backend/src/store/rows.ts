/**
 * Entry <-> `entries` row.
 *
 * Writing: `NativeBatch` (./native.ts) encodes entries as one Native block with the columns
 * `ENTRY_COLUMNS`. Header names/values and other text fields are stored as the UTF-8 bytes of the
 * JS string, so any string round-trips (characters U+0000–U+00FF included, as a latin1-decoding
 * agent produces); bodies as their bytes. An entry's typed protocol fields (`fields`) go into two
 * maps by value type: text into `fields_text`, numbers into `fields_number`.
 *
 * Reading: select `ENTRY_SELECT` in a JSON format and pass each row to `rowToEntry`
 * (bodies come back base64-encoded, times as integer microseconds, the two field maps as one
 * `fields` object: NO_FIELDS when both are empty).
 */
import { isIP } from 'node:net';
import { HeaderList, NO_FIELDS, type Body, type Endpoint, type Entry, type Outcome, type ProtocolFields, type Transport } from '../entries/entry.js';
import { TaplineError } from '../errors.js';

/**
 * Insert columns of `NativeBatch`, in block order. `ingested_at` is the entry's `ingestedUs` when
 * set, else the store's insert time (the column default).
 */
export const ENTRY_COLUMNS = [
  'id', 'agent', 'protocol', 'protocol_version', 'transport', 'start_time', 'end_time', 'duration_us',
  ...endpointColumnNames('src'), ...endpointColumnNames('dst'),
  'operation', 'target', 'query', 'host', 'status', 'status_text', 'outcome',
  ...bodyColumnNames('request'), ...bodyColumnNames('response'),
  'fields_text', 'fields_number',
  'unanswered', 'incomplete', 'ingested_at',
] as const;

function endpointColumnNames<S extends 'src' | 'dst'>(s: S) {
  return [`${s}_ip`, `${s}_port`, `${s}_pod`, `${s}_namespace`, `${s}_service`, `${s}_workload`, `${s}_node`] as const;
}

function bodyColumnNames<S extends 'request' | 'response'>(s: S) {
  return [
    `${s}_header_names`, `${s}_header_values`, `${s}_body`, `${s}_body_size`, `${s}_body_wire_size`,
    `${s}_body_truncated`, `${s}_body_encoding`,
  ] as const;
}

/** An entry that cannot be stored as it is (the message names the field and the value). */
export class EntryEncodeError extends TaplineError {
  override readonly code = 'STORE_ENTRY_ENCODE';
  constructor(
    readonly entryId: string,
    readonly field: string,
    detail: string,
  ) {
    super(`entry ${JSON.stringify(entryId)}: ${field} ${detail}`);
  }
}

/** Select list (no leading SELECT) whose JSON rows `rowToEntry` reads. */
export const ENTRY_SELECT = [
  'id', 'agent', 'protocol', 'protocol_version', 'transport',
  'toUnixTimestamp64Micro(start_time) AS start_us', 'toUnixTimestamp64Micro(end_time) AS end_us', 'duration_us',
  ...(['src', 'dst'] as const).flatMap((s) => [
    `toString(${s}_ip) AS ${s}_ip`, `${s}_port`, `${s}_pod`, `${s}_namespace`, `${s}_service`, `${s}_workload`, `${s}_node`,
  ]),
  'operation', 'target', 'query', 'host', 'status', 'status_text', 'outcome',
  ...(['request', 'response'] as const).flatMap((s) => [
    `${s}_header_names`, `${s}_header_values`, `base64Encode(${s}_body) AS ${s}_body_base64`, `${s}_body_size`,
    `${s}_body_wire_size`, `${s}_body_truncated`, `${s}_body_encoding`,
  ]),
  'fields_text', 'fields_number',
  'unanswered', 'incomplete', 'toUnixTimestamp64Micro(ingested_at) AS ingested_us',
].join(', ');

/** 64-bit integers arrive as JSON numbers from chDB and as strings from a server. */
type Int = number | string;

/** One row of `SELECT ${ENTRY_SELECT}` in JSONEachRow. */
export interface EntryRow {
  id: string; agent: string; protocol: string; protocol_version: string; transport: string;
  start_us: Int; end_us: Int; duration_us: Int;
  src_ip: string; src_port: number; src_pod: string; src_namespace: string; src_service: string; src_workload: string; src_node: string;
  dst_ip: string; dst_port: number; dst_pod: string; dst_namespace: string; dst_service: string; dst_workload: string; dst_node: string;
  operation: string; target: string; query: string; host: string; status: number; status_text: string; outcome: number;
  request_header_names: string[]; request_header_values: string[];
  request_body_base64: string; request_body_size: Int; request_body_wire_size: Int; request_body_truncated: boolean; request_body_encoding: string;
  response_header_names: string[]; response_header_values: string[];
  response_body_base64: string; response_body_size: Int; response_body_wire_size: Int; response_body_truncated: boolean; response_body_encoding: string;
  /** The typed protocol fields by name: text ones, and numbers (Float64: JSON numbers from chDB and from a server). */
  fields_text: Record<string, string>; fields_number: Record<string, number | string>;
  unanswered: boolean; incomplete: boolean;
  /** Insert time (µs); absent in rows built by `entryToRow`. */
  ingested_us?: Int;
}

/** IP text as stored (IPv6, IPv4-mapped) -> as in an Entry ('' for the unknown address `::`). */
export function ipFromStore(text: string): string {
  if (text === '::') return '';
  if (text.startsWith('::ffff:') && text.includes('.')) return text.slice(7);
  return text;
}

function endpointFromRow(r: EntryRow, s: 'src' | 'dst'): Endpoint {
  return {
    ip: ipFromStore(r[`${s}_ip`]), port: Number(r[`${s}_port`]), pod: r[`${s}_pod`], namespace: r[`${s}_namespace`],
    service: r[`${s}_service`], workload: r[`${s}_workload`], node: r[`${s}_node`],
  };
}

function headersFromRow(names: string[], values: string[]): HeaderList {
  return HeaderList.of(names.map((n, i) => [n, values[i] ?? '']));
}

function bodyFromRow(r: EntryRow, s: 'request' | 'response'): Body {
  return {
    bytes: Buffer.from(r[`${s}_body_base64`], 'base64'), size: Number(r[`${s}_body_size`]),
    wireSize: Number(r[`${s}_body_wire_size`]), truncated: Boolean(r[`${s}_body_truncated`]),
    encoding: r[`${s}_body_encoding`],
  };
}

/** The entry's fields from the two maps (NO_FIELDS when both are empty, as for most protocols). */
function fieldsFromRow(text: Record<string, string>, numbers: Record<string, number | string>): ProtocolFields {
  let fields: Record<string, string | number> | undefined;
  for (const k in text) (fields ??= {})[k] = text[k];
  for (const k in numbers) (fields ??= {})[k] = Number(numbers[k]);
  return fields ?? NO_FIELDS;
}

export function rowToEntry(r: EntryRow): Entry {
  return {
    id: r.id, agent: r.agent, protocol: r.protocol, protocolVersion: r.protocol_version, transport: r.transport as Transport,
    startUs: Number(r.start_us), endUs: Number(r.end_us), durationUs: Number(r.duration_us),
    src: endpointFromRow(r, 'src'), dst: endpointFromRow(r, 'dst'),
    operation: r.operation, target: r.target, query: r.query, host: r.host, status: Number(r.status), statusText: r.status_text,
    outcome: Number(r.outcome) as Outcome,
    requestHeaders: headersFromRow(r.request_header_names, r.request_header_values),
    responseHeaders: headersFromRow(r.response_header_names, r.response_header_values),
    requestBody: bodyFromRow(r, 'request'), responseBody: bodyFromRow(r, 'response'),
    fields: fieldsFromRow(r.fields_text, r.fields_number),
    unanswered: Boolean(r.unanswered), incomplete: Boolean(r.incomplete),
  };
}

function storedIp(ipText: string): string {
  if (ipText === '') return '::';
  return isIP(ipText) === 4 ? `::ffff:${ipText}` : ipText;
}

/** The row `SELECT ${ENTRY_SELECT}` would return for this entry (without `ingested_us`). */
export function entryToRow(e: Entry): EntryRow {
  const ep = (s: 'src' | 'dst', p: Endpoint) => ({
    [`${s}_ip`]: storedIp(p.ip), [`${s}_port`]: p.port, [`${s}_pod`]: p.pod, [`${s}_namespace`]: p.namespace,
    [`${s}_service`]: p.service, [`${s}_workload`]: p.workload, [`${s}_node`]: p.node,
  });
  const body = (s: 'request' | 'response', h: HeaderList, b: Body) => ({
    [`${s}_header_names`]: Array.from(h, (x) => x[0]), [`${s}_header_values`]: Array.from(h, (x) => x[1]),
    [`${s}_body_base64`]: b.bytes.toString('base64'), [`${s}_body_size`]: b.size,
    [`${s}_body_wire_size`]: b.wireSize, [`${s}_body_truncated`]: b.truncated, [`${s}_body_encoding`]: b.encoding,
  });
  const fieldsText: Record<string, string> = {};
  const fieldsNumber: Record<string, number> = {};
  for (const k in e.fields) {
    const v = e.fields[k];
    if (typeof v === 'number') fieldsNumber[k] = v;
    else fieldsText[k] = v;
  }
  return {
    id: e.id, agent: e.agent, protocol: e.protocol, protocol_version: e.protocolVersion, transport: e.transport,
    start_us: e.startUs, end_us: e.endUs, duration_us: e.durationUs,
    ...ep('src', e.src), ...ep('dst', e.dst),
    operation: e.operation, target: e.target, query: e.query, host: e.host, status: e.status, status_text: e.statusText,
    outcome: e.outcome,
    ...body('request', e.requestHeaders, e.requestBody), ...body('response', e.responseHeaders, e.responseBody),
    fields_text: fieldsText, fields_number: fieldsNumber,
    unanswered: e.unanswered, incomplete: e.incomplete,
  } as EntryRow;
}
