/**
 * Record protection, undone with node's `crypto`: the AEAD suites of TLS 1.2 (AES-GCM and
 * ChaCha20-Poly1305, keys from the master secret through the PRF, RFC 5246 §5/§6.3, RFC 5288,
 * RFC 7905) and of TLS 1.3 (keys from the traffic secrets through HKDF-Expand-Label, RFC 8446
 * §7, KeyUpdate). Every record is authenticated before its bytes are used: a wrong key gives null,
 * never plaintext.
 */
import { createDecipheriv, createHmac } from 'node:crypto';

type Aead = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
type Hash = 'sha256' | 'sha384';

export interface SuiteCrypto {
  aead: Aead;
  keyBytes: number;
  /** The PRF (1.2) or HKDF (1.3) hash. */
  hash: Hash;
}

const TAG_BYTES = 16;
const GCM_EXPLICIT_NONCE = 8;

const AES128: SuiteCrypto = { aead: 'aes-128-gcm', keyBytes: 16, hash: 'sha256' };
const AES256: SuiteCrypto = { aead: 'aes-256-gcm', keyBytes: 32, hash: 'sha384' };
const CHACHA: SuiteCrypto = { aead: 'chacha20-poly1305', keyBytes: 32, hash: 'sha256' };

const SUITES: ReadonlyMap<number, SuiteCrypto> = new Map([
  [0x1301, AES128], [0x1302, AES256], [0x1303, CHACHA],
  [0x009c, AES128], [0x009e, AES128], [0xc02b, AES128], [0xc02f, AES128],
  [0x009d, AES256], [0x009f, AES256], [0xc02c, AES256], [0xc030, AES256],
  [0xcca8, CHACHA], [0xcca9, CHACHA], [0xccaa, CHACHA],
]);

/** How a suite protects records; null for those Tapline cannot decrypt (CBC, CCM, export…). */
export function suiteCrypto(suite: number): SuiteCrypto | null {
  return SUITES.get(suite) ?? null;
}

function hashBytes(h: Hash): number {
  return h === 'sha256' ? 32 : 48;
}

/** TLS 1.2 PRF: P_hash(secret, label + seed) (RFC 5246 §5). */
function prf(hash: Hash, secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const labelSeed = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  const out: Buffer[] = [];
  let a = labelSeed;
  let have = 0;
  while (have < length) {
    a = createHmac(hash, secret).update(a).digest();
    const block = createHmac(hash, secret).update(a).update(labelSeed).digest();
    out.push(block);
    have += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** HKDF-Expand (RFC 5869) with the TLS 1.3 label (RFC 8446 §7.1), empty context. */
function expandLabel(hash: Hash, secret: Buffer, label: string, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.alloc(4 + full.length);
  info.writeUInt16BE(length, 0);
  info[2] = full.length;
  full.copy(info, 3);
  // info[3 + full.length] = 0: the empty context.
  const out: Buffer[] = [];
  let t = Buffer.alloc(0);
  for (let i = 1, have = 0; have < length; i++) {
    t = createHmac(hash, secret).update(t).update(info).update(Buffer.of(i)).digest();
    out.push(t);
    have += t.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** One direction's record protection, with its sequence number. */
export class RecordCipher {
  private seq = 0;
  private readonly nonce = Buffer.alloc(12);
  private readonly aad: Buffer;

  private constructor(
    private readonly suite: SuiteCrypto,
    private key: Buffer,
    /** 1.2 GCM: the 4-byte salt; ChaCha20 and 1.3: the 12-byte IV. */
    private iv: Buffer,
    private readonly tls13: boolean,
    /** 1.3 only: the traffic secret, for KeyUpdate. */
    private secret: Buffer | null,
  ) {
    this.aad = Buffer.alloc(tls13 ? 5 : 13);
  }

  /** TLS 1.2: both directions' ciphers from the master secret (RFC 5246 §6.3); [client, server]. */
  static tls12(suite: SuiteCrypto, masterSecret: Buffer, clientRandom: Buffer, serverRandom: Buffer): [RecordCipher, RecordCipher] {
    const ivBytes = suite.aead === 'chacha20-poly1305' ? 12 : 4;
    const k = suite.keyBytes;
    const block = prf(suite.hash, masterSecret, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 2 * k + 2 * ivBytes);
    const key = (i: number) => block.subarray(i * k, (i + 1) * k);
    const iv = (i: number) => block.subarray(2 * k + i * ivBytes, 2 * k + (i + 1) * ivBytes);
    return [new RecordCipher(suite, key(0), iv(0), false, null), new RecordCipher(suite, key(1), iv(1), false, null)];
  }

  /** TLS 1.3: a direction's cipher from one of its traffic secrets (handshake or application). */
  static tls13(suite: SuiteCrypto, secret: Buffer): RecordCipher {
    return new RecordCipher(suite, expandLabel(suite.hash, secret, 'key', suite.keyBytes), expandLabel(suite.hash, secret, 'iv', 12), true, secret);
  }

  /** TLS 1.3 KeyUpdate: the next application traffic secret (RFC 8446 §7.2); the sequence restarts. */
  update(): void {
    if (!this.secret) return;
    const h = this.suite.hash;
    this.secret = expandLabel(h, this.secret, 'traffic upd', hashBytes(h));
    this.key = expandLabel(h, this.secret, 'key', this.suite.keyBytes);
    this.iv = expandLabel(h, this.secret, 'iv', 12);
    this.seq = 0;
  }

  /**
   * Authenticates and decrypts the record body `buf[start, end)` whose header said `type` and
   * `version`. TLS 1.2: the plaintext. TLS 1.3: the inner plaintext, padding removed, its last
   * byte the real content type. Null when it does not authenticate (then the sequence stays).
   */
  open(type: number, version: number, buf: Buffer, start: number, end: number): Buffer | null {
    let ct = start;
    if (this.suite.aead !== 'chacha20-poly1305' && !this.tls13) {
      // TLS 1.2 GCM: salt(4) + the record's explicit nonce(8).
      if (end - start < GCM_EXPLICIT_NONCE + TAG_BYTES) return null;
      this.iv.copy(this.nonce, 0, 0, 4);
      buf.copy(this.nonce, 4, start, start + GCM_EXPLICIT_NONCE);
      ct = start + GCM_EXPLICIT_NONCE;
    } else {
      if (end - start < TAG_BYTES + (this.tls13 ? 1 : 0)) return null;
      this.iv.copy(this.nonce);
      // The sequence number, 64-bit big-endian, XORed into the IV's last 8 bytes (2^53 records is plenty).
      const hi = Math.floor(this.seq / 2 ** 32);
      const lo = this.seq >>> 0;
      this.nonce.writeUInt32BE((this.nonce.readUInt32BE(4) ^ hi) >>> 0, 4);
      this.nonce.writeUInt32BE((this.nonce.readUInt32BE(8) ^ lo) >>> 0, 8);
    }
    const tagAt = end - TAG_BYTES;
    const plainBytes = tagAt - ct;
    if (this.tls13) {
      this.aad[0] = type;
      this.aad.writeUInt16BE(version, 1);
      this.aad.writeUInt16BE(end - start, 3);
    } else {
      this.aad.writeUInt32BE(Math.floor(this.seq / 2 ** 32), 0);
      this.aad.writeUInt32BE(this.seq >>> 0, 4);
      this.aad[8] = type;
      this.aad.writeUInt16BE(version, 9);
      this.aad.writeUInt16BE(plainBytes, 11);
    }
    let plain: Buffer;
    try {
      const aead = this.suite.aead;
      const d =
        aead === 'chacha20-poly1305'
          ? createDecipheriv(aead, this.key, this.nonce, { authTagLength: TAG_BYTES })
          : createDecipheriv(aead, this.key, this.nonce, { authTagLength: TAG_BYTES });
      d.setAAD(this.aad, { plaintextLength: plainBytes });
      d.setAuthTag(buf.subarray(tagAt, end));
      const head = d.update(buf.subarray(ct, tagAt));
      const tail = d.final();
      plain = tail.length === 0 ? head : Buffer.concat([head, tail]);
    } catch {
      return null;
    }
    this.seq++;
    if (!this.tls13) return plain;
    let last = plain.length - 1;
    while (last >= 0 && plain[last] === 0) last--;
    return last < 0 ? null : plain.subarray(0, last + 1);
  }
}
