// The live stream's in-memory ring (a hub following the store): clients that keep up, with no
// filter or one the hub can evaluate in memory, are answered without a store query per read, and a cursor older than the ring is served from the store up to the ring, then
// from the ring, with no entry skipped or repeated across the boundary.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import type { Entry } from '../../src/entries/entry.js';
import { fixture, getJson, spiedStore, type Fixture } from './fixture.js';
import { longPollClient, sseClient } from './stream-clients.js';
import { waitFor } from '../../../test/support/wait.js';

let f: Fixture;
/** Per-client store reads of the stream (the read query is the only one with a cursor id). */
let storeReads = 0;

before(async () => {
  f = await fixture(10);
  // The fixture's own entries must lie before every start cursor: a store-following hub's "now" is
  // the store's clock minus the settle time (250 ms here), so let them settle first.
  await new Promise((resolve) => setTimeout(resolve, 400));
});
after(async () => {
  await f?.dispose();
});

/** A hub on the fixture's store whose stream reads are counted (a spy: the queries still run). */
function countingHub(ringEntries: number): Promise<string> {
  const store = spiedStore(f.temp.store, (sql) => {
    if (sql.includes('{curId:String}')) storeReads++;
  });
  return f.hub({ store, live: { settleMs: 250, pollMs: 50, ringEntries } });
}

/** Every entry written by `writeBatches`, by id. */
const written = new Map<string, Entry>();

/** Writes `batches` batches of `size` new entries one after the other; returns their ids. */
async function writeBatches(seed: number, batches: number, size: number): Promise<string[]> {
  const ids: string[] = [];
  for (let b = 0; b < batches; b++) {
    const batch = [...syntheticEntries({ count: size, seed: seed + b, startUs: Date.now() * 1000, spanUs: 100_000 })];
    for (const e of batch) written.set(e.id, e);
    await f.write(batch);
    ids.push(...batch.map((e) => e.id));
  }
  return ids;
}

test('clients that keep up get new entries from memory, filtered ones too, not from a store read each', async () => {
  const url = await countingHub(1000);
  const start = (await getJson(`${url}/api/v1/stream?wait=0`)).body.cursor as string;
  let stopping = false;
  const sse = sseClient(url, { cursor: start });
  const poll = longPollClient(url, { cursor: start, limit: 7, stop: () => stopping });
  // A filter the hub evaluates in memory (query/match.ts).
  const filtered = sseClient(url, { cursor: start, filter: 'status < 400 and not unanswered' });
  const wanted = (id: string) => {
    const e = written.get(id) as Entry;
    return e.status < 400 && !e.unanswered;
  };
  // The first batch: until the clients have it, reads may still go to the store (no ring yet).
  const first = await writeBatches(500, 1, 15);
  await waitFor(() => `first batch: sse ${sse.ids.length}, poll ${poll.ids.length}`, () => sse.ids.length >= 15 && poll.ids.length >= 15 && filtered.ids.length >= first.filter(wanted).length, 15_000);
  const readsBefore = storeReads;
  const rest = await writeBatches(600, 5, 15);
  const all = [...first, ...rest];
  const selected = all.filter(wanted);
  assert.ok(selected.length > 0 && selected.length < all.length, 'the filter should select some entries, not all');
  await waitFor(
    () => `sse ${sse.ids.length}, poll ${poll.ids.length} of ${all.length}, filtered ${filtered.ids.length} of ${selected.length}`,
    () => sse.ids.length >= all.length && poll.ids.length >= all.length && filtered.ids.length >= selected.length,
    15_000,
  );
  stopping = true;
  sse.stop();
  filtered.stop();
  await Promise.all([sse.done, poll.done, filtered.done]);
  assert.equal(storeReads - readsBefore, 0, 'reads that kept up went to the store');
  for (const [name, got] of [['SSE', sse.ids], ['long-poll', poll.ids]] as const) {
    assert.equal(new Set(got).size, got.length, `${name}: repeated entries`);
    assert.deepEqual([...got].sort(), [...all].sort(), `${name}: not exactly the inserted entries`);
  }
  // Both were served in the feed's one order; the filtered client got its part of it.
  assert.deepEqual(poll.ids, sse.ids);
  assert.deepEqual(filtered.ids, sse.ids.filter(wanted));
});

test('a cursor older than the ring reads from the store, then from the ring: nothing skipped or repeated', async () => {
  const url = await countingHub(40);
  const start = (await getJson(`${url}/api/v1/stream?wait=0`)).body.cursor as string;
  // A client that keeps up keeps the ring filled (the hub fetches rows only while unfiltered clients read).
  const keeper = sseClient(url, { cursor: start });
  const early = await writeBatches(700, 5, 15);
  await waitFor(() => `keeper: ${keeper.ids.length} of ${early.length}`, () => keeper.ids.length >= early.length, 15_000);

  // 75 entries lie after `start`; the ring holds the last 40 at most (room for two batches between two looks).
  const readsBefore = storeReads;
  let stopping = false;
  const late = longPollClient(url, { cursor: start, limit: 9, stop: () => stopping });
  const more = await writeBatches(800, 2, 15);
  const all = [...early, ...more];
  await waitFor(() => `late ${late.ids.length}, keeper ${keeper.ids.length} of ${all.length}`, () => late.ids.length >= all.length && keeper.ids.length >= all.length, 15_000);
  stopping = true;
  keeper.stop();
  await Promise.all([keeper.done, late.done]);

  const lateReads = storeReads - readsBefore;
  assert.ok(lateReads > 0, 'the old cursor was not read from the store');
  assert.ok(lateReads < late.polls(), `every one of ${late.polls()} polls went to the store (${lateReads})`);
  assert.equal(new Set(late.ids).size, late.ids.length, 'repeated entries');
  assert.deepEqual([...late.ids].sort(), [...all].sort(), 'not exactly the inserted entries');
  assert.deepEqual(late.ids, keeper.ids, 'the store and the ring disagree on the order');
});
