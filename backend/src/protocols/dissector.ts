/**
 * The Dissector interface: one module per protocol (protocols/<name>/), found by content, not by
 * port. A dissector looks at the first bytes of a connection's directions (`detect`); once it
 * claims the connection it gets both reassembled byte streams (`open`) and emits paired exchanges.
 * Adding a protocol means adding a folder and one line in registry.ts: nothing else changes.
 */
import type { Entry } from '../entries/entry.js';
import type { ConnectionInfo, Direction, StreamConsumer } from '../net/stream.js';

/** One request/response pair as a dissector sees it; the agent adds id, agent and endpoints. */
export type Exchange = Omit<Entry, 'id' | 'agent' | 'src' | 'dst'> & {
  /** The direction of the connection that is the client (becomes the entry's `src`). */
  clientDir: Direction;
};

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

export interface DissectorContext {
  readonly conn: ConnectionInfo;
  readonly limits: DissectorLimits;
  readonly counters: ProtocolCounters;
  emit(exchange: Exchange): void;
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

export interface Dissector {
  /** Lowercase protocol keyword, the Entry's `protocol`. */
  readonly protocol: string;
  detect(buf: Buffer, start: number, end: number): Detection;
  /** Takes over a connection; `clientDir` is where the client is, as detection (or the handshake) found. */
  open(ctx: DissectorContext, clientDir: Direction): StreamConsumer;
}
