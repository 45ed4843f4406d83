/**
 * DNS messages (RFC 1035 §4, EDNS0 RFC 6891) read from captured bytes.
 *
 * Why not a library: `dns-packet` (5.6.1, well kept) is safe on bad names (bounds, "bad pointer"
 * and length checks) but it throws on the first thing it cannot read, so a message whose counts lie
 * (ancount 65535 in a 40-byte datagram) loses the question and every record it did read; it also
 * decodes every record of every type into objects. Capture needs the opposite: keep what parsed,
 * say where it stopped (`cut`), render only the few types people read, bound the work and the
 * strings a hostile 64 KiB message can make. This file is that reader, and never throws.
 *
 * Names: compression pointers are followed with a hop limit (a loop ends there) and every label
 * and pointer is checked against the message's end; a name longer than 255 octets is refused.
 * Names are shown as tshark shows them: labels joined by '.', no trailing dot, the root as
 * `<Root>`; bytes that are not printable ASCII (and '.' or '\' inside a label) as `\DDD`.
 */
import { ipv6Text } from '../../net/ip.js';

export const HEADER_BYTES = 12;
/** Pointers followed in one name before it is taken for a loop. */
const MAX_POINTER_HOPS = 64;
/** A name's wire length (RFC 1035 §2.3.4). */
const MAX_NAME_OCTETS = 255;
/** Records kept per section (the rest are counted, not rendered: a 64 KiB message stays small). */
export const MAX_RECORDS_KEPT = 64;
/** Bytes of a TXT record rendered. */
const MAX_TXT_CHARS = 1024;

export const ROOT_NAME = '<Root>';

export const Flag = {
  qr: 0x8000,
  aa: 0x0400,
  tc: 0x0200,
  rd: 0x0100,
  ra: 0x0080,
  z: 0x0040,
  ad: 0x0020,
  cd: 0x0010,
} as const;

export interface Question {
  name: string;
  type: number;
  qclass: number;
}

export interface ResourceRecord {
  name: string;
  type: number;
  rclass: number;
  ttl: number;
  rdLength: number;
  /** The rdata as a person reads it (address, name, "10 mail.example"…), `\# <length>` for other types. */
  data: string;
}

export interface Edns {
  udpSize: number;
  version: number;
  /** The upper 8 bits of the 12-bit RCODE. */
  extendedRcode: number;
  dnssecOk: boolean;
  /** Option codes, in order (COOKIE 10, client subnet 8, padding 12…). */
  options: number[];
}

export interface DnsMessage {
  id: number;
  flags: number;
  opcode: number;
  /** The full RCODE: the header's 4 bits, with EDNS0's extended bits when an OPT record is there. */
  rcode: number;
  /** The counts the header declares (they may lie). */
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
  questions: Question[];
  /** The records read, at most MAX_RECORDS_KEPT per section (the counts below are of all read). */
  answers: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
  answersRead: number;
  authorityRead: number;
  additionalRead: number;
  edns: Edns | null;
  /** Reading stopped early: a count promised more than the bytes hold, or a record was bad. */
  cut: boolean;
  /** Bytes after the last record (none in a well-formed message). */
  trailing: number;
}

/** A name read at `pos`: its text and where the bytes after it start; null when it is bad. */
interface NameRead {
  name: string;
  next: number;
}

function labelText(buf: Buffer, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) s += String.fromCharCode(c);
    else s += `\\${String(c).padStart(3, '0')}`;
  }
  return s;
}

/**
 * Reads a (possibly compressed) name of the message `buf[msgStart, end)` at `pos`. Pointers are
 * offsets from `msgStart` and must land inside the message; more than MAX_POINTER_HOPS is a loop.
 */
export function readName(buf: Buffer, msgStart: number, end: number, pos: number): NameRead | null {
  let name = '';
  let octets = 1;
  let hops = 0;
  let next = -1;
  let p = pos;
  for (;;) {
    if (p >= end) return null;
    const len = buf[p];
    if (len === 0) {
      p++;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (p + 1 >= end) return null;
      const target = msgStart + (((len & 0x3f) << 8) | buf[p + 1]);
      if (next < 0) next = p + 2;
      if (++hops > MAX_POINTER_HOPS || target >= end) return null;
      p = target;
      continue;
    }
    if (kind !== 0) return null; // 0x40 (extended labels) and 0x80 are not in use
    octets += len + 1;
    if (octets > MAX_NAME_OCTETS || p + 1 + len > end) return null;
    name += (name === '' ? '' : '.') + labelText(buf, p + 1, p + 1 + len);
    p += 1 + len;
  }
  return { name: name === '' ? ROOT_NAME : name, next: next < 0 ? p : next };
}

function characterStrings(buf: Buffer, from: number, to: number): string | null {
  const parts: string[] = [];
  let chars = 0;
  let cut = false;
  let p = from;
  while (p < to) {
    const len = buf[p];
    if (p + 1 + len > to) return null;
    if (chars + len > MAX_TXT_CHARS) cut = true;
    else {
      let s = '';
      for (let i = p + 1; i < p + 1 + len; i++) {
        const c = buf[i];
        s += c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\${String(c).padStart(3, '0')}`;
      }
      chars += len;
      parts.push(`"${s}"`);
    }
    p += 1 + len;
  }
  return cut ? `${parts.join(' ')} …` : parts.join(' ');
}

/** The rdata of a record as text; null when it does not fit its type (then the message is cut there). */
/** A name inside rdata `[.., stop)` (it may point anywhere earlier in the message), or null. */
function nameIn(buf: Buffer, msgStart: number, end: number, p: number, stop: number): NameRead | null {
  const n = readName(buf, msgStart, end, p);
  return n !== null && n.next <= stop ? n : null;
}

function rdataText(buf: Buffer, msgStart: number, end: number, type: number, at: number, len: number): string | null {
  const stop = at + len;
  switch (type) {
    case 1: // A
      return len === 4 ? `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}` : null;
    case 28: // AAAA
      return len === 16 ? ipv6Text(buf, at) : null;
    case 2: // NS
    case 5: // CNAME
    case 12: // PTR
    case 39: {
      // DNAME
      const n = nameIn(buf, msgStart, end, at, stop);
      return n && n.next === stop ? n.name : null;
    }
    case 15: {
      // MX
      if (len < 3) return null;
      const n = nameIn(buf, msgStart, end, at + 2, stop);
      return n && n.next === stop ? `${buf.readUInt16BE(at)} ${n.name}` : null;
    }
    case 33: {
      // SRV
      if (len < 7) return null;
      const n = nameIn(buf, msgStart, end, at + 6, stop);
      return n && n.next === stop ? `${buf.readUInt16BE(at)} ${buf.readUInt16BE(at + 2)} ${buf.readUInt16BE(at + 4)} ${n.name}` : null;
    }
    case 6: {
      // SOA
      const m = nameIn(buf, msgStart, end, at, stop);
      if (!m) return null;
      const r = nameIn(buf, msgStart, end, m.next, stop);
      if (!r || r.next + 20 !== stop) return null;
      const n = r.next;
      return `${m.name} ${r.name} ${buf.readUInt32BE(n)} ${buf.readUInt32BE(n + 4)} ${buf.readUInt32BE(n + 8)} ${buf.readUInt32BE(n + 12)} ${buf.readUInt32BE(n + 16)}`;
    }
    case 16: // TXT
    case 99: // SPF
      return characterStrings(buf, at, stop);
    default:
      return `\\# ${len}`;
  }
}

function readEdns(buf: Buffer, rclass: number, ttl: number, at: number, len: number): Edns {
  const options: number[] = [];
  for (let p = at; p + 4 <= at + len; ) {
    options.push(buf.readUInt16BE(p));
    p += 4 + buf.readUInt16BE(p + 2);
  }
  return { udpSize: rclass, extendedRcode: ttl >>> 24, version: (ttl >>> 16) & 0xff, dnssecOk: (ttl & 0x8000) !== 0, options };
}

/** The header and the questions of `buf[start, end)` (one message, without a TCP length prefix). */
export function parseQuestions(buf: Buffer, start: number, end: number): { msg: DnsMessage; next: number } | null {
  if (end - start < HEADER_BYTES) return null;
  const flags = buf.readUInt16BE(start + 2);
  const msg: DnsMessage = {
    id: buf.readUInt16BE(start),
    flags,
    opcode: (flags >> 11) & 0xf,
    rcode: flags & 0xf,
    qdcount: buf.readUInt16BE(start + 4),
    ancount: buf.readUInt16BE(start + 6),
    nscount: buf.readUInt16BE(start + 8),
    arcount: buf.readUInt16BE(start + 10),
    questions: [],
    answers: [],
    authority: [],
    additional: [],
    answersRead: 0,
    authorityRead: 0,
    additionalRead: 0,
    edns: null,
    cut: false,
    trailing: 0,
  };
  let p = start + HEADER_BYTES;
  for (let i = 0; i < msg.qdcount; i++) {
    const n = readName(buf, start, end, p);
    if (n === null || n.next + 4 > end) {
      msg.cut = true;
      break;
    }
    if (msg.questions.length < MAX_RECORDS_KEPT) msg.questions.push({ name: n.name, type: buf.readUInt16BE(n.next), qclass: buf.readUInt16BE(n.next + 2) });
    p = n.next + 4;
  }
  return { msg, next: p };
}

/** One message `buf[start, end)`; null when not even the 12-byte header is there. Never throws. */
export function parseMessage(buf: Buffer, start: number, end: number): DnsMessage | null {
  const q = parseQuestions(buf, start, end);
  if (q === null) return null;
  const { msg } = q;
  if (msg.cut) return msg; // the records cannot be found after a question that does not parse
  let p = q.next;
  read: for (let which = 0; which < 3; which++) {
    const count = which === 0 ? msg.ancount : which === 1 ? msg.nscount : msg.arcount;
    const kept = which === 0 ? msg.answers : which === 1 ? msg.authority : msg.additional;
    for (let i = 0; i < count; i++) {
      const n = readName(buf, start, end, p);
      if (n === null || n.next + 10 > end) {
        msg.cut = true;
        break read;
      }
      const a = n.next;
      const type = buf.readUInt16BE(a);
      const rclass = buf.readUInt16BE(a + 2);
      const ttl = buf.readUInt32BE(a + 4);
      const rdLength = buf.readUInt16BE(a + 8);
      const at = a + 10;
      if (at + rdLength > end) {
        msg.cut = true;
        break read;
      }
      let edns: Edns | null = null;
      if (type === 41) {
        edns = readEdns(buf, rclass, ttl, at, rdLength);
        if (which === 2 && msg.edns === null) {
          msg.edns = edns;
          msg.rcode = (edns.extendedRcode << 4) | (msg.flags & 0xf);
        }
      }
      if (kept.length < MAX_RECORDS_KEPT) {
        const data = edns !== null ? ednsText(edns) : rdataText(buf, start, end, type, at, rdLength);
        if (data === null) {
          msg.cut = true;
          break read;
        }
        kept.push({ name: n.name, type, rclass, ttl, rdLength, data });
      }
      if (which === 0) msg.answersRead++;
      else if (which === 1) msg.authorityRead++;
      else msg.additionalRead++;
      p = at + rdLength;
    }
  }
  if (!msg.cut) msg.trailing = end - p;
  return msg;
}

const TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 17: 'RP', 18: 'AFSDB',
  24: 'SIG', 25: 'KEY', 28: 'AAAA', 29: 'LOC', 33: 'SRV', 35: 'NAPTR', 36: 'KX', 37: 'CERT', 39: 'DNAME',
  41: 'OPT', 42: 'APL', 43: 'DS', 44: 'SSHFP', 45: 'IPSECKEY', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY',
  49: 'DHCID', 50: 'NSEC3', 51: 'NSEC3PARAM', 52: 'TLSA', 53: 'SMIMEA', 55: 'HIP', 59: 'CDS', 60: 'CDNSKEY',
  61: 'OPENPGPKEY', 62: 'CSYNC', 63: 'ZONEMD', 64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 108: 'EUI48', 109: 'EUI64',
  249: 'TKEY', 250: 'TSIG', 251: 'IXFR', 252: 'AXFR', 255: 'ANY', 256: 'URI', 257: 'CAA',
};

/** A type's mnemonic (RFC 3597's `TYPE<n>` when it has none here). */
export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}

/** A mnemonic's type number (`TYPE<n>` too); undefined when unknown. */
export function typeCode(name: string): number | undefined {
  const m = /^TYPE(\d+)$/.exec(name);
  if (m) return Number(m[1]);
  for (const [code, n] of Object.entries(TYPE_NAMES)) if (n === name) return Number(code);
  return undefined;
}

export function className(c: number): string {
  const base = c & 0x7fff; // mDNS uses the top bit (unicast response / cache flush)
  const name = base === 1 ? 'IN' : base === 3 ? 'CH' : base === 4 ? 'HS' : base === 254 ? 'NONE' : base === 255 ? 'ANY' : `CLASS${base}`;
  return c === base ? name : `${name}|0x8000`;
}

const RCODE_NAMES: readonly string[] = [
  'NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE', 'DSOTYPENI',
];
const EXTENDED_RCODE_NAMES: Readonly<Record<number, string>> = {
  16: 'BADVERS', 17: 'BADKEY', 18: 'BADTIME', 19: 'BADMODE', 20: 'BADNAME', 21: 'BADALG', 22: 'BADTRUNC', 23: 'BADCOOKIE',
};

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? EXTENDED_RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

const OPCODE_NAMES: readonly string[] = ['QUERY', 'IQUERY', 'STATUS', 'OPCODE3', 'NOTIFY', 'UPDATE', 'DSO'];

export function opcodeName(opcode: number): string {
  return OPCODE_NAMES[opcode] ?? `OPCODE${opcode}`;
}

const FLAG_LIST = Object.entries(Flag).filter(([name]) => name !== 'z');
const FLAG_BITS = FLAG_LIST.reduce((m, [, bit]) => m | bit, 0);
/** Texts by flag bits seen (at most 2^7: one per combination). */
const flagTexts = new Map<number, string>();

/** The header's flags as dig shows them: `qr aa tc rd ra ad cd`, those set. */
export function flagsText(flags: number): string {
  const bits = flags & FLAG_BITS;
  let text = flagTexts.get(bits);
  if (text === undefined) {
    text = FLAG_LIST.filter(([, bit]) => (bits & bit) !== 0).map(([name]) => name).join(' ');
    flagTexts.set(bits, text);
  }
  return text;
}

const OPTION_NAMES: Readonly<Record<number, string>> = { 3: 'NSID', 8: 'ECS', 9: 'EXPIRE', 10: 'COOKIE', 11: 'KEEPALIVE', 12: 'PADDING', 15: 'EDE' };

export function ednsText(e: Edns): string {
  const parts = [`version ${e.version}`, `udp ${e.udpSize}`];
  if (e.dnssecOk) parts.push('do');
  if (e.options.length > 0) parts.push(`options ${e.options.map((o) => OPTION_NAMES[o] ?? String(o)).join(',')}`);
  return parts.join(', ');
}

/** A record as one attribute value: `TYPE TTL data` (the class only when it is not IN). */
export function recordText(r: ResourceRecord): string {
  if (r.type === 41) return `OPT ${r.data}`;
  const cls = (r.rclass & 0x7fff) === 1 ? '' : ` ${className(r.rclass)}`;
  return `${typeName(r.type)}${cls} ${r.ttl} ${r.data}`;
}

/**
 * Whether `buf[start, end)` looks like the start of a DNS message: the header is plausible (a known
 * opcode, Z clear, counts a message of its size can hold, one question: what every client sends)
 * and the question parses with a known class. `whole`: the bytes are the whole message (a
 * datagram), which must then parse to its end; else (the start of a TCP stream) the question is
 * enough. Returns the message's QR bit, or null when it does not look like DNS, or 'more'.
 */
export function looksLikeDns(buf: Buffer, start: number, end: number, whole: boolean, mdns: boolean): 'query' | 'response' | 'more' | null {
  if (end - start < HEADER_BYTES) return whole ? null : 'more';
  const flags = buf.readUInt16BE(start + 2);
  const opcode = (flags >> 11) & 0xf;
  if (opcode === 3 || opcode > 6 || (flags & Flag.z) !== 0) return null;
  const qd = buf.readUInt16BE(start + 4);
  const an = buf.readUInt16BE(start + 6);
  const ns = buf.readUInt16BE(start + 8);
  const ar = buf.readUInt16BE(start + 10);
  const response = (flags & Flag.qr) !== 0;
  // mDNS answers carry no question; everything else carries exactly one.
  if (!(qd === 1 || (mdns && qd === 0 && response && an > 0))) return null;
  if (!response && (flags & 0xf) !== 0) return null;
  if (!response && !mdns && (an > 0 || ns > 1 || ar > 2)) return null;
  if (HEADER_BYTES + qd * 5 + (an + ns + ar) * 11 > (whole ? end - start : 65535)) return null;
  const q = parseQuestions(buf, start, end);
  if (q === null) return null;
  if (q.msg.cut) return whole || end - start >= 2 + 255 + 4 ? null : 'more';
  for (const question of q.msg.questions) {
    const c = question.qclass & 0x7fff;
    if (c !== 1 && c !== 3 && c !== 4 && c !== 254 && c !== 255) return null;
  }
  if (whole) {
    const m = parseMessage(buf, start, end);
    if (m === null || m.cut || m.trailing !== 0) return null;
  }
  return response ? 'response' : 'query';
}
