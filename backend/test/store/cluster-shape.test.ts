// The cluster rendering of the schema on the embedded engine: `*_local` tables behind Distributed
// ones, on a one-shard cluster whose one replica is this process (so the Distributed tables read
// and write the local ones). Not a real cluster: ON CLUSTER needs a Keeper and Replicated tables a
// ZooKeeper path, so the statements run without `ON CLUSTER` and with the Replicated engines' plain
// counterparts; what they do to the tables (renames, added columns and defaults on Distributed
// tables, keys, views reading the local tables, the rebuild through the Distributed ones) is what
// is checked here. Migrations 1-5, v5 rows through the Distributed table, migration 6, then the
// current writer through it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import {
  CLIENT_ERRORS_SQL, ENTRY_SELECT, ERRORS_SQL, EntryWriter, openStore, rowToEntry, type EntryRow, type Store,
} from '../../src/store/index.js';
import { migrations, migrationsTableSql, rebuildRollupsSql } from '../../src/store/schema.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { captureLog } from '../../../test/support/log-capture.js';
import { expectedRollup, readRollup } from './rollup-reference.js';
import { insertV5 } from './v5-rows.js';

const CLUSTER = { database: 'tl', cluster: 'prod' };
/** A port nothing listens on: the replica is this process (tcp_port), so no connection is made. */
const PORT = 19_437;

/** A cluster statement as one node runs it: no ON CLUSTER, plain engines for the Replicated ones. */
const onOneNode = (sql: string) =>
  sql.replaceAll(' ON CLUSTER prod', '').replace(/Replicated(\w*MergeTree)\('[^']*', '\{replica\}'\)/g, '$1');

describe('cluster rendering on a one-shard local cluster', () => {
  let dir: string;
  let session: Session;
  let store: Store;
  let v5: Entry[];
  const rows = async (query: string) => (await store.client.query({ query, format: 'JSONEachRow' })).json<Record<string, unknown>>();
  const run = async (statements: string[]) => {
    for (const sql of statements) await store.client.command({ query: onOneNode(sql), clickhouse_settings: { mutations_sync: '2' } });
  };
  const columns = (table: string) =>
    rows(`SELECT name, type, default_kind, default_expression FROM system.columns WHERE database = 'tl' AND table = '${table}' ORDER BY position`);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapline-cluster-'));
    const config = join(dir, 'cluster.xml');
    writeFileSync(config, `<clickhouse><tcp_port>${PORT}</tcp_port><remote_servers><prod><shard><replica>` +
      `<host>localhost</host><port>${PORT}</port></replica></shard></prod></remote_servers></clickhouse>`);
    // The engine takes its configuration from the first connection to a directory; the store's shares it.
    session = new Session(join(dir, 'data'), { connectionArgs: [`--config-file=${config}`] });
    store = openStore({ kind: 'embedded', dataDir: join(dir, 'data'), database: 'tl' });
    assert.deepEqual(await rows(`SELECT cluster, is_local FROM system.clusters WHERE cluster = 'prod'`), [{ cluster: 'prod', is_local: 1 }]);
    await run(migrationsTableSql(CLUSTER));
    for (const m of migrations) if (m.version <= 5) await run(m.statements(CLUSTER));
    v5 = [...syntheticEntries({ count: 3000, seed: 41, startUs: Date.now() * 1000 - 2 * 3600e6, spanUs: 3600e6 })];
    await insertV5(store, v5, 10_000);
    await run(migrations.find((m) => m.version === 6)!.statements(CLUSTER));
  });
  after(async () => {
    await store.close();
    session.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has the shape: Distributed tables over the local ones', async () => {
    const tables = await rows(`SELECT name, engine FROM system.tables WHERE database = 'tl' ORDER BY name`);
    assert.deepEqual(tables.filter((t) => t.engine === 'Distributed').map((t) => t.name), ['entries', 'entries_1h', 'entries_1m', 'schema_migrations']);
  });

  it('gives the Distributed tables the local tables\' columns, renamed and added alike', async () => {
    for (const table of ['entries', 'entries_1m', 'entries_1h']) {
      const local = await columns(`${table}_local`);
      assert.deepEqual(await columns(table), local, table);
      const names = local.map((c) => c.name);
      if (table === 'entries') {
        assert.ok(names.includes('operation') && names.includes('target') && !names.includes('method') && !names.includes('path'));
        for (const c of ['transport', 'outcome', 'fields_text', 'fields_number']) assert.ok(names.includes(c), c);
      } else assert.ok(names.includes('outcome'), table);
    }
    const key = await rows(`SELECT name, sorting_key FROM system.tables WHERE database = 'tl' AND name IN ('entries_1m_local', 'entries_1h_local') ORDER BY name`);
    for (const k of key) assert.match(String(k.sorting_key), /status_class, src_kind, dst_kind, outcome$/);
  });

  it('reads the v5 rows through the Distributed tables in the v6 vocabulary', async () => {
    const [raw] = await rows(
      `SELECT count() AS n, ${ERRORS_SQL} AS e, ${CLIENT_ERRORS_SQL} AS e4, countIf(operation = 'POST') AS post, countIf(target LIKE '/api%') AS api FROM tl.entries`,
    );
    assert.deepEqual(Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)])), {
      n: v5.length,
      e: v5.filter((x) => x.status >= 500 || x.unanswered).length,
      e4: v5.filter((x) => x.status >= 400 && x.status < 500).length,
      post: v5.filter((x) => x.operation === 'POST').length,
      api: v5.filter((x) => x.target.startsWith('/api')).length,
    });
    const outcomes = await rows(`SELECT outcome AS o, count() AS n FROM tl.entries GROUP BY o ORDER BY o`);
    const want = [0, 1, 2, 3].map((o) => ({ o, n: v5.filter((x) => x.outcome === o).length })).filter((x) => x.n > 0);
    assert.deepEqual(outcomes.map((r) => ({ o: r.o, n: Number(r.n) })), want);
    assert.deepEqual(await readRollup(store, 'entries_1m'), expectedRollup(v5));
  });

  it('takes the current writer\'s blocks through the Distributed table, and its views feed the local rollups', async () => {
    const later = [...syntheticEntries({ count: 500, seed: 42, startUs: Date.now() * 1000 - 30 * 60e6, spanUs: 10 * 60e6 })].map((e, i) =>
      i % 50 === 0 ? { ...e, protocol: 'dns', transport: 'udp' as const, status: 3, outcome: Outcome.clientError, fields: { 'dns.rcode': 3, 'dns.qname': `q${i}.` } } : e,
    );
    const w = await EntryWriter.create(store, { batchSize: 200, logger: captureLog().logger });
    await w.pushAll(later);
    await w.close();
    assert.equal(w.counters.written, later.length);
    const rs = await store.client.query({
      query: `SELECT ${ENTRY_SELECT} FROM tl.entries WHERE id IN {ids:Array(String)} ORDER BY id`,
      query_params: { ids: later.map((e) => e.id) },
      format: 'JSONEachRow',
    });
    const back = (await rs.json<EntryRow>()).map(rowToEntry);
    assert.deepEqual(back, [...later].sort((a, b) => (a.id < b.id ? -1 : 1)));
    assert.deepEqual(await readRollup(store, 'entries_1m'), expectedRollup([...v5, ...later]));
    assert.deepEqual(await readRollup(store, 'entries_1h'), expectedRollup([...v5, ...later], 3600));
  });

  it('rebuilds the rollups in the current shape: deletes on the local tables, the insert through the Distributed ones', async () => {
    const [{ h }] = await rows(`SELECT toUnixTimestamp(toStartOfHour(min(start_time))) AS h FROM tl.entries`);
    const before = { m: await readRollup(store, 'entries_1m'), h: await readRollup(store, 'entries_1h') };
    // A row no entry accounts for (its hourly sum follows through the view): the rebuild must drop it.
    await store.client.command({
      query: `INSERT INTO tl.entries_1m_local (minute, dst_name, protocol, status_class, outcome, requests)
              VALUES (toDateTime(${Number(h) + 60}, 'UTC'), 'bogus', 'http', 2, 1, 1000)`,
    });
    assert.equal((await readRollup(store, 'entries_1h')).size, before.h.size + 1);
    await run(rebuildRollupsSql(CLUSTER, Number(h)));
    assert.deepEqual(await readRollup(store, 'entries_1m'), before.m);
    assert.deepEqual(await readRollup(store, 'entries_1h'), before.h);
  });
});
