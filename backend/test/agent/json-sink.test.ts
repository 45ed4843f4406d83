/** The JSON-lines sink: one entry a line in the hub's shape, back-pressure that always resolves. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { JsonLinesSink } from '../../src/agent/json-sink.js';
import { emptyBody, emptyEndpoint, HeaderList, NO_FIELDS, Outcome, type Entry } from '../../src/entries/entry.js';

function entry(i: number, body: Buffer): Entry {
  return {
    id: `id-${i}`, agent: 'a', protocol: 'http', protocolVersion: '1.1', transport: 'tcp', startUs: i, endUs: i + 1, durationUs: 1,
    src: emptyEndpoint('10.0.0.1', 1), dst: emptyEndpoint('10.0.0.2', 80), operation: 'GET', target: `/p/${i}`, query: '',
    host: 'h', status: 200, statusText: 'OK', outcome: Outcome.ok, fields: NO_FIELDS, requestHeaders: HeaderList.of([['Host', 'h']]), responseHeaders: HeaderList.of([]),
    requestBody: emptyBody(), responseBody: { bytes: body, wireSize: body.length, size: body.length, truncated: false, encoding: '' },
    unanswered: false, incomplete: false,
  };
}

test('bodies are text when UTF-8, base64 otherwise; lines arrive in order after close()', async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  const sink = new JsonLinesSink(out);
  sink.push(entry(1, Buffer.from('héllo')));
  sink.push(entry(2, Buffer.from([0xff, 0x00, 0xfe])));
  await sink.close();
  const lines = text.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.target), ['/p/1', '/p/2']);
  assert.equal(lines[0].responseBody.text, 'héllo');
  assert.equal(lines[1].responseBody.base64, Buffer.from([0xff, 0x00, 0xfe]).toString('base64'));
  assert.equal(lines[1].responseBody.text, undefined);
});

test('a full sink says so, and drained() resolves for slow and for synchronous streams', async () => {
  const big = Buffer.alloc(100_000, 'x');
  // A slow consumer: each write completes 5 ms later.
  const slow = new Writable({ highWaterMark: 16 * 1024, write: (_c, _e, cb) => setTimeout(cb, 5) });
  const s1 = new JsonLinesSink(slow, 256 * 1024);
  let full = false;
  for (let i = 0; i < 10 && !full; i++) full = !s1.push(entry(i, big));
  assert.equal(full, true);
  await s1.drained();
  // A stream that completes writes at once never emits 'drain': drained() must not wait for one.
  const sync = new Writable({ write: (_c, _e, cb) => cb() });
  const s2 = new JsonLinesSink(sync, 256 * 1024);
  for (let i = 0; i < 10; i++) s2.push(entry(i, big));
  await s2.drained();
  await s2.close();
});
