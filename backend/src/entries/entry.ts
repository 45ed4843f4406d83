/**
 * The Entry: one exchange of any protocol (a request and its response, an unanswered request, a
 * one-way message), as every part of Tapline sees it.
 *
 * An envelope every protocol fills (who, when, transport), a summary every view shows for any
 * protocol (operation, target, status, outcome), each side's name/value attributes and payload,
 * and the typed fields the protocol's descriptor declares (protocols/dissector.ts).
 *
 * The agent builds entries (protocols → pairing → k8s enrichment), the store's writer persists them
 * (one column per field, see store/schema), the hub serves them (see docs/api.md). Field names here
 * are the camelCase twins of the `entries` table's snake_case columns.
 */
import type { HeaderList } from './headers.js';

/** Headers are byte ranges of the captured head, read through HeaderList (entries/headers.ts). */
export { HeaderList, REDACTED } from './headers.js';

/** One side of a connection, named as far as Kubernetes metadata allows ('' when unknown). */
export interface Endpoint {
  /** Textual IP address, IPv4 dotted quad or IPv6. */
  ip: string;
  port: number;
  pod: string;
  namespace: string;
  service: string;
  /** The owning Deployment/StatefulSet/DaemonSet/Job (ReplicaSets resolved), or the bare pod. */
  workload: string;
  node: string;
}


/** A message body as captured: decoded (chunked, gzip, deflate) and cut at a configured size. */
export interface Body {
  /** The (possibly truncated) decoded bytes. */
  bytes: Buffer;
  /** Size of the body on the wire, before decoding and truncation (bytes). */
  wireSize: number;
  /** Size after decoding (gzip/deflate/chunked), before truncation (bytes). */
  size: number;
  /** True when `bytes` is shorter than the decoded body (size limit, snap length, or a gap). */
  truncated: boolean;
  /** Content-Encoding that was removed when decoding, '' when none. */
  encoding: string;
}

export type Transport = 'tcp' | 'udp';

/**
 * What became of an exchange, in the same classes for every protocol: each dissector maps its own
 * codes (HTTP 4xx/5xx, DNS NXDOMAIN, Redis -ERR, SQLSTATE…) onto them, and rollups, the service
 * map, the catalog and alerting count failures by them. Stored as UInt8 (the values below).
 */
export const Outcome = {
  /** No response was seen (unanswered). */
  none: 0,
  ok: 1,
  /** The server refused the request as the client's fault (HTTP 4xx, NXDOMAIN, a syntax error…). */
  clientError: 2,
  /** The server failed (HTTP 5xx, SERVFAIL, an internal error…). */
  serverError: 3,
  /** A message that expects no response (Kafka acks=0 produce, a pub/sub push): neither answered nor failed. */
  oneWay: 4,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** Outcome names by value, as the API and the views show them. */
export const OUTCOME_NAMES: readonly string[] = ['no response', 'ok', 'client error', 'server error', 'one-way'];

/**
 * Typed protocol fields by their filter name (`dns.rcode`, `grpc.status`, `kafka.topic`…): text or
 * numbers, as the protocol's descriptor declares them. Stored in two map columns.
 */
export type ProtocolFields = Readonly<Record<string, string | number>>;

/** The fields of an entry whose protocol fills none (shared: nothing writes into it). */
export const NO_FIELDS: ProtocolFields = Object.freeze({});

export interface Entry {
  /** Time-ordered unique id (UUIDv7 text), unique across agents. */
  id: string;
  /** Name of the agent that saw it (node name or hostname). */
  agent: string;
  /** Lowercase protocol keyword, as used in filters: 'http', 'dns', 'redis', … (its descriptor's name). */
  protocol: string;
  /** Protocol version as seen on the wire: '1.0', '1.1'. */
  protocolVersion: string;
  transport: Transport;
  /** Capture time of the first request byte, microseconds since the Unix epoch. */
  startUs: number;
  /** Capture time of the last response byte (or of the last request byte when unanswered). */
  endUs: number;
  /** endUs - startUs for answered requests, 0 for unanswered ones. */
  durationUs: number;
  /** The client side of the connection. */
  src: Endpoint;
  /** The server side of the connection. */
  dst: Endpoint;
  /** What the request does: HTTP method, Redis command, SQL verb, Kafka API, DNS query type, gRPC method. */
  operation: string;
  /** What it acts on: HTTP path (without the query string), key, statement, topic, query name. */
  target: string;
  /** HTTP family (HTTP/1, HTTP/2, gRPC, WebSocket): query string without the '?', '' when none. */
  query: string;
  /** HTTP family: Host header / authority, '' when none. */
  host: string;
  /** Protocol-native status code (HTTP status, DNS RCODE, gRPC status…), 0 when none. */
  status: number;
  /** Protocol-native status text (reason phrase, RCODE name, error message). */
  statusText: string;
  outcome: Outcome;
  /** The request's name/value attributes (HTTP headers, gRPC metadata, Kafka record headers…). */
  requestHeaders: HeaderList;
  /** The response's attributes (HTTP headers, DNS answers…). */
  responseHeaders: HeaderList;
  requestBody: Body;
  responseBody: Body;
  fields: ProtocolFields;
  /** No response was seen before the connection ended or the pairing timeout passed. */
  unanswered: boolean;
  /** Part of the exchange was missing (capture gap, snap length, mid-stream pickup, RST). */
  incomplete: boolean;
  /**
   * Insert position (µs) stamped by an in-process live feed (`tapline up`), stored as
   * `ingested_at`; absent otherwise, and the store stamps the insert time.
   */
  ingestedUs?: number;
}

/** Where finished entries go next: the store's writer, the hub's live feed, or a test collector. */
export interface EntrySink {
  /**
   * Hands one entry over. Returns false when the sink is over its high-water mark: the caller
   * should wait for `drained()` before pushing more (back-pressure, never unbounded growth).
   */
  push(entry: Entry): boolean;
  /** Resolves when the sink can take entries again. */
  drained(): Promise<void>;
}

export function emptyEndpoint(ip = '', port = 0): Endpoint {
  return { ip, port, pod: '', namespace: '', service: '', workload: '', node: '' };
}

export function emptyBody(): Body {
  return { bytes: Buffer.alloc(0), wireSize: 0, size: 0, truncated: false, encoding: '' };
}
