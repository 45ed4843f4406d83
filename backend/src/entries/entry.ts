/**
 * The Entry: one request/response pair (or an unanswered request), as every part of Tapline sees it.
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

export interface Entry {
  /** Time-ordered unique id (UUIDv7 text), unique across agents. */
  id: string;
  /** Name of the agent that saw it (node name or hostname). */
  agent: string;
  /** Lowercase protocol keyword, as used in filters: 'http', later 'redis', 'grpc', … */
  protocol: string;
  /** Protocol version as seen on the wire: '1.0', '1.1'. */
  protocolVersion: string;
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
  method: string;
  /** Path without the query string. */
  path: string;
  /** Query string without the '?', '' when none. */
  query: string;
  host: string;
  /** Response status code, 0 when there is no response. */
  status: number;
  statusText: string;
  requestHeaders: HeaderList;
  responseHeaders: HeaderList;
  requestBody: Body;
  responseBody: Body;
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
