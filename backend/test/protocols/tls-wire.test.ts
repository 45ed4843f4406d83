/**
 * TLS on hand-shaped wires: real sessions (Node's TLS client and server, recorded in memory, with
 * the client's key log) cut into every segmentation, re-framed so handshake messages share records
 * or span them, truncated, tampered with, and random bytes on 443. The entries stay the same where
 * the bytes mean the same; otherwise errors are counted and nothing wrong is shown.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../../src/entries/entry.js';
import { dnsDissector } from '../../src/protocols/dns/dissector.js';
import { httpDissector } from '../../src/protocols/http/dissector.js';
import { tlsDissectorWith } from '../../src/protocols/tls/dissector.js';
import { KeyLog } from '../../src/protocols/tls/keylog.js';
import { cipherSuiteName, namedCipherSuites } from '../../src/protocols/tls/wire.js';
import { Conversation } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';
import { selfSigned } from './tls-support.js';
import { dissect, recordSession, sessionFrames, type Chunk, type Session } from './tls-session.js';

let dir: string;
let tls12: Session;
let tls13: Session;
const requests = ['GET /a HTTP/1.1\r\nHost: wire.tapline.test\r\n\r\n', 'GET /b HTTP/1.1\r\nHost: wire.tapline.test\r\n\r\n'];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tapline-tls-wire-'));
  const c = await selfSigned(dir, 'wire.tapline.test');
  const cert = { cert: readFileSync(c.cert), key: readFileSync(c.key) };
  tls12 = await recordSession(cert, { maxVersion: 'TLSv1.2' }, requests);
  tls13 = await recordSession(cert, { minVersion: 'TLSv1.3' }, requests);
});

after(() => dir && rmSync(dir, { recursive: true, force: true }));

function keys(session: Session): KeyLog {
  const k = new KeyLog();
  k.addText(session.keylog);
  return k;
}

async function entriesOf(chunks: Chunk[], session: Session, mss = 1460) {
  const { entries, result } = await importFrames(sessionFrames(chunks, mss), { protocols: [httpDissector, dnsDissector, tlsDissectorWith(keys(session))] });
  return { entries, counters: result.counters.protocols };
}

/** What an entry says, without ids and times. */
const said = (e: Entry) =>
  `${e.protocol} ${e.operation} ${e.target} ${e.status} ${e.unanswered ? 'unanswered' : ''} ${e.responseBody.bytes.toString('latin1')} ${JSON.stringify(e.fields)}`;

/** Each side's consecutive chunks as one (the coarsest segmentation). */
function coalesced(chunks: Chunk[]): Chunk[] {
  const out: Chunk[] = [];
  for (const c of chunks) {
    const last = out[out.length - 1];
    if (last && last.fromClient === c.fromClient) last.bytes = Buffer.concat([last.bytes, c.bytes]);
    else out.push({ fromClient: c.fromClient, bytes: c.bytes });
  }
  return out;
}

/**
 * The server's plaintext handshake records (before its ChangeCipherSpec, TLS 1.2) re-cut into
 * records of `size` body bytes: several messages in one record, or one message over many.
 */
function reframed(chunks: Chunk[], size: number): Chunk[] {
  const server = Buffer.concat(chunks.filter((c) => !c.fromClient).map((c) => c.bytes));
  let at = 0;
  const hs: Buffer[] = [];
  while (server[at] === 22) {
    const len = server.readUInt16BE(at + 3);
    hs.push(server.subarray(at + 5, at + 5 + len));
    at += 5 + len;
  }
  const body = Buffer.concat(hs);
  const records: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const part = body.subarray(i, i + size);
    const h = Buffer.from([22, 3, 3, 0, 0]);
    h.writeUInt16BE(part.length, 3);
    records.push(h, part);
  }
  const flight = Buffer.concat(records);
  const out: Chunk[] = [];
  let sent = 0;
  for (const c of chunks) {
    if (c.fromClient) {
      out.push(c);
      continue;
    }
    const start = sent;
    sent += c.bytes.length;
    if (sent <= at) {
      if (start === 0) out.push({ fromClient: false, bytes: flight });
      continue;
    }
    out.push({ fromClient: false, bytes: start < at ? c.bytes.subarray(at - start) : c.bytes });
  }
  return out;
}

test('TLS 1.2 and 1.3 sessions in every segmentation: one handshake, the two requests decrypted, the same each time', async () => {
  for (const [name, session] of [['1.2', tls12], ['1.3', tls13]] as const) {
    const { entries, counters } = await entriesOf(session.chunks, session);
    assert.deepEqual(entries.map((e) => `${e.protocol} ${e.target} ${e.status} ${e.responseBody.bytes.toString('latin1')}`).sort(), [
      'http /a 200 GET /a HTTP/1.1',
      'http /b 200 GET /b HTTP/1.1',
      'tls wire.tapline.test 0 ',
    ], name);
    const tlsEntry = entries.find((e) => e.protocol === 'tls')!;
    assert.equal(tlsEntry.fields['tls.version'], name);
    assert.equal(tlsEntry.fields['tls.decrypted'], 1);
    assert.equal(counters.tls.parseErrors, 0);
    const reference = entries.map(said).sort();
    for (const variant of [
      { chunks: session.chunks, mss: 1 },
      { chunks: session.chunks, mss: 7 },
      { chunks: coalesced(session.chunks), mss: 100_000 },
      { chunks: coalesced(session.chunks), mss: 1000 },
    ]) {
      const again = await entriesOf(variant.chunks, session, variant.mss);
      assert.deepEqual(again.entries.map(said).sort(), reference, `${name}, segments of ${variant.mss}`);
    }
  }
});

test('handshake messages several to a record, or one over many records: the same entries', async () => {
  const reference = (await entriesOf(tls12.chunks, tls12)).entries.map(said).sort();
  for (const size of [16_384, 700, 3]) {
    const { entries, counters } = await entriesOf(reframed(tls12.chunks, size), tls12);
    assert.deepEqual(entries.map(said).sort(), reference, `records of ${size} bytes`);
    assert.equal(counters.tls.parseErrors, 0);
  }
});

test('a truncated handshake: an entry that says what was seen and that it did not complete', async () => {
  const firstServer = tls12.chunks.findIndex((c) => !c.fromClient);
  // The ClientHello, then half of the server's first flight, then nothing.
  const cut = [...tls12.chunks.slice(0, firstServer), { fromClient: false, bytes: tls12.chunks[firstServer].bytes.subarray(0, 60) }];
  const { entries } = await entriesOf(cut, tls12);
  assert.equal(entries.length, 1);
  assert.equal(entries[0].target, 'wire.tapline.test');
  assert.equal(entries[0].unanswered, true);
  assert.equal(entries[0].fields['tls.version'], undefined, 'the ServerHello was cut: no version chosen');
  // With the ServerHello whole but the flight cut: the version is known, still not completed.
  const flight = tls12.chunks[firstServer].bytes;
  const shEnd = 5 + flight.readUInt16BE(3);
  const { entries: more } = await entriesOf([...tls12.chunks.slice(0, firstServer), { fromClient: false, bytes: flight.subarray(0, shEnd + 10) }], tls12);
  assert.deepEqual([more[0].unanswered, more[0].fields['tls.version']], [true, '1.2']);
});

test('a record that does not authenticate: nothing of it is shown, the exchange before it is', async () => {
  const chunks = tls13.chunks.map((c) => ({ ...c, bytes: Buffer.from(c.bytes) }));
  // The answer to /b is the server's last chunk before the client's close_notify (its last chunk): flip a byte of its ciphertext.
  const lastClient = chunks.map((c) => c.fromClient).lastIndexOf(true);
  const last = chunks.slice(0, lastClient).map((c) => !c.fromClient).lastIndexOf(true);
  chunks[last].bytes[chunks[last].bytes.length - 20] ^= 0x01;
  const { entries, counters } = await entriesOf(chunks, tls13);
  const http = entries.filter((e) => e.protocol === 'http').sort((a, b) => a.startUs - b.startUs);
  assert.deepEqual(http.map((e) => `${e.target} ${e.status}`), ['/a 200', '/b 0']);
  assert.equal(http[1].unanswered, true);
  assert.equal(counters.tls.parseErrors, 1);
});

test('random bytes on 443 and a ClientHello answered by junk: counted, no entry but the handshake\'s, never a crash', async () => {
  let x = 0x7e57;
  const random = (n: number) => Buffer.from(Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) & 0xff));
  const junk = new Conversation({ ip: '10.3.0.9', port: 40999 }, { ip: '10.3.0.2', port: 443 }).handshake();
  junk.send(random(5000));
  junk.reply(random(5000));
  junk.close();
  const hello = tls12.chunks[0].bytes;
  const answeredByJunk = new Conversation({ ip: '10.3.0.9', port: 41000 }, { ip: '10.3.0.2', port: 443 }).handshake();
  answeredByJunk.send(hello);
  // A record header whose length is beyond any record's, then junk.
  answeredByJunk.reply(Buffer.concat([Buffer.from([22, 3, 3, 0xff, 0xff]), random(3000)]));
  answeredByJunk.close();
  const { entries, result } = await importFrames([...junk.frames, ...answeredByJunk.frames], { protocols: [httpDissector, tlsDissectorWith(new KeyLog())] });
  assert.deepEqual(entries.map((e) => `${e.protocol} ${e.src.port} ${e.target} ${e.unanswered}`), ['tls 41000 wire.tapline.test true']);
  assert.equal(result.counters.unknownConnections, 1);
  assert.ok(result.counters.protocols.tls.parseErrors >= 1);
});

test('secrets that reach a followed key log after the records they protect: the records are held, then read', () => {
  for (const [name, session] of [['1.2', tls12], ['1.3', tls13]] as const) {
    for (const partial of [false, true]) {
      const file = join(dir, `late-${name}-${partial}.log`);
      // Nothing yet, or (TLS 1.3) the handshake secrets only: the application secrets come later.
      const lines = session.keylog.split('\n').filter((l) => l !== '');
      const early = partial ? lines.filter((l) => /HANDSHAKE/.test(l)) : [];
      writeFileSync(file, early.map((l) => `${l}\n`).join(''));
      const k = new KeyLog();
      k.addFile(file);
      // The rest is appended, as a client writes its key log.
      const late = () => appendFileSync(file, lines.filter((l) => !early.includes(l)).map((l) => `${l}\n`).join(''));
      const { exchanges } = dissect(session.chunks, [httpDissector, tlsDissectorWith(k)], late);
      const http = exchanges.filter((e) => e.protocol === 'http').map((e) => `${e.x.target} ${e.x.status} ${e.x.fields['tls.decrypted']}`);
      assert.deepEqual(http, ['/a 200 1', '/b 200 1'], `${name}, ${partial ? 'handshake secrets first' : 'no secrets at first'}`);
    }
  }
});

test('the cipher suite names are OpenSSL\'s IANA names (openssl ciphers -stdname), code for code', () => {
  const tls13 = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256';
  const out = execFileSync('openssl', ['ciphers', '-V', '-stdname', '-ciphersuites', tls13, 'ALL:COMPLEMENTOFALL:@SECLEVEL=0']).toString();
  const openssl = new Map<number, string>();
  for (const m of out.matchAll(/0x([0-9A-F]{2}),0x([0-9A-F]{2}) - (\S+)/g)) openssl.set(Number.parseInt(m[1] + m[2], 16), m[3]);
  // Signalling values are not suites, and OpenSSL 3 no longer builds 3DES: IANA's names, unchecked here.
  const notInOpenssl = new Set([0x00ff, 0x5600, 0x000a]);
  let checked = 0;
  for (const [code, name] of namedCipherSuites()) {
    if (notInOpenssl.has(code)) continue;
    assert.equal(name, openssl.get(code), `0x${code.toString(16)}`);
    assert.equal(cipherSuiteName(code), name);
    checked++;
  }
  assert.ok(checked >= 30, `${checked} names checked`);
  assert.equal(cipherSuiteName(0x1234), '0x1234');
});

test('a followed key log that never gets a connection\'s secrets: the handshake entry still comes, complete, nothing decrypted', () => {
  for (const session of [tls12, tls13]) {
    const file = join(dir, 'never.log');
    writeFileSync(file, '# secrets of other connections only\n');
    const k = new KeyLog();
    k.addFile(file);
    const { exchanges } = dissect(session.chunks, [httpDissector, tlsDissectorWith(k)]);
    assert.deepEqual(exchanges.map((e) => `${e.protocol} ${e.x.target} ${e.x.unanswered} ${e.x.fields['tls.decrypted']}`), ['tls wire.tapline.test false 0']);
  }
});
