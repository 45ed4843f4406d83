/**
 * TLS: one entry per connection's handshake, and, with key logs, the plaintext handed to the
 * protocols it carries.
 *
 * Records are framed on each direction (content type, version 3.x, a legal length); handshake
 * messages are reassembled across records (and split when several share one). The entry
 * (operation `handshake`, target the SNI) starts at the ClientHello's first record and ends at the
 * server's Finished: in TLS ≤ 1.2 the first record after the server's ChangeCipherSpec; in TLS 1.3
 * the record that carries it when decrypting, else the last server record before the client's
 * second flight. The handshake completes there (TLS 1.3: with the client's Finished, decrypted, or
 * its second flight); an alert before that ends it failed, with the alert as its status and its
 * time as the end; a connection that ends first gives an entry with no response.
 *
 * With the connection's secrets in a key log (keylog.ts), every record is authenticated and
 * decrypted (crypto.ts); application data goes to an inner stream that detection and the other
 * dissectors see as a plain connection, whose entries carry `tls.decrypted`. Without them (or when
 * a record does not authenticate) the rest of the connection is skipped, never parsed.
 */
import { emptyBody, HeaderList, Outcome, type Entry, type ProtocolFields } from '../../entries/entry.js';
import type { Direction, EndReason, StreamConsumer } from '../../net/stream.js';
import { Detection, type Dissector, type DissectorContext, type Exchange, type Section } from '../dissector.js';
import { fieldsTable, table } from '../represent.js';
import { certificateText, summarise, type CertificateSummary } from './certificate.js';
import { RecordCipher, suiteCrypto } from './crypto.js';
import { parseCertificates, parseClientHello, parseEncryptedExtensions, parseServerHello, type ClientHello, type ServerHello } from './handshake.js';
import { processKeyLog, type KeySource, type TlsSecrets } from './keylog.js';

type SecretName = keyof TlsSecrets;
import {
  alertName,
  cipherSuiteName,
  ContentType,
  HandshakeType,
  MAX_RECORD_BODY,
  plausibleRecord,
  RECORD_HEADER_BYTES,
  TLS13,
  versionName,
} from './wire.js';

/** A handshake message longer than this is not reassembled (certificate chains are a few KiB). */
const MAX_HANDSHAKE_MESSAGE = 256 * 1024;
/**
 * Records held while a connection's secrets are not in the followed key logs yet: a live client
 * writes them as it derives them, often after the capture has seen the records they protect.
 * Held for so long (capture time) after the first miss, up to so many records and bytes.
 */
const HOLD_US = 3e6;
const MAX_HELD_RECORDS = 64;
const MAX_HELD_BYTES = 256 * 1024;
/** Held by all the connections of one dissector at once; beyond, a connection gives up waiting. */
const MAX_HELD_TOTAL = 64 << 20;

/** The bytes a dissector's connections hold for the key log, together. */
interface HeldBudget {
  bytes: number;
}

/** The mark on the entries found in decrypted plaintext (and on a handshake whose records authenticated). */
export const DECRYPTED_FIELD = 'tls.decrypted';
const DECRYPTED: ProtocolFields = Object.freeze({ [DECRYPTED_FIELD]: 1 });

interface Held {
  dir: Direction;
  type: number;
  version: number;
  body: Buffer;
  tsUs: number;
}

/** One direction: record framing, handshake reassembly, protection. */
class Side {
  /** The start of a record whose end has not arrived (a copy). */
  rec: Buffer | null = null;
  /** Framing lost (a gap, a bad header): wait for a chunk that starts with a plausible record. */
  lost = false;
  /** The start of a handshake message whose end has not arrived (a copy). */
  hs: Buffer | null = null;
  /** TLS ≤ 1.2: ChangeCipherSpec seen, every later record is protected. */
  ccs = false;
  cipher: RecordCipher | null = null;
  /** TLS 1.3: the secret this side needs next that the key log does not hold yet. */
  awaiting: SecretName | null = null;
  /** Nothing more is read on this side (handshake over and no way to decrypt): bytes are skipped. */
  skip = false;

  constructor(readonly dir: Direction) {}
}

interface Alert {
  code: number;
  from: 'client' | 'server';
}

class TlsConnection implements StreamConsumer {
  private readonly sides: [Side, Side] = [new Side(0), new Side(1)];
  private ch: ClientHello | null = null;
  private sh: ServerHello | null = null;
  private helloRetry = false;
  private tls13 = false;
  private alpn = '';
  private chain: CertificateSummary[] = [];
  private chainLength = 0;
  private alert: Alert | null = null;
  private startUs = -1;
  private lastServerUs = 0;
  /** The capture time of the last record, and of the first time a secret was not in the key log. */
  private lastUs = 0;
  private firstMissUs = 0;
  /** TLS 1.3: the capture time of the server's Finished (decrypted), 0 before. */
  private serverFinishedUs = 0;
  /** The end of a handshake completed while its entry waits for the secrets (see `completed`), 0 when none. */
  private deferredEndUs = 0;
  /** Waiting for the secrets was given up (too long, too much held). */
  private gaveUp = false;
  /** Records waiting for the key log. */
  private held: Held[] = [];
  private heldBytes = 0;
  /** Held records are being read again (they must not start another retry). */
  private replaying = false;
  private emitted = false;
  private gapped = false;
  /** null: not looked up yet; false: not in the key log (yet). */
  private secrets: TlsSecrets | null | false = null;
  /** TLS 1.2: both sides' ciphers were made (once, at the first ChangeCipherSpec). */
  private keyed = false;
  /** Some record authenticated with the key log's secrets. */
  private decrypted = false;
  private inner: StreamConsumer | null = null;

  constructor(
    private readonly ctx: DissectorContext,
    private readonly clientDir: Direction,
    private readonly keys: KeySource,
    private readonly budget: HeldBudget,
  ) {}

  data(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    const side = this.sides[dir];
    if (side.skip) return;
    if (side.lost) {
      if (end - start < RECORD_HEADER_BYTES || !plausibleRecord(buf, start)) return;
      side.lost = false;
    }
    let b = buf;
    let s = start;
    let e = end;
    if (side.rec) {
      b = Buffer.concat([side.rec, buf.subarray(start, end)]);
      s = 0;
      e = b.length;
    }
    while (e - s >= RECORD_HEADER_BYTES && !side.skip) {
      if (!plausibleRecord(b, s)) {
        this.ctx.counters.parseErrors++;
        this.lose(side);
        return;
      }
      const len = b.readUInt16BE(s + 3);
      if (e - s - RECORD_HEADER_BYTES < len) break;
      this.record(side, b[s], b.readUInt16BE(s + 1), b, s + RECORD_HEADER_BYTES, s + RECORD_HEADER_BYTES + len, tsUs);
      s += RECORD_HEADER_BYTES + len;
    }
    side.rec = s >= e || side.skip ? null : Buffer.from(b.subarray(s, e));
  }

  gap(dir: Direction, bytes: number, tsUs: number): void {
    const side = this.sides[dir];
    if (!this.emitted) this.gapped = true;
    if (side.cipher) {
      // A record lost: the sequence numbers (and so the nonces) are unknown from here.
      side.cipher = null;
      this.inner?.gap(dir, bytes, tsUs);
    }
    this.lose(side);
  }

  fin(dir: Direction, tsUs: number): void {
    this.inner?.fin(dir, tsUs);
  }

  end(reason: EndReason, tsUs: number): void {
    if (reason === 'rst' || reason === 'evicted') this.gapped = true;
    // A last look for the secrets of what is held (the client may have written them just now).
    if (this.held.length > 0) this.retry(true);
    if (this.deferredEndUs > 0) this.finish(this.deferredEndUs, true);
    this.release();
    this.finish(tsUs, false);
    this.inner?.end(reason, tsUs);
  }

  tick(nowUs: number): void {
    if (this.held.length > 0) {
      this.retry(false);
      if (this.held.length > 0 && !this.mayWait(nowUs)) this.giveUpWaiting();
    }
    this.inner?.tick(nowUs);
  }

  private release(): void {
    this.budget.bytes -= this.heldBytes;
    this.held = [];
    this.heldBytes = 0;
  }

  /** Whether a secret the connection needs is not in the key log (yet). */
  private waiting(): boolean {
    return this.secrets === false || this.sides[0].awaiting !== null || this.sides[1].awaiting !== null;
  }

  /** Whether records that cannot be read yet are worth holding: the secrets may still reach the key log. */
  private mayWait(nowUs: number): boolean {
    if (this.gaveUp || !this.waiting() || !this.keys.following || !this.sh || !suiteCrypto(this.sh.cipher) || this.alert) return false;
    return nowUs - this.firstMissUs <= HOLD_US;
  }

  private giveUpWaiting(): void {
    this.gaveUp = true;
    this.release();
    for (const side of this.sides) side.awaiting = null;
    if (this.deferredEndUs > 0) this.finish(this.deferredEndUs, true);
    for (const side of this.sides) if (!side.cipher && this.emitted) this.stopReading(side);
  }

  private lose(side: Side): void {
    side.rec = null;
    side.hs = null;
    side.lost = true;
    if (this.emitted && !side.cipher) side.skip = true;
  }

  private isClient(side: Side): boolean {
    return side.dir === this.clientDir;
  }

  /** Whether records of this type on this side are protected now. */
  private protectedRecord(side: Side, type: number): boolean {
    return this.tls13 ? type === ContentType.ApplicationData : side.ccs;
  }

  private record(side: Side, type: number, version: number, buf: Buffer, start: number, end: number, tsUs: number): void {
    this.lastUs = tsUs;
    if (!this.isClient(side)) this.lastServerUs = tsUs;
    if (!this.protectedRecord(side, type)) {
      this.content(side, type, buf, start, end, tsUs);
      return;
    }
    if (!side.cipher && !this.replaying && this.waiting()) this.retry(false);
    if (side.cipher) {
      this.open(side, type, version, buf, start, end, tsUs);
      return;
    }
    // Not decryptable (yet): what the record's place says about the handshake, then hold it if the keys may come.
    this.opaque(side, tsUs);
    if (this.mayWait(tsUs)) {
      const n = end - start;
      if (this.heldBytes + n <= MAX_HELD_BYTES && this.held.length < MAX_HELD_RECORDS && this.budget.bytes + n <= MAX_HELD_TOTAL) {
        this.held.push({ dir: side.dir, type, version, body: Buffer.from(buf.subarray(start, end)), tsUs });
        this.heldBytes += n;
        this.budget.bytes += n;
        return;
      }
      this.giveUpWaiting(); // more than can be held: for this connection the secrets come too late
    }
    if (this.emitted) this.stopReading(side);
  }

  private open(side: Side, type: number, version: number, buf: Buffer, start: number, end: number, tsUs: number): void {
    const plain = side.cipher!.open(type, version, buf, start, end);
    if (!plain) {
      // A wrong key, or a record that was tampered with: nothing of it (or after it) is used.
      this.ctx.counters.parseErrors++;
      side.cipher = null;
      this.opaque(side, tsUs);
      this.inner?.gap(side.dir, end - start, tsUs);
      if (this.emitted) this.stopReading(side);
      return;
    }
    this.decrypted = true;
    if (this.tls13) this.content(side, plain[plain.length - 1], plain, 0, plain.length - 1, tsUs);
    else this.content(side, type, plain, 0, plain.length, tsUs);
  }

  private stopReading(side: Side): void {
    side.skip = true;
    side.rec = null;
    side.hs = null;
  }

  /** A protected record that cannot be read: its position still marks the end of the handshake. */
  private opaque(side: Side, tsUs: number): void {
    if (this.emitted) return;
    if (this.isClient(side)) {
      // TLS 1.3: the client's second flight answers the server's whole first flight.
      if (this.tls13 && this.sh) this.completed(this.serverFinishedUs > 0 ? this.serverFinishedUs : this.lastServerUs);
    } else if (!this.tls13 && side.ccs) this.completed(tsUs); // TLS 1.2: the server's Finished
  }

  /**
   * The handshake completed, as far as records that cannot be read tell. While their secrets may
   * still reach the key log, the entry waits for them (decrypted, it says more: TLS 1.3's ALPN
   * and certificate, or the client's refusal); it is emitted when they come or are given up on.
   */
  private completed(endUs: number): void {
    if (this.mayWait(this.lastUs)) this.deferredEndUs = endUs;
    else this.finish(endUs, true);
  }

  private content(side: Side, type: number, buf: Buffer, start: number, end: number, tsUs: number): void {
    switch (type) {
      case ContentType.ChangeCipherSpec:
        // TLS 1.3 sends one for middleboxes only; it changes nothing.
        if (!this.tls13 && this.sh) {
          side.ccs = true;
          this.keys12();
        }
        return;
      case ContentType.Alert:
        if (end - start >= 2 && !this.emitted) {
          this.alert = { code: buf[start + 1], from: this.isClient(side) ? 'client' : 'server' };
          this.finish(tsUs, false);
        }
        return;
      case ContentType.Handshake:
        this.handshakeBytes(side, buf, start, end, tsUs);
        return;
      case ContentType.ApplicationData:
        // Only ever reached decrypted: plaintext application data before the keys is not TLS.
        if (!side.cipher) {
          this.ctx.counters.parseErrors++;
          return;
        }
        if (end > start) {
          this.inner ??= this.ctx.inner(DECRYPTED);
          this.inner.data(side.dir, buf, start, end, tsUs);
        }
        return;
      default:
        return; // heartbeat
    }
  }

  private handshakeBytes(side: Side, buf: Buffer, start: number, end: number, tsUs: number): void {
    let b = buf;
    let s = start;
    let e = end;
    if (side.hs) {
      b = Buffer.concat([side.hs, buf.subarray(start, end)]);
      s = 0;
      e = b.length;
    }
    while (e - s >= 4) {
      const len = b.readUIntBE(s + 1, 3);
      if (len > MAX_HANDSHAKE_MESSAGE) {
        this.ctx.counters.parseErrors++;
        side.hs = null;
        return;
      }
      if (e - s - 4 < len) break;
      this.message(side, b[s], b, s + 4, s + 4 + len, tsUs);
      s += 4 + len;
    }
    side.hs = s >= e ? null : Buffer.from(b.subarray(s, e));
  }

  private message(side: Side, type: number, buf: Buffer, start: number, end: number, tsUs: number): void {
    const client = this.isClient(side);
    switch (type) {
      case HandshakeType.ClientHello: {
        if (!client) break;
        const ch = parseClientHello(buf, start, end);
        if (!ch) break;
        this.ch = ch;
        if (this.startUs < 0) this.startUs = tsUs;
        return;
      }
      case HandshakeType.ServerHello: {
        if (client) break;
        const sh = parseServerHello(buf, start, end);
        if (!sh) break;
        if (this.startUs < 0) this.startUs = tsUs;
        if (sh.retry) {
          this.helloRetry = true;
          return;
        }
        this.sh = sh;
        this.alpn = sh.alpn;
        this.tls13 = sh.version === TLS13;
        if (this.tls13) this.keys13();
        return;
      }
      case HandshakeType.EncryptedExtensions: {
        const alpn = parseEncryptedExtensions(buf, start, end);
        if (alpn === null) break;
        this.alpn = alpn;
        return;
      }
      case HandshakeType.Certificate: {
        if (client) return; // a client certificate: not the one shown
        const certs = parseCertificates(buf, start, end, this.tls13 ? TLS13 : 0);
        if (!certs) break;
        this.chainLength = certs.count;
        this.chain = [];
        for (const der of certs.ders) {
          const c = summarise(der, tsUs);
          if (c) this.chain.push(c);
          else this.ctx.counters.parseErrors++;
        }
        return;
      }
      case HandshakeType.Finished:
        if (!this.tls13) {
          if (!client) this.finish(tsUs, true);
          return;
        }
        // TLS 1.3: after its Finished a side protects its records with its application traffic
        // secret. The server's ends the latency; the client's (it took the server's flight, an
        // alert instead would refuse it) completes the handshake.
        if (side.cipher) this.install(side, client ? 'clientTraffic' : 'serverTraffic');
        if (!client) this.serverFinishedUs = tsUs;
        else this.finish(this.serverFinishedUs > 0 ? this.serverFinishedUs : tsUs, true);
        return;
      case HandshakeType.KeyUpdate:
        side.cipher?.update();
        return;
      default:
        return; // the rest (key exchange, verify, tickets…) tells nothing shown
    }
    this.ctx.counters.parseErrors++;
  }

  /**
   * Looks the connection's secrets up when they were missing, or the secrets its sides still
   * await, then sets up what they allow and reads the records held meanwhile. `force`: read the
   * key logs now, whenever they were last read.
   */
  private retry(force: boolean): void {
    if (!this.ch || !this.sh) return;
    if (!this.secrets) {
      const found = this.keys.lookup(this.ch.random, force);
      if (!found) {
        this.secrets = false;
        if (this.firstMissUs === 0) this.firstMissUs = this.lastUs;
        return;
      }
      this.secrets = found;
      if (this.tls13) this.keys13();
      else if (this.sides.some((s) => s.ccs)) this.keys12();
    } else {
      this.keys.refresh(force);
      for (const side of this.sides) if (side.awaiting) this.install(side, side.awaiting);
    }
    // Both sides' held records, in the order they were captured (those still unreadable are held again).
    const held = this.held;
    this.release();
    this.replaying = true;
    for (const h of held) this.record(this.sides[h.dir], h.type, h.version, h.body, 0, h.body.length, h.tsUs);
    this.replaying = false;
  }

  private keys12(): void {
    if (this.secrets === null) return this.retry(false);
    const suite = suiteCrypto(this.sh!.cipher);
    const ms = this.secrets ? this.secrets.masterSecret : undefined;
    if (!suite || !ms || this.keyed) return;
    this.keyed = true;
    const [c, s] = RecordCipher.tls12(suite, ms, this.ch!.random, this.sh!.random);
    this.sides[this.clientDir].cipher = c;
    this.sides[1 - this.clientDir].cipher = s;
  }

  private keys13(): void {
    if (this.secrets === null) return this.retry(false);
    if (!this.secrets) return;
    this.install(this.sides[this.clientDir], 'clientHandshake');
    this.install(this.sides[1 - this.clientDir], 'serverHandshake');
  }

  /** TLS 1.3: a side's cipher from one of its secrets, or, while the key log lacks that one, a wait for it. */
  private install(side: Side, which: SecretName): void {
    const suite = suiteCrypto(this.sh!.cipher);
    const secret = this.secrets ? this.secrets[which] : undefined;
    if (suite && secret) {
      side.cipher = RecordCipher.tls13(suite, secret);
      side.awaiting = null;
      return;
    }
    side.cipher = null;
    side.awaiting = suite ? which : null;
    if (side.awaiting && this.firstMissUs === 0) this.firstMissUs = this.lastUs;
  }

  /** Emits the handshake's entry (once): `completed` when the server's Finished was seen. */
  private finish(endUs: number, completed: boolean): void {
    if (this.emitted) return;
    if (this.ch === null && this.sh === null) return; // nothing of a handshake was read
    this.emitted = true;
    this.ctx.counters.exchanges++;
    const answered = completed || this.alert !== null;
    if (!answered) this.ctx.counters.unanswered++;
    this.ctx.emit(this.exchange(endUs, answered));
    // From here a side is read only to decrypt it, now or once its secrets reach the key log.
    const mayDecrypt = this.mayWait(this.lastUs);
    for (const side of this.sides) if (!side.cipher && !mayDecrypt) this.stopReading(side);
  }

  private exchange(endUs: number, answered: boolean): Exchange {
    const ch = this.ch;
    const sh = this.sh;
    const leaf = this.chain[0];
    const fields: Record<string, string | number> = {
      'tls.sni': ch?.sni ?? '',
      'tls.alpn_offered': ch?.alpn.join(',') ?? '',
      'tls.resumed': sh && this.resumed(ch, sh) ? 1 : 0,
      'tls.hello_retry': this.helloRetry ? 1 : 0,
      [DECRYPTED_FIELD]: this.decrypted ? 1 : 0,
    };
    if (sh) {
      fields['tls.version'] = versionName(sh.version);
      fields['tls.cipher'] = cipherSuiteName(sh.cipher);
      fields['tls.cipher_id'] = sh.cipher;
      fields['tls.alpn'] = this.alpn;
    }
    if (this.alert) {
      fields['tls.alert'] = this.alert.code;
      fields['tls.alert_from'] = this.alert.from;
    }
    if (leaf) {
      fields['tls.cert_subject'] = leaf.subject;
      fields['tls.cert_issuer'] = leaf.issuer;
      fields['tls.cert_san'] = leaf.san;
      fields['tls.cert_not_after'] = leaf.notAfter;
      fields['tls.cert_expired'] = leaf.expired ? 1 : 0;
      fields['tls.self_signed'] = leaf.selfSigned ? 1 : 0;
      fields['tls.chain_length'] = this.chainLength;
    }
    const request: Array<[string, string]> = ch
      ? [
          ['Version', versionName(ch.legacyVersion)],
          ['Supported versions', ch.versions.map(versionName).join(', ')],
          ['Server name', ch.sni],
          ['ALPN', ch.alpn.join(', ')],
          ['Cipher suites', ch.ciphers.map(cipherSuiteName).join(', ')],
          // A resumption handle: its presence is what matters, never its bytes.
          ['Session id', ch.sessionId.length > 0 ? `${ch.sessionId.length} bytes` : ''],
          ['Session ticket', ch.ticket ? 'offered' : ''],
          ['Pre-shared key', ch.psk ? 'offered' : ''],
        ]
      : [];
    const response: Array<[string, string]> = sh
      ? [
          ['Version', versionName(sh.version)],
          ['Cipher suite', cipherSuiteName(sh.cipher)],
          ['ALPN', this.alpn],
          ['Resumed', fields['tls.resumed'] === 1 ? 'yes' : ''],
          ['HelloRetryRequest', this.helloRetry ? 'yes' : ''],
          ...this.chain.map((c, i): [string, string] => [`Certificate ${i}`, certificateText(c)]),
        ]
      : [];
    const start = this.startUs < 0 ? endUs : this.startUs;
    return {
      clientDir: this.clientDir,
      protocolVersion: sh ? versionName(sh.version) : '',
      startUs: start,
      endUs: answered ? endUs : start,
      durationUs: answered ? Math.max(0, endUs - start) : 0,
      operation: 'handshake',
      target: ch?.sni ?? '',
      query: '',
      host: '',
      status: this.alert?.code ?? 0,
      statusText: this.alert ? alertName(this.alert.code) : '',
      requestHeaders: HeaderList.of(request.filter(([, v]) => v !== '')),
      responseHeaders: HeaderList.of(response.filter(([, v]) => v !== '')),
      requestBody: emptyBody(),
      responseBody: emptyBody(),
      fields: fields as ProtocolFields,
      unanswered: !answered,
      incomplete: this.gapped,
    };
  }

  private resumed(ch: ClientHello | null, sh: ServerHello): boolean {
    if (sh.version === TLS13) return sh.psk;
    // TLS ≤ 1.2: the server echoes the session id the client offered (a cached session or a ticket).
    return ch !== null && ch.sessionId.length > 0 && sh.sessionId.equals(ch.sessionId);
  }
}

/** Outcome: alerts the server sends refuse the client's offer (but internal_error is its own failure); alerts the client sends refuse the server (its certificate, its choices). */
export function tlsOutcome(x: Pick<Exchange, 'unanswered' | 'status' | 'fields'>): Outcome {
  if (x.unanswered) return Outcome.none;
  const from = x.fields['tls.alert_from'];
  if (from === undefined) return Outcome.ok;
  if (from === 'client') return Outcome.serverError;
  return x.status === 80 ? Outcome.serverError : Outcome.clientError;
}

/** A record header and the start of a ClientHello (client) or ServerHello (server). */
function detect(buf: Buffer, start: number, end: number): Detection {
  const n = end - start;
  if (n >= 1 && buf[start] !== ContentType.Handshake) return Detection.No;
  if (n >= 2 && buf[start + 1] !== 3) return Detection.No;
  if (n >= 3 && buf[start + 2] > 4) return Detection.No;
  if (n < 11) return Detection.More;
  const len = buf.readUInt16BE(start + 3);
  const hello = buf[start + 5];
  if (len < 4 || len > MAX_RECORD_BODY || buf[start + 9] !== 3) return Detection.No;
  return hello === HandshakeType.ClientHello ? Detection.FromClient : hello === HandshakeType.ServerHello ? Detection.FromServer : Detection.No;
}

function represent(e: Entry): Section[] {
  const f = e.fields;
  return [
    table('Handshake', [
      ['Server name', e.target],
      ['Version', e.protocolVersion],
      ['Result', e.unanswered ? 'not completed' : e.statusText ? `alert ${e.status} ${e.statusText} from the ${f['tls.alert_from'] ?? ''}` : 'completed'],
    ]),
    { kind: 'table', title: 'ClientHello', rows: e.requestHeaders.toPairs() },
    ...(e.responseHeaders.count > 0 ? [{ kind: 'table' as const, title: 'ServerHello', rows: e.responseHeaders.toPairs() }] : []),
    ...fieldsTable(e, tlsDissector),
  ];
}

/** The TLS dissector reading secrets from `keys` (the built-in one reads the process's key logs). */
export function tlsDissectorWith(keys: KeySource): Dissector {
  const budget: HeldBudget = { bytes: 0 };
  return {
    protocol: 'tls',
    longName: 'Transport Layer Security',
    abbr: 'TLS',
    color: '#16a085',
    ports: [443, 8443, 6443, 9443, 465, 636, 853, 993, 995, 5671, 8883],
    fields: [
      { name: 'tls.sni', type: 'string', doc: 'the server name the client asked for (ClientHello server_name), the entry\'s target', labels: true },
      { name: 'tls.version', type: 'string', doc: 'the version the server chose: 1.0, 1.1, 1.2, 1.3 (supported_versions for 1.3)', labels: true },
      { name: 'tls.alpn', type: 'string', doc: 'the application protocol the server chose (h2, http/1.1); TLS 1.3 says it encrypted: known only when decrypting', labels: true },
      { name: 'tls.alpn_offered', type: 'string', doc: 'the application protocols the client offered, comma-separated' },
      { name: 'tls.cipher', type: 'string', doc: 'the cipher suite the server chose, by its IANA name (TLS_AES_128_GCM_SHA256…; 0x.... when unnamed)', labels: true },
      { name: 'tls.cipher_id', type: 'int', doc: 'the cipher suite\'s code (0x1301 = 4865…)' },
      { name: 'tls.alert', type: 'int', doc: 'the alert that ended the handshake (40 handshake_failure, 42 bad_certificate, 48 unknown_ca…), also the status; absent when none' },
      { name: 'tls.alert_from', type: 'string', doc: 'who sent that alert: client or server' },
      { name: 'tls.resumed', type: 'bool', doc: 'a resumed session: the server echoed the offered session id (≤ 1.2) or accepted a pre-shared key (1.3)' },
      { name: 'tls.hello_retry', type: 'bool', doc: 'the server sent a HelloRetryRequest (TLS 1.3) and the client a second ClientHello' },
      { name: 'tls.cert_subject', type: 'string', doc: 'the server certificate\'s subject (the leaf of the chain)' },
      { name: 'tls.cert_issuer', type: 'string', doc: 'the server certificate\'s issuer' },
      { name: 'tls.cert_san', type: 'string', doc: 'the server certificate\'s subject alternative names (DNS:…, IP Address:…)' },
      { name: 'tls.cert_not_after', type: 'string', doc: 'the end of the server certificate\'s validity (ISO 8601, UTC)' },
      { name: 'tls.cert_expired', type: 'bool', doc: 'the server certificate was outside its validity at the handshake\'s capture time' },
      { name: 'tls.self_signed', type: 'bool', doc: 'the server certificate is issued by itself (and its own key verifies it)' },
      { name: 'tls.chain_length', type: 'int', doc: 'certificates the server sent' },
      { name: DECRYPTED_FIELD, type: 'bool', doc: 'decrypted with a key log: on the handshake and on every entry found in its plaintext (http and tls.decrypted)' },
    ],
    outcomes: {
      ok: 'the handshake completed (the server\'s Finished seen)',
      clientError: 'the server sent an alert: it refused the client\'s offer (handshake_failure, protocol_version, unrecognized_name…)',
      serverError: 'the client sent an alert (it refused the server\'s certificate or choices: bad_certificate, unknown_ca, certificate_expired…), or the server sent internal_error',
      none: 'the handshake did not complete before the connection ended',
    },
    secrets: ['key material: the key log files (--tls-keylog) are read into memory only, never stored, logged or served'],
    stream: {
      detect,
      open: (ctx, clientDir) => new TlsConnection(ctx, clientDir, keys, budget),
    },
    outcome: tlsOutcome,
    represent,
  };
}

export const tlsDissector: Dissector = tlsDissectorWith(processKeyLog);
