// The live stream's in-memory ring: unfiltered clients that keep up are answered without a store
// query per read, and a cursor older than the ring is served from the store up to the ring, then
// from the ring, with no entry skipped or repeated across the boundary.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import type { Entry } from '../../src/entries/entry.js';
import { InsertTracker } from '../../src/hub/live.js';
import { EntryWriter } from '../../src/store/writer.js';
import { fixture, getJson, type Fixture } from './fixture.js';
import { longPollClient, sseClient } from './stream-clients.js';
import { waitFor } from '../../../test/support/wait.js';

let f: Fixture;
/** Per-client store reads of the stream (the read query is the only one with a cursor id). */
let storeReads = 0;
/** The poller's count queries (the look that does not fetch rows). */
let storeCounts = 0;

before(async () => {
  f = await fixture(10);
});
after(async () => {
  await f?.dispose();
});

/** A hub on the fixture's store whose stream reads are counted (a spy: the queries still run). */
function countingHub(ringEntries: number, inserts?: InsertTracker): Promise<string> {
  const client = new Proxy(f.temp.store.client, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver);
      return (params: { query: string }) => {
        if (params.query.includes('{curId:String}')) storeReads++;
        if (params.query.includes('count() AS n')) storeCounts++;
        return target.query(params as Parameters<typeof target.query>[0]);
      };
    },
  });
  return f.hub({ store: { ...f.temp.store, client }, live: inserts ? { settleMs: 0, pollMs: 50, ringEntries, inserts } : { settleMs: 250, pollMs: 50, ringEntries } });
}

/** Writes `batches` batches of `size` new entries one after the other; returns their ids. */
async function writeBatches(seed: number, batches: number, size: number, write = (list: Entry[]) => f.write(list)): Promise<string[]> {
  const ids: string[] = [];
  for (let b = 0; b < batches; b++) {
    const batch = [...syntheticEntries({ count: size, seed: seed + b, startUs: Date.now() * 1000, spanUs: 100_000 })];
    await write(batch);
    ids.push(...batch.map((e) => e.id));
  }
  return ids;
}

test('unfiltered clients that keep up get new entries from memory, not from a store read each', async () => {
  const url = await countingHub(1000);
  const start = (await getJson(`${url}/api/v1/stream?wait=0`)).body.cursor as string;
  let stopping = false;
  const sse = sseClient(url, { cursor: start });
  const poll = longPollClient(url, { cursor: start, limit: 7, stop: () => stopping });
  // The first batch: until both clients have it, reads may still go to the store (no ring yet).
  const first = await writeBatches(500, 1, 15);
  await waitFor(() => `first batch: sse ${sse.ids.length}, poll ${poll.ids.length}`, () => sse.ids.length >= 15 && poll.ids.length >= 15, 15_000);
  const readsBefore = storeReads;
  const rest = await writeBatches(600, 5, 15);
  const all = [...first, ...rest];
  await waitFor(() => `sse ${sse.ids.length}, poll ${poll.ids.length} of ${all.length}`, () => sse.ids.length >= all.length && poll.ids.length >= all.length, 15_000);
  stopping = true;
  sse.stop();
  await Promise.all([sse.done, poll.done]);
  assert.equal(storeReads - readsBefore, 0, 'unfiltered reads that kept up went to the store');
  for (const [name, got] of [['SSE', sse.ids], ['long-poll', poll.ids]] as const) {
    assert.equal(new Set(got).size, got.length, `${name}: repeated entries`);
    assert.deepEqual([...got].sort(), [...all].sort(), `${name}: not exactly the inserted entries`);
  }
  // Both were served in the feed's one order.
  assert.deepEqual(poll.ids, sse.ids);
});

test('a cursor older than the ring reads from the store, then from the ring: nothing skipped or repeated', async () => {
  const url = await countingHub(20);
  const start = (await getJson(`${url}/api/v1/stream?wait=0`)).body.cursor as string;
  // A client that keeps up keeps the ring filled (the hub fetches rows only while unfiltered clients read).
  const keeper = sseClient(url, { cursor: start });
  const early = await writeBatches(700, 5, 15);
  await waitFor(() => `keeper: ${keeper.ids.length} of ${early.length}`, () => keeper.ids.length >= early.length, 15_000);

  // 75 entries lie after `start`; the ring holds the last 20 at most.
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

test('in process (tracked inserts), one query per look serves unfiltered clients: no count, no per-client read', async () => {
  const inserts = new InsertTracker();
  const url = await countingHub(1000, inserts);
  const writer = await EntryWriter.create(inserts.wrap(f.temp.store), { flushIntervalMs: 20 });
  const write = async (list: Entry[]) => {
    for (const e of list) if (!writer.push(e)) await writer.drained();
    await writer.flush();
  };
  try {
    const start = (await getJson(`${url}/api/v1/stream?wait=0`)).body.cursor as string;
    let stopping = false;
    const sse = sseClient(url, { cursor: start });
    const poll = longPollClient(url, { cursor: start, limit: 7, stop: () => stopping });
    const first = await writeBatches(900, 1, 15, write);
    await waitFor(() => `first batch: sse ${sse.ids.length}, poll ${poll.ids.length}`, () => sse.ids.length >= 15 && poll.ids.length >= 15, 15_000);
    const [readsBefore, countsBefore] = [storeReads, storeCounts];
    const rest = await writeBatches(950, 5, 15, write);
    const all = [...first, ...rest];
    await waitFor(() => `sse ${sse.ids.length}, poll ${poll.ids.length} of ${all.length}`, () => sse.ids.length >= all.length && poll.ids.length >= all.length, 15_000);
    stopping = true;
    sse.stop();
    await Promise.all([sse.done, poll.done]);
    assert.equal(storeReads - readsBefore, 0, 'unfiltered reads went to the store');
    assert.equal(storeCounts - countsBefore, 0, 'the poller still counted before fetching');
    for (const [name, got] of [['SSE', sse.ids], ['long-poll', poll.ids]] as const) {
      assert.equal(new Set(got).size, got.length, `${name}: repeated entries`);
      assert.deepEqual([...got].sort(), [...all].sort(), `${name}: not exactly the inserted entries`);
    }
    assert.deepEqual(poll.ids, sse.ids);
  } finally {
    await writer.close();
  }
});
