/**
 * TLS entries through the house: real sessions (Node's TLS 1.2 and 1.3, recorded in memory) and a
 * handshake refused with an alert, imported with the key log, written to the embedded store by
 * the real writer, read back by the hub. The TLS fields filter in SQL, `tls.decrypted` selects the
 * entries found in plaintext, a stored entry gives the sections it had when captured, and
 * /api/v1/protocols lists TLS.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../../src/entries/entry.js';
import { dnsDissector } from '../../src/protocols/dns/dissector.js';
import { httpDissector } from '../../src/protocols/http/dissector.js';
import { tlsDissector, tlsDissectorWith } from '../../src/protocols/tls/dissector.js';
import { KeyLog } from '../../src/protocols/tls/keylog.js';
import { importFrames } from '../agent/run.js';
import { fixture, getJson, q, type Fixture } from '../hub/fixture.js';
import { Conversation } from '../capture/frames.js';
import { selfSigned } from './tls-support.js';
import { recordSession, sessionFrames } from './tls-session.js';

let t0: number;
let dir: string;
let f: Fixture;
let base: string;
let captured: Entry[];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tapline-tls-store-'));
  const c = await selfSigned(dir, 'wire.tapline.test');
  const cert = { cert: readFileSync(c.cert), key: readFileSync(c.key) };
  // After the certificate's notBefore (now, to the second): at an earlier capture time it would not be valid yet.
  t0 = (Date.now() + 2000) * 1000;
  const keys = new KeyLog();
  const s12 = await recordSession(cert, { maxVersion: 'TLSv1.2' }, ['GET /v12 HTTP/1.1\r\nHost: a\r\n\r\n']);
  const s13 = await recordSession(cert, { minVersion: 'TLSv1.3' }, ['GET /v13 HTTP/1.1\r\nHost: b\r\n\r\n']);
  keys.addText(s12.keylog + s13.keylog);
  // A ClientHello the server refuses with a fatal handshake_failure alert.
  const refused = new Conversation({ ip: '10.3.0.1', port: 40600 }, { ip: '10.3.0.2', port: 443 }, t0 + 5_000_000).handshake();
  refused.send(s12.chunks[0].bytes);
  refused.reply(Buffer.from([21, 3, 3, 0, 2, 2, 40]));
  refused.close();
  const frames = [...sessionFrames(s12.chunks, 1460, 443, 40500), ...sessionFrames(s13.chunks, 1460, 443, 40501), ...refused.frames];
  // Put the frames at t0 onwards, in order (the sessions' own clock starts elsewhere).
  frames.forEach((fr, i) => (fr.tsUs = t0 + i * 100));
  captured = (await importFrames(frames, { protocols: [httpDissector, dnsDissector, tlsDissectorWith(keys)] })).entries;
  f = await fixture(5, { startUs: t0 - 3_600e6 });
  await f.write(captured);
  base = await f.hub();
});

after(async () => {
  await f?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function rows(filter: string): Promise<string[]> {
  const { status, body } = await getJson(`${base}/api/v1/entries?${q({ filter, from: Math.floor(t0 / 1000) - 1000, to: Math.floor(t0 / 1000) + 60_000 })}`);
  assert.equal(status, 200, JSON.stringify(body));
  return (body.entries as Array<{ protocol: string; operation: string; target: string; src: { port: number } }>).map((e) => `${e.protocol} ${e.operation} ${e.target} ${e.src.port}`).sort();
}

test('the TLS fields filter in the store; tls.decrypted selects what was found in plaintext', async () => {
  assert.equal(captured.length, 5);
  assert.deepEqual(await rows('tls'), ['tls handshake wire.tapline.test 40500', 'tls handshake wire.tapline.test 40501', 'tls handshake wire.tapline.test 40600']);
  assert.deepEqual(await rows('tls.version == "1.3"'), ['tls handshake wire.tapline.test 40501']);
  assert.deepEqual(await rows('tls.alert == 40 and tls.alert_from == "server"'), ['tls handshake wire.tapline.test 40600']);
  assert.deepEqual(await rows('tls and outcome == "client error"'), ['tls handshake wire.tapline.test 40600']);
  assert.deepEqual(await rows('tls.self_signed and not tls.cert_expired'), ['tls handshake wire.tapline.test 40500', 'tls handshake wire.tapline.test 40501']);
  assert.deepEqual(await rows('tls.cipher.startsWith("TLS_ECDHE_RSA")'), ['tls handshake wire.tapline.test 40500']);
  assert.deepEqual(await rows('http and tls.decrypted'), ['http GET /v12 40500', 'http GET /v13 40501']);
  assert.deepEqual(await rows('tls.sni == "wire.tapline.test" and tls.decrypted'), ['tls handshake wire.tapline.test 40500', 'tls handshake wire.tapline.test 40501']);
});

test('an entry read back from the store has the sections it had when captured', async () => {
  for (const e of captured) {
    const { status, body } = await getJson(`${base}/api/v1/entries/${e.id}`);
    assert.equal(status, 200);
    const d = e.protocol === 'tls' ? tlsDissector : httpDissector;
    // Tables compare as they are; bodies come back as text.
    const tables = (list: Array<{ kind: string }>) => list.filter((x) => x.kind === 'table');
    assert.deepEqual(tables(body.sections), JSON.parse(JSON.stringify(tables(d.represent(e)))), `${e.protocol} ${e.target}`);
    if (e.protocol === 'http') {
      const answer = (body.sections as Array<{ title: string; body?: { text: string } }>).find((x) => x.title === 'Response body');
      assert.equal(answer?.body?.text, `GET ${e.target} HTTP/1.1`);
    }
    assert.deepEqual(body.fields, e.fields);
  }
});

test('/api/v1/protocols lists TLS over TCP with its fields and what it keeps secret', async () => {
  const { body } = await getJson(`${base}/api/v1/protocols`);
  const tls = body.protocols.find((p: { name: string }) => p.name === 'tls');
  assert.ok(tls, JSON.stringify(body.protocols));
  assert.deepEqual(tls.transports, ['tcp']);
  assert.equal(tls.secrets.length, 1);
  assert.deepEqual((tls.fields as Array<{ name: string }>).map((x) => x.name), tlsDissector.fields.map((x) => x.name));
});
