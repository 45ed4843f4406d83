/**
 * The field table: every name a filter may use, defined once — its type, the SQL over the
 * `entries` table it reads, its in-memory getter for the live stream (match.ts), its SQL over the
 * rollups when they keep it exactly (hub/aggregate.ts), and whether completions and label values
 * offer its values (hub/labels.ts). The envelope's fields are below; each protocol's come from its
 * descriptor (protocols/registry.ts), so a new protocol adds fields without touching this file.
 * Aliases are the names Kubeshark users type (`method` for `request.method`).
 */
import { OUTCOME_NAMES, type Entry } from '../entries/entry.js';
import type { ProtocolField } from '../protocols/dissector.js';
import { protocols } from '../protocols/registry.js';
import { ENDPOINT_KIND, ROLLUP_STATUS_SQL } from '../store/rollup-sql.js';
import type { FieldType } from './field-type.js';

export type { FieldType } from './field-type.js';

/**
 * What an in-memory getter reads: an entry's summary (hub/summary.ts's EntrySummary), with IPs as
 * the store gives them back (store/rows.ts `ipFromStore`: IPv4 dotted, IPv6 RFC 5952, '' for `::`).
 */
export type MatchSubject = Pick<
  Entry,
  | 'id' | 'agent' | 'protocol' | 'protocolVersion' | 'transport' | 'startUs' | 'durationUs' | 'operation' | 'target' | 'query'
  | 'host' | 'status' | 'statusText' | 'unanswered' | 'incomplete' | 'src' | 'dst' | 'fields'
> & { outcome: number; requestSize: number; responseSize: number };

export type FieldGetter = (e: MatchSubject) => string | number | boolean;

export interface FieldDef {
  name: string;
  aliases: readonly string[];
  type: FieldType;
  /** SQL over `entries`; for keyed fields, a function of the parameter that holds the key. */
  sql: string | ((keyParam: string) => string);
  doc: string;
  /** Reads the field from a summary; absent when a summary does not hold it (headers, bodies…): ask the store. */
  get?: FieldGetter;
  /** SQL over the rollups (`entries_1m`, `entries_1h`) when they keep the field exactly. */
  rollup?: string;
  /** SQL whose distinct values completions and label values offer (low-cardinality fields). */
  values?: string;
  /** The protocols that declare the field (several for a family's, as `sql.*`); none for the envelope's. */
  protocols: readonly string[];
}

type CoreField = Omit<FieldDef, 'aliases' | 'protocols'> & { aliases?: readonly string[] };

/** Header values by name, case-insensitively; repeats joined with ', ' as HTTP allows. */
const header = (side: 'request' | 'response') => (keyParam: string) =>
  `arrayStringConcat(arrayFilter((v, n) -> lower(n) = ${keyParam}, ${side}_header_values, ${side}_header_names), ', ')`;


function endpointFields(side: 'src' | 'dst', who: string): CoreField[] {
  const names: Array<[keyof Entry['src'] & string, string]> = [
    ['pod', 'pod name'],
    ['namespace', 'namespace'],
    ['service', 'Kubernetes Service name'],
    ['workload', 'owning Deployment/StatefulSet/DaemonSet/Job, or the bare pod'],
    ['node', 'node name'],
  ];
  return [
    { name: `${side}.ip`, type: 'ip', sql: `${side}_ip`, get: (e) => e[side].ip, doc: `IP address of the ${who}` },
    { name: `${side}.port`, type: 'int', sql: `${side}_port`, get: (e) => e[side].port, doc: `port of the ${who}` },
    ...names.map(([n, doc]): CoreField => ({
      name: `${side}.${n}`,
      type: 'string',
      sql: `${side}_${n}`,
      get: (e) => e[side][n],
      doc: `${who}: ${doc}`,
      values: `${side}_${n}`,
      // A rollup name is the service when there is one (else workload, pod, IP): only namespaces
      // and services survive it exactly.
      ...(n === 'namespace' ? { rollup: `${side}_namespace` } : {}),
      ...(n === 'service' ? { rollup: `if(${side}_kind = ${ENDPOINT_KIND.service}, ${side}_name, '')` } : {}),
    })),
  ];
}

/** The outcome class as its name (`outcome == "server error"`), from the UInt8 column `col`. */
const outcomeNameSql = (col: string) => `arrayElement([${OUTCOME_NAMES.map((n) => `'${n}'`).join(', ')}], ${col} + 1)`;


/** The envelope's and the summary's fields, for every protocol. */
const CORE: readonly CoreField[] = [
  { name: 'protocol', type: 'string', sql: 'protocol', get: (e) => e.protocol, rollup: 'protocol', values: 'protocol', doc: "protocol keyword: 'http', 'dns', …" },
  { name: 'tunnel', type: 'string', sql: "fields_text['tunnel']", get: (e) => String(e.fields['tunnel'] ?? ''), doc: 'the tunnel the connection came through, outer endpoints and id: "vxlan 10.0.0.1 > 10.0.0.2 id 42" ("" when none)' },
  { name: 'protocol.version', type: 'string', sql: 'protocol_version', get: (e) => e.protocolVersion, doc: "protocol version as seen: '1.1'" },
  { name: 'transport', type: 'string', sql: 'transport', get: (e) => e.transport, values: 'transport', doc: "'tcp' or 'udp'" },
  { name: 'agent', type: 'string', sql: 'agent', get: (e) => e.agent, values: 'agent', doc: 'the agent (node) that captured it' },
  { name: 'id', type: 'string', sql: 'id', get: (e) => e.id, doc: 'entry id (UUIDv7)' },
  { name: 'timestamp', aliases: ['start'], type: 'time', sql: 'start_time', get: (e) => e.startUs, doc: 'time of the first request byte; compare with now() - 5m or "2026-01-31T12:00:00Z"' },
  { name: 'end', type: 'time', sql: 'end_time', doc: 'time of the last response byte' },
  { name: 'latency', aliases: ['duration', 'elapsedTime'], type: 'duration', sql: 'duration_us', get: (e) => e.durationUs, doc: 'response time; compare with 250ms, 2s' },
  ...endpointFields('src', 'client'),
  ...endpointFields('dst', 'server'),
  { name: 'operation', aliases: ['request.method', 'method'], type: 'string', sql: 'operation', get: (e) => e.operation, values: 'operation', doc: 'what the request does: HTTP method, DNS query type, Redis command, SQL verb…' },
  { name: 'target', aliases: ['request.path', 'path'], type: 'string', sql: 'target', get: (e) => e.target, doc: 'what it acts on: HTTP path without the query string, DNS name, key, statement, topic…' },
  { name: 'request.query', aliases: ['query'], type: 'string', sql: 'query', get: (e) => e.query, doc: "HTTP: query string without the '?'" },
  { name: 'request.host', aliases: ['host'], type: 'string', sql: 'host', get: (e) => e.host, values: 'host', doc: 'HTTP: Host header / authority' },
  { name: 'request.headers[]', type: 'string', sql: header('request'), doc: 'request attribute (HTTP header, metadata…) by name, case-insensitive: request.headers["user-agent"]' },
  { name: 'request.body', type: 'string', sql: 'request_body', doc: 'request payload as captured (decoded, maybe truncated)' },
  { name: 'request.size', aliases: ['request.body.size'], type: 'size', sql: 'request_body_size', get: (e) => e.requestSize, doc: 'decoded request payload size; compare with 1KB' },
  { name: 'request.wireSize', aliases: ['request.body.wireSize'], type: 'size', sql: 'request_body_wire_size', doc: 'request payload size on the wire' },
  { name: 'request.truncated', aliases: ['request.body.truncated'], type: 'bool', sql: 'request_body_truncated', doc: 'request payload was cut' },
  { name: 'response.status', aliases: ['status'], type: 'status', sql: 'status', get: (e) => e.status, rollup: ROLLUP_STATUS_SQL, values: 'toString(status)', doc: 'protocol-native status code (HTTP status, DNS RCODE…; 0 = none); compare with 404 or 5xx' },
  { name: 'response.statusText', aliases: ['statusText'], type: 'string', sql: 'status_text', get: (e) => e.statusText, doc: 'status text: reason phrase, RCODE name, error message' },
  { name: 'outcome', type: 'string', sql: outcomeNameSql('outcome'), get: (e) => OUTCOME_NAMES[e.outcome], rollup: outcomeNameSql('outcome'), values: outcomeNameSql('outcome'), doc: `outcome class, the same for every protocol: ${OUTCOME_NAMES.map((n) => `"${n}"`).join(', ')}` },
  { name: 'response.headers[]', type: 'string', sql: header('response'), doc: 'response attribute (HTTP header, DNS answer…) by name, case-insensitive' },
  { name: 'response.body', type: 'string', sql: 'response_body', doc: 'response payload as captured (decoded, maybe truncated)' },
  { name: 'response.size', aliases: ['response.body.size'], type: 'size', sql: 'response_body_size', get: (e) => e.responseSize, doc: 'decoded response payload size' },
  { name: 'response.wireSize', aliases: ['response.body.wireSize'], type: 'size', sql: 'response_body_wire_size', doc: 'response payload size on the wire' },
  { name: 'response.truncated', aliases: ['response.body.truncated'], type: 'bool', sql: 'response_body_truncated', doc: 'response payload was cut' },
  { name: 'unanswered', type: 'bool', sql: 'unanswered', get: (e) => e.unanswered, doc: 'no response was seen' },
  { name: 'incomplete', type: 'bool', sql: 'incomplete', get: (e) => e.incomplete, doc: 'part of the exchange was missing' },
];

/** Field types kept in the `fields_text` map; the rest are numbers in `fields_number`. */
export function isTextField(type: FieldType): boolean {
  return type === 'string' || type === 'ip';
}

/** SQL literal of a field name (names are checked by the registry: protocol-prefixed, no quotes). */
function nameLiteral(name: string): string {
  return `'${name.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** A protocol's field as the table defines it: by default read from the entry's typed fields. */
function protocolFieldDef(declaredBy: readonly string[], f: ProtocolField): FieldDef {
  const base = { name: f.name, aliases: f.aliases ?? [], type: f.type, doc: f.doc, protocols: declaredBy };
  if (f.sql !== undefined && f.get !== undefined) {
    return { ...base, sql: f.sql, get: f.get, ...(f.labels ? { values: f.sql } : {}) };
  }
  const key = f.name;
  const text = isTextField(f.type);
  const sql =
    f.type === 'bool' ? `fields_number[${nameLiteral(key)}] != 0` : `fields_${text ? 'text' : 'number'}[${nameLiteral(key)}]`;
  const get: FieldGetter =
    f.type === 'bool'
      ? (e) => Number(e.fields[key] ?? 0) !== 0
      : text
        ? (e) => String(e.fields[key] ?? '')
        : (e) => Number(e.fields[key] ?? 0);
  return { ...base, sql, get, ...(f.labels ? { values: sql } : {}) };
}

interface Table {
  version: number;
  fields: FieldDef[];
  byName: Map<string, FieldDef>;
  keywords: string[];
}

let table: Table | null = null;

/** The table for the protocols registered now (rebuilt when a protocol is registered). */
function current(): Table {
  if (table && table.version === protocols.version) return table;
  const fields: FieldDef[] = CORE.map((f) => ({ aliases: [], ...f, protocols: [] }));
  // A family's field is one object listed by several protocols: one definition, its declarers named.
  const declarers = new Map<ProtocolField, string[]>();
  for (const d of protocols.all()) {
    for (const f of d.fields) {
      const names = declarers.get(f);
      if (names) names.push(d.protocol);
      else declarers.set(f, [d.protocol]);
    }
  }
  for (const [f, names] of declarers) fields.push(protocolFieldDef(names, f));
  const byName = new Map<string, FieldDef>();
  for (const f of fields) for (const n of [f.name, ...f.aliases]) byName.set(n, f);
  table = { version: protocols.version, fields, byName, keywords: protocols.all().map((d) => d.protocol) };
  return table;
}

/** Every field: the envelope's, then each protocol's. */
export function allFields(): readonly FieldDef[] {
  return current().fields;
}

export function lookupField(path: string): FieldDef | undefined {
  return current().byName.get(path);
}

/** Protocol keywords usable on their own (`http and status == 404`): the registered protocols. */
export function protocolKeywords(): readonly string[] {
  return current().keywords;
}

export function isProtocolKeyword(path: string): boolean {
  return protocols.has(path);
}

/** Operators each type accepts (methods included), for errors and completions. */
export const OPERATORS_BY_TYPE: Readonly<Record<FieldType, readonly string[]>> = {
  string: ['==', '!=', '=~', '!~', 'in', 'not in', '.contains()', '.startsWith()', '.endsWith()', '.matches()'],
  ip: ['==', '!=', 'in', 'not in', '.contains()', '.startsWith()', '.endsWith()', '.matches()'],
  int: ['==', '!=', '<', '<=', '>', '>=', 'in', 'not in'],
  status: ['==', '!=', '<', '<=', '>', '>=', 'in', 'not in'],
  duration: ['==', '!=', '<', '<=', '>', '>='],
  size: ['==', '!=', '<', '<=', '>', '>='],
  time: ['==', '!=', '<', '<=', '>', '>='],
  bool: ['==', '!='],
};
