/**
 * The UDP flow table: finds each datagram's flow by its 5-tuple (both ways: A→B and B→A are one
 * flow, direction 0 being the sender of the first datagram seen) and hands the datagram, whole,
 * to the flow's DatagramConsumer. Nothing is buffered: a datagram is delivered or dropped.
 *
 * Memory: at most `maxFlows` flows (least recently used evicted). A flow without datagrams for
 * `idleTimeoutUs` ends on the next tick. Time is capture time, so offline imports behave like live
 * capture.
 */
import { LruList } from './lru.js';
import type { NetCounters } from './counters.js';
import { ipv4Text, ipv6Text, type Segment } from './ip.js';
import type { ConnectionInfo, DatagramConsumer, Direction, EndReason } from './stream.js';
import { newTupleKey, storedKey, tupleKey, TupleEntry, TupleMap, type TupleKey } from './tuple.js';
import { tunnelText } from './tunnel.js';

export interface FlowLimits {
  maxFlows: number;
  /** A flow without datagrams for this long (capture time) is ended. */
  idleTimeoutUs: number;
}

export const defaultFlowLimits: FlowLimits = {
  maxFlows: 50_000,
  idleTimeoutUs: 30e6,
};

export type DatagramConsumerFactory = (flow: ConnectionInfo) => DatagramConsumer;

class Flow extends TupleEntry<Flow> {
  /** UDP has no handshake: the dissector decides who the client is (clientDir stays undefined). */
  readonly transport = 'udp';
  consumer: DatagramConsumer | null = null;
}

export class FlowTable {
  private readonly flows = new TupleMap<Flow>();
  private readonly key = newTupleKey();
  /** Oldest (least recently seen) first. */
  private readonly lru = new LruList<Flow>();
  private live = 0;
  private nextId = 1;

  constructor(
    private readonly open: DatagramConsumerFactory,
    private readonly counters: NetCounters,
    private readonly limits: FlowLimits = defaultFlowLimits,
  ) {}

  /** Flows alive now. */
  get size(): number {
    return this.live;
  }

  /** Handles one decoded UDP datagram (decodeIp returned IpResult.Udp) captured at tsUs. */
  datagram(seg: Segment, tsUs: number): void {
    this.counters.udpDatagrams++;
    this.counters.udpBytes += seg.segLen;
    const k = this.key;
    tupleKey(seg, k);
    let flow = this.flows.get(k);
    if (!flow) flow = this.create(seg, k);
    this.touch(flow, tsUs);
    const dir: Direction = k.srcIsLow === flow.lowIsDir0 ? 0 : 1;
    flow.consumer?.datagram(dir, seg.buf, seg.payloadStart, seg.payloadEnd, tsUs);
  }

  /** Advances the clock: ends idle flows, then lets the consumers time out what they wait for. */
  tick(nowUs: number): void {
    const idleBefore = nowUs - this.limits.idleTimeoutUs;
    for (let f = this.lru.oldest; f && f.lastSeenUs < idleBefore; ) {
      const next = f.newer;
      this.counters.flowsTimedOut++;
      this.end(f, 'timeout', nowUs);
      f = next;
    }
    for (let f = this.lru.oldest; f; f = f.newer) f.consumer?.tick(nowUs);
  }

  /** Ends every flow (end of file, shutdown). */
  closeAll(reason: EndReason, nowUs: number): void {
    for (let f = this.lru.oldest; f; ) {
      const next = f.newer;
      this.end(f, reason, nowUs);
      f = next;
    }
  }

  private create(seg: Segment, k: TupleKey): Flow {
    if (this.live >= this.limits.maxFlows && this.lru.oldest) {
      const victim = this.lru.oldest;
      this.counters.flowsEvicted++;
      this.end(victim, 'evicted', victim.lastSeenUs);
    }
    const srcIp = seg.v6 ? ipv6Text(seg.buf, seg.src6) : ipv4Text(seg.src4);
    const dstIp = seg.v6 ? ipv6Text(seg.buf, seg.dst6) : ipv4Text(seg.dst4);
    const flow = new Flow(this.nextId++, storedKey(k), k.high, [srcIp, dstIp], [seg.srcPort, seg.dstPort], k.srcIsLow);
    if (seg.tunnel) flow.tunnel = tunnelText(seg.tunnel);
    this.flows.set(k, flow);
    this.live++;
    this.counters.flows++;
    this.counters.currentFlows++;
    flow.consumer = this.open(flow);
    return flow;
  }

  /** Removes a flow, then ends its consumer (so a consumer that throws leaves the table whole). */
  private end(flow: Flow, reason: EndReason, tsUs: number): void {
    this.flows.delete(flow.key, flow.subKey, flow);
    this.lru.remove(flow);
    this.live--;
    this.counters.currentFlows--;
    const consumer = flow.consumer;
    flow.consumer = null;
    consumer?.end(reason, tsUs);
  }

  private touch(flow: Flow, tsUs: number): void {
    flow.lastSeenUs = tsUs;
    this.lru.touch(flow);
  }

}
