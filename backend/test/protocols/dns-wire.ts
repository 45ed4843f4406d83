/** Test support: DNS messages built byte by byte (RFC 1035 §4.1), uncompressed unless a test writes pointers itself. */

export function name(n: string): Buffer {
  if (n === '' || n === '.') return Buffer.from([0]);
  const parts = n.split('.').map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l, 'latin1')]), Buffer.from(l, 'latin1')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v, 0);
  return b;
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
};

export interface Rr {
  name: string | Buffer;
  type: number;
  ttl?: number;
  rclass?: number;
  rdata: Buffer;
}

export function rr(r: Rr): Buffer {
  const owner = typeof r.name === 'string' ? name(r.name) : r.name;
  return Buffer.concat([owner, u16(r.type), u16(r.rclass ?? 1), u32(r.ttl ?? 300), u16(r.rdata.length), r.rdata]);
}

export interface MessageSpec {
  id: number;
  /** QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE as the header's 16 bits. */
  flags?: number;
  questions?: Array<[name: string, type: number, qclass?: number]>;
  answers?: Rr[];
  authority?: Rr[];
  additional?: Rr[];
  /** Header counts that lie: [qd, an, ns, ar]. */
  counts?: [number, number, number, number];
}

export function message(m: MessageSpec): Buffer {
  const qs = m.questions ?? [];
  const an = m.answers ?? [];
  const ns = m.authority ?? [];
  const ar = m.additional ?? [];
  const counts = m.counts ?? [qs.length, an.length, ns.length, ar.length];
  return Buffer.concat([
    u16(m.id), u16(m.flags ?? 0x0100), ...counts.map(u16),
    ...qs.map(([n, t, c]) => Buffer.concat([name(n), u16(t), u16(c ?? 1)])),
    ...an.map(rr), ...ns.map(rr), ...ar.map(rr),
  ]);
}

export const query = (id: number, qname: string, qtype = 1, flags = 0x0100) => message({ id, flags, questions: [[qname, qtype]] });

/** A response to `query(id, qname, qtype)`: QR RD RA and `rcode`, with these answers. */
export const response = (id: number, qname: string, qtype: number, rcode: number, answers: Rr[] = [], extraFlags = 0) =>
  message({ id, flags: 0x8180 | rcode | extraFlags, questions: [[qname, qtype]], answers });

export const a = (owner: string, ip: string, ttl = 60): Rr => ({ name: owner, type: 1, ttl, rdata: Buffer.from(ip.split('.').map(Number)) });

/** A 2-byte length prefix before each message (DNS over TCP). */
export const tcpFramed = (...messages: Buffer[]) => Buffer.concat(messages.flatMap((m) => [u16(m.length), m]));

export { u16, u32 };
