/**
 * TLS with real peers: nginx (self-signed certificate, TLS 1.2 and 1.3) and `openssl s_server`
 * (an expired certificate, X25519 only), curl with SSLKEYLOGFILE, Node's https client with the
 * `keylog` event (and session resumption), `openssl s_client` for a refused certificate, a cipher
 * the server does not share and a HelloRetryRequest. Captured by tcpdump on lo, imported with and
 * without the key log; the handshakes must be tshark's (SNI, version, cipher suite, alert, hello
 * retries, ClientHello → server Finished or the alert), and the decrypted HTTP requests tshark's with the same key log.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { importCaptureFile } from '../../src/agent/import-file.js';
import { CollectingSink } from '../../src/agent/json-sink.js';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { dnsDissector } from '../../src/protocols/dns/dissector.js';
import { httpDissector } from '../../src/protocols/http/dissector.js';
import { tlsDissectorWith } from '../../src/protocols/tls/dissector.js';
import { KeyLog } from '../../src/protocols/tls/keylog.js';
import type { PipelineCounters } from '../../src/agent/pipeline.js';
import { tempFile } from '../agent/run.js';
import { taplineRun } from '../hub/processes.js';
import { Nginx } from '../agent/nginx.js';
import { Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import {
  expiredSelfSigned,
  OpensslServer,
  sClient,
  sClientSteps,
  selfSigned,
  tsharkHandshakes,
  tsharkHttpsRequests,
  type TsharkHandshake,
} from './tls-support.js';

const run = promisify(execFile);

let dir: string;
let nginx: Nginx;
let expired: OpensslServer;
let capture: string;
let keylog: string;
/** Client port → whether Node's client says the session was resumed. */
const nodeResumed = new Map<number, boolean>();
const sClientOut: Record<string, string> = {};

async function curl(port: number, name: string, args: string[], paths: string[]): Promise<void> {
  const urls = paths.map((p) => `https://${name}:${port}${p}`);
  await run('curl', ['-sk', '--resolve', `${name}:${port}:127.0.0.1`, ...args, ...urls.flatMap((u) => ['-o', '/dev/null', u])], { env: { ...process.env, SSLKEYLOGFILE: keylog } });
}

async function nodeGet(port: number, path: string, agent: https.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, servername: 'node.tapline.test', rejectUnauthorized: false, agent }, (res) => {
      const sock = res.socket as import('node:tls').TLSSocket;
      nodeResumed.set(sock.localPort!, sock.isSessionReused());
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

before(async () => {
  await tsharkAvailable();
  dir = mkdtempSync(join(tmpdir(), 'tapline-tls-'));
  keylog = join(dir, 'keys.log');
  writeFileSync(keylog, '');
  const cert = await selfSigned(dir, 'tapline.test');
  const old = await expiredSelfSigned(dir, 'expired.tapline.test');
  nginx = await Nginx.start({ 'index.html': '<h1>hello over TLS</h1>', 'about.html': '<p>about</p>' }, cert);
  expired = await OpensslServer.start(old, ['-groups', 'X25519']);
  capture = tempFile('tls.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${nginx.port} or tcp port ${expired.port}`, capture);
  try {
    await curl(nginx.port, 'tapline.test', ['--tlsv1.2', '--tls-max', '1.2'], ['/index.html', '/missing.html']);
    await curl(nginx.port, 'tapline.test', [], ['/index.html', '/about.html']);
    await curl(nginx.port, 'chacha.tapline.test', ['--tlsv1.2', '--tls-max', '1.2', '--ciphers', 'ECDHE-RSA-CHACHA20-POLY1305'], ['/about.html']);
    await curl(nginx.port, 'chacha13.tapline.test', ['--tls13-ciphers', 'TLS_CHACHA20_POLY1305_SHA256'], ['/index.html']);
    await curl(expired.port, 'expired.tapline.test', ['--tls-max', '1.2'], ['/']);
    for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
      // No keep-alive: the second request is a second connection, resumed from the first one's session.
      const agent = new https.Agent({ keepAlive: false, maxVersion });
      agent.on('keylog', (line: Buffer) => appendFileSync(keylog, line));
      assert.equal(await nodeGet(nginx.port, '/index.html', agent), 200);
      assert.equal(await nodeGet(nginx.port, '/nothing-here', agent), 404);
      agent.destroy();
    }
    sClientOut.noCipher = (await sClient(nginx.port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256', '-servername', 'nocipher.tapline.test'])).out;
    sClientOut.reject = (await sClient(expired.port, ['-tls1_2', '-verify_return_error', '-servername', 'reject.tapline.test'])).out;
    // TLS 1.3: the refusal comes after the server's Finished, encrypted: seen with the key log only.
    sClientOut.reject13 = (await sClient(expired.port, ['-tls1_3', '-verify_return_error', '-servername', 'reject13.tapline.test', '-keylogfile', keylog])).out;
    // TLS 1.3 KeyUpdate between two requests on one connection (s_client's `k` command).
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: keyupdate.tapline.test\r\n\r\n`;
    sClientOut.keyUpdate = await sClientSteps(nginx.port, ['-tls1_3', '-servername', 'keyupdate.tapline.test', '-keylogfile', keylog], [
      { write: get('/index.html'), until: /hello over TLS/ },
      { write: 'k\n', until: /KEYUPDATE/ },
      { write: get('/about.html'), until: /about<\/p>/ },
    ]);
    sClientOut.hrr = (await sClient(expired.port, ['-tls1_3', '-groups', 'P-256:X25519', '-servername', 'hrr.tapline.test'])).out;
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
});

after(async () => {
  await nginx?.stop();
  await expired?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function importWith(keys: KeyLog): Promise<{ entries: Entry[]; counters: PipelineCounters }> {
  const sink = new CollectingSink();
  const { error, counters } = await importCaptureFile(capture, sink, {
    redaction: { enabled: false, headers: [], queryParams: [] },
    protocols: [httpDissector, dnsDissector, tlsDissectorWith(keys)],
  });
  assert.equal(error, undefined);
  return { entries: sink.entries, counters };
}

function keysFrom(text: string): KeyLog {
  const k = new KeyLog();
  k.addText(text);
  return k;
}

const handshakes = (entries: Entry[]) => new Map(entries.filter((e) => e.protocol === 'tls').map((e) => [e.src.port, e]));

async function tsharkAll(withKeys: boolean): Promise<Map<number, TsharkHandshake>> {
  const a = await tsharkHandshakes(capture, nginx.port, withKeys ? keylog : undefined);
  const b = await tsharkHandshakes(capture, expired.port, withKeys ? keylog : undefined);
  return new Map([...a, ...b]);
}

/** A handshake as both sides can say it: SNI, version, suite, alert, hello retry. */
function ours(e: Entry): string {
  const f = e.fields;
  const alert = f['tls.alert_from'] === undefined ? '' : `${f['tls.alert_from']} ${f['tls.alert']}`;
  return `${e.target} v${f['tls.version'] === '1.3' ? 0x304 : f['tls.version'] === '1.2' ? 0x303 : 0} suite ${f['tls.cipher_id'] ?? 0} alert '${alert}' hrr ${f['tls.hello_retry']}`;
}

function theirs(t: TsharkHandshake): string {
  return `${t.sni} v${t.version} suite ${t.cipher} alert '${t.alert}' hrr ${t.serverHellos > 1 ? 1 : 0}`;
}

test('the handshakes are tshark\'s: SNI, version, cipher suite, alert and who sent it, hello retries, ClientHello → server Finished', async () => {
  const { entries, counters } = await importWith(keysFrom(readFileSync(keylog, 'latin1')));
  const reference = await tsharkAll(true);
  const mine = handshakes(entries);
  assert.deepEqual([...mine.keys()].sort(), [...reference.keys()].sort(), 'one handshake entry per connection');
  for (const [port, t] of reference) {
    const e = mine.get(port)!;
    assert.equal(ours(e), theirs(t), `client port ${port}`);
    // ClientHello → server Finished, or the alert that refused the handshake.
    if (t.alertUs > 0) assert.equal(e.durationUs, t.alertUs - t.helloUs, `client port ${port}: ClientHello → alert`);
    else if (!e.unanswered && t.finishedUs > 0) assert.equal(e.durationUs, t.finishedUs - t.helloUs, `client port ${port}: ClientHello → server Finished`);
  }
  assert.equal(mine.size, 14);
  assert.equal(counters.protocols.tls.parseErrors, 0);
  const byName = (sni: string) => [...mine.values()].filter((e) => e.target === sni);
  // What the test itself set up, read back.
  const [tls12] = byName('tapline.test').filter((e) => e.fields['tls.version'] === '1.2');
  assert.equal(tls12.fields['tls.alpn'], 'http/1.1');
  assert.equal(tls12.fields['tls.cert_subject'], 'CN=tapline.test, O=Tapline tests');
  assert.equal(tls12.fields['tls.cert_san'], 'DNS:tapline.test, IP Address:127.0.0.1');
  assert.equal(tls12.fields['tls.self_signed'], 1);
  assert.equal(tls12.fields['tls.cert_expired'], 0);
  assert.equal(tls12.outcome, Outcome.ok);
  const [old] = byName('expired.tapline.test');
  assert.equal(old.fields['tls.cert_expired'], 1);
  assert.equal(old.fields['tls.cert_not_after'], '2020-02-01T00:00:00.000Z');
  assert.equal(old.fields['tls.self_signed'], 1);
  const [noCipher] = byName('nocipher.tapline.test');
  assert.match(sClientOut.noCipher, /handshake failure/);
  assert.deepEqual([noCipher.status, noCipher.statusText, noCipher.fields['tls.alert_from'], noCipher.outcome], [40, 'handshake_failure', 'server', Outcome.clientError]);
  const [reject] = byName('reject.tapline.test');
  assert.match(sClientOut.reject, /verify error/);
  assert.equal(reject.fields['tls.alert_from'], 'client');
  assert.equal(reject.outcome, Outcome.serverError);
  const [reject13] = byName('reject13.tapline.test');
  assert.match(sClientOut.reject13, /verify error/);
  assert.deepEqual([reject13.fields['tls.version'], reject13.fields['tls.alert_from'], reject13.outcome], ['1.3', 'client', Outcome.serverError]);
  const [hrr] = byName('hrr.tapline.test');
  assert.equal(hrr.fields['tls.hello_retry'], 1);
  // TLS 1.3 says its ALPN and certificate encrypted: known because the key log decrypted them.
  const [tls13] = byName('tapline.test').filter((e) => e.fields['tls.version'] === '1.3');
  assert.equal(tls13.fields['tls.alpn'], 'http/1.1');
  assert.equal(tls13.fields['tls.decrypted'], 1);
  assert.equal(tls13.fields['tls.cert_subject'], 'CN=tapline.test, O=Tapline tests');
  // Resumption as Node's client saw it.
  assert.equal(nodeResumed.size, 4);
  for (const [port, reused] of nodeResumed) assert.equal(mine.get(port)?.fields['tls.resumed'], reused ? 1 : 0, `client port ${port}`);
  assert.deepEqual([...nodeResumed.values()], [false, true, false, true]);
});

test('decrypted with the key log, the HTTP requests are tshark\'s with the same key log, marked tls.decrypted', async () => {
  const { entries } = await importWith(keysFrom(readFileSync(keylog, 'latin1')));
  const http = entries.filter((e) => e.protocol === 'http').sort((a, b) => a.startUs - b.startUs);
  assert.ok(http.every((e) => e.fields['tls.decrypted'] === 1));
  const line = (e: Entry) => `${e.src.port} ${e.operation} ${e.target} → ${e.status}`;
  const mine = http.filter((e) => e.dst.port === nginx.port).map(line);
  assert.deepEqual([...mine].sort(), [...(await tsharkHttpsRequests(capture, nginx.port, keylog))].sort());
  assert.equal(mine.length, 12);
  // After the client's KeyUpdate its records are read with the next secret.
  assert.match(sClientOut.keyUpdate, /KEYUPDATE/);
  const keyUpdated = http.filter((e) => e.host === 'keyupdate.tapline.test').map((e) => `${e.target} ${e.status}`);
  assert.deepEqual(keyUpdated, ['/index.html 200', '/about.html 200']);
  // s_server -www answers HTTP/1.0 delimited by the close, which tshark 4.0 never ends inside TLS
  // (it waits on a "reassembled PDU"): its request is checked against what s_server sends.
  const status = http.filter((e) => e.dst.port === expired.port);
  assert.deepEqual(status.map(line), [`${status[0]?.src.port} GET / → 200`]);
  assert.match(status[0].responseBody.bytes.toString('latin1'), /s_server -accept/);
  assert.deepEqual(http.map((e) => e.target), [
    '/index.html', '/missing.html', '/index.html', '/about.html', '/about.html', '/index.html', '/', '/index.html', '/nothing-here', '/index.html', '/nothing-here', '/index.html', '/about.html',
  ]);
});

test('without the key log: the same handshakes (TLS 1.3 ALPN unknown), nothing decrypted, nothing else', async () => {
  const withKeys = handshakes((await importWith(keysFrom(readFileSync(keylog, 'latin1')))).entries);
  const { entries, counters } = await importWith(new KeyLog());
  assert.deepEqual(entries.filter((e) => e.protocol !== 'tls'), []);
  const mine = handshakes(entries);
  const reference = await tsharkAll(false);
  for (const [port, t] of reference) {
    const e = mine.get(port)!;
    assert.equal(ours(e), theirs(t), `client port ${port}`);
    assert.equal(e.fields['tls.decrypted'], 0);
    // The end of the handshake is the same record, read or not (but for a refusal only the key log shows).
    const keyed = withKeys.get(port)!;
    if (keyed.fields['tls.alert_from'] === undefined) assert.equal(e.durationUs, keyed.durationUs, `client port ${port}`);
    else if (e.fields['tls.alert_from'] === undefined) assert.equal(e.target, 'reject13.tapline.test', 'only the TLS 1.3 refusal is encrypted');
    if (e.fields['tls.version'] === '1.3') assert.equal(e.fields['tls.alpn'], '');
  }
  assert.equal(counters.protocols.http.connections, 0);
  assert.equal(counters.protocols.tls.parseErrors, 0);
});

test('a key log with wrong secrets decrypts nothing (records do not authenticate), and its garbage lines are counted', async () => {
  const flipped = readFileSync(keylog, 'latin1').replace(/ ([0-9a-f]{2})([0-9a-f]+)$/gm, (_m, first: string, rest: string) => ` ${(Number.parseInt(first, 16) ^ 0xff).toString(16).padStart(2, '0')}${rest}`);
  const bad = new KeyLog();
  const status = bad.addText(`${flipped}\nCLIENT_RANDOM nothex zz\n# a comment\nGARBAGE LINE\nCLIENT_RANDOM ${'ab'.repeat(32)} 1234\n`);
  assert.equal(status.badLines, 3);
  const { entries, counters } = await importWith(bad);
  assert.deepEqual(entries.filter((e) => e.protocol !== 'tls').map((e) => e.protocol), []);
  assert.ok(entries.every((e) => e.fields['tls.decrypted'] === 0));
  assert.equal(handshakes(entries).size, 14);
  assert.ok(counters.protocols.tls.parseErrors > 0, 'records that did not authenticate are counted');
  // Good secrets among garbage still decrypt.
  const mixed = new KeyLog();
  assert.equal(mixed.addText(`junk\n${readFileSync(keylog, 'latin1')}\nCLIENT_RANDOM short 00\n`).badLines, 2);
  assert.equal((await importWith(mixed)).entries.filter((e) => e.protocol === 'http').length, 13);
});

test('a key log file followed as it grows: secrets appended after it was added are found', async () => {
  const grown = join(dir, 'growing.log');
  writeFileSync(grown, '# nothing yet\n');
  const k = new KeyLog();
  k.addFile(grown);
  const text = readFileSync(keylog, 'latin1');
  // Half a line first: a line being written is not read until its newline.
  appendFileSync(grown, text.slice(0, 20));
  assert.equal(k.status()[0].secrets, 0);
  appendFileSync(grown, text.slice(20));
  const { entries } = await importWith(k);
  assert.equal(entries.filter((e) => e.protocol === 'http').length, 13);
  const used = text.split('\n').filter((l) => /^(CLIENT_RANDOM|(CLIENT|SERVER)_(HANDSHAKE_TRAFFIC_SECRET|TRAFFIC_SECRET_0)) /.test(l));
  assert.deepEqual(k.status(), [{ path: grown, secrets: used.length, badLines: 0, error: '' }]);
});

test('tapline import --tls-keylog: the command decrypts with the file and says what it read of it', async () => {
  const { code, stdout, stderr } = await taplineRun(['import', '--json', '--no-progress', '--tls-keylog', keylog, capture]);
  assert.equal(code, 0, stderr);
  const lines = stdout.split('\n').filter((l) => l !== '');
  const entries = lines.map((l) => JSON.parse(l) as { protocol: string; fields: Record<string, number>; dst: { port: number } });
  assert.equal(entries.filter((e) => e.protocol === 'http' && e.fields['tls.decrypted'] === 1).length, 13);
  assert.equal(entries.filter((e) => e.protocol === 'tls').length, 14);
  assert.match(stderr, new RegExp(`TLS key log ${keylog}: \\d+ secrets, 0 unreadable lines`));
  // s_server -www's status page prints its session's Master-Key: the peer's own payload, left out here.
  assertNoKeyMaterial(lines.filter((_l, i) => entries[i].dst.port !== expired.port).join('\n') + stderr);
  assert.match(lines.filter((_l, i) => entries[i].dst.port === expired.port).join('\n'), /Master-Key/);
});

/** No secret of the test's key log, whole or in part, in `text`. */
function assertNoKeyMaterial(text: string): void {
  for (const line of readFileSync(keylog, 'latin1').split('\n')) {
    const secret = line.split(' ')[2];
    if (secret && /^[0-9a-f]{64,}$/i.test(secret)) assert.ok(!text.toLowerCase().includes(secret.slice(0, 32).toLowerCase()), 'key material in the output');
  }
}
