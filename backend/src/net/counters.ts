/** Everything the decode and reassembly stages count (all monotonic except the `current*` fields). */
export interface NetCounters {
  packets: number;
  bytes: number;
  /** Frames without IPv4/IPv6 (ARP, LLDP, 802.11 management frames…). */
  nonIp: number;
  /** Frames of a link type that is not read (capture/link.ts). */
  unknownLinkType: number;
  /** IP packets neither TCP nor UDP (ICMP, SCTP, ESP…). */
  nonTcpUdp: number;
  /** Packets unwrapped from a tunnel (VXLAN, Geneve, GTP-U, GRE, ERSPAN, IP-in-IP) and dissected inside. */
  tunneled: number;
  /** IP fragments (skipped). */
  fragments: number;
  /** Headers that cannot be right (too short, bad lengths). */
  malformed: number;
  /** Segments of no connection we know that carry nothing to start one (stray ACK/FIN/RST). */
  strays: number;
  connections: number;
  /** Connections picked up without a handshake. */
  midStream: number;
  closedFin: number;
  closedRst: number;
  timedOut: number;
  /** Closed because maxConnections was reached (least recently used first). */
  evicted: number;
  outOfOrder: number;
  /** Bytes seen twice (retransmissions) or overlapping bytes already delivered. */
  duplicateBytes: number;
  gaps: number;
  gapBytes: number;
  /** Times buffered out-of-order data was given up on because a memory cap was reached. */
  forcedFlushes: number;
  currentConnections: number;
  currentBufferedBytes: number;
  peakBufferedBytes: number;
  /** UDP datagrams decoded (whole headers), and their payload bytes on the wire. */
  udpDatagrams: number;
  udpBytes: number;
  /** UDP flows (5-tuples, both ways) opened. */
  flows: number;
  /** Flows ended after the idle timeout without a datagram. */
  flowsTimedOut: number;
  /** Flows ended because maxFlows was reached (least recently used first). */
  flowsEvicted: number;
  currentFlows: number;
}

export function newNetCounters(): NetCounters {
  return {
    packets: 0,
    bytes: 0,
    nonIp: 0,
    unknownLinkType: 0,
    nonTcpUdp: 0,
    tunneled: 0,
    fragments: 0,
    malformed: 0,
    strays: 0,
    connections: 0,
    midStream: 0,
    closedFin: 0,
    closedRst: 0,
    timedOut: 0,
    evicted: 0,
    outOfOrder: 0,
    duplicateBytes: 0,
    gaps: 0,
    gapBytes: 0,
    forcedFlushes: 0,
    currentConnections: 0,
    currentBufferedBytes: 0,
    peakBufferedBytes: 0,
    udpDatagrams: 0,
    udpBytes: 0,
    flows: 0,
    flowsTimedOut: 0,
    flowsEvicted: 0,
    currentFlows: 0,
  };
}
