import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENTRY_COLUMNS, encodeEntriesNative } from '../../src/store/index.js';
import { newestEntriesSql } from '../../src/store/read.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import { uuidv7 } from '../../src/agent/ids.js';
import type { Entry } from '../../src/entries/entry.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';

describe('newestEntriesSql', () => {
  let t: TempStore;
  let entries: Entry[];
  const nowUs = Math.floor(Date.now() / 1000) * 1e6;
  const tieUs = nowUs - 1800e6 + 7;
  before(async () => {
    t = await tempStore();
    entries = [...syntheticEntries({ count: 3000, seed: 4, startUs: nowUs - 7200e6, spanUs: 7200e6 })];
    // 300 entries in the same microsecond (more than one page), 30 of them at the service below.
    entries.forEach((e, i) => {
      if (i % 10 === 0) entries[i] = { ...e, startUs: tieUs, endUs: tieUs + e.durationUs, id: uuidv7(tieUs / 1000) };
    });
    // Two inserts: rows in several parts, as in a live store.
    await t.store.insertNative('entries', ENTRY_COLUMNS, encodeEntriesNative(entries.slice(0, 1500)));
    await t.store.insertNative('entries', ENTRY_COLUMNS, encodeEntriesNative(entries.slice(1500)));
  });
  after(() => t.dispose());

  /** The reference: filter and sort in JavaScript, (start DESC, id DESC). */
  const expected = (keep: (e: Entry) => boolean, limit: number) =>
    entries
      .filter(keep)
      .sort((a, b) => b.startUs - a.startUs || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
      .slice(0, limit)
      .map((e) => e.id);

  const newest = async (where: string, limit: number, params: Record<string, unknown> = {}) => {
    const rs = await t.store.client.query({
      query: newestEntriesSql(t.store.database, 'id', where, '{limit:UInt32}'),
      query_params: { ...params, limit },
      format: 'JSONEachRow',
    });
    return (await rs.json<{ id: string }>()).map((r) => r.id);
  };

  it('gives the newest entries, ties broken by id, for any page size', async () => {
    for (const limit of [1, 100, 1300, 5000]) assert.deepEqual(await newest('1', limit), expected(() => true, limit), `limit ${limit}`);
  });

  it('applies the condition, also inside a page of equal start times', async () => {
    const svc = entries[0].dst.service;
    assert.deepEqual(await newest('dst_service = {svc:String}', 100, { svc }), expected((e) => e.dst.service === svc, 100));
    // A keyset cursor in the middle of the tie: strictly below (tieUs, that id).
    const cursorId = expected((e) => e.startUs === tieUs, 150).at(-1)!;
    const below = (e: Entry) => e.startUs < tieUs || (e.startUs === tieUs && e.id < cursorId);
    assert.deepEqual(
      await newest('(start_time, id) < (fromUnixTimestamp64Micro({us:Int64}), {cur:String})', 100, { us: tieUs, cur: cursorId }),
      expected(below, 100),
    );
  });

  it('answers nothing when nothing matches', async () => {
    assert.deepEqual(await newest("dst_service = 'no-such-service'", 100), []);
  });
});
