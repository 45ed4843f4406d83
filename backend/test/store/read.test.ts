import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENTRY_COLUMNS, encodeEntriesTsv, findEntry, uuidv7Ms } from '../../src/store/index.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import type { Entry } from '../../src/entries/entry.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';

describe('findEntry', () => {
  let t: TempStore;
  let entries: Entry[];
  const nowUs = Date.now() * 1000;
  before(async () => {
    t = await tempStore();
    entries = [...syntheticEntries({ count: 2000, seed: 9, startUs: nowUs - 3 * 3600e6, spanUs: 3 * 3600e6 })];
    // An id whose time says nothing about the entry (2 days earlier), and an id that is no UUID.
    entries[10] = { ...entries[10], id: '0190f5c2-0000-7000-8000-000000000001' };
    entries[11] = { ...entries[11], id: 'not-a-uuid' };
    await t.store.insertTsv('entries', ENTRY_COLUMNS, encodeEntriesTsv(entries));
  });
  after(() => t.dispose());

  it('reads the time out of a UUIDv7', () => {
    assert.equal(uuidv7Ms('0190f5c2-4aa5-7254-8feb-ad9e95f07916'), 0x0190f5c24aa5);
    assert.equal(uuidv7Ms('0190f5c2-4aa5-4254-8feb-ad9e95f07916'), undefined, 'a UUIDv4');
    assert.equal(uuidv7Ms('nope'), undefined);
  });

  it('finds entries in full, by id, whatever their id says about time', async () => {
    for (const i of [0, 10, 11, 1000, 1999]) assert.deepEqual(await findEntry(t.store, entries[i].id), entries[i], `entry ${i}`);
  });

  it('answers undefined for an unknown id', async () => {
    assert.equal(await findEntry(t.store, '0190f5c2-4aa5-7254-8feb-ad9e95f07916'), undefined);
    assert.equal(await findEntry(t.store, "x' OR 1=1 --"), undefined);
  });
});
