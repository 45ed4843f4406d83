/**
 * HTTP/1 as real traffic has it (issue 16): methods that are any token, empty lines before a
 * request, HTTP/0.9, credentials in an absolute-form target, UTF-8 header values, CONNECT with a
 * Content-Length, a target with spaces, chunked trailers, responses whose request was not
 * captured, a status line straight after binary bytes, a slow response past the unanswered
 * timeout, a head cut by the snap length. Real peers where one produces the case (curl against
 * Node's HTTP server), else built byte by byte; compared with tshark where tshark reads it, and
 * with RFC 9110/9112 where it does not.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { promisify } from 'node:util';
import { LINKTYPE_ETHERNET } from '../../src/capture/link.js';
import { Conversation, pcapFile, type Frame } from '../capture/frames.js';
import { analyse, assertSameAsTshark, captureTraffic } from '../agent/compare.js';
import { hdr, importFrames, tempFile, text } from '../agent/run.js';
import { freePort, tsharkAvailable } from '../agent/traffic.js';

const run = promisify(execFile);
const client = { ip: '10.1.0.5', port: 40100 };
const server = { ip: '10.1.0.9', port: 8080 };
const conv = () => new Conversation(client, server).handshake();

async function sameAsTshark(frames: Frame[]) {
  const f = tempFile('wild.pcap');
  writeFileSync(f, pcapFile(LINKTYPE_ETHERNET, frames));
  const c = await analyse(f, [server.port]);
  assertSameAsTshark(c);
  return c;
}

let node: http.Server;
let port: number;
const seen: Array<[string, string]> = [];

before(async () => {
  await tsharkAvailable();
  port = await freePort();
  node = http.createServer((req, res) => {
    seen.push([req.method ?? '', req.url ?? '']);
    req.resume();
    req.on('end', () => res.end(`${req.method} ok`));
  });
  node.listen(port, '127.0.0.1');
  await once(node, 'listening');
});

after(() => {
  node.closeAllConnections();
  node.close();
});

test('methods are tokens: curl sends PURGE, LINK, SOURCE, QUERY, MKCALENDAR, M-SEARCH to Node; each is an entry, and so is the request after it', async () => {
  const methods = ['PURGE', 'LINK', 'SOURCE', 'QUERY', 'MKCALENDAR', 'M-SEARCH', 'GET'];
  seen.length = 0;
  const c = await captureTraffic('methods', [port], async () => {
    const urls = methods.flatMap((m, i) => [...(i > 0 ? ['--next'] : []), '-s', '-o', '/dev/null', '-X', m, `http://127.0.0.1:${port}/m/${i}`]);
    await run('curl', urls);
  });
  assert.deepEqual(seen, methods.map((m, i) => [m, `/m/${i}`]), 'what Node received');
  const ours = [...c.entries].sort((a, b) => a.startUs - b.startUs).map((e) => [e.operation, e.target, e.status]);
  assert.deepEqual(ours, methods.map((m, i) => [m, `/m/${i}`, 200]));
  // tshark 4.0 reads M-SEARCH and GET here, not the other tokens: where it reads a request, it agrees.
  for (const t of c.tshark) assert.deepEqual([t.method, t.uri, t.status], ours.find(([m]) => m === t.method), t.method);
  assert.deepEqual(c.tshark.map((t) => t.method).sort(), ['GET', 'M-SEARCH']);
});

test('any token method, byte by byte: RPC_IN_DATA with a body and the request after it, as tshark says', async () => {
  const c = conv();
  c.send('RPC_IN_DATA /rpc/rpcproxy.dll?host:6001 HTTP/1.1\r\nHost: mail\r\nContent-Length: 5\r\n\r\nhello');
  c.reply('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  c.send('GET /next HTTP/1.1\r\nHost: mail\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  c.close();
  const { entries } = await sameAsTshark(c.frames);
  assert.deepEqual(entries.map((e) => [e.operation, e.target, e.query, e.status, text(e.requestBody)]), [
    ['RPC_IN_DATA', '/rpc/rpcproxy.dll', 'host:6001', 401, 'hello'],
    ['GET', '/next', '', 200, ''],
  ]);
});

test('a text protocol is not taken for HTTP: a first line without HTTP/1.x is not a request', async () => {
  const c = conv();
  c.send('EHLO mail.example\r\n');
  c.reply('250 ok\r\n');
  c.close();
  const { entries, result } = await importFrames(c.frames);
  assert.equal(entries.length, 0);
  assert.equal(result.counters.protocols.http?.connections ?? 0, 0);
});

test('empty lines before the request line (RFC 9112 §2.2) are skipped, at the connection start and between requests', async () => {
  const c = conv();
  c.send('\r\n\r\nGET /first HTTP/1.1\r\nHost: h\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  c.send('\r\nGET /second HTTP/1.1\r\nHost: h\r\n\r\n');
  c.reply('HTTP/1.1 204 No Content\r\n\r\n');
  c.close();
  // tshark 4.0 misses a request after empty lines at the connection's start (it reads /second only).
  const { entries } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => [e.target, e.status]), [['/first', 200], ['/second', 204]]);
});

test('HTTP/0.9 (built by hand: no server here speaks it): GET /path alone, the answer a bare body until the close', async () => {
  const c = conv();
  c.send('GET /old.html\r\n');
  c.reply('<html>0.9</html>');
  c.close();
  const { entries } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => [e.operation, e.target, e.protocolVersion, e.status, e.unanswered, e.outcome, text(e.responseBody)]), [
    ['GET', '/old.html', '0.9', 0, false, 1, '<html>0.9</html>'],
  ]);
});

test('an absolute-form target with userinfo: the host is the authority without it, and the password is nowhere in the entry', async () => {
  const c = conv();
  c.send('GET http://user:s3cr3t-pw@example.com:1234/x?a=1 HTTP/1.1\r\nHost: other\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  c.close();
  // tshark shows the target as sent, userinfo and all; RFC 9112 §3.2.2: the authority is the host.
  const { entries } = await importFrames(c.frames);
  const e = entries[0];
  assert.deepEqual([e.target, e.query, e.host], ['/x', 'a=1', 'example.com:1234']);
  assert.ok(!JSON.stringify({ ...e, requestHeaders: e.requestHeaders.toPairs(), responseHeaders: e.responseHeaders.toPairs() }).includes('s3cr3t'));
});

test('header values and targets in UTF-8 read as UTF-8; bytes that are not UTF-8 stay as sent (Latin-1)', async () => {
  const c = conv();
  c.send(Buffer.concat([Buffer.from('GET /caf'), Buffer.from('é', 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: h\r\nX-City: '), Buffer.from('Düsseldorf', 'utf8'), Buffer.from('\r\nX-Old: '), Buffer.from([0x4d, 0xfc, 0x6e]), Buffer.from('\r\n\r\n')]));
  c.reply(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Greeting: '), Buffer.from('Grüße', 'utf8'), Buffer.from('\r\n\r\n')]));
  c.close();
  const { entries } = await importFrames(c.frames);
  const e = entries[0];
  assert.equal(e.target, '/café');
  assert.equal(hdr(e.requestHeaders, 'x-city'), 'Düsseldorf');
  assert.equal(hdr(e.requestHeaders, 'x-old'), 'Mün', '0xfc alone is not UTF-8: Latin-1 ü');
  assert.equal(hdr(e.responseHeaders, 'x-greeting'), 'Grüße');
});

test('CONNECT with a Content-Length: no request body (RFC 9110 §9.3.6); the tunnel bytes are not HTTP', async () => {
  const c = conv();
  c.send('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nContent-Length: 5\r\n\r\n');
  c.reply('HTTP/1.1 200 Connection established\r\n\r\n');
  c.send(Buffer.from('160301000568656c6c6f', 'hex'));
  c.reply(Buffer.from('16030300026869', 'hex'));
  c.close();
  await sameAsTshark(c.frames);
  const { entries, result } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => [e.operation, e.target, e.status, e.requestBody.size, e.requestBody.wireSize]), [['CONNECT', 'example.com:443', 200, 0, 0]]);
  assert.equal(result.counters.protocols.http.parseErrors, 0);
});

test('a target with a space ends at the first space, as tshark reads it', async () => {
  const c = conv();
  c.send('GET /a b HTTP/1.1\r\nHost: h\r\n\r\n');
  c.reply('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
  c.close();
  const { entries } = await sameAsTshark(c.frames);
  assert.deepEqual(entries.map((e) => [e.target, e.status]), [['/a', 400]]);
});

test('chunked trailers are kept apart from the head: not request headers, shown as trailers', async () => {
  const c = conv();
  c.send('POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Checksum: 42\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  c.close();
  const { entries } = await sameAsTshark(c.frames);
  const e = entries[0];
  assert.equal(e.requestHeaders.get('x-checksum'), undefined);
  assert.deepEqual(e.requestHeaders.toPairs(), [['Host', 'h'], ['Transfer-Encoding', 'chunked'], ['trailer X-Checksum', '42']]);
  const { httpDissector } = await import('../../src/protocols/http/dissector.js');
  const sections = httpDissector.represent({ ...e, id: '', agent: '', protocol: 'http', src: e.src, dst: e.dst, transport: 'tcp', outcome: 1 });
  const trailers = sections.find((s) => s.title === 'Request trailers');
  assert.deepEqual(trailers && trailers.kind === 'table' ? trailers.rows : [], [['X-Checksum', '42']]);
  assert.ok(!sections.some((s) => s.kind === 'table' && s.title === 'Request headers' && s.rows.some(([n]) => n.includes('Checksum'))));
});

test('a one-direction capture (server to client only): every response is an entry, without request or latency, as tshark lists them', async () => {
  const c = conv();
  for (const p of ['/a', '/b']) {
    c.send(`GET ${p} HTTP/1.1\r\nHost: h\r\n\r\n`);
    c.reply(`HTTP/1.1 ${p === '/a' ? 200 : 404} X\r\nContent-Length: 3\r\n\r\nabc`);
  }
  c.close();
  const fromServer = c.frames.filter((f) => f.data.readUInt16BE(14 + 20) === server.port);
  const { entries, result } = await importFrames(fromServer);
  assert.deepEqual(entries.map((e) => [e.operation, e.status, e.durationUs, e.incomplete, text(e.responseBody)]), [['', 200, 0, true, 'abc'], ['', 404, 0, true, 'abc']]);
  assert.deepEqual([entries[0].src.ip, entries[0].dst.ip], [client.ip, server.ip]);
  assert.equal(result.counters.protocols.http.orphanResponses, 2);
  const f = tempFile('one-way.pcap');
  writeFileSync(f, pcapFile(LINKTYPE_ETHERNET, fromServer));
  const { stdout } = await run('tshark', ['-r', f, '-n', '-d', `tcp.port==${server.port},http`, '-Y', 'http.response', '-T', 'fields', '-e', 'http.response.code']);
  assert.deepEqual(stdout.trim().split('\n'), ['200', '404']);
});

test('a status line straight after binary bytes, at a segment start, is found: no newline needed before it', async () => {
  const c = conv();
  c.send('GET /bin HTTP/1.1\r\nHost: h\r\n\r\n');
  // A Content-Length that lies: 10 bytes said, 3000 sent; the rest is not HTTP and holds no line break.
  const binary = Buffer.alloc(3000, 0xab);
  const res = c.reply(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'), binary]), 1000);
  c.send('GET /next HTTP/1.1\r\nHost: h\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  c.close();
  for (const f of res.slice(1)) assert.ok(!f.data.subarray(14 + 20 + 20).includes(10), 'no newline in the binary segments');
  const { entries, result } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => [e.target, e.status, e.responseBody.size]), [['/bin', 200, 10], ['/next', 200, 2]]);
  assert.ok(result.counters.protocols.http.parseErrors >= 1, 'the bytes past the lying length are counted');
});

test('a slow response: its head at 51 s, its body until 67 s — the 60 s unanswered timeout does not fire while it arrives (tshark: 206)', async () => {
  const c = conv();
  c.send('GET /slow HTTP/1.1\r\nHost: h\r\n\r\n');
  const t0 = c.frames[c.frames.length - 1].tsUs;
  const head = c.reply('HTTP/1.1 206 Partial Content\r\nContent-Type: video/mp4\r\n\r\n');
  const chunks: Frame[] = [];
  for (let i = 0; i < 16; i++) chunks.push(...c.reply(Buffer.alloc(1000, i)));
  c.close();
  head[0].tsUs = t0 + 51e6;
  chunks.forEach((f, i) => (f.tsUs = t0 + 52e6 + i * 1e6));
  const tail = c.frames.slice(c.frames.indexOf(chunks[chunks.length - 1]) + 1);
  tail.forEach((f, i) => (f.tsUs = t0 + 67e6 + i));
  const { entries } = await sameAsTshark(c.frames);
  assert.deepEqual(entries.map((e) => [e.target, e.status, e.unanswered, e.responseBody.wireSize]), [['/slow', 206, false, 16_000]]);
});

test('a head cut by the snap length: the start line and the whole header lines are an entry, marked incomplete, still paired', async () => {
  const c = conv();
  const cookie = 'x'.repeat(1500);
  c.send(`GET /cut?q=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: curl/8\r\nCookie: ${cookie}\r\n\r\n`, 1460);
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  c.send('GET /after HTTP/1.1\r\nHost: h\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  c.close();
  // 120 bytes of TCP payload kept per packet: the request head is cut inside the Cookie line.
  for (const f of c.frames) f.caplen = Math.min(f.data.length, 14 + 20 + 20 + 120);
  const { entries } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => [e.operation, e.target, e.query, e.status, e.incomplete]), [
    ['GET', '/cut', 'q=1', 200, true],
    ['GET', '/after', '', 200, false],
  ]);
  assert.deepEqual(entries[0].requestHeaders.toPairs(), [['Host', 'h'], ['User-Agent', 'curl/8']], 'the cut Cookie line is left out, not guessed');
});

test('heads over the 64 KiB limit are entries marked incomplete with what was kept: a 2 MiB header, 20 000 headers, a 200 KB path', async () => {
  const cases: Array<[string, string, number]> = [
    [`GET /big HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(2 << 20)}\r\n\r\n`, '/big', 2],
    [`GET /many HTTP/1.1\r\nHost: h\r\n${Array.from({ length: 20_000 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`, '/many', -1],
    [`GET /${'p'.repeat(200_000)} HTTP/1.1\r\nHost: h\r\n\r\n`, `/${'p'.repeat(200_000)}`.slice(0, 64 * 1024 - 4), 0],
  ];
  for (const [request, target, headers] of cases) {
    const c = conv();
    c.send(request);
    c.reply('HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n');
    c.send('GET /after HTTP/1.1\r\nHost: h\r\n\r\n');
    c.reply('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    c.close();
    const { entries } = await importFrames(c.frames);
    assert.deepEqual(entries.map((e) => [e.operation, e.target, e.status, e.incomplete]), [['GET', target, 431, true], ['GET', '/after', 200, false]]);
    const kept = entries[0];
    if (headers >= 0) assert.equal(kept.requestHeaders.count, headers);
    else assert.ok(kept.requestHeaders.count > 1000 && kept.requestHeaders.count < 20_000, `${kept.requestHeaders.count} headers kept`);
    assert.equal(kept.protocolVersion, target.length > 1000 ? '' : '1.1', 'a cut start line has no version');
  }
});
