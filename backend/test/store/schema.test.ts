import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENTRY_COLUMNS, appliedVersions, encodeEntriesNative, migrate, renderSchema } from '../../src/store/index.js';
import { COMPACT_PART_MAX_BYTES, migrations, rebuildRollupsSql } from '../../src/store/schema.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';

const HOUR_US = 3600e6;

// The column contract other parts code against (from the project brief), name -> type.
const LC = 'LowCardinality(String)';
const endpoint = (s: string) => ({
  [`${s}_ip`]: 'IPv6', [`${s}_port`]: 'UInt16', [`${s}_pod`]: LC, [`${s}_namespace`]: LC,
  [`${s}_service`]: LC, [`${s}_workload`]: LC, [`${s}_node`]: LC,
});
const body = (s: string) => ({
  [`${s}_header_names`]: 'Array(String)', [`${s}_header_values`]: 'Array(String)', [`${s}_body`]: 'String',
  [`${s}_body_size`]: 'UInt64', [`${s}_body_wire_size`]: 'UInt64', [`${s}_body_truncated`]: 'Bool',
  [`${s}_body_encoding`]: LC,
});
const CONTRACT: Record<string, string> = {
  id: 'String', agent: LC, protocol: LC, protocol_version: LC,
  start_time: "DateTime64(6, 'UTC')", end_time: "DateTime64(6, 'UTC')", duration_us: 'UInt64',
  ...endpoint('src'), ...endpoint('dst'),
  method: LC, path: 'String', query: 'String', host: 'String', status: 'UInt16', status_text: LC,
  ...body('request'), ...body('response'),
  unanswered: 'Bool', incomplete: 'Bool', ingested_at: "DateTime64(6, 'UTC')",
};

describe('store schema', () => {
  let t: TempStore;
  before(async () => {
    t = await tempStore({ migrate: false });
  });
  after(() => t.dispose());

  it('migrates an empty store, then re-applies as a no-op', async () => {
    assert.deepEqual(await migrate(t.store), [1, 2, 3, 4, 5]);
    assert.deepEqual(await migrate(t.store), []);
    assert.deepEqual(await appliedVersions(t.store), [1, 2, 3, 4, 5]);
    const rs = await t.store.client.query({
      query: `SELECT count() AS n FROM ${t.store.database}.schema_migrations`,
      format: 'JSONEachRow',
    });
    assert.equal(Number((await rs.json<{ n: number }>())[0].n), 5, 'each version recorded once');
    const tables = await t.store.client.query({
      query: `SELECT name, engine FROM system.tables WHERE database = {db:String} ORDER BY name`,
      query_params: { db: t.store.database },
      format: 'JSONEachRow',
    });
    assert.deepEqual(await tables.json(), [
      { name: 'entries', engine: 'MergeTree' },
      { name: 'entries_1h', engine: 'AggregatingMergeTree' },
      { name: 'entries_1h_mv', engine: 'MaterializedView' },
      { name: 'entries_1m', engine: 'AggregatingMergeTree' },
      { name: 'entries_1m_mv', engine: 'MaterializedView' },
      { name: 'schema_migrations', engine: 'MergeTree' },
    ]);
  });

  it('has exactly the contracted entries columns and types', async () => {
    const rs = await t.store.client.query({
      query: `SELECT name, type FROM system.columns WHERE database = {db:String} AND table = 'entries'`,
      query_params: { db: t.store.database },
      format: 'JSONEachRow',
    });
    const got = Object.fromEntries((await rs.json<{ name: string; type: string }>()).map((c) => [c.name, c.type]));
    assert.deepEqual(got, CONTRACT);
  });

  it('has rollups keyed by name kinds, with a latency histogram and no t-digest', async () => {
    for (const [table, time] of [['entries_1m', 'minute'], ['entries_1h', 'hour']]) {
      const rs = await t.store.client.query({
        query: `SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String} AND name IN ('src_kind', 'dst_kind', 'duration_h', 'duration_q')`,
        query_params: { db: t.store.database, t: table },
        format: 'JSONEachRow',
      });
      assert.deepEqual(Object.fromEntries((await rs.json<{ name: string; type: string }>()).map((c) => [c.name, c.type])), {
        src_kind: 'UInt8',
        dst_kind: 'UInt8',
        duration_h: 'SimpleAggregateFunction(sumMap, Tuple(Array(UInt16), Array(UInt64)))',
      }, table);
      const key = await t.store.client.query({
        query: `SELECT sorting_key FROM system.tables WHERE database = {db:String} AND name = {t:String}`,
        query_params: { db: t.store.database, t: table },
        format: 'JSONEachRow',
      });
      assert.deepEqual(await key.json(), [{ sorting_key: `${time}, src_namespace, src_name, dst_namespace, dst_name, protocol, status_class, src_kind, dst_kind` }]);
    }
  });

  it('re-applies migrations 4 and 5 on a migrated store without error (idempotent statements)', async () => {
    for (const version of [4, 5]) {
      for (const sql of migrations.find((m) => m.version === version)!.statements({ database: t.store.database })) {
        await t.store.client.command({ query: sql });
      }
    }
  });

  it('stores a writer block past the engine default for wide parts (10 MiB) as a compact part', async () => {
    // One block, as the writer sends it, within one hour so that it stays one part.
    const entries = syntheticEntries({ count: 25_000, seed: 9, startUs: HOUR_US * Math.floor(Date.now() / 3.6e6 - 2), spanUs: HOUR_US / 2 });
    await t.store.insertNative('entries', ENTRY_COLUMNS, encodeEntriesNative(entries));
    const rs = await t.store.client.query({
      query: `SELECT part_type, rows, data_uncompressed_bytes AS bytes FROM system.parts WHERE database = {db:String} AND table = 'entries' AND active`,
      query_params: { db: t.store.database },
      format: 'JSONEachRow',
    });
    const parts = await rs.json<{ part_type: string; rows: string; bytes: string }>();
    assert.equal(parts.length, 1, JSON.stringify(parts));
    assert.equal(Number(parts[0].rows), 25_000);
    assert.ok(Number(parts[0].bytes) > 10 * 1024 * 1024, `the block is past the default threshold: ${parts[0].bytes} bytes`);
    assert.ok(Number(parts[0].bytes) < COMPACT_PART_MAX_BYTES);
    assert.equal(parts[0].part_type, 'Compact');
  });
});

describe('cluster rendering', () => {
  const sql = renderSchema({ database: 'tl', cluster: 'prod' });

  it('creates and alters everything ON CLUSTER', () => {
    for (const s of sql) assert.match(s, /^(CREATE \S+( VIEW)? IF NOT EXISTS|ALTER TABLE) tl(\.\w+)? ON CLUSTER prod\b/, s);
  });

  it('migration 4 alters the local tables (key and columns) and the Distributed ones (columns)', () => {
    const alters = sql.filter((s) => s.startsWith('ALTER'));
    for (const t of ['entries_1m', 'entries_1h']) {
      const local = alters.filter((s) => s.startsWith(`ALTER TABLE tl.${t}_local ON CLUSTER prod ADD COLUMN IF NOT EXISTS src_kind`));
      assert.equal(local.length, 1, t);
      assert.match(local[0], /MODIFY ORDER BY \(\w+, src_namespace, src_name, dst_namespace, dst_name, protocol, status_class, src_kind, dst_kind\)$/);
      const dist = alters.filter((s) => s.startsWith(`ALTER TABLE tl.${t} ON CLUSTER prod ADD COLUMN IF NOT EXISTS src_kind`));
      assert.equal(dist.length, 1, t);
      assert.doesNotMatch(dist[0], /ORDER BY/);
      for (const name of [`${t}_local`, t]) {
        assert.equal(alters.filter((s) => s === `ALTER TABLE tl.${name} ON CLUSTER prod DROP COLUMN IF EXISTS duration_q`).length, 1, name);
      }
    }
    const views = alters.filter((s) => /MODIFY QUERY/.test(s));
    assert.equal(views.length, 2);
    assert.match(views[0], /^ALTER TABLE tl\.entries_1h_mv ON CLUSTER prod MODIFY QUERY\n[^]*FROM tl\.entries_1m_local\b/);
    assert.match(views[1], /^ALTER TABLE tl\.entries_1m_mv ON CLUSTER prod MODIFY QUERY\n[^]*FROM tl\.entries_local\b/);
    // The t-digest column goes only after both views stopped using it.
    assert.ok(sql.indexOf(views[1]) < sql.findIndex((s) => /DROP COLUMN/.test(s)));
  });

  it('migration 5 sets the compact-part threshold on the local entries table', () => {
    assert.deepEqual(migrations.find((m) => m.version === 5)!.statements({ database: 'tl', cluster: 'prod' }), [
      `ALTER TABLE tl.entries_local ON CLUSTER prod MODIFY SETTING min_bytes_for_wide_part = ${COMPACT_PART_MAX_BYTES}`,
    ]);
  });

  it('renders the rollup rebuild: deletes on the local tables, the insert through the Distributed ones', () => {
    const [h, m, insert] = rebuildRollupsSql({ database: 'tl', cluster: 'prod' }, 1_790_000_000 - (1_790_000_000 % 3600));
    assert.match(h, /^ALTER TABLE tl\.entries_1h_local ON CLUSTER prod DELETE WHERE hour >= toDateTime\(\d+, 'UTC'\)$/);
    assert.match(m, /^ALTER TABLE tl\.entries_1m_local ON CLUSTER prod DELETE WHERE minute >= toDateTime\(\d+, 'UTC'\)$/);
    assert.match(insert, /^INSERT INTO tl\.entries_1m \(minute, [^)]*\)\nSELECT[^]*FROM tl\.entries WHERE start_time >= toDateTime\(\d+, 'UTC'\)/);
    assert.throws(() => rebuildRollupsSql({ database: 'tl' }, 1800), /not a whole hour/);
  });

  it('keeps data in Replicated local tables behind Distributed tables of the public names', () => {
    const find = (re: RegExp) => sql.filter((s) => re.test(s));
    assert.equal(find(/CREATE TABLE IF NOT EXISTS tl\.entries_local .*ENGINE = ReplicatedMergeTree\('\/clickhouse\/tables\/\{shard\}\/tl\/entries_local', '\{replica\}'\)/s).length, 1);
    assert.equal(find(/CREATE TABLE IF NOT EXISTS tl\.entries_1m_local .*ENGINE = ReplicatedAggregatingMergeTree\(/s).length, 1);
    assert.equal(find(/CREATE TABLE IF NOT EXISTS tl\.entries ON CLUSTER prod AS tl\.entries_local ENGINE = Distributed\(prod, tl, entries_local, /).length, 1);
    assert.equal(find(/CREATE TABLE IF NOT EXISTS tl\.entries_1m ON CLUSTER prod AS tl\.entries_1m_local ENGINE = Distributed\(prod, tl, entries_1m_local, /).length, 1);
    assert.equal(find(/CREATE TABLE IF NOT EXISTS tl\.entries_1h ON CLUSTER prod AS tl\.entries_1h_local ENGINE = Distributed\(prod, tl, entries_1h_local, /).length, 1);
    const mv = find(/MATERIALIZED VIEW/);
    assert.equal(mv.length, 2);
    assert.match(mv[0], /entries_1m_mv ON CLUSTER prod\nTO tl\.entries_1m_local AS/);
    assert.match(mv[0], /FROM tl\.entries_local\b/);
    assert.match(mv[1], /entries_1h_mv ON CLUSTER prod\nTO tl\.entries_1h_local AS/);
    assert.match(mv[1], /FROM tl\.entries_1m_local\b/);
  });

  it('renders one node without cluster clauses', () => {
    const single = renderSchema({ database: 'tl' }).join('\n');
    assert.doesNotMatch(single, /ON CLUSTER|Replicated|Distributed|_local/);
  });

  it('rejects names that are not identifiers', () => {
    assert.throws(() => renderSchema({ database: 'tl; DROP', cluster: 'x' }), /invalid database name/);
    assert.throws(() => renderSchema({ database: 'tl', cluster: 'a b' }), /invalid cluster name/);
  });
});
