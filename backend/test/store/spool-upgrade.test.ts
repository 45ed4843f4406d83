// A spool left by a version before migration 6 holds Native blocks of the v5 columns (`method`,
// `path`, no transport/outcome/fields). The writer of this version replays them in the current
// columns, byte for byte what today's encoder makes of the same entries; a block it cannot map is
// set aside (`*.rejected`), never inserted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryWriter, encodeEntriesNative, migrate, type Store } from '../../src/store/index.js';
import { V5_COLUMNS, blockLayout, replayableBlock } from '../../src/store/spool-blocks.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import type { Entry } from '../../src/entries/entry.js';
import { readBack } from './read-back.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';
import { captureLog } from '../../../test/support/log-capture.js';
import { waitFor } from '../../../test/support/wait.js';
import { insertV5 } from './v5-rows.js';

describe('spooled blocks from a version before migration 6', () => {
  let t: TempStore;
  let v5store: Store;
  let entries: Entry[];
  /** The v5 block of `entries`: the engine's own Native output of their v5 rows, in the v5 block types. */
  let v5block: Buffer;
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'tapline-spool-v5-'));
    dirs.push(d);
    return d;
  };

  async function nativeOf(query: string): Promise<Buffer> {
    const { stream } = await t.store.client.exec({ query: `${query} SETTINGS max_block_size = 100000, max_threads = 1 FORMAT Native` });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }


  before(async () => {
    t = await tempStore();
    // A v5 store beside the current one (its own database in the same engine) makes the v5 block.
    v5store = { ...t.store, database: 'tapline_v5' };
    await migrate(v5store, { to: 5 });
    entries = [...syntheticEntries({ count: 1200, seed: 51, spanUs: 600e6 })].sort((a, b) => (a.id < b.id ? -1 : 1));
    await insertV5(v5store, entries, 10_000);
    // As the v5 encoder wrote them: its block types (LowCardinality as String), ingested_at NULL.
    const cols = V5_COLUMNS.map(([name, type]) =>
      name === 'ingested_at' ? `CAST(NULL AS ${type}) AS ingested_at` : type === 'String' ? `CAST(${name} AS String) AS ${name}` : name,
    );
    v5block = await nativeOf(`SELECT ${cols.join(', ')} FROM tapline_v5.entries ORDER BY id`);
    assert.deepEqual(blockLayout(v5block).columns.map((c) => [c.name, c.type]), V5_COLUMNS.map(([n, ty]) => [n, ty]));
  });
  after(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await t.dispose();
  });

  it('rewrites a v5 block into the bytes today\'s encoder makes of the same entries', () => {
    const r = replayableBlock(v5block);
    assert.ok(r.ok && r.from === 'v5' && r.rows === entries.length);
    assert.ok(r.body.equals(encodeEntriesNative(entries)), 'identical bytes');
    // A current block passes as it is.
    const current = encodeEntriesNative(entries.slice(0, 10));
    const same = replayableBlock(current);
    assert.ok(same.ok && same.from === 'current' && same.body === current);
  });

  it('refuses what it cannot map, saying why', async () => {
    const other = await nativeOf(`SELECT id, toUInt16(status) AS status FROM tapline_v5.entries ORDER BY id LIMIT 3`);
    const refused = [
      [other, /columns are neither this version's nor those of the versions before migration 6: id String, status UInt16/],
      [v5block.subarray(0, v5block.length - 5), /not a Native block of entries: the block ends at byte/],
      [Buffer.concat([v5block, Buffer.from([0])]), /not a Native block of entries: 1 bytes follow the block/],
      [Buffer.from('id\tstatus\n1\t200\n'), /not a Native block of entries/],
    ] as const;
    for (const [block, reason] of refused) {
      const r = replayableBlock(block);
      assert.ok(!r.ok && reason.test(r.reason), r.ok ? 'accepted' : r.reason);
    }
  });

  it('replays a v5 spool into the current columns, and sets aside a file it cannot map', async () => {
    const spoolDir = tempDir();
    // As the v5 spool named them: <seq>-<rows>-<token>.native.
    writeFileSync(join(spoolDir, `000000000000-${entries.length}-v5token0.native`), v5block);
    const foreign = await nativeOf(`SELECT id FROM tapline_v5.entries ORDER BY id LIMIT 7`);
    writeFileSync(join(spoolDir, '000000000001-7-v5token1.native'), foreign);
    const log = captureLog();
    const w = await EntryWriter.create(t.store, { spoolDir, logger: log.logger, baseDelayMs: 10 });
    await waitFor('the spool replayed', () => w.spoolState.batches === 0, 15_000);
    await w.close();
    assert.deepEqual(await readBack(t.store, entries.map((e) => e.id)), entries);
    assert.equal(w.counters.written, entries.length);
    assert.equal(w.counters.rejected, 7);
    assert.ok(existsSync(join(spoolDir, '000000000001-7-v5token1.native.rejected')), readdirSync(spoolDir).join());
    assert.ok(log.messages().some((m) => /^spooled batch 000000000000-1200-v5token0\.native was written by a version before schema migration 6/.test(m)));
    assert.ok(log.messages().some((m) => /^spooled batch 000000000001-7-v5token1\.native cannot be stored by this version \(its columns are neither/.test(m)));
    const [n] = await (await t.store.client.query({ query: `SELECT count() AS n FROM ${t.store.database}.entries`, format: 'JSONEachRow' })).json<{ n: number }>();
    assert.equal(Number(n.n), entries.length, 'nothing else was inserted');
  });
});
