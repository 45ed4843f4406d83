/**
 * The typed field table: every name a filter may use, its type, and the SQL over the `entries`
 * table it reads. Aliases are the names Kubeshark users type (`method` for `request.method`).
 */

export type FieldType = 'string' | 'int' | 'status' | 'ip' | 'duration' | 'size' | 'time' | 'bool';

export interface FieldDef {
  name: string;
  aliases: readonly string[];
  type: FieldType;
  /** SQL over `entries`; for keyed fields, a function of the parameter that holds the key. */
  sql: string | ((keyParam: string) => string);
  doc: string;
}

/** Header values by name, case-insensitively; repeats joined with ', ' as HTTP allows. */
const header = (side: 'request' | 'response') => (keyParam: string) =>
  `arrayStringConcat(arrayFilter((v, n) -> lower(n) = ${keyParam}, ${side}_header_values, ${side}_header_names), ', ')`;

function endpointFields(side: 'src' | 'dst', who: string): FieldDef[] {
  const names: Array<[string, string]> = [
    ['pod', 'pod name'],
    ['namespace', 'namespace'],
    ['service', 'Kubernetes Service name'],
    ['workload', 'owning Deployment/StatefulSet/DaemonSet/Job, or the bare pod'],
    ['node', 'node name'],
  ];
  return [
    { name: `${side}.ip`, aliases: [], type: 'ip', sql: `${side}_ip`, doc: `IP address of the ${who}` },
    { name: `${side}.port`, aliases: [], type: 'int', sql: `${side}_port`, doc: `TCP port of the ${who}` },
    ...names.map(([n, doc]): FieldDef => ({ name: `${side}.${n}`, aliases: [], type: 'string', sql: `${side}_${n}`, doc: `${who}: ${doc}` })),
  ];
}

export const FIELDS: readonly FieldDef[] = [
  { name: 'protocol', aliases: [], type: 'string', sql: 'protocol', doc: "protocol keyword: 'http', …" },
  { name: 'protocol.version', aliases: [], type: 'string', sql: 'protocol_version', doc: "protocol version as seen: '1.1'" },
  { name: 'agent', aliases: [], type: 'string', sql: 'agent', doc: 'the agent (node) that captured it' },
  { name: 'id', aliases: [], type: 'string', sql: 'id', doc: 'entry id (UUIDv7)' },
  { name: 'timestamp', aliases: ['start'], type: 'time', sql: 'start_time', doc: 'time of the first request byte; compare with now() - 5m or "2026-01-31T12:00:00Z"' },
  { name: 'end', aliases: [], type: 'time', sql: 'end_time', doc: 'time of the last response byte' },
  { name: 'latency', aliases: ['duration', 'elapsedTime'], type: 'duration', sql: 'duration_us', doc: 'response time; compare with 250ms, 2s' },
  ...endpointFields('src', 'client'),
  ...endpointFields('dst', 'server'),
  { name: 'request.method', aliases: ['method'], type: 'string', sql: 'method', doc: 'HTTP method' },
  { name: 'request.path', aliases: ['path'], type: 'string', sql: 'path', doc: 'path without the query string' },
  { name: 'request.query', aliases: ['query'], type: 'string', sql: 'query', doc: "query string without the '?'" },
  { name: 'request.host', aliases: ['host'], type: 'string', sql: 'host', doc: 'Host header / authority' },
  { name: 'request.headers[]', aliases: [], type: 'string', sql: header('request'), doc: 'request header by name (case-insensitive): request.headers["user-agent"]' },
  { name: 'request.body', aliases: [], type: 'string', sql: 'request_body', doc: 'request body as captured (decoded, maybe truncated)' },
  { name: 'request.size', aliases: ['request.body.size'], type: 'size', sql: 'request_body_size', doc: 'decoded request body size; compare with 1KB' },
  { name: 'request.wireSize', aliases: ['request.body.wireSize'], type: 'size', sql: 'request_body_wire_size', doc: 'request body size on the wire' },
  { name: 'request.truncated', aliases: ['request.body.truncated'], type: 'bool', sql: 'request_body_truncated', doc: 'request body was cut' },
  { name: 'response.status', aliases: ['status'], type: 'status', sql: 'status', doc: 'response status code (0 = none); compare with 404 or 5xx' },
  { name: 'response.statusText', aliases: ['statusText'], type: 'string', sql: 'status_text', doc: 'response reason phrase' },
  { name: 'response.headers[]', aliases: [], type: 'string', sql: header('response'), doc: 'response header by name (case-insensitive)' },
  { name: 'response.body', aliases: [], type: 'string', sql: 'response_body', doc: 'response body as captured (decoded, maybe truncated)' },
  { name: 'response.size', aliases: ['response.body.size'], type: 'size', sql: 'response_body_size', doc: 'decoded response body size' },
  { name: 'response.wireSize', aliases: ['response.body.wireSize'], type: 'size', sql: 'response_body_wire_size', doc: 'response body size on the wire' },
  { name: 'response.truncated', aliases: ['response.body.truncated'], type: 'bool', sql: 'response_body_truncated', doc: 'response body was cut' },
  { name: 'unanswered', aliases: [], type: 'bool', sql: 'unanswered', doc: 'no response was seen' },
  { name: 'incomplete', aliases: [], type: 'bool', sql: 'incomplete', doc: 'part of the exchange was missing' },
];

/** Protocol keywords usable on their own: `http and status == 404`. */
export const PROTOCOL_KEYWORDS: readonly string[] = ['http', 'http2', 'grpc', 'redis', 'kafka', 'amqp', 'dns', 'mysql', 'postgres', 'mongodb'];

const byName = new Map<string, FieldDef>();
for (const f of FIELDS) for (const n of [f.name, ...f.aliases]) byName.set(n, f);

export function lookupField(path: string): FieldDef | undefined {
  return byName.get(path);
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
