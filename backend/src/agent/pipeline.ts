/**
 * The agent's pipeline: frames → link decode → IP/TCP/UDP decode → connection table (TCP
 * reassembly) or flow table (UDP datagrams) → dissectors (pairing) → Entry → redaction → optional
 * enrichment → EntrySink.
 *
 * Back-pressure: when the sink says it is full, entries wait in a bounded queue; file sources
 * wait on `pause()` between chunks, live sources cannot wait, so past the queue's bound entries
 * are dropped and counted.
 */
import { decodeLink, isSupportedLinkType, LINKTYPE_ETHERNET, type L3Position } from '../capture/link.js';
import type { RawPacket } from '../capture/packet.js';
import { emptyEndpoint, type Entry, type EntrySink } from '../entries/entry.js';
import { ConnectionTable, defaultConnectionLimits, type ConnectionLimits } from '../net/connections.js';
import { newNetCounters, type NetCounters } from '../net/counters.js';
import { defaultFlowLimits, FlowTable, type FlowLimits } from '../net/flows.js';
import { decodeIp, IpResult, newSegment } from '../net/ip.js';
import { ipTunnel, MAX_TUNNEL_DEPTH, newInner, newTunnelOuter, noteOuter, udpTunnel } from '../net/tunnel.js';
import type { ConnectionInfo, EndReason } from '../net/stream.js';
import { defaultDissectorLimits, entryOf, type Dissector, type DissectorLimits, type Exchange } from '../protocols/dissector.js';
import { Dissectors, protocols } from '../protocols/registry.js';
import { uuidv7 } from './ids.js';
import { defaultRedaction, Redactor, type RedactionOptions } from './redact.js';

export interface PipelineOptions {
  /** Written into every entry's `agent` (node name or hostname). */
  agentName: string;
  connections: ConnectionLimits;
  /** UDP flows. */
  flows: FlowLimits;
  dissectors: DissectorLimits;
  redaction: RedactionOptions;
  /** Names endpoints (Kubernetes) in place, between pairing and the sink. */
  enrich?: (entry: Entry) => void;
  /** Entries held while the sink is full; beyond, entries are dropped (counted). */
  maxQueuedEntries: number;
  /** The protocols to detect (default: every registered one, protocols/registry.ts). */
  protocols?: readonly Dissector[];
}

export const defaultPipelineOptions: PipelineOptions = {
  agentName: 'tapline',
  connections: defaultConnectionLimits,
  flows: defaultFlowLimits,
  dissectors: defaultDissectorLimits,
  redaction: defaultRedaction,
  maxQueuedEntries: 10_000,
};

export interface PipelineCounters extends NetCounters {
  entries: number;
  /** Entries lost because the sink stayed full past the queue bound. */
  sinkDrops: number;
  /** Exchanges whose enrichment threw (the entry is still written, unnamed). */
  enrichErrors: number;
  unknownConnections: number;
  /** UDP flows no datagram dissector recognised. */
  unknownFlows: number;
  /** Per protocol: connections, exchanges, parse errors, orphan responses, unanswered. */
  protocols: Dissectors['protocolCounters'];
}

/** How often (capture time) idle connections and unanswered requests are looked at. */
const TICK_US = 1e6;

export class Pipeline {
  readonly net: NetCounters = newNetCounters();
  private readonly table: ConnectionTable;
  private readonly flows: FlowTable;
  private readonly registry: Dissectors;
  private readonly redactor: Redactor;
  private readonly opts: PipelineOptions;
  private readonly l3: L3Position = { etherType: 0, offset: 0, vlanTags: 0 };
  private readonly seg = newSegment();
  /** Reused for every tunnelled packet: where its inner frame starts, and the outer addresses. */
  private readonly inner = newInner();
  private readonly outer = newTunnelOuter();
  /** The link types seen that are not read (a file of one of them imports nothing: import-file.ts says so). */
  readonly unreadLinkTypes = new Set<number>();
  private lastTickUs = 0;
  private lastPacketUs = 0;
  private entries = 0;
  private sinkDrops = 0;
  private enrichErrors = 0;
  private readonly queue: Entry[] = [];
  private blocked: Promise<void> | null = null;

  constructor(
    private readonly sink: EntrySink,
    options: Partial<PipelineOptions> = {},
  ) {
    this.opts = { ...defaultPipelineOptions, ...options };
    this.redactor = new Redactor(this.opts.redaction);
    this.registry = new Dissectors((x, conn, d) => this.exchange(x, conn, d), this.opts.dissectors, this.opts.protocols ?? protocols.all());
    this.table = new ConnectionTable(this.registry.open, this.net, this.opts.connections);
    this.flows = new FlowTable(this.registry.openFlow, this.net, this.opts.flows);
  }

  /** One captured frame (a PacketHandler). */
  readonly packet = (p: RawPacket): void => {
    const net = this.net;
    net.packets++;
    net.bytes += p.wireLen;
    const end = p.offset + p.caplen;
    if (!decodeLink(p.linkType, p.buf, p.offset, end, this.l3)) {
      if (isSupportedLinkType(p.linkType)) net.nonIp++;
      else {
        net.unknownLinkType++;
        this.unreadLinkTypes.add(p.linkType);
      }
      return;
    }
    const seg = this.seg;
    const wireEnd = p.offset + p.wireLen;
    let r = decodeIp(this.l3.etherType, p.buf, this.l3.offset, end, wireEnd, seg);
    seg.tunnel = null;
    // Tunnels (net/tunnel.ts): the packet inside is the one dissected, the outer one noted.
    for (let depth = 0; depth < MAX_TUNNEL_DEPTH; depth++) {
      const inner = this.inner;
      const tunnelled =
        r === IpResult.Udp ? udpTunnel(seg, inner) : r === IpResult.NotTcpUdp ? ipTunnel(seg.proto, p.buf, seg.l4, end, inner) : false;
      if (!tunnelled) break;
      if (depth === 0) {
        noteOuter(seg, inner, this.outer);
        net.tunneled++;
      }
      if (inner.ethernet) {
        if (!decodeLink(LINKTYPE_ETHERNET, p.buf, inner.offset, end, this.l3)) {
          net.nonIp++;
          return;
        }
      } else {
        this.l3.etherType = inner.etherType;
        this.l3.offset = inner.offset;
      }
      r = decodeIp(this.l3.etherType, p.buf, this.l3.offset, end, wireEnd, seg);
      seg.tunnel = this.outer;
    }
    if (r !== IpResult.Tcp && r !== IpResult.Udp) {
      if (r === IpResult.NotTcpUdp) net.nonTcpUdp++;
      else if (r === IpResult.Fragment) net.fragments++;
      else net.malformed++;
      return;
    }
    const ts = p.tsUs;
    if (ts > this.lastPacketUs) this.lastPacketUs = ts;
    if (r === IpResult.Tcp) this.table.segment(seg, ts);
    else this.flows.datagram(seg, ts);
    if (ts - this.lastTickUs >= TICK_US) this.tick(ts);
  };

  /** Advances the clock (capture time): idle connections end, unanswered requests are emitted. */
  tick(nowUs: number): void {
    this.lastTickUs = nowUs;
    this.table.tick(nowUs);
    this.flows.tick(nowUs);
  }

  /** For file sources: a promise to wait for while the sink is full, else undefined. */
  readonly pause = (): Promise<void> | undefined => this.blocked ?? undefined;

  /** Ends every connection and flow (requests still waiting become unanswered) and hands over the rest. */
  async finish(reason: EndReason = 'shutdown'): Promise<void> {
    this.table.closeAll(reason, this.lastPacketUs);
    this.flows.closeAll(reason, this.lastPacketUs);
    while (this.blocked) await this.blocked;
  }

  counters(): PipelineCounters {
    return {
      ...this.net,
      entries: this.entries,
      sinkDrops: this.sinkDrops,
      enrichErrors: this.enrichErrors,
      unknownConnections: this.registry.detection.unknownConnections,
      unknownFlows: this.registry.detection.unknownFlows,
      protocols: this.registry.protocolCounters,
    };
  }

  private exchange(x: Exchange, conn: ConnectionInfo, dissector: Dissector): string {
    const c = x.clientDir;
    const entry = entryOf(x, {
      id: uuidv7(x.startUs / 1000),
      agent: this.opts.agentName,
      protocol: dissector.protocol,
      transport: conn.transport,
      src: emptyEndpoint(conn.ip[c], conn.port[c]),
      dst: emptyEndpoint(conn.ip[1 - c], conn.port[1 - c]),
      outcome: dissector.outcome(x),
      // The tunnel is the connection's: an envelope field (query/fields.ts), in a copy of the
      // exchange's fields (NO_FIELDS is shared).
      fields: conn.tunnel ? { ...x.fields, tunnel: conn.tunnel } : x.fields,
    });
    this.redactor.redact(entry, dissector);
    if (this.opts.enrich) {
      try {
        this.opts.enrich(entry);
      } catch {
        this.enrichErrors++;
      }
    }
    this.entries++;
    this.deliver(entry);
    return entry.id;
  }

  private deliver(entry: Entry): void {
    if (this.blocked) {
      if (this.queue.length >= this.opts.maxQueuedEntries) this.sinkDrops++;
      else this.queue.push(entry);
      return;
    }
    if (!this.sink.push(entry)) this.blocked = this.waitForSink();
  }

  /** Waits until the sink drains, then hands over the queue (waiting again as often as needed). */
  private async waitForSink(): Promise<void> {
    for (;;) {
      await this.sink.drained();
      let full = false;
      while (this.queue.length > 0 && !full) full = !this.sink.push(this.queue.shift()!);
      if (!full) break;
    }
    this.blocked = null;
  }
}
