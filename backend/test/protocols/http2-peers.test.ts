/**
 * HTTP/2 with real peers, captured by tcpdump on lo: Node's http2 client against Node's http2
 * server (query strings, a gzip body, trailers, a header block over CONTINUATION frames, a 404,
 * RST_STREAM both ways, GOAWAY), curl with prior knowledge and by Upgrade: h2c, nghttp and
 * h2load against nghttpd. The entries must be tshark's streams (client port, stream id, method,
 * path, status), exactly, and carry what the peers sent.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { http2Dissector } from '../../src/protocols/http2/dissector.js';
import { analyse } from '../agent/compare.js';
import { tempFile } from '../agent/run.js';
import { freePort, Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { byKey, entryStreams, H2cServer, Nghttpd, tsharkStreams, UPGRADED_BODY } from './http2-support.js';

const run = promisify(execFile);
let node: H2cServer;
let nghttpd: Nghttpd;
let nghttpdPort: number;
const dir = mkdtempSync(join(tmpdir(), 'tapline-http2-'));
const bigValue = 'v'.repeat(40_000);
const echoed = 'the echoed body '.repeat(200);
/** Called when the server has the /slow request (then the client resets it). */
let slowSeen: (() => void) | null = null;

before(async () => {
  await tsharkAvailable();
  node = await H2cServer.start((stream, headers) => {
    const path = headers[':path'] ?? '';
    if (path.startsWith('/hello')) return stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { endStream: false }), stream.end('hi');
    if (path === '/echo') {
      const parts: Buffer[] = [];
      stream.on('data', (d: Buffer) => parts.push(d));
      stream.on('end', () => {
        stream.respond({ ':status': 201, 'content-type': 'text/plain', 'content-encoding': 'gzip' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': String(Buffer.concat(parts).length) }));
        stream.end(gzipSync(Buffer.concat(parts)));
      });
      return;
    }
    if (path === '/big') return stream.respond({ ':status': 200, 'x-big': bigValue }, { endStream: true });
    if (path === '/refuse') return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    if (path === '/slow') return slowSeen?.(); // never answered: the client resets it
    if (path === '/hold') return; // never answered: a GOAWAY ends it
    if (path === '/goaway') {
      stream.respond({ ':status': 200 }, { endStream: true });
      // The stream opened after this one (/hold) is not processed.
      stream.session!.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, stream.id);
      return;
    }
    stream.respond({ ':status': 404 }, { endStream: true });
  });
  nghttpdPort = await freePort();
  writeFileSync(join(dir, 'index.html'), 'hello from nghttpd\n');
  nghttpd = await Nghttpd.start(nghttpdPort, dir);
});

after(async () => {
  await node?.stop();
  await nghttpd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A request on `session`: resolves with the status (0 when reset) and the body. */
function request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve) => {
    const req = session.request(headers, { endStream: body === undefined });
    let status = 0;
    const parts: Buffer[] = [];
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('close', () => resolve({ status, body: Buffer.concat(parts) }));
    req.on('error', () => undefined);
    if (body !== undefined) req.end(body);
  });
}

const rows = (entries: Entry[]) =>
  entries.map((e) => `${e.operation} ${e.target}${e.query ? `?${e.query}` : ''} ${e.unanswered ? '-' : e.status}${e.fields['http2.rst_code'] ? ` rst:${e.fields['http2.rst_code']}` : ''}${e.fields['http2.goaway_code'] ? ` goaway:${e.fields['http2.goaway_code']}` : ''}`);

test("Node's http2 client and server: one entry per stream, as tshark sees them, with headers, bodies and trailers", async () => {
  const file = tempFile('http2-node.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${node.port}`, file);
  try {
    const session = http2.connect(`http://127.0.0.1:${node.port}`);
    assert.equal((await request(session, { ':path': '/hello?name=ada&lang=en', 'x-trace': 'one' })).status, 200);
    // The same headers again: now from the dynamic table.
    assert.equal((await request(session, { ':path': '/hello?name=ada&lang=en', 'x-trace': 'one' })).status, 200);
    const echo = await request(session, { ':method': 'POST', ':path': '/echo', 'content-type': 'text/plain' }, echoed);
    assert.equal(echo.status, 201);
    assert.equal((await request(session, { ':path': '/big' })).status, 200);
    assert.equal((await request(session, { ':path': '/missing' })).status, 404);
    assert.equal((await request(session, { ':path': '/refuse' })).status, 0);
    await new Promise<void>((resolve) => {
      const req = session.request({ ':path': '/slow' });
      req.on('error', () => undefined);
      slowSeen = () => req.close(http2.constants.NGHTTP2_CANCEL);
      req.on('close', () => resolve());
    });
    await new Promise<void>((resolve) => session.close(resolve));
    // A second connection: a GOAWAY whose last stream id leaves /hold unprocessed.
    const second = http2.connect(`http://127.0.0.1:${node.port}`);
    second.on('error', () => undefined); // the GOAWAY's error code
    const goaway = request(second, { ':path': '/goaway' });
    const held = request(second, { ':path': '/hold' });
    await Promise.all([held, goaway]);
    second.destroy();
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  const { entries } = await analyse(file, [node.port]);
  const sorted = [...entries].sort((a, b) => a.src.port - b.src.port || Number(a.fields['http2.stream_id']) - Number(b.fields['http2.stream_id']));
  assert.deepEqual(rows(sorted), [
    'GET /hello?name=ada&lang=en 200',
    'GET /hello?name=ada&lang=en 200',
    'POST /echo 201',
    'GET /big 200',
    'GET /missing 404',
    'GET /refuse - rst:REFUSED_STREAM',
    'GET /slow - rst:CANCEL',
    'GET /goaway 200',
    'GET /hold - goaway:ENHANCE_YOUR_CALM',
  ]);
  assert.deepEqual(byKey(entryStreams(entries)), byKey(await tsharkStreams(file, node.port)));

  const [hello, again, post, big, missing, refused, , , held] = sorted;
  for (const e of [hello, again]) {
    assert.equal(e.protocol, 'http2');
    assert.equal(e.protocolVersion, '2');
    assert.equal(e.host, `127.0.0.1:${node.port}`);
    assert.equal(e.fields['http2.scheme'], 'http');
    assert.equal(e.requestHeaders.get('x-trace'), 'one');
    assert.equal(e.responseBody.bytes.toString(), 'hi');
    assert.equal(e.fields['http2.unknown_headers'], 0);
    assert.equal(e.incomplete, false);
    assert.equal(e.dst.port, node.port);
    assert.ok(e.durationUs > 0 && e.durationUs < 5e6);
  }
  assert.equal(post.requestBody.bytes.toString(), echoed);
  assert.equal(post.responseBody.encoding, 'gzip');
  assert.equal(post.responseBody.bytes.toString(), echoed);
  assert.equal(post.fields['http2.trailers'], 1);
  assert.equal(post.responseHeaders.get('x-checksum'), String(echoed.length));
  assert.equal(big.responseHeaders.get('x-big'), bigValue, 'a header block over CONTINUATION frames');
  assert.deepEqual([http2Dissector.outcome({ ...missing, clientDir: 0 }), http2Dissector.outcome({ ...hello, clientDir: 0 })], [Outcome.clientError, Outcome.ok]);
  assert.deepEqual([refused.unanswered, refused.incomplete, http2Dissector.outcome({ ...refused, clientDir: 0 })], [true, true, Outcome.none]);
  assert.equal(held.incomplete, true);
});

test('curl with prior knowledge and by Upgrade: h2c, nghttp and h2load against nghttpd: the streams tshark sees', async () => {
  const file = tempFile('http2-tools.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${node.port} or tcp port ${nghttpdPort}`, file);
  let upgraded = '';
  try {
    const curl = async (...args: string[]) => (await run('curl', ['-s', '--max-time', '10', ...args])).stdout;
    assert.equal(await curl('--http2-prior-knowledge', `http://127.0.0.1:${node.port}/hello?via=curl`), 'hi');
    upgraded = await curl('--http2', `http://127.0.0.1:${node.port}/upgrade-me?x=1`);
    assert.equal(await curl('--http2-prior-knowledge', `http://127.0.0.1:${nghttpdPort}/index.html`), 'hello from nghttpd\n');
    await run('nghttp', ['-n', `http://127.0.0.1:${nghttpdPort}/index.html`, `http://127.0.0.1:${nghttpdPort}/nope`]);
    const h2load = await run('h2load', ['-n', '60', '-c', '3', '-m', '5', `http://127.0.0.1:${nghttpdPort}/index.html`]);
    assert.match(h2load.stdout, /60 succeeded/);
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  assert.equal(upgraded, UPGRADED_BODY);
  const { entries } = await analyse(file, []);
  const h2 = entries.filter((e) => e.protocol === 'http2');
  const ours = (port: number) => byKey(entryStreams(h2.filter((e) => e.dst.port === port)));
  // The upgrade: its request is an HTTP/1.1 entry (101); HTTP/2 takes the connection over.
  const upgrade = entries.filter((e) => e.protocol === 'http');
  assert.deepEqual(upgrade.map((e) => `${e.operation} ${e.target}?${e.query} ${e.status}`), ['GET /upgrade-me?x=1 101']);
  // tshark shows the upgraded stream 1 as a response without a request: HTTP/2 has no request for it.
  const theirs = (await tsharkStreams(file, node.port)).filter((s) => s.method !== '');
  assert.deepEqual(ours(node.port), byKey(theirs));
  assert.deepEqual(ours(node.port).map((s) => s.replace(/^\S+ /, '')), ['GET /hello?via=curl 200 -1']);
  const nghttpdStreams = ours(nghttpdPort);
  assert.deepEqual(nghttpdStreams, byKey(await tsharkStreams(file, nghttpdPort)));
  assert.equal(nghttpdStreams.length, 1 + 2 + 60);
  assert.equal(nghttpdStreams.filter((s) => s.endsWith(' GET /nope 404 -1')).length, 1);
  for (const e of h2) assert.equal(e.incomplete, false, `${e.target}: complete`);
});
