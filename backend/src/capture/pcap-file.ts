/**
 * Reads .pcap and .pcapng files in big chunks and hands every frame to a handler, without
 * per-packet allocation. Written here rather than using node_pcap's offline session because that
 * one blocks the event loop for the whole file (no back-pressure, no progress, no signals) and
 * cuts frames at 65535 bytes, while loopback captures carry frames up to 65549 bytes.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { CaptureError } from './errors.js';
import { newRawPacket, type PacketHandler, type RawPacket } from './packet.js';

const CHUNK = 4 << 20;
/** A record longer than this cannot be real (libpcap's largest snap length is 256 KiB). */
const MAX_RECORD = 16 << 20;

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;

export interface FileProgress {
  bytesRead: number;
  fileSize: number;
  packets: number;
}

export interface ReadOptions {
  /**
   * Called between chunks; when it returns a promise the reader waits for it (back-pressure
   * from the pipeline's sink) before it reads on.
   */
  pause?: () => Promise<void> | undefined;
  /** Called after every chunk, for progress bars. */
  progress?: (p: FileProgress) => void;
}

/** Per-interface facts of a pcapng section. */
interface Interface {
  linkType: number;
  /** Timestamp units per second is 10^exp10 (or 2^exp2 when exp10 < 0). */
  exp10: number;
  exp2: number;
}

/**
 * Streams one capture file. `readFile` resolves with the number of frames when the file was read
 * to the end, and rejects with a CaptureError (after handing over every good frame before it)
 * when the file is damaged.
 */
export async function readCaptureFile(path: string, onPacket: PacketHandler, opts: ReadOptions = {}): Promise<number> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new CaptureError('FILE_OPEN', `cannot open ${path}: ${(err as Error).message}`);
  }
  try {
    const fileSize = (await fh.stat()).size;
    const reader = new ChunkReader(fh, fileSize, path);
    await reader.fill(4);
    if (reader.available() < 4) throw new CaptureError('BAD_FILE_HEADER', `${path} is too short to be a capture file (${fileSize} bytes)`, 0);
    const magicBE = reader.buf.readUInt32BE(reader.pos);
    const state: ParseState = { packets: 0, pkt: newRawPacket(), onPacket, opts, fileSize, reader };
    if (magicBE === PCAPNG_SHB) await readPcapng(state);
    else await readPcap(state);
    return state.packets;
  } finally {
    await fh.close();
  }
}

interface ParseState {
  packets: number;
  pkt: RawPacket;
  onPacket: PacketHandler;
  opts: ReadOptions;
  fileSize: number;
  reader: ChunkReader;
}

/** A window over the file: `buf[pos, end)` are unread bytes starting at file offset `base + pos`. */
class ChunkReader {
  buf = Buffer.allocUnsafe(CHUNK);
  pos = 0;
  end = 0;
  /** File offset of buf[0]. */
  base = 0;
  eof = false;

  constructor(
    private readonly fh: FileHandle,
    readonly fileSize: number,
    readonly path: string,
  ) {}

  available(): number {
    return this.end - this.pos;
  }

  offset(): number {
    return this.base + this.pos;
  }

  /** Makes at least `n` unread bytes available unless the file ends first. */
  async fill(n: number): Promise<void> {
    if (this.end - this.pos >= n || this.eof) return;
    if (n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
      this.buf.copy(bigger, 0, this.pos, this.end);
      this.buf = bigger;
    } else {
      this.buf.copy(this.buf, 0, this.pos, this.end);
    }
    this.base += this.pos;
    this.end -= this.pos;
    this.pos = 0;
    while (this.end < n && !this.eof) {
      const { bytesRead } = await this.fh.read(this.buf, this.end, this.buf.length - this.end, this.base + this.end);
      if (bytesRead === 0) this.eof = true;
      this.end += bytesRead;
    }
  }
}

async function between(state: ParseState): Promise<void> {
  const r = state.reader;
  state.opts.progress?.({ bytesRead: r.offset(), fileSize: state.fileSize, packets: state.packets });
  const wait = state.opts.pause?.();
  if (wait) await wait;
  // Let timers and signals run between chunks.
  await new Promise<void>((resolve) => setImmediate(resolve));
}

async function readPcap(state: ParseState): Promise<void> {
  const r = state.reader;
  await r.fill(24);
  if (r.available() < 24) throw new CaptureError('BAD_FILE_HEADER', `${r.path} ends inside the pcap file header`, 0);
  const b = r.buf;
  const magicLE = b.readUInt32LE(r.pos);
  const magicBE = b.readUInt32BE(r.pos);
  let le: boolean;
  let nano: boolean;
  if (magicLE === PCAP_MAGIC_US || magicLE === PCAP_MAGIC_NS) {
    le = true;
    nano = magicLE === PCAP_MAGIC_NS;
  } else if (magicBE === PCAP_MAGIC_US || magicBE === PCAP_MAGIC_NS) {
    le = false;
    nano = magicBE === PCAP_MAGIC_NS;
  } else {
    throw new CaptureError(
      'BAD_FILE_HEADER',
      `${r.path} is neither pcap nor pcapng (magic number 0x${magicBE.toString(16).padStart(8, '0')})`,
      0,
    );
  }
  const major = le ? b.readUInt16LE(r.pos + 4) : b.readUInt16BE(r.pos + 4);
  if (major !== 2) throw new CaptureError('BAD_FILE_HEADER', `${r.path}: unsupported pcap version ${major}`, 4);
  // The upper bits of the link type field hold FCS information (pcap spec, LinkType and additional information).
  const linkType = (le ? b.readUInt32LE(r.pos + 20) : b.readUInt32BE(r.pos + 20)) & 0x0fffffff;
  r.pos += 24;
  const pkt = state.pkt;
  pkt.linkType = linkType;
  for (;;) {
    if (r.available() < 16) {
      await between(state);
      await r.fill(16);
      if (r.available() === 0) return;
      if (r.available() < 16) throw truncated(r, 16);
    }
    const h = r.pos;
    const buf = r.buf;
    const sec = u32(buf, h, le);
    const frac = u32(buf, h + 4, le);
    const caplen = u32(buf, h + 8, le);
    const wireLen = u32(buf, h + 12, le);
    if (caplen > MAX_RECORD) {
      throw new CaptureError('BAD_RECORD', `${r.path}: record ${state.packets + 1} claims ${caplen} captured bytes`, r.offset());
    }
    if (r.available() < 16 + caplen) {
      await between(state);
      await r.fill(16 + caplen);
      if (r.available() < 16 + caplen) throw truncated(r, 16 + caplen);
      continue; // buffer moved: re-read the header from the new position
    }
    pkt.buf = r.buf;
    pkt.offset = r.pos + 16;
    pkt.caplen = caplen;
    pkt.wireLen = wireLen < caplen ? caplen : wireLen;
    pkt.tsUs = sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac);
    r.pos += 16 + caplen;
    state.packets++;
    state.onPacket(pkt);
  }
}

function truncated(r: ChunkReader, need: number): CaptureError {
  return new CaptureError(
    'TRUNCATED',
    `${r.path} ends inside a record (${r.available()} of ${need} bytes present)`,
    r.offset(),
  );
}

async function readPcapng(state: ParseState): Promise<void> {
  const r = state.reader;
  const pkt = state.pkt;
  let le = true;
  let ifaces: Interface[] = [];
  for (;;) {
    if (r.available() < 12) {
      await between(state);
      await r.fill(12);
      if (r.available() === 0) return;
      if (r.available() < 12) throw truncated(r, 12);
    }
    let buf = r.buf;
    const type = buf.readUInt32LE(r.pos); // the SHB type is a palindrome, so either order reads it
    if (type === PCAPNG_SHB) {
      const bom = buf.readUInt32LE(r.pos + 8);
      if (bom === PCAPNG_BOM) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else throw new CaptureError('BAD_FILE_HEADER', `${r.path}: bad pcapng byte-order magic`, r.offset() + 8);
      ifaces = []; // interface ids are per section
    }
    const rawType = le ? buf.readUInt32LE(r.pos) : buf.readUInt32BE(r.pos);
    const len = le ? buf.readUInt32LE(r.pos + 4) : buf.readUInt32BE(r.pos + 4);
    if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) {
      throw new CaptureError('BAD_RECORD', `${r.path}: pcapng block of type ${rawType} has impossible length ${len}`, r.offset());
    }
    if (r.available() < len) {
      await between(state);
      await r.fill(len);
      if (r.available() < len) throw truncated(r, len);
      buf = r.buf;
    }
    const p = r.pos;
    switch (rawType) {
      case 1: {
        // Interface Description Block: link type, snap length, options (if_tsresol is code 9).
        const iface: Interface = { linkType: u16(buf, p + 8, le), exp10: 6, exp2: -1 };
        let o = 16;
        while (o + 4 <= len - 4) {
          const code = u16(buf, p + o, le);
          const olen = u16(buf, p + o + 2, le);
          if (code === 0) break;
          if (code === 9 && olen >= 1) {
            const v = buf[p + o + 4];
            if (v & 0x80) {
              iface.exp10 = -1;
              iface.exp2 = v & 0x7f;
            } else iface.exp10 = v;
          }
          o += 4 + ((olen + 3) & ~3);
        }
        ifaces.push(iface);
        break;
      }
      case 6: // Enhanced Packet Block
      case 2: {
        // Packet Block (obsolete): 16-bit interface id and drop count instead of a 32-bit id.
        const ifId = rawType === 6 ? u32(buf, p + 8, le) : u16(buf, p + 8, le);
        const iface = ifaces[ifId];
        if (!iface) throw new CaptureError('BAD_RECORD', `${r.path}: packet for undeclared interface ${ifId}`, r.offset());
        const caplen = u32(buf, p + 20, le);
        if (28 + caplen > len) throw new CaptureError('BAD_RECORD', `${r.path}: packet block shorter than its data`, r.offset());
        pkt.tsUs = toMicros(u32(buf, p + 12, le), u32(buf, p + 16, le), iface);
        emit(state, buf, p + 28, caplen, u32(buf, p + 24, le), iface.linkType);
        break;
      }
      case 3: {
        // Simple Packet Block: interface 0, no timestamp.
        const iface = ifaces[0];
        if (!iface) throw new CaptureError('BAD_RECORD', `${r.path}: simple packet before any interface`, r.offset());
        const wire = u32(buf, p + 8, le);
        pkt.tsUs = 0;
        emit(state, buf, p + 12, Math.min(wire, len - 16), wire, iface.linkType);
        break;
      }
      default:
        break; // name resolution, statistics, custom blocks: nothing to decode
    }
    r.pos += len;
  }
}

function emit(state: ParseState, buf: Buffer, offset: number, caplen: number, wireLen: number, linkType: number): void {
  const pkt = state.pkt;
  pkt.buf = buf;
  pkt.offset = offset;
  pkt.caplen = caplen;
  pkt.wireLen = wireLen < caplen ? caplen : wireLen;
  pkt.linkType = linkType;
  state.packets++;
  state.onPacket(pkt);
}

/** pcapng timestamps are 64-bit counts of 1/10^exp10 (or 1/2^exp2) seconds, split in two words. */
function toMicros(high: number, low: number, iface: Interface): number {
  if (iface.exp10 === 6) return high * 4294967296 + low;
  if (iface.exp10 === 9) {
    // high * 2^32 / 1000 split so that nothing leaves the exact range of a double.
    return high * 4294967 + Math.floor((high * 296 + low) / 1000);
  }
  const units = high * 4294967296 + low;
  if (iface.exp10 >= 0) return Math.floor((units * 1e6) / 10 ** iface.exp10);
  return Math.floor((units * 1e6) / 2 ** iface.exp2);
}

// Reads of bytes whose bounds were checked: Buffer#readUInt32LE/BE validate the offset again, in
// a wrapped function, for each of a record header's four fields.
function u32(buf: Buffer, at: number, le: boolean): number {
  const a = buf[at];
  const b = buf[at + 1];
  const c = buf[at + 2];
  const d = buf[at + 3];
  return (le ? (d << 24) | (c << 16) | (b << 8) | a : (a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function u16(buf: Buffer, at: number, le: boolean): number {
  return le ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
}
