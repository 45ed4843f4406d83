/**
 * Link-layer decoding: finds the IP header inside a frame for the link types a Linux capture
 * produces (tcpdump.org/linktypes.html). Works on offsets into the frame's buffer, allocates nothing.
 */
export const LINKTYPE_NULL = 0; // BSD loopback: 4-byte address family in the writer's byte order
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101; // raw IPv4 or IPv6
export const LINKTYPE_IEEE802_11 = 105; // 802.11 frames
export const LINKTYPE_LOOP = 108; // OpenBSD loopback: 4-byte address family, big-endian
export const LINKTYPE_LINUX_SLL = 113; // Linux "cooked" capture v1 (the `any` device)
export const LINKTYPE_IEEE802_11_RADIOTAP = 127; // 802.11 frames after a radiotap header
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_NFLOG = 239; // Linux netfilter log (`tcpdump -i nflog:N`): TLVs, one holds the packet
export const LINKTYPE_LINUX_SLL2 = 276; // Linux "cooked" capture v2

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;
const ETHERTYPE_MPLS = 0x8847;
const ETHERTYPE_MPLS_MULTICAST = 0x8848;
/** Labels of an MPLS stack read at most (real stacks hold 1 to 4). */
const MAX_MPLS_LABELS = 16;

/** The link types read, by libpcap's names (DLT_…): what an error about another one lists. */
const SUPPORTED = new Map([
  [LINKTYPE_NULL, 'NULL'],
  [LINKTYPE_ETHERNET, 'EN10MB'],
  [LINKTYPE_RAW, 'RAW'],
  [LINKTYPE_IEEE802_11, 'IEEE802_11'],
  [LINKTYPE_LOOP, 'LOOP'],
  [LINKTYPE_LINUX_SLL, 'LINUX_SLL'],
  [LINKTYPE_IEEE802_11_RADIOTAP, 'IEEE802_11_RADIO'],
  [LINKTYPE_IPV4, 'IPV4'],
  [LINKTYPE_IPV6, 'IPV6'],
  [LINKTYPE_NFLOG, 'NFLOG'],
  [LINKTYPE_LINUX_SLL2, 'LINUX_SLL2'],
]);

/** Link types others write that an error names (tcpdump.org/linktypes.html). */
const OTHER_NAMES = new Map([
  [6, 'IEEE802 (Token Ring)'], [8, 'SLIP'], [9, 'PPP'], [10, 'FDDI'], [50, 'PPP_HDLC'], [104, 'C_HDLC'],
  [119, 'PRISM_HEADER'], [163, 'IEEE802_11_AVS'], [192, 'PPI'], [195, 'IEEE802_15_4'], [187, 'BLUETOOTH_HCI_H4'],
  [220, 'USB_LINUX_MMAPPED'], [227, 'CAN_SOCKETCAN'], [249, 'USBPCAP'], [252, 'WIRESHARK_UPPER_PDU'], [254, 'NETLINK'],
]);

export function isSupportedLinkType(linkType: number): boolean {
  return SUPPORTED.has(linkType);
}

/** `NFLOG (239)`; for a type not read, what it is when known. */
export function linkTypeName(linkType: number): string {
  const name = SUPPORTED.get(linkType) ?? OTHER_NAMES.get(linkType);
  return name ? `${name} (${linkType})` : `${linkType}`;
}

/** What the link types read are called, for an error's message. */
export function supportedLinkTypeNames(): string {
  return [...SUPPORTED.values()].join(', ');
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
      // 802.3 with an 802.2 LLC/SNAP header (a length, not a type; AA AA 03, an OUI, the EtherType).
      if (type <= 1500) {
        if (end - off < 8 || buf[off] !== 0xaa || buf[off + 1] !== 0xaa || buf[off + 2] !== 0x03) return false;
        type = buf.readUInt16BE(off + 6);
        off += 8;
      }
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
    case LINKTYPE_NFLOG:
      return nflogPayload(buf, off, end, out);
    case LINKTYPE_IEEE802_11_RADIOTAP: {
      // The radiotap header's length (little-endian, at byte 2), then the 802.11 frame.
      if (end - off < 4 || buf[off] !== 0) return false;
      const len = buf.readUInt16LE(off + 2);
      if (len < 8 || end - off < len) return false;
      return wifiData(buf, off + len, end, out);
    }
    case LINKTYPE_IEEE802_11:
      return wifiData(buf, off, end, out);
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
  if (type === ETHERTYPE_MPLS || type === ETHERTYPE_MPLS_MULTICAST) {
    // The label stack to its bottom (S bit), then IP by its version nibble, or an Ethernet
    // pseudowire after a zero control word (RFC 4448).
    let labels = 0;
    for (;;) {
      if (end - off < 4 || ++labels > MAX_MPLS_LABELS) return false;
      const bottom = (buf[off + 2] & 0x01) !== 0;
      off += 4;
      if (bottom) break;
    }
    if (end - off < 1) return false;
    const nibble = buf[off] >> 4;
    if (nibble === 0) return decodeLink(LINKTYPE_ETHERNET, buf, off + 4, end, out);
    type = ipVersionToEtherType(nibble);
  }
  if (type !== ETHERTYPE_IPV4 && type !== ETHERTYPE_IPV6) return false;
  out.etherType = type;
  out.offset = off;
  return true;
}

function ipVersionToEtherType(version: number): number {
  return version === 4 ? ETHERTYPE_IPV4 : version === 6 ? ETHERTYPE_IPV6 : 0;
}

const NFULA_PAYLOAD = 9;

/**
 * NFLOG: family, version, resource id, then TLVs (length and type in the capturing host's byte
 * order, little-endian here, each padded to 4 bytes); the NFULA_PAYLOAD one is the IP packet.
 */
function nflogPayload(buf: Buffer, start: number, end: number, out: L3Position): boolean {
  if (end - start < 4 || buf[start + 1] !== 0) return false;
  let off = start + 4;
  while (end - off >= 4) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & 0x7fff;
    if (len < 4 || off + len > end) return false;
    if (type === NFULA_PAYLOAD) {
      const ip = off + 4;
      const etherType = ip < end ? ipVersionToEtherType(buf[ip] >> 4) : 0;
      if (etherType === 0) return false;
      out.etherType = etherType;
      out.offset = ip;
      return true;
    }
    off += (len + 3) & ~3;
  }
  return false;
}

/**
 * An 802.11 data frame with an LLC/SNAP header: its header is 24 bytes, 30 with four addresses
 * (to and from the distribution system), 2 more for QoS data, 4 more for HT control (the order
 * bit of a QoS frame). Protected (encrypted) frames cannot be read.
 */
function wifiData(buf: Buffer, off: number, end: number, out: L3Position): boolean {
  if (end - off < 24) return false;
  const fc0 = buf[off];
  const fc1 = buf[off + 1];
  if (((fc0 >> 2) & 0x03) !== 2 || (fc1 & 0x40) !== 0) return false; // data frames, not protected
  const subtype = fc0 >> 4;
  if ((subtype & 0x04) !== 0) return false; // null data: no payload
  let len = (fc1 & 0x03) === 0x03 ? 30 : 24;
  if ((subtype & 0x08) !== 0) {
    len += 2;
    if ((fc1 & 0x80) !== 0) len += 4;
  }
  const llc = off + len;
  if (end - llc < 8 || buf[llc] !== 0xaa || buf[llc + 1] !== 0xaa || buf[llc + 2] !== 0x03) return false;
  const type = buf.readUInt16BE(llc + 6);
  if (type !== ETHERTYPE_IPV4 && type !== ETHERTYPE_IPV6) return false;
  out.etherType = type;
  out.offset = llc + 8;
  out.vlanTags = 0;
  return true;
}

