/**
 * Test support: MySQL packets built by hand, from the protocol documentation (not from the
 * dissector's code), for the tests real clients cannot produce on demand.
 */
import { deflateSync } from 'node:zlib';

export const CAP = {
  mysql: 1, connectWithDb: 0x8, compress: 0x20, protocol41: 0x200, ssl: 0x800, secureConnection: 0x8000,
  multiResults: 1 << 17, pluginAuth: 1 << 19, deprecateEof: 1 << 24, zstd: 1 << 26,
};
export const BASE_CAPS = CAP.mysql | CAP.connectWithDb | CAP.protocol41 | CAP.secureConnection | CAP.multiResults | CAP.pluginAuth;

const u16 = (n: number) => Buffer.from([n & 0xff, (n >> 8) & 0xff]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};

export function lenenc(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n < 0x10000) return Buffer.concat([Buffer.from([0xfc]), u16(n)]);
  if (n < 0x1000000) return Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff]);
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
}

export const str = (s: string | Buffer) => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([lenenc(b.length), b]);
};
const nul = (s: string) => Buffer.from(`${s}\0`);

/** One payload as packets: 16 MiB - 1 pieces and a shorter last one (empty when the length is a multiple). */
export function packet(seq: number, payload: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const n = Math.min(0xffffff, payload.length - at);
    parts.push(Buffer.from([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, seq++ & 0xff]), payload.subarray(at, at + n));
    at += n;
    if (n < 0xffffff) break;
  }
  return Buffer.concat(parts);
}

export function greeting(caps: number, version = '8.0.36', plugin = 'mysql_native_password'): Buffer {
  return Buffer.concat([
    Buffer.from([10]), nul(version), u32(42), Buffer.from('abcdefgh'), Buffer.from([0]), u16(caps & 0xffff), Buffer.from([45]), u16(2),
    u16(caps >>> 16), Buffer.from([21]), Buffer.alloc(10), Buffer.from('ijklmnopqrst\0'), nul(plugin),
  ]);
}

export function login(caps: number, user: string, database: string, auth: Buffer, plugin = 'mysql_native_password'): Buffer {
  return Buffer.concat([u32(caps), u32(1 << 24), Buffer.from([45]), Buffer.alloc(23), nul(user), Buffer.from([auth.length]), auth, nul(database), nul(plugin)]);
}

export function ok(affected = 0, insertId = 0, status = 2, warnings = 0, header = 0): Buffer {
  return Buffer.concat([Buffer.from([header]), lenenc(affected), lenenc(insertId), u16(status), u16(warnings)]);
}

export function err(errno: number, sqlstate: string, message: string): Buffer {
  return Buffer.concat([Buffer.from([0xff]), u16(errno), Buffer.from(`#${sqlstate}${message}`)]);
}

export const eof = (status = 2, warnings = 0) => Buffer.concat([Buffer.from([0xfe]), u16(warnings), u16(status)]);

export function column(name: string, type: number, flags = 0): Buffer {
  return Buffer.concat([str('def'), str('shop'), str('t'), str('t'), str(name), str(name), Buffer.from([0x0c]), u16(45), u32(20), Buffer.from([type]), u16(flags), Buffer.from([0, 0, 0])]);
}

export const textRow = (values: Array<string | null>) => Buffer.concat(values.map((v) => (v === null ? Buffer.from([0xfb]) : str(v))));

export const command = (c: number, body: Buffer | string = '') => Buffer.concat([Buffer.from([c]), typeof body === 'string' ? Buffer.from(body) : body]);

/** A compressed frame of `inner` (already framed packets); `as`: the bytes sent (deflated unless told). */
export function compressedFrame(seq: number, inner: Buffer, body: Buffer = deflateSync(inner), declared = inner.length): Buffer {
  const n = body.length;
  return Buffer.concat([Buffer.from([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, seq, declared & 0xff, (declared >> 8) & 0xff, (declared >> 16) & 0xff]), body]);
}

export { u16, u32 };
