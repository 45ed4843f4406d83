import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENTRY_COLUMNS, encodeEntriesNative, findEntries, findEntry, uuidv7Ms } from '../../src/store/index.js';
import { idSearchWindows } from '../../src/store/read.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import { uuidv7 } from '../../src/agent/ids.js';
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
    // Ids as the agent makes them (the start millisecond), at both ends of that millisecond.
    for (const [i, us] of [[20, 0], [21, 999]]) {
      const startUs = Math.floor(entries[i].startUs / 1000) * 1000 + us;
      entries[i] = { ...entries[i], startUs, endUs: startUs + entries[i].durationUs, id: uuidv7(startUs / 1000) };
    }
    await t.store.insertNative('entries', ENTRY_COLUMNS, encodeEntriesNative(entries));
  });
  after(() => t.dispose());

  it('reads the time out of a UUIDv7', () => {
    assert.equal(uuidv7Ms('0190f5c2-4aa5-7254-8feb-ad9e95f07916'), 0x0190f5c24aa5);
    assert.equal(uuidv7Ms('0190f5c2-4aa5-4254-8feb-ad9e95f07916'), undefined, 'a UUIDv4');
    assert.equal(uuidv7Ms('nope'), undefined);
  });

  it('searches from an hour before the id\'s time to a minute after, then everywhere', () => {
    assert.deepEqual(idSearchWindows('0190f5c2-4aa5-7254-8feb-ad9e95f07916'), [
      [0x0190f5c24aa5 - 3_600_000, 0x0190f5c24aa5 + 60_000],
      null,
    ]);
    assert.deepEqual(idSearchWindows('not-a-uuid'), [null]);
  });

  it('finds entries in full, by id, whatever their id says about time', async () => {
    for (const i of [0, 10, 11, 20, 21, 1000, 1999]) assert.deepEqual(await findEntry(t.store, entries[i].id), entries[i], `entry ${i}`);
  });

  it('finds many at once: each in full, the unknown ones left out, whatever their ids say', async () => {
    const wanted = [0, 10, 11, 20, 21, 500, 1000, 1999].map((i) => entries[i]);
    const unknown = ['0190f5c2-4aa5-7254-8feb-ad9e95f07916', "x' OR 1=1 --", uuidv7(Date.now())];
    const found = await findEntries(t.store, [...unknown, ...wanted.map((e) => e.id), wanted[0].id]);
    assert.deepEqual([...found.keys()].sort(), wanted.map((e) => e.id).sort());
    for (const e of wanted) assert.deepEqual(found.get(e.id), e, e.id);
  });

  it('answers undefined for an unknown id', async () => {
    assert.equal(await findEntry(t.store, '0190f5c2-4aa5-7254-8feb-ad9e95f07916'), undefined);
    assert.equal(await findEntry(t.store, "x' OR 1=1 --"), undefined);
  });
});
