/**
 * The Dissector: one protocol, described and parsed. A protocol is a folder (protocols/<name>/)
 * exporting one `Dissector` and one line in registry.ts; everything else (the filter language and
 * its completions, label values, the store's typed fields, the hub's /api/v1/protocols, the
 * plugin's colours and drawer, `tapline query`) reads the descriptor, never the protocol's code.
 *
 * A dissector is found by content, not by port: ports are hints that order the candidates. A
 * stream dissector looks at the first bytes of a TCP connection's directions (`detect`); once it
 * claims the connection it gets both reassembled byte streams (`open`). A datagram dissector does
 * the same with the datagrams of a UDP flow. Either emits exchanges, which the agent turns into
 * entries (ids, endpoints, outcome, redaction, names).
 */
import type { Body, Entry, HeaderList, Outcome, ProtocolFields, Transport } from '../entries/entry.js';
import type { ConnectionInfo, DatagramConsumer, Direction, StreamConsumer } from '../net/stream.js';

export type { DatagramConsumer } from '../net/stream.js';
import type { FieldType } from '../query/field-type.js';

/**
 * One exchange as a dissector sees it; the agent adds id, agent, endpoints, the protocol (the
 * dissector's name), the transport and the outcome.
 */
export type Exchange = Omit<Entry, 'id' | 'agent' | 'protocol' | 'src' | 'dst' | 'transport' | 'outcome'> & {
  /** The direction of the connection that is the client (becomes the entry's `src`). */
  clientDir: Direction;
};

/** What the agent adds to an exchange to make it an entry (ids, endpoints, the protocol's name and outcome). */
export type EntryAdditions = Pick<Entry, 'id' | 'agent' | 'protocol' | 'transport' | 'src' | 'dst' | 'outcome' | 'fields'>;

/** An exchange as an entry: the dissector's fields, then what the agent adds (one place for both the pipeline and synthetic entries). */
export function entryOf(x: Exchange, add: EntryAdditions): Entry {
  return {
    id: add.id,
    agent: add.agent,
    protocol: add.protocol,
    protocolVersion: x.protocolVersion,
    transport: add.transport,
    startUs: x.startUs,
    endUs: x.endUs,
    durationUs: x.durationUs,
    src: add.src,
    dst: add.dst,
    operation: x.operation,
    target: x.target,
    query: x.query,
    host: x.host,
    status: x.status,
    statusText: x.statusText,
    outcome: add.outcome,
    requestHeaders: x.requestHeaders,
    responseHeaders: x.responseHeaders,
    requestBody: x.requestBody,
    responseBody: x.responseBody,
    fields: add.fields,
    unanswered: x.unanswered,
    incomplete: x.incomplete,
  };
}

export interface DissectorLimits {
  /** Request/response heads longer than this are cut (the rest of the head is skipped). */
  maxHeaderBytes: number;
  /** Decoded bodies are kept up to this many bytes; sizes are still counted beyond it. */
  maxBodyBytes: number;
  /** A request still unanswered after this long (capture time) is emitted as unanswered. */
  unansweredTimeoutUs: number;
  /** Requests waiting for responses on one connection (pipelining); beyond, the oldest is emitted unanswered. */
  maxPendingRequests: number;
}

export const defaultDissectorLimits: DissectorLimits = {
  maxHeaderBytes: 64 * 1024,
  maxBodyBytes: 64 * 1024,
  unansweredTimeoutUs: 60e6,
  maxPendingRequests: 128,
};

/** Protocol-level counters, kept per protocol by the registry. */
export interface ProtocolCounters {
  /** Connections (TCP) or flows (UDP) claimed. */
  connections: number;
  exchanges: number;
  /** Bytes or messages that could not be parsed (then skipped until the protocol resynchronises). */
  parseErrors: number;
  /** Responses with no request to pair with (capture started between them, or a request was lost). */
  orphanResponses: number;
  unanswered: number;
}

export function newProtocolCounters(): ProtocolCounters {
  return { connections: 0, exchanges: 0, parseErrors: 0, orphanResponses: 0, unanswered: 0 };
}

/** What the handshake that switched a connection to another protocol (HTTP/1.1 Upgrade) tells it. */
export interface Handshake {
  /** The handshake's entry: the new protocol's entries point to it. */
  entryId: string;
  /** The handshake request's path and host (what the new protocol's entries act on). */
  target: string;
  host: string;
  requestHeaders: HeaderList;
  responseHeaders: HeaderList;
}

export interface DissectorContext {
  readonly conn: ConnectionInfo;
  readonly limits: DissectorLimits;
  readonly counters: ProtocolCounters;
  /** Set when the connection came by `handOff` after a handshake. */
  readonly handshake: Handshake | null;
  /** Emits an exchange; returns the id its entry gets (so later entries can refer to it). */
  emit(exchange: Exchange): string;
  /**
   * Hands the rest of the connection to another protocol's stream dissector (HTTP/1.1 Upgrade →
   * h2c or WebSocket, CONNECT → whatever the tunnel carries): the caller forwards every later byte
   * to the consumer returned. Null when no registered protocol has that name.
   */
  handOff(protocol: string, clientDir: Direction, handshake?: Handshake): StreamConsumer | null;
  /**
   * A consumer for a byte stream carried inside this connection (TLS plaintext, a tunnel):
   * detection runs over it as over a new connection of the same endpoints, and every exchange
   * found in it carries `marks` besides its own fields (`tls.decrypted`).
   */
  inner(marks: ProtocolFields): StreamConsumer;
  /**
   * Emits an exchange as an entry of a protocol this one carries (gRPC calls inside HTTP/2): that
   * protocol's outcome, redaction and views apply, and its counters count it (exchanges,
   * unanswered). False (nothing emitted) when no registered protocol of that name lists this one
   * among its `carried.carriers`.
   */
  emitAs(protocol: string, exchange: Exchange): boolean;
}

/** What `detect` concluded about the bytes one direction sent first. */
export const enum Detection {
  No,
  /** Too few bytes to say: ask again with more. */
  More,
  /** These bytes come from the client (e.g. a request line). */
  FromClient,
  /** These bytes come from the server (e.g. a status line). */
  FromServer,
}

export interface StreamDissector {
  /** `buf[start, end)`: the first bytes a direction of `conn` sent (more on a `More`). */
  detect(buf: Buffer, start: number, end: number, conn: ConnectionInfo): Detection;
  /** Takes over a connection; `clientDir` is where the client is, as detection (or the handshake) found. */
  open(ctx: DissectorContext, clientDir: Direction): StreamConsumer;
}

export interface DatagramDissector {
  /** `buf[start, end)`: a datagram of `flow` (the first of its direction, or a later one on `No`). */
  detect(buf: Buffer, start: number, end: number, flow: ConnectionInfo): Detection;
  open(ctx: DissectorContext, clientDir: Direction): DatagramConsumer;
}

/**
 * A filter field the protocol declares: one definition for the filter language (type, SQL),
 * the live stream's in-memory matcher (`get`), completions and label values. By default a field
 * lives in the entry's typed fields (`Entry.fields[name]`), stored in the `fields_text` or
 * `fields_number` map by its type; a field over other columns gives `sql` and `get`.
 */
export interface ProtocolField {
  /** Dotted and prefixed by the protocol (`dns.rcode`) or by one of its `fieldFamilies` (`sql.statement`). */
  name: string;
  type: FieldType;
  doc: string;
  aliases?: readonly string[];
  /** SQL over `entries`; only with `get`. */
  sql?: string;
  get?: (e: Pick<Entry, 'fields' | 'operation' | 'target' | 'status' | 'statusText' | 'query' | 'host'>) => string | number | boolean;
  /** Offer the field's values as completions and label values (low-cardinality text). */
  labels?: boolean;
}

/** How an entry is shown to a person: sections of name/value tables and bodies. */
export type Section =
  | { kind: 'table'; title: string; rows: Array<[name: string, value: string]> }
  | { kind: 'body'; title: string; body: Body; contentType: string };

/** What one outcome class means for this protocol, in its own terms (for docs and the legend). */
export type OutcomeDoc = Partial<Record<keyof typeof import('../entries/entry.js').Outcome, string>>;

/**
 * A protocol found only inside other protocols' traffic, with no detection of its own. Either the
 * registry offers every exchange a carrier emits to `recognise` (GraphQL in HTTP and HTTP/2
 * requests: known from a completed exchange), or the carrier's dissector emits this protocol's
 * exchanges itself (`DissectorContext.emitAs`: HTTP/2 knows a gRPC stream while it reads it).
 */
export interface CarriedDissector {
  /** The protocols whose exchanges may carry this one: 'http', 'http2'. */
  readonly carriers: readonly string[];
  /** The transports it comes over (its carriers'), for /api/v1/protocols. */
  readonly transports: readonly Transport[];
  /** The exchange as this protocol's (a new object), or null when it is not. */
  recognise?(x: Exchange, limits: DissectorLimits, counters: ProtocolCounters): Exchange | null;
}

export interface Dissector {
  /** Lowercase protocol keyword, the Entry's `protocol` and a filter keyword (`dns and …`). */
  readonly protocol: string;
  /** Long name: 'Hypertext Transfer Protocol'. */
  readonly longName: string;
  /** Short label for badges: 'HTTP'. */
  readonly abbr: string;
  /** Badge and series colour (CSS hex). */
  readonly color: string;
  /** Well-known server ports: tried first by detection, never required. */
  readonly ports: readonly number[];
  readonly fields: readonly ProtocolField[];
  /**
   * Field prefixes shared with the other protocols of a family (`sql` for PostgreSQL and MySQL), so
   * one filter (`sql.error != ""`) reads them all. A shared field is one `ProtocolField` object that
   * each dissector of the family lists (protocols/sql/fields.ts), never a second definition.
   */
  readonly fieldFamilies?: readonly string[];
  /** What each outcome class means here (for /api/v1/protocols and the docs). */
  readonly outcomes: OutcomeDoc;
  /** What this protocol keeps secret by default (redacted at capture), in words, for the docs. */
  readonly secrets: readonly string[];
  readonly stream?: StreamDissector;
  readonly datagram?: DatagramDissector;
  readonly carried?: CarriedDissector;
  /** The outcome class of an exchange from the protocol's own codes. */
  outcome(x: Exchange): Outcome;
  /**
   * Protocol-specific redaction, in place, after the shared one (attribute values whose name is a
   * credential header). Runs only when redaction is on; `extraNames` are the user's additions.
   */
  redact?(entry: Entry, extraNames: ReadonlySet<string>): void;
  /** Sections for a person, from a stored entry (summary fields, attributes, payloads). */
  represent(entry: Entry): Section[];
}

/** The transports a dissector handles. */
export function transportsOf(d: Dissector): Transport[] {
  if (d.carried) return [...d.carried.transports];
  const t: Transport[] = [];
  if (d.stream) t.push('tcp');
  if (d.datagram) t.push('udp');
  return t;
}
