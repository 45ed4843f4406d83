/**
 * Fuzz: random bytes and mutated real sessions (Node's TLS 1.2 and 1.3, with their key logs)
 * through detection and the TLS dissector, and random or mutated messages through each handshake
 * parser. Never a throw; at most one handshake entry a connection; and whatever is decrypted is
 * what the peers really sent (records authenticate or are dropped).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { httpDissector } from '../../src/protocols/http/dissector.js';
import { tlsDissectorWith } from '../../src/protocols/tls/dissector.js';
import { parseCertificates, parseClientHello, parseEncryptedExtensions, parseServerHello } from '../../src/protocols/tls/handshake.js';
import { KeyLog } from '../../src/protocols/tls/keylog.js';
import { selfSigned } from './tls-support.js';
import { dissect, recordSession, type Chunk, type Session } from './tls-session.js';

let dir: string;
const sessions: Session[] = [];
const requests = ['GET /a HTTP/1.1\r\nHost: f\r\n\r\n', 'GET /b HTTP/1.1\r\nHost: f\r\n\r\n'];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tapline-tls-fuzz-'));
  const c = await selfSigned(dir, 'fuzz.tapline.test');
  const cert = { cert: readFileSync(c.cert), key: readFileSync(c.key) };
  sessions.push(await recordSession(cert, { maxVersion: 'TLSv1.2' }, requests));
  sessions.push(await recordSession(cert, { minVersion: 'TLSv1.3' }, requests));
  sessions.push(await recordSession(cert, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-CHACHA20-POLY1305' }, requests));
});

after(() => dir && rmSync(dir, { recursive: true, force: true }));

function check(chunks: Chunk[], keys: KeyLog): void {
  const { exchanges } = dissect(chunks, [httpDissector, tlsDissectorWith(keys)]);
  assert.ok(exchanges.filter((e) => e.protocol === 'tls').length <= 1, 'one handshake entry at most');
  for (const { x, protocol } of exchanges) {
    if (protocol !== 'http') continue;
    // Decrypted bytes are the peers' own: the requests sent and the test server's answers (an
    // answer whose request a mutation made unreadable is an orphan response: no request, its body real).
    if (x.operation === '') {
      assert.ok(['GET /a HTTP/1.1', 'GET /b HTTP/1.1'].includes(x.responseBody.bytes.toString('latin1')), 'an orphan response is a real answer');
      continue;
    }
    assert.ok(['/a', '/b'].includes(x.target), `decrypted target ${x.target}`);
    if (!x.unanswered) assert.equal(x.responseBody.bytes.toString('latin1'), `GET ${x.target} HTTP/1.1`);
  }
}

test('fuzz: random chunks, some shaped like records, never throw', () => {
  const record = fc
    .tuple(fc.integer({ min: 20, max: 24 }), fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 70_000 }))
    .map(([type, minor, body, len]) => {
      const h = Buffer.from([type, 3, minor, 0, 0]);
      h.writeUInt16BE(len % 65_536, 3);
      return Buffer.concat([h, Buffer.from(body)]);
    });
  const chunk = fc.tuple(fc.boolean(), fc.oneof(record, fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a))));
  fc.assert(
    fc.property(fc.array(chunk, { maxLength: 30 }), (list) => {
      // A ClientHello first, so that the TLS dissector takes the connection.
      check([sessions[0].chunks[0], ...list.map(([fromClient, bytes]) => ({ fromClient, bytes }))], new KeyLog());
    }),
    { numRuns: 500 },
  );
});

test('fuzz: mutated real sessions (flipped bytes, dropped and re-cut chunks) never throw and never show forged plaintext', () => {
  const mutation = fc.record({
    session: fc.integer({ min: 0, max: sessions.length - 1 }),
    flips: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    drop: fc.option(fc.nat(), { nil: undefined }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  });
  fc.assert(
    fc.property(mutation, ({ session, flips, drop, cut }) => {
      const s = sessions[session];
      const keys = new KeyLog();
      keys.addText(s.keylog);
      const chunks = s.chunks.map((c) => ({ fromClient: c.fromClient, bytes: Buffer.from(c.bytes) }));
      for (const [ci, at, v] of flips) {
        const c = chunks[ci % chunks.length];
        c.bytes[at % c.bytes.length] = v;
      }
      if (drop !== undefined) chunks.splice(drop % chunks.length, 1);
      if (cut !== undefined && chunks.length > 0) {
        const c = chunks[cut % chunks.length];
        c.bytes = c.bytes.subarray(0, cut % (c.bytes.length + 1));
      }
      check(chunks, keys);
    }),
    { numRuns: 1500 },
  );
});

test('fuzz: the handshake parsers on random and mutated messages never throw nor read past the end', () => {
  // Real messages to mutate: the ClientHello and ServerHello bodies of the 1.2 session.
  const client = sessions[0].chunks[0].bytes;
  const server = sessions[0].chunks.find((c) => !c.fromClient)!.bytes;
  const bodies = [client.subarray(9, 5 + client.readUInt16BE(3)), server.subarray(9, 5 + server.readUInt16BE(3))];
  assert.ok(parseClientHello(bodies[0], 0, bodies[0].length));
  assert.ok(parseServerHello(bodies[1], 0, bodies[1].length));
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
    fc.tuple(fc.integer({ min: 0, max: 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat()).map(([i, flips, cut]) => {
      const b = Buffer.from(bodies[i]);
      for (const [at, v] of flips) b[at % b.length] = v;
      return b.subarray(0, cut % (b.length + 1));
    }),
  );
  fc.assert(
    fc.property(input, fc.nat({ max: 10 }), (b, start) => {
      const s = Math.min(start, b.length);
      const ch = parseClientHello(b, s, b.length);
      if (ch) assert.ok(ch.sni.length <= b.length && ch.ciphers.length * 2 <= b.length && ch.alpn.join('').length <= b.length);
      const sh = parseServerHello(b, s, b.length);
      if (sh) assert.ok(sh.alpn.length <= b.length);
      parseEncryptedExtensions(b, s, b.length);
      for (const v of [0x0303, 0x0304]) {
        const certs = parseCertificates(b, s, b.length, v);
        if (certs) assert.ok(certs.ders.every((d) => d.length <= b.length));
      }
    }),
    { numRuns: 5000 },
  );
});
