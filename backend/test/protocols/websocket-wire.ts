/** Test support: WebSocket frames built byte by byte as RFC 6455 §5.2 draws them. */

export interface FrameSpec {
  fin?: boolean;
  rsv1?: boolean;
  /** A 4-byte masking key (client frames); none for server frames. */
  mask?: Buffer;
  /** The length field as written, when it should lie (a bigint for the 64-bit form). */
  length?: bigint;
}

export const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

export function frame(opcode: number, payload: Buffer | string, spec: FrameSpec = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const len = spec.length ?? BigInt(data.length);
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv1 ? 0x40 : 0) | opcode];
  const maskBit = spec.mask ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (len < 126n) head.push(maskBit | Number(len));
  else if (len < 65536n) {
    head.push(maskBit | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(Number(len));
  } else {
    head.push(maskBit | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(len);
  }
  const body = Buffer.from(data);
  if (spec.mask) for (let i = 0; i < body.length; i++) body[i] ^= spec.mask[i % 4];
  return Buffer.concat([Buffer.from(head), ext, ...(spec.mask ? [spec.mask] : []), body]);
}

/** A client frame (masked). */
export const client = (opcode: number, payload: Buffer | string, spec: FrameSpec = {}) => frame(opcode, payload, { mask: MASK, ...spec });

/** A close frame's payload: the code, then the reason in UTF-8. */
export function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason, 'utf8')]);
}

export const upgradeRequest = (path: string, extensions = '') =>
  `GET ${path} HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : ''}\r\n`;

export const upgradeResponse = (extensions = '') =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n${extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : ''}\r\n`;

/**
 * Messages compressed as permessage-deflate senders do (RFC 7692 §7.2.1): one raw DEFLATE stream,
 * flushed (Z_SYNC_FLUSH) after each message and its 00 00 ff ff tail removed; with context
 * takeover the stream goes on across messages, without it each message has its own.
 */
export async function deflateMessages(messages: Array<Buffer | string>, takeover: boolean, windowBits = 15): Promise<Buffer[]> {
  const { createDeflateRaw, constants } = await import('node:zlib');
  let z = createDeflateRaw({ windowBits });
  const out: Buffer[] = [];
  for (const m of messages) {
    if (!takeover) z = createDeflateRaw({ windowBits });
    const chunks: Buffer[] = [];
    z.write(m);
    await new Promise<void>((resolve) => z.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    for (let c = z.read() as Buffer | null; c !== null; c = z.read() as Buffer | null) chunks.push(c);
    const all = Buffer.concat(chunks);
    out.push(all.subarray(0, all.length - 4));
  }
  return out;
}
