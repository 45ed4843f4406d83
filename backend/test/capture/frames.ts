/**
 * Test support: builds frames and capture files by hand, byte for byte as the formats define them
 * (pcap: tcpdump.org/manpages/pcap-savefile.5.html; pcapng: IETF draft-ietf-opsawg-pcapng), so the
 * decoder is checked against the specifications rather than against itself.
 */
import { writeFileSync } from 'node:fs';

export interface TcpSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags?: string; // letters of S, A, F, R, P
  payload?: Buffer | string;
}

function ipv4Bytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number));
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t].map((w) => parseInt(w, 16));
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

function tcpHeader(t: TcpSpec): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(t.sport, 0);
  h.writeUInt16BE(t.dport, 2);
  h.writeUInt32BE(t.seq >>> 0, 4);
  h.writeUInt32BE((t.ack ?? 0) >>> 0, 8);
  h[12] = 5 << 4;
  const f = t.flags ?? 'A';
  h[13] = (f.includes('F') ? 1 : 0) | (f.includes('S') ? 2 : 0) | (f.includes('R') ? 4 : 0) | (f.includes('P') ? 8 : 0) | (f.includes('A') ? 16 : 0);
  h.writeUInt16BE(65535, 14);
  return h;
}

/** An IPv4 or IPv6 packet (by the address form) of protocol `proto` carrying `l4`. */
export function ipPacket(src: string, dst: string, proto: number, l4: Buffer): Buffer {
  if (src.includes(':')) {
    const ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(l4.length, 4);
    ip[6] = proto;
    ip[7] = 64;
    ipv6Bytes(src).copy(ip, 8);
    ipv6Bytes(dst).copy(ip, 24);
    return Buffer.concat([ip, l4]);
  }
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + l4.length, 2);
  ip.writeUInt16BE(0x4000, 6); // don't fragment
  ip[8] = 64;
  ip[9] = proto;
  ipv4Bytes(src).copy(ip, 12);
  ipv4Bytes(dst).copy(ip, 16);
  return Buffer.concat([ip, l4]);
}

/** An IPv4 or IPv6 packet (by the address form) carrying one TCP segment. */
export function ipTcp(t: TcpSpec): Buffer {
  const payload = typeof t.payload === 'string' ? Buffer.from(t.payload, 'latin1') : (t.payload ?? Buffer.alloc(0));
  return ipPacket(t.src, t.dst, 6, Buffer.concat([tcpHeader(t), payload]));
}

export interface UdpSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload?: Buffer | string;
  /** The UDP header's length field, when it should lie (default: 8 + payload length). */
  udpLength?: number;
}

/** An IPv4 or IPv6 packet (by the address form) carrying one UDP datagram (checksum 0: none). */
export function ipUdp(u: UdpSpec): Buffer {
  const payload = typeof u.payload === 'string' ? Buffer.from(u.payload, 'latin1') : (u.payload ?? Buffer.alloc(0));
  const h = Buffer.alloc(8);
  h.writeUInt16BE(u.sport, 0);
  h.writeUInt16BE(u.dport, 2);
  h.writeUInt16BE(u.udpLength ?? 8 + payload.length, 4);
  return ipPacket(u.src, u.dst, 17, Buffer.concat([h, payload]));
}

function etherTypeOf(ip: Buffer): number {
  return ip[0] >> 4 === 6 ? 0x86dd : 0x0800;
}

export function ethernet(ip: Buffer, vlans: number[] = []): Buffer {
  const parts: Buffer[] = [Buffer.from('020000000002020000000001', 'hex')];
  for (const id of vlans) {
    const tag = Buffer.alloc(4);
    tag.writeUInt16BE(0x8100, 0);
    tag.writeUInt16BE(id, 2);
    parts.push(tag);
  }
  const t = Buffer.alloc(2);
  t.writeUInt16BE(etherTypeOf(ip), 0);
  parts.push(t, ip);
  const frame = Buffer.concat(parts);
  return frame.length < 60 ? Buffer.concat([frame, Buffer.alloc(60 - frame.length)]) : frame; // padding
}

export function sll(ip: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0); // sent to us
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4);
  h.writeUInt16BE(etherTypeOf(ip), 14);
  return Buffer.concat([h, ip]);
}

export function sll2(ip: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(etherTypeOf(ip), 0);
  h.writeUInt32BE(1, 4); // interface index
  h.writeUInt16BE(1, 8);
  h[11] = 6;
  return Buffer.concat([h, ip]);
}

export function bsdNull(ip: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32LE(ip[0] >> 4 === 6 ? 30 : 2, 0);
  return Buffer.concat([h, ip]);
}

export interface Frame {
  tsUs: number;
  data: Buffer;
  /** Bytes kept (snap length); the rest only counts in the wire length. */
  caplen?: number;
}

export function pcapFile(linkType: number, frames: Frame[], opts: { bigEndian?: boolean; nano?: boolean } = {}): Buffer {
  const be = opts.bigEndian ?? false;
  const u32 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt32BE(v, o) : b.writeUInt32LE(v, o));
  const u16 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  const head = Buffer.alloc(24);
  u32(head, opts.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  u16(head, 2, 4);
  u16(head, 4, 6);
  u32(head, 262144, 16);
  u32(head, linkType, 20);
  const parts: Buffer[] = [head];
  for (const f of frames) {
    const cap = Math.min(f.caplen ?? f.data.length, f.data.length);
    const rec = Buffer.alloc(16);
    u32(rec, Math.floor(f.tsUs / 1e6), 0);
    u32(rec, opts.nano ? (f.tsUs % 1e6) * 1000 : f.tsUs % 1e6, 4);
    u32(rec, cap, 8);
    u32(rec, f.data.length, 12);
    parts.push(rec, f.data.subarray(0, cap));
  }
  return Buffer.concat(parts);
}

/** A pcapng file with one section and one interface (nanosecond timestamps via if_tsresol). */
export function pcapngFile(linkType: number, frames: Frame[]): Buffer {
  const block = (type: number, body: Buffer) => {
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    const len = padded.length + 12;
    const b = Buffer.alloc(len);
    b.writeUInt32LE(type, 0);
    b.writeUInt32LE(len, 4);
    padded.copy(b, 8);
    b.writeUInt32LE(len, len - 4);
    return b;
  };
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeInt32LE(-1, 8);
  shb.writeInt32LE(-1, 12);
  const idb = Buffer.alloc(8 + 8 + 4);
  idb.writeUInt16LE(linkType, 0);
  idb.writeUInt32LE(262144, 4);
  idb.writeUInt16LE(9, 8); // if_tsresol
  idb.writeUInt16LE(1, 10);
  idb[12] = 9;
  // then opt_endofopt (zeros)
  const parts = [block(0x0a0d0d0a, shb), block(1, idb)];
  for (const f of frames) {
    const cap = Math.min(f.caplen ?? f.data.length, f.data.length);
    const ns = BigInt(f.tsUs) * 1000n;
    const h = Buffer.alloc(20);
    h.writeUInt32LE(0, 0);
    h.writeUInt32LE(Number(ns >> 32n), 4);
    h.writeUInt32LE(Number(ns & 0xffffffffn), 8);
    h.writeUInt32LE(cap, 12);
    h.writeUInt32LE(f.data.length, 16);
    parts.push(block(6, Buffer.concat([h, f.data.subarray(0, cap)])));
  }
  return Buffer.concat(parts);
}

export function writeCapture(path: string, bytes: Buffer): string {
  writeFileSync(path, bytes);
  return path;
}

/**
 * A scripted TCP conversation: keeps both sides' sequence numbers so tests can write
 * `c.client('GET / …')`, then reorder, duplicate or drop the frames it produced.
 */
export class Conversation {
  private cseq = 1000;
  private sseq = 5000;
  private t: number;
  readonly frames: Frame[] = [];

  constructor(
    readonly client: { ip: string; port: number },
    readonly server: { ip: string; port: number },
    startUs = 1_700_000_000_000_000,
    private readonly frame: (ip: Buffer) => Buffer = (ip) => ethernet(ip),
  ) {
    this.t = startUs;
  }

  private push(fromClient: boolean, flags: string, payload: Buffer | string = '', seqOverride?: number): Frame {
    const len = typeof payload === 'string' ? Buffer.byteLength(payload, 'latin1') : payload.length;
    const a = fromClient ? this.client : this.server;
    const b = fromClient ? this.server : this.client;
    const seq = seqOverride ?? (fromClient ? this.cseq : this.sseq);
    const ip = ipTcp({ src: a.ip, dst: b.ip, sport: a.port, dport: b.port, seq, ack: fromClient ? this.sseq : this.cseq, flags, payload });
    this.t += 100;
    const f = { tsUs: this.t, data: this.frame(ip) };
    this.frames.push(f);
    if (seqOverride === undefined) {
      const adv = len + (flags.includes('S') || flags.includes('F') ? 1 : 0);
      if (fromClient) this.cseq = (this.cseq + adv) >>> 0;
      else this.sseq = (this.sseq + adv) >>> 0;
    }
    return f;
  }

  handshake(): this {
    this.push(true, 'S');
    this.push(false, 'SA');
    this.push(true, 'A');
    return this;
  }

  /** Client data split into segments of at most `mss` bytes; returns the frames. */
  send(payload: string | Buffer, mss = 1460): Frame[] {
    return this.segments(true, payload, mss);
  }

  reply(payload: string | Buffer, mss = 1460): Frame[] {
    return this.segments(false, payload, mss);
  }

  private segments(fromClient: boolean, payload: string | Buffer, mss: number): Frame[] {
    const b = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
    const out: Frame[] = [];
    for (let i = 0; i < b.length; i += mss) out.push(this.push(fromClient, 'PA', b.subarray(i, i + mss)));
    return out;
  }

  close(): this {
    this.push(true, 'FA');
    this.push(false, 'FA');
    this.push(true, 'A');
    return this;
  }

  reset(fromClient = false): this {
    this.push(fromClient, 'R');
    return this;
  }
}
