/**
 * The protocols Tapline understands, and content detection: every new connection is offered to
 * each dissector until one recognises the first bytes of either direction. A protocol is added by
 * writing protocols/<name>/ and listing its dissector here.
 */
import type { ConnectionInfo, Direction, EndReason, StreamConsumer, StreamConsumerFactory } from '../net/stream.js';
import {
  defaultDissectorLimits,
  Detection,
  newProtocolCounters,
  type Dissector,
  type DissectorContext,
  type DissectorLimits,
  type Exchange,
  type ProtocolCounters,
} from './dissector.js';
import { httpDissector } from './http/dissector.js';

export const builtinDissectors: readonly Dissector[] = [httpDissector];

/** Bytes of a direction kept while detection needs more. */
const PROBE_BYTES = 64;
/** Data chunks offered to detection before a connection is given up as unknown. */
const PROBE_CHUNKS = 32;

export interface DetectionCounters {
  /** Connections no dissector recognised. */
  unknownConnections: number;
}

export type ExchangeHandler = (exchange: Exchange, conn: ConnectionInfo) => void;

export class DissectorRegistry {
  readonly protocolCounters: Record<string, ProtocolCounters> = {};
  readonly detection: DetectionCounters = { unknownConnections: 0 };

  constructor(
    private readonly onExchange: ExchangeHandler,
    readonly limits: DissectorLimits = defaultDissectorLimits,
    readonly dissectors: readonly Dissector[] = builtinDissectors,
  ) {
    for (const d of dissectors) this.protocolCounters[d.protocol] = newProtocolCounters();
  }

  /** The connection table's consumer factory. */
  readonly open: StreamConsumerFactory = (conn) => new Detecting(this, conn);

  /** Hands the connection to a dissector. */
  claim(d: Dissector, conn: ConnectionInfo, clientDir: Direction): StreamConsumer {
    const counters = this.protocolCounters[d.protocol];
    counters.connections++;
    const ctx: DissectorContext = {
      conn,
      limits: this.limits,
      counters,
      emit: (x) => this.onExchange(x, conn),
    };
    return d.open(ctx, clientDir);
  }
}

/** A connection's consumer until a dissector claims it; then it forwards everything. */
class Detecting implements StreamConsumer {
  private inner: StreamConsumer | null = null;
  private unknown = false;
  private readonly probe: [Buffer | null, Buffer | null] = [null, null];
  private readonly probeTs: [number, number] = [0, 0];
  private chunks = 0;

  constructor(
    private readonly registry: DissectorRegistry,
    private readonly conn: ConnectionInfo,
  ) {}

  data(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    if (this.inner) return this.inner.data(dir, buf, start, end, tsUs);
    if (this.unknown) return;
    let b = buf;
    let s = start;
    let e = end;
    const held = this.probe[dir];
    if (held) {
      b = Buffer.concat([held, buf.subarray(start, Math.min(end, start + PROBE_BYTES))]);
      s = 0;
      e = b.length;
    } else this.probeTs[dir] = tsUs;
    let more = false;
    for (const d of this.registry.dissectors) {
      const r = d.detect(b, s, e);
      if (r === Detection.FromClient || r === Detection.FromServer) {
        const clientDir = (r === Detection.FromClient ? dir : 1 - dir) as Direction;
        this.inner = this.registry.claim(d, this.conn, clientDir);
        this.probe[dir] = null;
        if (held) {
          // The held bytes first, with their own capture time, then this chunk whole.
          this.inner.data(dir, held, 0, held.length, this.probeTs[dir]);
        }
        this.inner.data(dir, buf, start, end, tsUs);
        return;
      }
      if (r === Detection.More) more = true;
    }
    if (more && e - s < PROBE_BYTES) {
      this.probe[dir] = Buffer.from(b.subarray(s, e));
      return;
    }
    this.probe[dir] = null;
    // Mid-stream pickups start inside a message: the next chunk may start the next one.
    if (++this.chunks >= PROBE_CHUNKS) this.giveUp();
  }

  gap(dir: Direction, bytes: number, tsUs: number): void {
    if (this.inner) this.inner.gap(dir, bytes, tsUs);
    else this.probe[dir] = null;
  }

  fin(dir: Direction, tsUs: number): void {
    this.inner?.fin(dir, tsUs);
  }

  end(reason: EndReason, tsUs: number): void {
    if (!this.inner && !this.unknown && this.chunks > 0) this.registry.detection.unknownConnections++;
    this.inner?.end(reason, tsUs);
  }

  tick(nowUs: number): void {
    this.inner?.tick(nowUs);
  }

  private giveUp(): void {
    this.unknown = true;
    this.registry.detection.unknownConnections++;
  }
}
