/**
 * The handshake messages Tapline reads: ClientHello, ServerHello (and HelloRetryRequest),
 * EncryptedExtensions (TLS 1.3, once decrypted) and Certificate (TLS ≤ 1.2 in the clear, 1.3
 * decrypted). Each parser takes one whole message body and returns null when its lengths do not
 * add up. Node's `tls` module cannot help here: it only speaks TLS over a live socket it owns.
 */
import { Ext, HRR_RANDOM, isGrease, Reader, TLS13 } from './wire.js';

export interface ClientHello {
  legacyVersion: number;
  /** A copy (kept past the record it came in): the key log is indexed by it. */
  random: Buffer;
  sessionId: Buffer;
  ciphers: number[];
  sni: string;
  alpn: string[];
  /** supported_versions without GREASE; empty when the extension is absent (TLS ≤ 1.2 clients). */
  versions: number[];
  /** A pre_shared_key extension (TLS 1.3 resumption) was offered. */
  psk: boolean;
  /** A non-empty session ticket (TLS 1.2 resumption) was offered. */
  ticket: boolean;
}

export interface ServerHello {
  /** The version chosen: supported_versions when present, else the legacy field. */
  version: number;
  random: Buffer;
  sessionId: Buffer;
  cipher: number;
  /** ALPN chosen (TLS ≤ 1.2 puts it here; 1.3 in EncryptedExtensions), '' when none. */
  alpn: string;
  /** The server accepted a pre-shared key (TLS 1.3 resumption). */
  psk: boolean;
  /** A HelloRetryRequest: the client must send a second ClientHello. */
  retry: boolean;
}

function alpnList(r: Reader): string[] {
  const list = r.vector(2);
  const out: string[] = [];
  while (list.ok && list.left > 0) {
    const p = list.vector(1);
    out.push(p.buf.toString('latin1', p.pos, p.end));
  }
  return list.ok ? out : [];
}

function serverName(r: Reader): string {
  const list = r.vector(2);
  while (list.ok && list.left > 0) {
    const type = list.u8();
    const name = list.vector(2);
    if (type === 0 && name.ok) return name.buf.toString('latin1', name.pos, name.end);
  }
  return '';
}

/** Each extension's type and body, in order; false when the block's lengths do not add up. */
function extensions(r: Reader, each: (type: number, body: Reader) => void): boolean {
  if (r.left === 0) return true; // no extensions at all (allowed before TLS 1.3)
  const block = r.vector(2);
  while (block.ok && block.left > 0) {
    const type = block.u16();
    const body = block.vector(2);
    if (body.ok) each(type, body);
  }
  return block.ok;
}

export function parseClientHello(buf: Buffer, start: number, end: number): ClientHello | null {
  const r = new Reader(buf, start, end);
  const legacyVersion = r.u16();
  const random = Buffer.from(r.bytes(32));
  const sessionId = Buffer.from(r.bytes(r.u8()));
  const suites = r.vector(2);
  const ciphers: number[] = [];
  while (suites.ok && suites.left >= 2) ciphers.push(suites.u16());
  r.vector(1); // compression methods
  const hello: ClientHello = { legacyVersion, random, sessionId, ciphers, sni: '', alpn: [], versions: [], psk: false, ticket: false };
  if (!r.ok || !suites.ok || sessionId.length > 32) return null;
  const ok = extensions(r, (type, body) => {
    if (type === Ext.ServerName) hello.sni = serverName(body);
    else if (type === Ext.Alpn) hello.alpn = alpnList(body);
    else if (type === Ext.SupportedVersions) {
      const list = body.vector(1);
      while (list.ok && list.left >= 2) {
        const v = list.u16();
        if (!isGrease(v)) hello.versions.push(v);
      }
    } else if (type === Ext.PreSharedKey) hello.psk = true;
    else if (type === Ext.SessionTicket) hello.ticket = body.left > 0;
  });
  return ok ? hello : null;
}

export function parseServerHello(buf: Buffer, start: number, end: number): ServerHello | null {
  const r = new Reader(buf, start, end);
  const legacy = r.u16();
  const random = Buffer.from(r.bytes(32));
  const sessionId = Buffer.from(r.bytes(r.u8()));
  const cipher = r.u16();
  r.u8(); // compression method
  if (!r.ok || sessionId.length > 32) return null;
  const hello: ServerHello = { version: legacy, random, sessionId, cipher, alpn: '', psk: false, retry: random.equals(HRR_RANDOM) };
  const ok = extensions(r, (type, body) => {
    if (type === Ext.SupportedVersions && body.left === 2) hello.version = body.u16();
    else if (type === Ext.Alpn) hello.alpn = alpnList(body)[0] ?? '';
    else if (type === Ext.PreSharedKey) hello.psk = true;
  });
  return ok ? hello : null;
}

/** The ALPN protocol an EncryptedExtensions message (TLS 1.3) chose, '' when none; null when malformed. */
export function parseEncryptedExtensions(buf: Buffer, start: number, end: number): string | null {
  let alpn = '';
  const ok = extensions(new Reader(buf, start, end), (type, body) => {
    if (type === Ext.Alpn) alpn = alpnList(body)[0] ?? '';
  });
  return ok ? alpn : null;
}

/** Certificates kept of a chain (a leaf, intermediates, perhaps a root); the rest are counted, not read. */
const MAX_CHAIN = 8;

/** The DER certificates of a Certificate message (TLS 1.3 adds a request context and per-entry extensions). */
export function parseCertificates(buf: Buffer, start: number, end: number, version: number): { ders: Buffer[]; count: number } | null {
  const r = new Reader(buf, start, end);
  if (version === TLS13) r.vector(1);
  const list = r.vector(3);
  const ders: Buffer[] = [];
  let count = 0;
  while (list.ok && list.left > 0) {
    const cert = list.vector(3);
    if (version === TLS13) list.vector(2);
    if (!cert.ok) break;
    count++;
    if (ders.length < MAX_CHAIN) ders.push(cert.buf.subarray(cert.pos, cert.end));
  }
  return r.ok && list.ok ? { ders, count } : null;
}
