/**
 * TLS on the wire: record and handshake constants, and the names of versions, cipher suites and
 * alerts as the IANA registries spell them (RFC 5246, RFC 8446), plus a bounds-checked reader for
 * handshake messages.
 */

export const RECORD_HEADER_BYTES = 5;
/** The largest record body: 2^14 plaintext + 2048 of expansion (RFC 5246 §6.2.3). */
export const MAX_RECORD_BODY = (1 << 14) + 2048;

export const enum ContentType {
  ChangeCipherSpec = 20,
  Alert = 21,
  Handshake = 22,
  ApplicationData = 23,
  Heartbeat = 24,
}

export const enum HandshakeType {
  ClientHello = 1,
  ServerHello = 2,
  NewSessionTicket = 4,
  EncryptedExtensions = 8,
  Certificate = 11,
  ServerHelloDone = 14,
  Finished = 20,
  KeyUpdate = 24,
}

export const enum Ext {
  ServerName = 0,
  Alpn = 16,
  SessionTicket = 35,
  PreSharedKey = 41,
  SupportedVersions = 43,
}

export const TLS12 = 0x0303;
export const TLS13 = 0x0304;

/** The ServerHello random that makes it a HelloRetryRequest (RFC 8446 §4.1.3): SHA-256("HelloRetryRequest"). */
export const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

/** A plausible record header at buf[at]: a known content type, version 3.x (SSL 3.0 to TLS 1.3), a legal length. */
export function plausibleRecord(buf: Buffer, at: number): boolean {
  const type = buf[at];
  if (type < ContentType.ChangeCipherSpec || type > ContentType.Heartbeat || buf[at + 1] !== 3 || buf[at + 2] > 4) return false;
  return buf.readUInt16BE(at + 3) <= MAX_RECORD_BODY;
}

/** GREASE values (RFC 8701: 0x0a0a, 0x1a1a… 0xfafa) are offered to keep peers honest, never chosen. */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}

export function versionName(v: number): string {
  if (v === 0x0300) return 'SSL 3.0';
  if (v >= 0x0301 && v <= TLS13) return `1.${v - 0x0301}`;
  return `0x${v.toString(16).padStart(4, '0')}`;
}

/** IANA names of the suites seen in practice; others are shown as their hex code. */
const CIPHER_SUITES: ReadonlyMap<number, string> = new Map([
  [0x000a, 'TLS_RSA_WITH_3DES_EDE_CBC_SHA'],
  [0x002f, 'TLS_RSA_WITH_AES_128_CBC_SHA'],
  [0x0033, 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA'],
  [0x0035, 'TLS_RSA_WITH_AES_256_CBC_SHA'],
  [0x0039, 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA'],
  [0x003c, 'TLS_RSA_WITH_AES_128_CBC_SHA256'],
  [0x003d, 'TLS_RSA_WITH_AES_256_CBC_SHA256'],
  [0x0067, 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA256'],
  [0x006b, 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA256'],
  [0x009c, 'TLS_RSA_WITH_AES_128_GCM_SHA256'],
  [0x009d, 'TLS_RSA_WITH_AES_256_GCM_SHA384'],
  [0x009e, 'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256'],
  [0x009f, 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384'],
  [0x00ff, 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV'],
  [0x1301, 'TLS_AES_128_GCM_SHA256'],
  [0x1302, 'TLS_AES_256_GCM_SHA384'],
  [0x1303, 'TLS_CHACHA20_POLY1305_SHA256'],
  [0x1304, 'TLS_AES_128_CCM_SHA256'],
  [0x1305, 'TLS_AES_128_CCM_8_SHA256'],
  [0x5600, 'TLS_FALLBACK_SCSV'],
  [0xc009, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA'],
  [0xc00a, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA'],
  [0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'],
  [0xc014, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA'],
  [0xc023, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256'],
  [0xc024, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384'],
  [0xc027, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256'],
  [0xc028, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384'],
  [0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
  [0xc02c, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'],
  [0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
  [0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'],
  [0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
  [0xcca9, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256'],
  [0xccaa, 'TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
]);

export function cipherSuiteName(code: number): string {
  return CIPHER_SUITES.get(code) ?? `0x${code.toString(16).padStart(4, '0')}`;
}

/** The suites the name table holds (for the test that checks them against OpenSSL's own table). */
export function namedCipherSuites(): ReadonlyMap<number, string> {
  return CIPHER_SUITES;
}

const ALERTS: Readonly<Record<number, string>> = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 21: 'decryption_failed', 22: 'record_overflow',
  30: 'decompression_failure', 40: 'handshake_failure', 41: 'no_certificate', 42: 'bad_certificate',
  43: 'unsupported_certificate', 44: 'certificate_revoked', 45: 'certificate_expired', 46: 'certificate_unknown',
  47: 'illegal_parameter', 48: 'unknown_ca', 49: 'access_denied', 50: 'decode_error', 51: 'decrypt_error',
  60: 'export_restriction', 70: 'protocol_version', 71: 'insufficient_security', 80: 'internal_error',
  86: 'inappropriate_fallback', 90: 'user_canceled', 100: 'no_renegotiation', 109: 'missing_extension',
  110: 'unsupported_extension', 111: 'certificate_unobtainable', 112: 'unrecognized_name',
  113: 'bad_certificate_status_response', 114: 'bad_certificate_hash_value', 115: 'unknown_psk_identity',
  116: 'certificate_required', 120: 'no_application_protocol',
};

export function alertName(code: number): string {
  return ALERTS[code] ?? `alert_${code}`;
}

/**
 * A cursor over one handshake message. Reads past the end give zeros and clear `ok`, so a parser
 * reads straight through and checks `ok` once (lengths that lie never throw, never overrun).
 */
export class Reader {
  ok = true;
  constructor(
    readonly buf: Buffer,
    public pos: number,
    public end: number,
  ) {}

  private take(n: number): number {
    const at = this.pos;
    if (n < 0 || at + n > this.end) {
      this.ok = false;
      this.pos = this.end;
      return -1;
    }
    this.pos += n;
    return at;
  }

  u8(): number {
    const at = this.take(1);
    return at < 0 ? 0 : this.buf[at];
  }

  u16(): number {
    const at = this.take(2);
    return at < 0 ? 0 : this.buf.readUInt16BE(at);
  }

  u24(): number {
    const at = this.take(3);
    return at < 0 ? 0 : this.buf.readUIntBE(at, 3);
  }

  /** Skips n bytes; returns where they start. */
  skip(n: number): number {
    return Math.max(0, this.take(n));
  }

  bytes(n: number): Buffer {
    const at = this.take(n);
    return at < 0 ? Buffer.alloc(0) : this.buf.subarray(at, at + n);
  }

  /** A vector with a `lenBytes`-byte length prefix, as a reader of its own. */
  vector(lenBytes: 1 | 2 | 3): Reader {
    const n = lenBytes === 1 ? this.u8() : lenBytes === 2 ? this.u16() : this.u24();
    const at = this.take(n);
    const r = new Reader(this.buf, Math.max(at, 0), at < 0 ? 0 : at + n);
    if (at < 0) r.ok = false;
    return r;
  }

  get left(): number {
    return this.end - this.pos;
  }
}
