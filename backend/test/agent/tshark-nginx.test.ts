/**
 * nginx (the Debian package) serving files on loopback to curl: 200, 404, 304, HEAD, ranges and
 * gzip, captured by tcpdump; entries must match tshark's HTTP transactions exactly.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { assertSameAsTshark, captureTraffic } from './compare.js';
import { hdr, text } from './run.js';
import { Nginx } from './nginx.js';
import { tsharkAvailable } from './traffic.js';

const run = promisify(execFile);
let nginx: Nginx;
let port: number;
const page = '<html><body>' + 'Tapline nginx fixture. '.repeat(200) + '</body></html>';

before(async () => {
  await tsharkAvailable();
  nginx = await Nginx.start({ 'index.html': page, '50x.html': '<h1>error page</h1>' });
  port = nginx.port;
});

after(() => nginx.stop());

test('nginx: 200, 404, conditional 304, HEAD, range 206, gzip, keep-alive', async () => {
  const base = `http://127.0.0.1:${port}`;
  let etag = '';
  const c = await captureTraffic('nginx', [port], async () => {
    const { stdout } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', `${base}/index.html`]);
    etag = /etag: (.*)\r/i.exec(stdout)![1];
    await run('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', `${base}/50x.html`, `${base}/error.html`, `${base}/index.html?v=2`]);
    await run('curl', ['-s', '-o', '/dev/null', '-H', `If-None-Match: ${etag}`, `${base}/index.html`]);
    await run('curl', ['-s', '-o', '/dev/null', '-I', `${base}/index.html`]);
    await run('curl', ['-s', '-o', '/dev/null', '-r', '10-19', `${base}/index.html`]);
    await run('curl', ['-s', '-o', '/dev/null', '--compressed', `${base}/index.html`]);
  });
  assertSameAsTshark(c, 8);
  const statuses = c.entries.map((e) => [e.operation, `${e.target}${e.query ? `?${e.query}` : ''}`, e.status]);
  assert.deepEqual(statuses, [
    ['GET', '/index.html', 200],
    ['GET', '/50x.html', 200],
    ['GET', '/error.html', 404],
    ['GET', '/index.html?v=2', 200],
    ['GET', '/index.html', 304],
    ['HEAD', '/index.html', 200],
    ['GET', '/index.html', 206],
    ['GET', '/index.html', 200],
  ]);
  assert.equal(text(c.entries[0].responseBody), page);
  assert.equal(text(c.entries[1].responseBody), '<h1>error page</h1>');
  assert.match(text(c.entries[2].responseBody), /404 Not Found/);
  assert.equal(c.entries[4].responseBody.size, 0);
  assert.equal(text(c.entries[6].responseBody), page.slice(10, 20));
  const gz = c.entries[7];
  assert.equal(hdr(gz.responseHeaders, 'content-encoding'), 'gzip');
  assert.equal(gz.responseBody.encoding, 'gzip');
  assert.equal(text(gz.responseBody), page);
  assert.ok(gz.responseBody.wireSize < page.length / 4, `compressed on the wire: ${gz.responseBody.wireSize}`);
  assert.equal(hdr(c.entries[0].responseHeaders, 'server')?.startsWith('nginx'), true);
});
