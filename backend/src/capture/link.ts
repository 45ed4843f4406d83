/**
 * Link-layer decoding: finds the IP header inside a frame for the link types a Linux capture
 * produces (tcpdump.org/linktypes.html). Works on offsets into the frame's buffer, allocates nothing.
 */
export const LINKTYPE_NULL = 0; // BSD loopback: 4-byte address family in the writer's byte order
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101; // raw IPv4 or IPv6
export const LINKTYPE_LOOP = 108; // OpenBSD loopback: 4-byte address family, big-endian
export const LINKTYPE_LINUX_SLL = 113; // Linux "cooked" capture v1 (the `any` device)
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276; // Linux "cooked" capture v2

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;

const SUPPORTED = new Set([
  LINKTYPE_NULL,
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  LINKTYPE_LOOP,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL2,
]);

export function isSupportedLinkType(linkType: number): boolean {
  return SUPPORTED.has(linkType);
}

/** node_pcap names link types by string; unknown ones come back as "Unknown linktype N". */
export function linkTypeFromPcapName(name: string): number {
  switch (name) {
    case 'LINKTYPE_NULL':
      return LINKTYPE_NULL;
    case 'LINKTYPE_ETHERNET':
      return LINKTYPE_ETHERNET;
    case 'LINKTYPE_RAW':
      return LINKTYPE_RAW;
    case 'LINKTYPE_LINUX_SLL':
      return LINKTYPE_LINUX_SLL;
    default: {
      const m = /(\d+)$/.exec(name);
      return m ? Number(m[1]) : -1;
    }
  }
}

/** Where the network layer starts; filled in by decodeLink. */
export interface L3Position {
  etherType: number;
  offset: number;
  /** Number of VLAN tags that were skipped. */
  vlanTags: number;
}

/**
 * Fills `out` with the network-layer protocol (an EtherType) and its offset, or returns false
 * when the frame does not carry IP or is too short.
 */
export function decodeLink(linkType: number, buf: Buffer, start: number, end: number, out: L3Position): boolean {
  let off = start;
  let type: number;
  out.vlanTags = 0;
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      if (end - off < 14) return false;
      type = buf.readUInt16BE(off + 12);
      off += 14;
      break;
    case LINKTYPE_LINUX_SLL:
      if (end - off < 16) return false;
      type = buf.readUInt16BE(off + 14);
      off += 16;
      break;
    case LINKTYPE_LINUX_SLL2:
      if (end - off < 20) return false;
      type = buf.readUInt16BE(off);
      off += 20;
      break;
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      if (end - off < 1) return false;
      type = ipVersionToEtherType(buf[off] >> 4);
      break;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (end - off < 4) return false;
      // NULL is in the capturing host's byte order: the family is small, so a zero first byte means big-endian.
      const family =
        linkType === LINKTYPE_LOOP || buf[off] === 0 ? buf.readUInt32BE(off) : buf.readUInt32LE(off);
      off += 4;
      // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
      type = family === 2 ? ETHERTYPE_IPV4 : family === 10 || family === 24 || family === 28 || family === 30 ? ETHERTYPE_IPV6 : 0;
      break;
    }
    default:
      return false;
  }
  while (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) {
    if (end - off < 4) return false;
    type = buf.readUInt16BE(off + 2);
    off += 4;
    out.vlanTags++;
  }
  if (type !== ETHERTYPE_IPV4 && type !== ETHERTYPE_IPV6) return false;
  out.etherType = type;
  out.offset = off;
  return true;
}

function ipVersionToEtherType(version: number): number {
  return version === 4 ? ETHERTYPE_IPV4 : version === 6 ? ETHERTYPE_IPV6 : 0;
}
