/**
 * The protocols Tapline understands, and content detection. A protocol is added by writing
 * protocols/<name>/ and listing its dissector in `builtinDissectors`: the filter language, the
 * store's typed fields, the hub and the plugin all read the descriptors from `protocols`.
 *
 * Detection: every new TCP connection (UDP flow) is offered to each stream (datagram) dissector,
 * those whose ports match first, until one recognises the first bytes of either direction.
 */
import type { ProtocolFields } from '../entries/entry.js';
import { TaplineError } from '../errors.js';
import type { ConnectionInfo, Direction, EndReason, StreamConsumer, StreamConsumerFactory } from '../net/stream.js';
import {
  defaultDissectorLimits,
  Detection,
  newProtocolCounters,
  type DatagramConsumer,
  type Dissector,
  type DissectorContext,
  type DissectorLimits,
  type Exchange,
  type Handshake,
  type ProtocolCounters,
} from './dissector.js';
import { amqpDissector } from './amqp/dissector.js';
import { dnsDissector } from './dns/dissector.js';
import { graphqlDissector } from './graphql/dissector.js';
import { httpDissector } from './http/dissector.js';
import { grpcDissector } from './grpc/dissector.js';
import { http2Dissector } from './http2/dissector.js';
import { kafkaDissector } from './kafka/dissector.js';
import { mqttDissector } from './mqtt/dissector.js';
import { mysqlDissector } from './mysql/dissector.js';
import { websocketDissector } from './websocket/dissector.js';
import { redisDissector } from './redis/dissector.js';
import { tlsDissector } from './tls/dissector.js';
import { postgresDissector } from './postgres/dissector.js';

/**
 * Detection asks them in this order (after those whose ports match): protocols with a signature
 * no other protocol's first bytes have (HTTP's start lines, HTTP/2's preface and SETTINGS, TLS
 * records) before those told by lengths and plausible headers (Kafka last: any 4-byte length and a
 * known API key look like it).
 */
export const builtinDissectors: readonly Dissector[] = [
  httpDissector,
  http2Dissector,
  tlsDissector,
  dnsDissector,
  websocketDissector,
  graphqlDissector,
  grpcDissector,
  postgresDissector,
  mysqlDissector,
  redisDissector,
  mqttDissector,
  amqpDissector,
  kafkaDissector,
];

/** A protocol name: lowercase letters, digits and '-', starting with a letter (a filter keyword). */
const PROTOCOL_NAME = /^[a-z][a-z0-9-]*$/;

export class ProtocolRegistryError extends TaplineError {
  readonly code = 'PROTOCOL_REGISTRY';
}

/**
 * The set of protocols of this process. `version` changes on each registration, so derived tables
 * (the filter fields) know when to rebuild.
 */
export class ProtocolRegistry {
  private readonly list: Dissector[] = [];
  private readonly byName = new Map<string, Dissector>();
  version = 0;

  constructor(dissectors: readonly Dissector[]) {
    for (const d of dissectors) this.register(d);
  }

  /** Adds a protocol (a test's own, or a plug-in's). Its name and field names must be new. */
  register(d: Dissector): void {
    if (!PROTOCOL_NAME.test(d.protocol)) throw new ProtocolRegistryError(`protocol name ${JSON.stringify(d.protocol)} is not a lowercase keyword`);
    if (this.byName.has(d.protocol)) throw new ProtocolRegistryError(`protocol ${JSON.stringify(d.protocol)} is registered already`);
    if (!d.stream && !d.datagram && !d.carried) {
      throw new ProtocolRegistryError(`protocol ${d.protocol} has neither a stream nor a datagram dissector, nor carriers`);
    }
    const prefixes = [d.protocol, ...(d.fieldFamilies ?? [])].map((p) => `${p}.`);
    for (const f of d.fields) {
      if (!prefixes.some((p) => f.name.startsWith(p))) {
        throw new ProtocolRegistryError(`field ${JSON.stringify(f.name)} of ${d.protocol} must start with ${prefixes.map((p) => `"${p}"`).join(' or ')}`);
      }
      if ((f.sql === undefined) !== (f.get === undefined)) throw new ProtocolRegistryError(`field ${f.name}: give both sql and get, or neither`);
      const other = this.list.find((o) => o.fields.some((g) => g.name === f.name && g !== f));
      if (other) {
        throw new ProtocolRegistryError(`field ${f.name} of ${d.protocol} is defined by ${other.protocol} already: a shared field is one object both list`);
      }
    }
    this.list.push(d);
    this.byName.set(d.protocol, d);
    this.version++;
  }

  /** Removes a protocol registered by `register` (tests clean up after themselves). */
  unregister(name: string): void {
    const d = this.byName.get(name);
    if (!d) return;
    this.byName.delete(name);
    this.list.splice(this.list.indexOf(d), 1);
    this.version++;
  }

  all(): readonly Dissector[] {
    return this.list;
  }

  get(name: string): Dissector | undefined {
    return this.byName.get(name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }
}

/** The protocols of this process: the built-in ones, and whatever `register` adds. */
export const protocols = new ProtocolRegistry(builtinDissectors);

/** Bytes of a direction kept while detection needs more. */
const PROBE_BYTES = 64;
/** Data chunks (datagrams) offered to detection before a connection (flow) is given up as unknown. */
const PROBE_CHUNKS = 32;

export interface DetectionCounters {
  /** Connections no dissector recognised. */
  unknownConnections: number;
  /** UDP flows no dissector recognised. */
  unknownFlows: number;
}

/** Turns an exchange into an entry; returns the entry's id. */
export type ExchangeHandler = (exchange: Exchange, conn: ConnectionInfo, dissector: Dissector) => string;

/** Candidates for a connection: those whose ports match either end first, then the rest, in order. */
function candidates(all: readonly Dissector[], conn: ConnectionInfo): Dissector[] {
  const hinted: Dissector[] = [];
  const rest: Dissector[] = [];
  for (const d of all) (d.ports.includes(conn.port[0]) || d.ports.includes(conn.port[1]) ? hinted : rest).push(d);
  return hinted.length === 0 ? rest : [...hinted, ...rest];
}

/** One pipeline's dissectors at work: detection, counters per protocol, hand-off. */
export class Dissectors {
  readonly protocolCounters: Record<string, ProtocolCounters> = {};
  readonly detection: DetectionCounters = { unknownConnections: 0, unknownFlows: 0 };
  private readonly streamDissectors: readonly Dissector[];
  private readonly datagramDissectors: readonly Dissector[];
  /** Carried protocols by the name of each protocol that carries them. */
  private readonly carriedBy = new Map<string, Dissector[]>();

  constructor(
    private readonly onExchange: ExchangeHandler,
    readonly limits: DissectorLimits = defaultDissectorLimits,
    readonly dissectors: readonly Dissector[] = protocols.all(),
  ) {
    for (const d of dissectors) this.protocolCounters[d.protocol] = newProtocolCounters();
    this.streamDissectors = dissectors.filter((d) => d.stream);
    this.datagramDissectors = dissectors.filter((d) => d.datagram);
    for (const d of dissectors) {
      // Only the protocols that recognise themselves in a carrier's exchanges are offered them.
      if (d.carried?.recognise) for (const carrier of d.carried.carriers) this.carriedBy.set(carrier, [...(this.carriedBy.get(carrier) ?? []), d]);
    }
  }

  /** The connection table's consumer factory. */
  readonly open: StreamConsumerFactory = (conn) => new DetectingStream(this, conn, candidates(this.streamDissectors, conn));

  /** The UDP flow table's consumer factory. */
  readonly openFlow = (flow: ConnectionInfo): DatagramConsumer => new DetectingFlow(this, flow, candidates(this.datagramDissectors, flow));

  /**
   * `marks`: fields every exchange gets besides its own (those of an inner stream, see `inner`);
   * `handshake`: what handed the connection over, when a handshake did (HTTP/1.1 Upgrade).
   */
  private context(d: Dissector, conn: ConnectionInfo, marks: ProtocolFields | null, handshake: Handshake | null = null): DissectorContext {
    const counters = this.protocolCounters[d.protocol];
    counters.connections++;
    const carried = this.carriedBy.get(d.protocol);
    const emit: DissectorContext['emit'] = carried === undefined ? (x) => this.onExchange(x, conn, d) : (x) => this.emitCarrying(x, conn, d, carried);
    return {
      conn,
      limits: this.limits,
      counters,
      handshake,
      emit: marks ? (x) => emit({ ...x, fields: { ...x.fields, ...marks } }) : emit,
      handOff: (name, clientDir, next) => {
        const to = this.dissectors.find((n) => n.protocol === name && n.stream);
        return to ? this.claimStream(to, conn, clientDir, marks, next) : null;
      },
      inner: (innerMarks) => new DetectingStream(this, conn, candidates(this.streamDissectors, conn), { ...marks, ...innerMarks }),
      emitAs: (name, x) => {
        const carried = this.dissectors.find((n) => n.protocol === name && n.carried?.carriers.includes(d.protocol));
        if (!carried) return false;
        const counters = this.protocolCounters[name];
        counters.exchanges++;
        if (x.unanswered) counters.unanswered++;
        this.onExchange(marks ? { ...x, fields: { ...x.fields, ...marks } } : x, conn, carried);
        return true;
      },
    };
  }

  /** An exchange of a carrier: the first carried protocol that recognises it makes it its own. */
  private emitCarrying(x: Exchange, conn: ConnectionInfo, carrier: Dissector, carried: readonly Dissector[]): string {
    for (const d of carried) {
      const counters = this.protocolCounters[d.protocol];
      const own = d.carried!.recognise!(x, this.limits, counters);
      if (own === null) continue;
      counters.exchanges++;
      return this.onExchange(own, conn, d);
    }
    return this.onExchange(x, conn, carrier);
  }

  /** Hands a connection (or a stream inside one, with its `marks`) to a stream dissector; after a handshake, when one is given. */
  claimStream(d: Dissector, conn: ConnectionInfo, clientDir: Direction, marks: ProtocolFields | null = null, handshake?: Handshake): StreamConsumer {
    return d.stream!.open(this.context(d, conn, marks, handshake ?? null), clientDir);
  }

  /** Hands a flow to a datagram dissector. */
  claimFlow(d: Dissector, flow: ConnectionInfo, clientDir: Direction): DatagramConsumer {
    return d.datagram!.open(this.context(d, flow, null), clientDir);
  }
}

/** Runs detection over a direction's first bytes: the dissector that claims them and the client's direction. */
function detect(
  list: readonly Dissector[],
  kind: 'stream' | 'datagram',
  buf: Buffer,
  start: number,
  end: number,
  conn: ConnectionInfo,
  dir: Direction,
): { claim: Dissector; clientDir: Direction } | 'more' | null {
  let more = false;
  for (const d of list) {
    const r = d[kind]!.detect(buf, start, end, conn);
    if (r === Detection.FromClient || r === Detection.FromServer) {
      return { claim: d, clientDir: (r === Detection.FromClient ? dir : 1 - dir) as Direction };
    }
    if (r === Detection.More) more = true;
  }
  return more ? 'more' : null;
}

/** A connection's consumer until a dissector claims it; then it forwards everything. */
class DetectingStream implements StreamConsumer {
  private inner: StreamConsumer | null = null;
  private unknown = false;
  private readonly probe: [Buffer | null, Buffer | null] = [null, null];
  private readonly probeTs: [number, number] = [0, 0];
  private chunks = 0;

  constructor(
    private readonly dissectors: Dissectors,
    private readonly conn: ConnectionInfo,
    private readonly list: readonly Dissector[],
    private readonly marks: ProtocolFields | null = null,
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
    const found = detect(this.list, 'stream', b, s, e, this.conn, dir);
    if (found !== null && found !== 'more') {
      this.inner = this.dissectors.claimStream(found.claim, this.conn, found.clientDir, this.marks);
      this.probe[dir] = null;
      // What the other direction sent while detection waited (a server that speaks first: HTTP/2's
      // SETTINGS) came before this chunk: it goes first, with its own capture time.
      const other = (1 - dir) as Direction;
      const otherHeld = this.probe[other];
      this.probe[other] = null;
      if (otherHeld) this.inner.data(other, otherHeld, 0, otherHeld.length, this.probeTs[other]);
      if (held) {
        // The held bytes first, with their own capture time, then this chunk whole.
        this.inner.data(dir, held, 0, held.length, this.probeTs[dir]);
      }
      this.inner.data(dir, buf, start, end, tsUs);
      return;
    }
    if (found === 'more' && e - s < PROBE_BYTES) {
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
    if (!this.inner && !this.unknown && this.chunks > 0) this.dissectors.detection.unknownConnections++;
    this.inner?.end(reason, tsUs);
  }

  tick(nowUs: number): void {
    this.inner?.tick(nowUs);
  }

  private giveUp(): void {
    this.unknown = true;
    this.dissectors.detection.unknownConnections++;
  }
}

/** A UDP flow's consumer until a dissector claims one of its datagrams (each datagram is whole). */
class DetectingFlow implements DatagramConsumer {
  private inner: DatagramConsumer | null = null;
  private unknown = false;
  private datagrams = 0;

  constructor(
    private readonly dissectors: Dissectors,
    private readonly flow: ConnectionInfo,
    private readonly list: readonly Dissector[],
  ) {}

  datagram(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    if (this.inner) return this.inner.datagram(dir, buf, start, end, tsUs);
    if (this.unknown) return;
    const found = detect(this.list, 'datagram', buf, start, end, this.flow, dir);
    if (found !== null && found !== 'more') {
      this.inner = this.dissectors.claimFlow(found.claim, this.flow, found.clientDir);
      this.inner.datagram(dir, buf, start, end, tsUs);
      return;
    }
    if (++this.datagrams >= PROBE_CHUNKS) {
      this.unknown = true;
      this.dissectors.detection.unknownFlows++;
    }
  }

  end(reason: EndReason, tsUs: number): void {
    if (!this.inner && !this.unknown && this.datagrams > 0) this.dissectors.detection.unknownFlows++;
    this.inner?.end(reason, tsUs);
  }

  tick(nowUs: number): void {
    this.inner?.tick(nowUs);
  }
}
