/**
 * permessage-deflate (RFC 7692): the parameters the server accepted in its handshake, and one
 * direction's decompression. A compressed message is raw DEFLATE without its final empty block
 * (00 00 ff ff); with context takeover (the default) each message may refer back into the text of
 * the messages before it, up to the sender's window: the last 2^bits bytes decompressed are kept
 * and handed to zlib as the dictionary of the next message, so every message is one synchronous
 * inflateRaw call (a streaming inflater would need a live, gapless stream and a callback).
 */
import { constants, inflateRawSync } from 'node:zlib';

export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** The senders' LZ77 windows (bits), 15 unless negotiated lower. */
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const MAX_WINDOW_BITS = 15;

function windowBits(value: string | undefined): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 8 && n <= MAX_WINDOW_BITS ? n : MAX_WINDOW_BITS;
}

/**
 * The permessage-deflate parameters of a server's `Sec-WebSocket-Extensions` (what it accepted),
 * null when it accepted none.
 */
export function negotiatedDeflate(extensions: string): DeflateParams | null {
  for (const ext of extensions.split(',')) {
    const [name, ...params] = ext.split(';').map((s) => s.trim());
    if (name.toLowerCase() !== 'permessage-deflate') continue;
    const p = new Map(params.map((kv) => {
      const eq = kv.indexOf('=');
      return eq < 0 ? [kv.toLowerCase(), undefined] : [kv.slice(0, eq).trim().toLowerCase(), kv.slice(eq + 1).trim().replace(/^"|"$/g, '')];
    }));
    return {
      serverNoContextTakeover: p.has('server_no_context_takeover'),
      clientNoContextTakeover: p.has('client_no_context_takeover'),
      serverMaxWindowBits: windowBits(p.get('server_max_window_bits')),
      clientMaxWindowBits: windowBits(p.get('client_max_window_bits')),
    };
  }
  return null;
}

export interface Inflated {
  bytes: Buffer;
  /** The whole message was decompressed (not cut by the cap, nor by compressed bytes not kept). */
  complete: boolean;
}

/** One sender's decompression; `cap` bounds what one message may decompress to (deflate bombs). */
export class Inflater {
  private window: Buffer | null = null;
  /** A message before could not be decompressed whole: later ones refer to text that is missing. */
  private lost = false;

  constructor(
    private readonly contextTakeover: boolean,
    private readonly bits: number,
    private readonly cap: number,
  ) {}

  /**
   * Decompresses one message's payload (`whole`: every compressed byte was kept). Null when it
   * cannot be: corrupt, beyond the cap, or its context is lost.
   */
  inflate(payload: Buffer, whole: boolean): Inflated | null {
    if (this.lost) return null;
    let bytes: Buffer;
    try {
      bytes = inflateRawSync(Buffer.concat([payload, TAIL]), {
        windowBits: MAX_WINDOW_BITS,
        dictionary: this.window ?? undefined,
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: this.cap,
      });
    } catch {
      if (this.contextTakeover) this.lost = true;
      return null;
    }
    if (!whole && this.contextTakeover) this.lost = true;
    else if (this.contextTakeover) this.keepWindow(bytes);
    return { bytes, complete: whole };
  }

  private keepWindow(out: Buffer): void {
    const size = 1 << this.bits;
    if (out.length >= size) {
      this.window = Buffer.from(out.subarray(out.length - size));
      return;
    }
    const prev = this.window;
    if (prev === null || prev.length + out.length <= size) {
      this.window = prev === null ? Buffer.from(out) : Buffer.concat([prev, out]);
      return;
    }
    this.window = Buffer.concat([prev.subarray(prev.length + out.length - size), out]);
  }
}
