/**
 * Tunnels: where the inner frame of an encapsulated packet starts, so the agent dissects the
 * traffic inside (the inner endpoints become the entry's; the outer ones are kept as its `tunnel`
 * field). Cloud traffic mirroring and overlay CNIs carry pods' traffic this way:
 * - over UDP: VXLAN (4789, and Linux's 8472), Geneve (6081), GTP-U (2152);
 * - over IP: GRE (47; IP, transparent Ethernet, ERSPAN I/II/III), IP-in-IP (4), IPv6-in-IP (41).
 * MPLS and 802.2 SNAP are link-layer matters (capture/link.ts). Each header is checked before it is
 * believed: a UDP packet to 4789 that is not VXLAN is dissected as the UDP it is.
 */
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../capture/link.js';
import type { Segment } from './ip.js';
import { ipv4Text, ipv6Text } from './ip.js';

export const enum TunnelKind {
  None,
  Vxlan,
  Geneve,
  GtpU,
  Gre,
  Erspan,
  IpInIp,
}

const KIND_NAMES = ['', 'vxlan', 'geneve', 'gtp-u', 'gre', 'erspan', 'ipip'];

/** Encapsulations inside encapsulations are unwrapped this deep at most. */
export const MAX_TUNNEL_DEPTH = 4;

export const PROTO_IPIP = 4;
export const PROTO_IPV6_IN_IP = 41;
export const PROTO_GRE = 47;

const ETHERTYPE_TEB = 0x6558; // transparent Ethernet bridging (gretap, Geneve)
const ETHERTYPE_ERSPAN_2 = 0x88be; // ERSPAN type I (no sequence) and II
const ETHERTYPE_ERSPAN_3 = 0x22eb;

/** The inner frame: an Ethernet frame or an IP packet (`etherType`) at `offset`. */
export interface Inner {
  ethernet: boolean;
  etherType: number;
  offset: number;
  kind: TunnelKind;
  /** VNI, TEID or GRE key (0 when none). */
  id: number;
}

export function newInner(): Inner {
  return { ethernet: false, etherType: 0, offset: 0, kind: TunnelKind.None, id: 0 };
}

const u16 = (b: Buffer, o: number) => (b[o] << 8) | b[o + 1];
const u24 = (b: Buffer, o: number) => (b[o] << 16) | (b[o + 1] << 8) | b[o + 2];
const u32 = (b: Buffer, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

function ipByVersion(buf: Buffer, off: number, end: number): number {
  if (off >= end) return 0;
  const v = buf[off] >> 4;
  return v === 4 ? ETHERTYPE_IPV4 : v === 6 ? ETHERTYPE_IPV6 : 0;
}

function set(out: Inner, kind: TunnelKind, id: number, ethernet: boolean, etherType: number, offset: number): boolean {
  out.kind = kind;
  out.id = id;
  out.ethernet = ethernet;
  out.etherType = etherType;
  out.offset = offset;
  return true;
}

/** A UDP datagram (seg, its payload captured to `end`) that carries a tunnel: fills `out`. */
export function udpTunnel(seg: Segment, out: Inner): boolean {
  const buf = seg.buf;
  const p = seg.payloadStart;
  const end = seg.payloadEnd;
  switch (seg.dstPort) {
    case 4789:
    case 8472:
      // flags (I bit set, the rest 0), 3 reserved, VNI, 1 reserved; then an Ethernet frame.
      if (end - p < 8 + 14 || buf[p] !== 0x08 || buf[p + 1] !== 0 || buf[p + 2] !== 0 || buf[p + 3] !== 0 || buf[p + 7] !== 0) return false;
      return set(out, TunnelKind.Vxlan, u24(buf, p + 4), true, 0, p + 8);
    case 6081: {
      // version 0, options length (4-byte words), flags, protocol type, VNI, reserved, options.
      if (end - p < 8 || buf[p] >> 6 !== 0) return false;
      const inner = p + 8 + (buf[p] & 0x3f) * 4;
      const type = u16(buf, p + 2);
      if (inner > end) return false;
      if (type === ETHERTYPE_TEB) return set(out, TunnelKind.Geneve, u24(buf, p + 4), true, 0, inner);
      if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) return set(out, TunnelKind.Geneve, u24(buf, p + 4), false, type, inner);
      return false;
    }
    case 2152: {
      // GTPv1-U G-PDU: version 1, protocol type GTP, message type 255, length, TEID.
      if (end - p < 8 || buf[p] >> 5 !== 1 || (buf[p] & 0x10) === 0 || buf[p + 1] !== 0xff) return false;
      let inner = p + 8;
      if ((buf[p] & 0x07) !== 0) {
        // Sequence number, N-PDU number and the first extension header type, then the extensions.
        if (end - inner < 4) return false;
        let next = buf[inner + 3];
        inner += 4;
        while (next !== 0) {
          if (end - inner < 4 || buf[inner] === 0) return false;
          const len = buf[inner] * 4;
          if (end - inner < len) return false;
          next = buf[inner + len - 1];
          inner += len;
        }
      }
      const type = ipByVersion(buf, inner, end);
      return type !== 0 && set(out, TunnelKind.GtpU, u32(buf, p + 4), false, type, inner);
    }
    default:
      return false;
  }
}

/** An IP packet of protocol `proto` whose payload buf[l4, end) carries a tunnel: fills `out`. */
export function ipTunnel(proto: number, buf: Buffer, l4: number, end: number, out: Inner): boolean {
  if (proto === PROTO_IPIP || proto === PROTO_IPV6_IN_IP) {
    const type = ipByVersion(buf, l4, end);
    return type === (proto === PROTO_IPIP ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6) && set(out, TunnelKind.IpInIp, 0, false, type, l4);
  }
  if (proto !== PROTO_GRE || end - l4 < 4) return false;
  const flags = buf[l4];
  // Version 0 only (1 is PPTP's enhanced GRE, which carries PPP); routing (R) is obsolete.
  if ((buf[l4 + 1] & 0x07) !== 0 || (flags & 0x40) !== 0) return false;
  let p = l4 + 4;
  if (flags & 0x80) p += 4; // checksum and reserved
  let key = 0;
  if (flags & 0x20) {
    if (end - p < 4) return false;
    key = u32(buf, p);
    p += 4;
  }
  const sequenced = (flags & 0x10) !== 0;
  if (sequenced) p += 4;
  if (p > end) return false;
  const type = u16(buf, l4 + 2);
  switch (type) {
    case ETHERTYPE_IPV4:
    case ETHERTYPE_IPV6:
      return ipByVersion(buf, p, end) === type && set(out, TunnelKind.Gre, key, false, type, p);
    case ETHERTYPE_TEB:
      return set(out, TunnelKind.Gre, key, true, 0, p);
    case ETHERTYPE_ERSPAN_2: {
      // Type I has no sequence number and no ERSPAN header; type II an 8-byte one (version 1).
      if (!sequenced) return set(out, TunnelKind.Erspan, 0, true, 0, p);
      if (end - p < 8 || buf[p] >> 4 !== 1) return false;
      return set(out, TunnelKind.Erspan, ((buf[p + 2] & 0x03) << 8) | buf[p + 3], true, 0, p + 8);
    }
    case ETHERTYPE_ERSPAN_3: {
      // 12 bytes (version 2), then 8 of platform-specific subheader when the O bit is set.
      if (end - p < 12 || buf[p] >> 4 !== 2) return false;
      const inner = p + 12 + ((buf[p + 11] & 0x01) !== 0 ? 8 : 0);
      return inner <= end && set(out, TunnelKind.Erspan, ((buf[p + 2] & 0x03) << 8) | buf[p + 3], true, 0, inner);
    }
    default:
      return false;
  }
}

/** The outermost tunnel of a packet, as its connection's `tunnel` field shows it. */
export interface TunnelOuter {
  kind: TunnelKind;
  id: number;
  v6: boolean;
  src4: number;
  dst4: number;
  /** IPv6 outer addresses: 16 bytes each, copied (the packet's buffer is reused). */
  src6: Buffer;
  dst6: Buffer;
}

export function newTunnelOuter(): TunnelOuter {
  return { kind: TunnelKind.None, id: 0, v6: false, src4: 0, dst4: 0, src6: Buffer.alloc(16), dst6: Buffer.alloc(16) };
}

/** Notes the outer addresses of `seg` (before it is overwritten by the inner packet's). */
export function noteOuter(seg: Segment, inner: Inner, out: TunnelOuter): void {
  out.kind = inner.kind;
  out.id = inner.id;
  out.v6 = seg.v6;
  if (seg.v6) {
    seg.buf.copy(out.src6, 0, seg.src6, seg.src6 + 16);
    seg.buf.copy(out.dst6, 0, seg.dst6, seg.dst6 + 16);
  } else {
    out.src4 = seg.src4;
    out.dst4 = seg.dst4;
  }
}

/** `vxlan 10.0.0.1 > 10.0.0.2 id 42`: made once a connection, never a packet. */
export function tunnelText(t: TunnelOuter): string {
  if (t.kind === TunnelKind.None) return '';
  const src = t.v6 ? ipv6Text(t.src6, 0) : ipv4Text(t.src4);
  const dst = t.v6 ? ipv6Text(t.dst6, 0) : ipv4Text(t.dst4);
  return `${KIND_NAMES[t.kind]} ${src} > ${dst}${t.id !== 0 ? ` id ${t.id}` : ''}`;
}
