import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seed, parseSpan } from '../../src/cli/seed.js';
import { openStore, storeConfigFrom } from '../../src/store/index.js';

describe('tapline seed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapline-seed-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fills an embedded store with the asked number of entries over the span, ending now', async () => {
    const before = Date.now();
    const r = await seed({ rows: 5000, data: dir, span: parseSpan('2h'), seed: 3, batch: 1000, progress: false });
    assert.equal(r.rows, 5000);
    const store = openStore({ kind: 'embedded', dataDir: dir });
    try {
      const rs = await store.client.query({
        query: `SELECT count() AS n, uniqExact(dst_service) AS services, countIf(status >= 500) AS e5,
                  toUnixTimestamp64Milli(min(start_time)) AS first, toUnixTimestamp64Milli(max(start_time)) AS last,
                  (SELECT sum(requests) FROM ${store.database}.entries_1m) AS rolled
                FROM ${store.database}.entries`,
        format: 'JSONEachRow',
      });
      const [s] = await rs.json<Record<string, number>>();
      assert.equal(Number(s.n), 5000);
      assert.equal(Number(s.rolled), 5000, 'the rollup saw them too');
      assert.ok(Number(s.services) >= 5);
      assert.ok(Number(s.e5) > 0);
      assert.ok(Number(s.first) >= before - 2 * 3600_000 - 1000 && Number(s.last) <= Date.now());
    } finally {
      await store.close();
    }
  });

  it('explains bad options', async () => {
    assert.throws(() => parseSpan('2 hours'), /expected a duration like 30m, 24h or 7d, got "2 hours"/);
    await assert.rejects(seed({ rows: 1, data: dir, span: parseSpan('8d'), seed: 1, batch: 1, progress: false }), /--span reaches past the store's 7-day retention/);
    assert.throws(() => storeConfigFrom({ data: 'x', url: 'http://h:8123' }), /either --data DIR .* or --url URL/);
    assert.throws(() => storeConfigFrom({ url: 'nope' }), /--url: not a URL: "nope"/);
    assert.deepEqual(storeConfigFrom({}, {}), { kind: 'embedded', dataDir: '.tapline/data', database: 'tapline' });
    assert.deepEqual(storeConfigFrom({}, { TAPLINE_CLICKHOUSE_URL: 'http://ch:8123', TAPLINE_CLICKHOUSE_USER: 'w' }),
      { kind: 'server', url: 'http://ch:8123', database: 'tapline', username: 'w', password: undefined });
  });
});
