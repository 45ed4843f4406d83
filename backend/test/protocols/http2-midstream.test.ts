/**
 * Mid-stream pickup with real peers: Node's http2 client sends requests on one connection, the
 * capture starts after the first of them (the HPACK tables hold entries it never sees), more
 * requests follow; then both peers set SETTINGS_HEADER_TABLE_SIZE to 0, which makes each
 * encoder send a dynamic table size update to 0, and back to 4096. No entry may show a
 * header value the client did not send: unseen entries read as [unknown] (the entry incomplete,
 * counted), and after the size update every header is known again.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { once } from 'node:events';
import { UNKNOWN } from '../../src/protocols/http2/hpack.js';
import { analyse } from '../agent/compare.js';
import { tempFile } from '../agent/run.js';
import { Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { H2cServer } from './http2-support.js';

let server: H2cServer;

before(async () => {
  await tsharkAvailable();
  server = await H2cServer.start((stream, headers) => {
    const parts: Buffer[] = [];
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-echo': String(headers['x-seq']), 'cache-control': 'no-store' });
      stream.end(`ok ${Buffer.concat(parts).toString()}`);
    });
  });
});

after(() => server?.stop());

/** What the client sends with request `seq` (besides the pseudo-headers). */
const sent = (seq: number): Record<string, string> => ({
  'content-type': 'application/x-www-form-urlencoded',
  'x-tenant': 'acme',
  'x-seq': String(seq),
  'user-agent': 'midstream-test/1.0',
});

function post(session: http2.ClientHttp2Session, seq: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': '/api/items?tenant=acme', ...sent(seq) });
    req.on('response', () => undefined);
    req.on('data', () => undefined);
    req.on('close', () => resolve());
    req.on('error', reject);
    req.end(`seq=${seq}`);
  });
}

/** Changes SETTINGS_HEADER_TABLE_SIZE on both sides and waits until each peer acknowledged it. */
async function tableSize(client: http2.ClientHttp2Session, server: http2.ServerHttp2Session, size: number): Promise<void> {
  const acked = [once(server, 'localSettings'), once(client, 'localSettings')];
  server.settings({ headerTableSize: size });
  client.settings({ headerTableSize: size });
  await Promise.all(acked);
}

test('a capture started mid-connection never shows a wrong header; a table size update to 0 resynchronises', async () => {
  const sessions: http2.ServerHttp2Session[] = [];
  server.h2.on('session', (s) => sessions.push(s));
  const session = http2.connect(`http://127.0.0.1:${server.port}`);
  for (let seq = 0; seq < 5; seq++) await post(session, seq);
  const file = tempFile('http2-midstream.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${server.port}`, file);
  try {
    for (let seq = 5; seq < 10; seq++) await post(session, seq);
    await tableSize(session, sessions[0], 0);
    for (let seq = 10; seq < 13; seq++) await post(session, seq);
    await tableSize(session, sessions[0], 4096);
    for (let seq = 13; seq < 16; seq++) await post(session, seq);
    await new Promise<void>((resolve) => session.close(resolve));
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  const { entries } = await analyse(file, []);
  const bySeq = new Map(entries.map((e) => [Number(/^seq=(\d+)$/.exec(e.requestBody.bytes.toString())?.[1]), e]));
  assert.deepEqual([...bySeq.keys()].sort((a, b) => a - b), [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  let unknown = 0;
  for (const [seq, e] of bySeq) {
    const want = sent(seq);
    // Pseudo-headers: right, or not shown at all.
    if (e.operation !== '') assert.equal(e.operation, 'POST', `${seq}: method`);
    if (e.target !== '') assert.deepEqual([e.target, e.query], ['/api/items', 'tenant=acme'], `${seq}: path`);
    for (const [name, value] of e.requestHeaders) {
      if (name === UNKNOWN) assert.ok(value === UNKNOWN || Object.values(want).includes(value), `${seq}: ${value} was sent`);
      else assert.ok(value === UNKNOWN || want[name] === value, `${seq}: ${name}: ${value} (sent ${want[name]})`);
    }
    const echo = e.responseHeaders.get('x-echo');
    assert.ok(echo === undefined || echo === UNKNOWN || echo === String(seq), `${seq}: x-echo ${echo}`);
    assert.equal(e.responseBody.bytes.toString(), `ok seq=${seq}`);
    const n = Number(e.fields['http2.unknown_headers']);
    unknown += n;
    if (n > 0) assert.equal(e.incomplete, true, `${seq}: unknown headers make the entry incomplete`);
    if (seq >= 10) {
      // After the size updates to 0 both tables are known again: every header exact.
      assert.equal(n, 0, `${seq}: nothing unknown after the resynchronisation`);
      assert.deepEqual([e.operation, e.target, e.query, e.host], ['POST', '/api/items', 'tenant=acme', `127.0.0.1:${server.port}`]);
      assert.deepEqual(Object.fromEntries(e.requestHeaders.toPairs()), want);
      assert.deepEqual([e.status, e.responseHeaders.get('x-echo'), e.responseHeaders.get('cache-control')], [200, String(seq), 'no-store']);
    }
  }
  assert.ok(unknown > 0, 'the requests before the resynchronisation referred to entries sent before the capture');
});
