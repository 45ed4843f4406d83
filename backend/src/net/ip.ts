/**
 * IPv4/IPv6 and TCP/UDP header decoding into one reused Segment (no per-packet allocation).
 * Checksums are not verified: offloading leaves them wrong on captured outgoing traffic.
 */
import { ETHERTYPE_IPV4 } from '../capture/link.js';
import type { TunnelOuter } from './tunnel.js';

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

/** What decodeIp found. */
export const enum IpResult {
  Tcp,
  /** A UDP datagram: the segment holds its ports and payload (seq, ack and flags are 0). */
  Udp,
  /** An IP packet of another transport (ICMP, SCTP, ESP…). */
  NotTcpUdp,
  /** An IP fragment: counted and skipped (TCP stacks avoid fragmentation with PMTU discovery). */
  Fragment,
  Malformed,
}

/** A TCP segment or a UDP datagram, as decodeIp leaves it. */
export interface Segment {
  v6: boolean;
  /** IPv4 addresses as unsigned 32-bit numbers. */
  src4: number;
  dst4: number;
  /** The frame's buffer: payload and IPv6 addresses are offsets into it. */
  buf: Buffer;
  src6: number;
  dst6: number;
  srcPort: number;
  dstPort: number;
  /** TCP only (0 for UDP). */
  seq: number;
  ack: number;
  flags: number;
  /** Captured payload is buf[payloadStart, payloadEnd). */
  payloadStart: number;
  payloadEnd: number;
  /**
   * Payload length on the wire (TCP: by the IP header; UDP: by the UDP header): more than
   * captured when the snap length cut it.
   */
  segLen: number;
  /** The IP protocol number and where its header starts (for tunnels over IP: GRE, IP-in-IP). */
  proto: number;
  l4: number;
  /** The outermost tunnel the packet came through (set by the agent), null when none. */
  tunnel: TunnelOuter | null;
}

export function newSegment(): Segment {
  return {
    v6: false,
    src4: 0,
    dst4: 0,
    buf: Buffer.alloc(0),
    src6: 0,
    dst6: 0,
    srcPort: 0,
    dstPort: 0,
    seq: 0,
    ack: 0,
    flags: 0,
    payloadStart: 0,
    payloadEnd: 0,
    segLen: 0,
    proto: 0,
    l4: 0,
    tunnel: null,
  };
}

const PROTO_TCP = 6;
const PROTO_UDP = 17;

// Big-endian reads of bytes whose bounds were checked: Buffer#readUInt16BE/32BE validate their
// offset again through a wrapped function, once per field of every packet.
function u16(buf: Buffer, o: number): number {
  return (buf[o] << 8) | buf[o + 1];
}

function u32(buf: Buffer, o: number): number {
  return ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
}

/**
 * Decodes the IP packet at buf[off, end) (end = end of the captured bytes; `wireEnd` = where the
 * frame ended on the wire, which may lie beyond `end` when the snap length cut it).
 */
export function decodeIp(etherType: number, buf: Buffer, off: number, end: number, wireEnd: number, seg: Segment): IpResult {
  let proto: number;
  let l4: number;
  let ipEnd: number; // end of the IP packet on the wire (may exceed the captured end)
  seg.buf = buf;
  if (etherType === ETHERTYPE_IPV4) {
    if (end - off < 20) return IpResult.Malformed;
    const vihl = buf[off];
    const ihl = (vihl & 0x0f) * 4;
    if (vihl >> 4 !== 4 || ihl < 20 || end - off < ihl) return IpResult.Malformed;
    const total = u16(buf, off + 2);
    // TSO on the capturing host can leave total = 0; then the frame length is all we know.
    ipEnd = total === 0 ? wireEnd : off + total;
    if (ipEnd < off + ihl) return IpResult.Malformed;
    const frag = u16(buf, off + 6);
    if ((frag & 0x2000) !== 0 || (frag & 0x1fff) !== 0) return IpResult.Fragment;
    proto = buf[off + 9];
    seg.v6 = false;
    seg.src4 = u32(buf, off + 12);
    seg.dst4 = u32(buf, off + 16);
    l4 = off + ihl;
  } else {
    if (end - off < 40) return IpResult.Malformed;
    if (buf[off] >> 4 !== 6) return IpResult.Malformed;
    const plen = u16(buf, off + 4);
    ipEnd = plen === 0 ? wireEnd : off + 40 + plen;
    seg.v6 = true;
    seg.src6 = off + 8;
    seg.dst6 = off + 24;
    proto = buf[off + 6];
    l4 = off + 40;
    // Walk the extension headers to the transport header.
    for (;;) {
      if (proto === 0 || proto === 43 || proto === 60) {
        if (end - l4 < 8) return IpResult.Malformed;
        proto = buf[l4];
        l4 += (buf[l4 + 1] + 1) * 8;
      } else if (proto === 51) {
        if (end - l4 < 8) return IpResult.Malformed;
        proto = buf[l4];
        l4 += (buf[l4 + 1] + 2) * 4;
      } else if (proto === 44) {
        return IpResult.Fragment;
      } else break;
    }
  }
  seg.proto = proto;
  seg.l4 = l4;
  if (proto === PROTO_UDP) {
    if (end - l4 < 8) return IpResult.Malformed;
    const udpLen = u16(buf, l4 + 4);
    // Shorter than its own header, or longer than the IP packet carrying it (a UDP length of 0,
    // IPv6 jumbograms, falls here too: they do not occur on the links we capture).
    if (udpLen < 8 || l4 + udpLen > ipEnd) return IpResult.Malformed;
    seg.srcPort = u16(buf, l4);
    seg.dstPort = u16(buf, l4 + 2);
    seg.seq = 0;
    seg.ack = 0;
    seg.flags = 0;
    seg.payloadStart = l4 + 8;
    // The UDP length may end the datagram before the IP packet does; Ethernet pads short frames.
    seg.payloadEnd = Math.min(ipEnd, end, l4 + udpLen);
    seg.segLen = udpLen - 8;
    return IpResult.Udp;
  }
  if (proto !== PROTO_TCP) return IpResult.NotTcpUdp;
  if (end - l4 < 20) return IpResult.Malformed;
  const dataOff = (buf[l4 + 12] >> 4) * 4;
  if (dataOff < 20 || l4 + dataOff > ipEnd || end - l4 < dataOff) return IpResult.Malformed;
  seg.srcPort = u16(buf, l4);
  seg.dstPort = u16(buf, l4 + 2);
  seg.seq = u32(buf, l4 + 4);
  seg.ack = u32(buf, l4 + 8);
  seg.flags = buf[l4 + 13];
  seg.payloadStart = l4 + dataOff;
  // Ethernet pads short frames: the IP length, not the frame length, says where data ends.
  seg.payloadEnd = Math.min(ipEnd, end);
  seg.segLen = ipEnd - seg.payloadStart;
  return IpResult.Tcp;
}

/** Text form of an IPv4 address held as a number. */
export function ipv4Text(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** Text form (RFC 5952: lowercase, longest zero run compressed) of the IPv6 address at buf[off]. */
export function ipv6Text(buf: Buffer, off: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(buf.readUInt16BE(off + i * 2));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return words.map((w) => w.toString(16)).join(':');
  const head = words.slice(0, bestStart).map((w) => w.toString(16)).join(':');
  const tail = words.slice(bestStart + bestLen).map((w) => w.toString(16)).join(':');
  return `${head}::${tail}`;
}
