/**
 * Real clients against a real Node HTTP server on loopback, captured by tcpdump: the entries
 * must match tshark's HTTP transactions exactly (see compare.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { analyse, assertSameAsTshark, captureTraffic } from './compare.js';
import { tempFile, hdr, text } from './run.js';
import { freePort, tsharkAvailable } from './traffic.js';

const run = promisify(execFile);
let server: http.Server;
let port: number;
const bigBody = Buffer.alloc(300_000, 'B');

before(async () => {
  await tsharkAvailable();
  port = await freePort();
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (url.pathname === '/gzip') {
        res.setHeader('Content-Encoding', 'gzip');
        res.end(gzipSync('compressed answer '.repeat(100)));
      } else if (url.pathname === '/chunked') {
        res.write('first,');
        setTimeout(() => res.end('second'), 2);
      } else if (url.pathname === '/big') {
        res.end(bigBody);
      } else if (url.pathname === '/echo') {
        res.end(`echo:${body}`);
      } else if (url.pathname === '/missing') {
        res.statusCode = 404;
        res.end('not here');
      } else if (url.pathname === '/fail') {
        res.statusCode = 503;
        res.end();
      } else {
        res.end(`hello ${url.pathname}`);
      }
    });
  });
  server.keepAliveTimeout = 5000;
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
});

after(() => {
  server.closeAllConnections();
  server.close();
});

test('curl: one request per connection and several on one, bodies, gzip, chunked, 404/503, POST', async () => {
  const base = `http://127.0.0.1:${port}`;
  const c = await captureTraffic('curl', [port], async () => {
    await run('curl', ['-s', '-o', '/dev/null', `${base}/first?x=1`]);
    await run('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', `${base}/gzip`, `${base}/chunked`, `${base}/missing`, `${base}/fail`]);
    await run('curl', ['-s', '-o', '/dev/null', '-X', 'POST', '--data-binary', 'payload=1', `${base}/echo`]);
    await run('curl', ['-s', '-o', '/dev/null', '-I', `${base}/head`]);
    await run('curl', ['-s', '-o', '/dev/null', `${base}/big`]);
  });
  assertSameAsTshark(c, 8);
  const by = (p: string) => c.entries.find((e) => e.target === p)!;
  assert.equal(text(by('/gzip').responseBody), 'compressed answer '.repeat(100));
  assert.equal(by('/gzip').responseBody.encoding, 'gzip');
  assert.equal(text(by('/chunked').responseBody), 'first,second');
  assert.equal(text(by('/echo').requestBody), 'payload=1');
  assert.equal(text(by('/echo').responseBody), 'echo:payload=1');
  assert.equal(by('/head').operation, 'HEAD');
  assert.equal(by('/big').responseBody.size, bigBody.length);
  assert.equal(by('/big').responseBody.truncated, true); // 64 KiB default limit
  assert.equal(hdr(by('/first').requestHeaders, 'user-agent')?.startsWith('curl/'), true);
  for (const e of c.entries) {
    assert.equal(e.src.ip, '127.0.0.1');
    assert.equal(e.dst.port, port);
    assert.ok(e.durationUs > 0 && e.durationUs < 5e6, `duration ${e.durationUs}`);
    assert.equal(e.incomplete, false);
  }

  // The same capture as pcapng (editcap) gives the same entries.
  const ng = tempFile('curl.pcapng');
  await run('editcap', ['-F', 'pcapng', c.file, ng]);
  const c2 = await analyse(ng, [port]);
  assert.deepEqual(c2.entries.map((e) => [e.startUs, e.endUs, e.operation, e.target, e.status]), c.entries.map((e) => [e.startUs, e.endUs, e.operation, e.target, e.status]));
});

test('Node http keep-alive agent: 60 requests over 3 sockets', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
  const paths: string[] = [];
  const c = await captureTraffic('keepalive', [port], async () => {
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const path = i % 10 === 0 ? `/missing?i=${i}` : `/k/${i}`;
        paths.push(path);
        return new Promise<void>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port, path, agent }, (res) => {
              res.resume();
              res.on('end', resolve);
            })
            .on('error', reject);
        });
      }),
    );
    agent.destroy();
  });
  assertSameAsTshark(c, 60);
  assert.deepEqual(new Set(c.entries.map((e) => `${e.target}${e.query ? `?${e.query}` : ''}`)), new Set(paths));
  assert.ok(new Set(c.entries.map((e) => e.src.port)).size <= 3);
});

test('raw pipelined requests on one socket, answered in order', async () => {
  const c = await captureTraffic('pipelined', [port], async () => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    let got = '';
    sock.on('data', (d) => (got += d.toString('latin1')));
    const reqs = ['/p1', '/missing', '/p3', '/p4', '/p5'].map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join('');
    sock.write(`${reqs}POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    await once(sock, 'end');
    sock.destroy();
    assert.equal(got.match(/HTTP\/1\.1 /g)?.length, 7);
  });
  assertSameAsTshark(c, 7);
  assert.deepEqual(c.entries.map((e) => [e.target, e.status]), [
    ['/p1', 200], ['/missing', 404], ['/p3', 200], ['/p4', 200], ['/p5', 200], ['/echo', 200], ['/last', 200],
  ]);
  assert.equal(text(c.entries[5].responseBody), 'echo:abc');
});

test('the `any` device (Linux SLL2) and SLL v1 captures give the same entries', async () => {
  const base = `http://127.0.0.1:${port}`;
  for (const extra of [[], ['-y', 'LINUX_SLL']]) {
    const c = await captureTraffic('any', [port], async () => {
      await run('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', `${base}/any1`, `${base}/missing`]);
    }, 'any', extra);
    assert.deepEqual(c.entries.map((e) => [e.target, e.status]), [['/any1', 200], ['/missing', 404]], `${extra.join(' ')}: ${c.tshark.length} in tshark`);
    assertSameAsTshark(c, 2);
  }
});
