// The live stream under concurrent inserts: long-poll and SSE clients, with and without a filter,
// see every new entry exactly once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import type { Entry } from '../../src/entries/entry.js';
import { fixture, getJson, q, spiedStore, type Fixture } from './fixture.js';
import { longPollClient, sseClient } from './stream-clients.js';
import { waitFor } from '../../../test/support/wait.js';

let f: Fixture;
let url: string;

before(async () => {
  f = await fixture(200);
  // The fixture's own entries must lie before every start cursor: a store-following hub's "now" is
  // the store's clock minus the settle time (250 ms here), so let them settle first.
  await new Promise((resolve) => setTimeout(resolve, 400));
  url = await f.hub({ live: { settleMs: 250, pollMs: 50 } });
});
after(async () => {
  await f?.dispose();
});

test('no gaps, no repeats under concurrent inserts (long-poll, SSE, filtered)', async () => {
  const start = (await getJson(`${url}/api/v1/stream?wait=0`)).body.cursor as string;
  assert.equal(typeof start, 'string');
  let stopping = false;
  const plain = longPollClient(url, { filter: '', cursor: start, limit: 37, stop: () => stopping });
  const filtered = longPollClient(url, { filter: 'dst.service == "nginx"', cursor: start, limit: 11, stop: () => stopping });
  const sse = sseClient(url, { filter: '', cursor: start });
  const sseFiltered = sseClient(url, { filter: 'status >= 4xx', cursor: start });

  // Four producers, each inserting 4 batches (its own writer per batch) at the same time.
  const written: Entry[] = [];
  await Promise.all(
    [1, 2, 3, 4].map(async (p) => {
      for (let b = 0; b < 4; b++) {
        const batch = [...syntheticEntries({ count: 30, seed: 1000 * p + b, startUs: Date.now() * 1000, spanUs: 1_000_000 })];
        written.push(...batch);
        await f.write(batch);
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 30)));
      }
    }),
  );
  const all = written.map((e) => e.id);
  const nginx = written.filter((e) => e.dst.service === 'nginx').map((e) => e.id);
  const errors = written.filter((e) => e.status >= 400).map((e) => e.id);
  assert.ok(nginx.length > 0 && errors.length > 0);

  await waitFor(
    () => `clients: ${plain.ids.length}/${all.length}, ${filtered.ids.length}/${nginx.length}, sse ${sse.ids.length}/${all.length}, ${sseFiltered.ids.length}/${errors.length}`,
    () => plain.ids.length >= all.length && filtered.ids.length >= nginx.length && sse.ids.length >= all.length && sseFiltered.ids.length >= errors.length,
    15_000,
  );
  stopping = true;
  sse.stop();
  sseFiltered.stop();
  await Promise.all([plain.done, filtered.done, sse.done, sseFiltered.done]);

  for (const [name, got, expected] of [
    ['long-poll', plain.ids, all],
    ['long-poll filtered', filtered.ids, nginx],
    ['SSE', sse.ids, all],
    ['SSE filtered', sseFiltered.ids, errors],
  ] as const) {
    assert.equal(new Set(got).size, got.length, `${name}: repeated entries`);
    assert.deepEqual([...got].sort(), [...expected].sort(), `${name}: not exactly the inserted entries`);
  }
});

test('a long-poll returns as soon as an entry arrives, before its wait is over', async () => {
  const start = (await getJson(`${url}/api/v1/stream?wait=0`)).body.cursor as string;
  const began = Date.now();
  const poll = getJson(`${url}/api/v1/stream?${q({ cursor: start, wait: 20_000 })}`);
  const [e] = [...syntheticEntries({ count: 1, seed: 99, startUs: Date.now() * 1000, spanUs: 1000 })];
  await f.write([e]);
  const { body } = await poll;
  assert.deepEqual(body.entries.map((x: { id: string }) => x.id), [e.id]);
  assert.ok(Date.now() - began < 20_000);
  // Its cursor continues after that entry: the next poll has nothing.
  const next = await getJson(`${url}/api/v1/stream?${q({ cursor: body.cursor, wait: 0 })}`);
  assert.deepEqual(next.body.entries, []);
});

test('a client polling with wait=0 (never waiting) still sees new entries', async () => {
  let cursor = (await getJson(`${url}/api/v1/stream?wait=0`)).body.cursor as string;
  const [e] = [...syntheticEntries({ count: 1, seed: 98, startUs: Date.now() * 1000, spanUs: 1000 })];
  await f.write([e]);
  const got: string[] = [];
  const deadline = Date.now() + 10_000;
  while (got.length === 0) {
    assert.ok(Date.now() < deadline, 'the entry never came on a wait=0 poll');
    const { body } = await getJson(`${url}/api/v1/stream?${q({ cursor, wait: 0 })}`);
    got.push(...body.entries.map((x: { id: string }) => x.id));
    cursor = body.cursor;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(got, [e.id]);
});

test('an invalid filter or cursor is refused before streaming', async () => {
  const bad = await getJson(`${url}/api/v1/stream?${q({ filter: 'status ==' })}`, { headers: { accept: 'text/event-stream' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'bad_filter');
  const cursor = await getJson(`${url}/api/v1/stream?cursor=xyz`);
  assert.equal(cursor.status, 400);
  assert.equal(cursor.body.error.code, 'bad_request');
});

test('a client that stops reading is not buffered for: the hub waits, then delivers everything once', async () => {
  // Count the stream's reads on the real store client (a spy, the queries still run).
  let reads = 0;
  const store = spiedStore(f.temp.store, (sql) => {
    if (sql.includes('ORDER BY ingested_at')) reads++;
  });
  const spied = await f.hub({ store, live: { settleMs: 250, pollMs: 50 } });
  const start = (await getJson(`${spied}/api/v1/stream?wait=0`)).body.cursor as string;
  const batch = [...syntheticEntries({ count: 20_000, seed: 4242, startUs: Date.now() * 1000, spanUs: 1_000_000 })];
  await f.write(batch);

  const { port } = new URL(spied);
  const socket = connect(Number(port), '127.0.0.1');
  socket.write(`GET /api/v1/stream?cursor=${start}&limit=500 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`);
  socket.pause();
  // 40 batches of 500 wait; the socket's buffers take only some of them.
  let last = -1;
  const stableSince = Date.now();
  for (let settled = Date.now(); Date.now() - settled < 1500; await new Promise((r) => setTimeout(r, 100))) {
    if (reads !== last) {
      last = reads;
      settled = Date.now();
    }
    assert.ok(Date.now() - stableSince < 30_000, 'reads never stopped');
  }
  assert.ok(reads < 40, `the hub read ${reads} batches for a client that reads nothing`);

  // Reading again: every entry arrives, once. (The body is chunked; the hub writes each event in
  // one write, so an event's data line is never split by chunk headers.)
  const ids: string[] = [];
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = event.split('\n').find((l) => l.startsWith('data: '));
      if (event.includes('event: entries') && data) ids.push(...JSON.parse(data.slice(6)).entries.map((e: { id: string }) => e.id));
    }
  });
  socket.resume();
  await waitFor(() => `${ids.length} of ${batch.length} entries after resuming`, () => ids.length >= batch.length, 30_000);
  socket.destroy();
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), batch.map((e) => e.id).sort());
});
