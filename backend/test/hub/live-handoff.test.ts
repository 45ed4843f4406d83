// The live stream fed by hand-off (`tapline up`): entries reach stream clients as the in-process
// writer accepts them, before they are in the store; the positions the feed stamps are the ones the
// store keeps, so a client reading from the store (an old cursor, a filter only SQL can evaluate)
// continues into memory without skipping or repeating an entry.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import type { Entry, EntrySink } from '../../src/entries/entry.js';
import { EntryWriter } from '../../src/store/writer.js';
import { createHub, type Hub } from '../../src/hub/server.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';
import { waitFor } from '../../../test/support/wait.js';
import { getJson } from './fixture.js';
import { longPollClient, sseClient } from './stream-clients.js';

let temp: TempStore;
let writer: EntryWriter;
let hub: Hub;
let url: string;
let sink: EntrySink;
const pushed = new Map<string, Entry>();

before(async () => {
  temp = await tempStore();
  // A flush interval longer than any wait below: entries stay in the writer until flush().
  writer = await EntryWriter.create(temp.store, { flushIntervalMs: 600_000 });
  hub = await createHub({
    store: temp.store,
    port: 0,
    live: { ringEntries: 40 },
    handOff: { unstored: () => writer.queued + writer.spoolState.entries },
  });
  url = await hub.listen();
  sink = (hub.handOff as NonNullable<Hub['handOff']>).sinkFor(writer);
});

after(async () => {
  await hub?.close();
  await writer?.close();
  await temp?.dispose();
});

function push(seed: number, count: number): string[] {
  const list = [...syntheticEntries({ count, seed, startUs: Date.now() * 1000 - 50_000, spanUs: 50_000 })];
  for (const e of list) {
    pushed.set(e.id, e);
    assert.equal(sink.push(e), true);
  }
  return list.map((e) => e.id);
}

async function storedIds(): Promise<Array<{ id: string; ingested_us: string }>> {
  const rs = await temp.store.client.query({
    query: `SELECT id, toString(toUnixTimestamp64Micro(ingested_at)) AS ingested_us FROM ${temp.store.database}.entries ORDER BY ingested_at, id`,
    format: 'JSONEachRow',
  });
  return rs.json();
}

test('stream clients get entries before the store has them; the store keeps the stamped positions', async () => {
  const start = (await getJson(`${url}/api/v1/stream?wait=0`)).body.cursor as string;
  let stopping = false;
  const sse = sseClient(url, { cursor: start });
  const poll = longPollClient(url, { cursor: start, limit: 9, stop: () => stopping });
  const filtered = sseClient(url, { cursor: start, filter: 'status >= 400 or latency > 20ms' });
  // Only SQL can read headers: this client reads the store, so it sees nothing before the flush.
  const headers = longPollClient(url, { cursor: start, filter: 'request.headers["host"] != "nobody"', limit: 50, stop: () => stopping });

  const ids = push(11, 30);
  const wanted = ids.filter((id) => {
    const e = pushed.get(id) as Entry;
    return e.status >= 400 || e.durationUs > 20_000;
  });
  assert.ok(wanted.length > 0 && wanted.length < ids.length, 'the filter should select some entries, not all');
  await waitFor(
    () => `sse ${sse.ids.length}, poll ${poll.ids.length} of ${ids.length}, filtered ${filtered.ids.length} of ${wanted.length}`,
    () => sse.ids.length >= ids.length && poll.ids.length >= ids.length && filtered.ids.length >= wanted.length,
    15_000,
  );
  assert.equal(writer.counters.written, 0, 'the entries were already written: this proves nothing');
  assert.equal((await storedIds()).length, 0);
  assert.equal(headers.ids.length, 0, 'a store reader saw entries the store does not have');

  await writer.flush();
  await waitFor(() => `headers client ${headers.ids.length} of ${ids.length}`, () => headers.ids.length >= ids.length, 15_000);
  stopping = true;
  sse.stop();
  filtered.stop();
  await Promise.all([sse.done, poll.done, filtered.done, headers.done]);

  assert.deepEqual([...sse.ids].sort(), [...ids].sort());
  assert.equal(new Set(sse.ids).size, sse.ids.length, 'repeated entries');
  assert.deepEqual(poll.ids, sse.ids);
  assert.deepEqual(filtered.ids, sse.ids.filter((id) => wanted.includes(id)));
  // The store path served the same entries in the same order: the positions are the same.
  assert.deepEqual(headers.ids, sse.ids);
  const stored = await storedIds();
  assert.deepEqual(stored.map((r) => r.id), sse.ids);
  assert.equal(new Set(stored.map((r) => r.ingested_us)).size, stored.length, 'positions are not unique');
});

test('a cursor older than the ring reads the store up to the oldest unstored entry, then memory', async () => {
  const start = (await getJson(`${url}/api/v1/stream?wait=0`)).body.cursor as string;
  // 100 entries through a 40-entry ring; the first 60 stored, the rest still in the writer.
  const early = push(21, 60);
  await writer.flush();
  const late = push(22, 40);
  let stopping = false;
  const behind = longPollClient(url, { cursor: start, limit: 7, stop: () => stopping });
  await waitFor(() => `behind: ${behind.ids.length} of ${early.length + late.length}`, () => behind.ids.length >= early.length + late.length, 15_000);
  assert.equal(writer.queued, late.length, 'the late entries were flushed: the test proves nothing');

  // Entries pushed now, while the ring no longer holds the start: still exactly once, in order.
  const more = push(23, 50);
  let stopping2 = false;
  const again = longPollClient(url, { cursor: start, limit: 13, stop: () => stopping2 });
  await writer.flush();
  const all = [...early, ...late, ...more];
  await waitFor(() => `behind ${behind.ids.length}, again ${again.ids.length} of ${all.length}`, () => behind.ids.length >= all.length && again.ids.length >= all.length, 15_000);
  stopping = true;
  stopping2 = true;
  await Promise.all([behind.done, again.done]);
  for (const got of [behind.ids, again.ids]) {
    assert.equal(new Set(got).size, got.length, 'repeated entries');
    assert.deepEqual([...got].sort(), [...all].sort(), 'not exactly the pushed entries');
  }
  assert.deepEqual(again.ids, behind.ids);
  assert.deepEqual((await storedIds()).map((r) => r.id).slice(-all.length), behind.ids);
});

test('opening an entry the stream just showed waits until the store has it (no 404)', async () => {
  const start = (await getJson(`${url}/api/v1/stream?wait=0`)).body.cursor as string;
  const [id] = push(31, 1);
  const opening = getJson(`${url}/api/v1/entries/${id}`);
  // A full round trip through the stream: the entry is shown, and still only in the writer.
  const shown = await getJson(`${url}/api/v1/stream?cursor=${start}&wait=5000`);
  assert.deepEqual(shown.body.entries.map((e: { id: string }) => e.id), [id]);
  // An id the stream never showed is not waited for; its store lookup queues behind the first
  // one's (the engine runs one query at a time), so without waiting that one would be a 404 now.
  const t = performance.now();
  assert.equal((await getJson(`${url}/api/v1/entries/01a217b4-0000-7000-8000-000000000000`)).status, 404);
  assert.ok(performance.now() - t < 4_000, 'an unknown id was waited for');
  assert.equal(writer.queued, 1, 'the entry was stored before it was opened: this proves nothing');
  await writer.flush();
  // As `tapline up` does when the writer's count moves.
  hub.live.poke();
  const opened = await opening;
  assert.equal(opened.status, 200, JSON.stringify(opened.body));
  assert.equal(opened.body.id, id);
});
