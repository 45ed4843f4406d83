import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENTRY_COLUMNS, appliedVersions, encodeEntriesNative, migrate, renderSchema, type Store } from '../../src/store/index.js';
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
  transport: LC, operation: LC, target: 'String', query: 'String', host: 'String', status: 'UInt16', status_text: LC, outcome: 'UInt8',
  ...body('request'), ...body('response'),
  fields_text: 'Map(LowCardinality(String), String)', fields_number: 'Map(LowCardinality(String), Float64)',
  unanswered: 'Bool', incomplete: 'Bool', ingested_at: "DateTime64(6, 'UTC')",
};

describe('store schema', () => {
  let t: TempStore;
  before(async () => {
    t = await tempStore({ migrate: false });
  });
  after(() => t.dispose());

  it('migrates an empty store, then re-applies as a no-op', async () => {
    assert.deepEqual(await migrate(t.store), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(await migrate(t.store), []);
    assert.deepEqual(await appliedVersions(t.store), [1, 2, 3, 4, 5, 6]);
    const rs = await t.store.client.query({
      query: `SELECT count() AS n FROM ${t.store.database}.schema_migrations`,
      format: 'JSONEachRow',
    });
    assert.equal(Number((await rs.json<{ n: number }>())[0].n), 6, 'each version recorded once');
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
    // In table order: the new columns where migration 6 put them.
    const order = await t.store.client.query({
      query: `SELECT groupArray(name) AS names FROM (SELECT name FROM system.columns WHERE database = {db:String} AND table = 'entries' ORDER BY position)`,
      query_params: { db: t.store.database },
      format: 'JSONEachRow',
    });
    const [{ names }] = await order.json<{ names: string[] }>();
    const after = (c: string) => names[names.indexOf(c) - 1];
    assert.deepEqual(['transport', 'outcome', 'fields_text', 'fields_number'].map(after), ['protocol_version', 'status_text', 'response_body_encoding', 'fields_text']);
  });

  it('keeps the defaults migration 6 gave rows written before it (transport tcp, HTTP outcomes; rollups: by status class)', async () => {
    const rs = await t.store.client.query({
      query: `SELECT table, name, default_kind, default_expression FROM system.columns
              WHERE database = {db:String} AND table IN ('entries', 'entries_1m', 'entries_1h')
                AND name IN ('transport', 'outcome', 'fields_text', 'fields_number') ORDER BY table, name`,
      query_params: { db: t.store.database },
      format: 'JSONEachRow',
    });
    const fromClass = 'multiIf(status_class = 0, 0, status_class = 5, 3, status_class = 4, 2, 1)';
    assert.deepEqual(await rs.json(), [
      { table: 'entries', name: 'fields_number', default_kind: '', default_expression: '' },
      { table: 'entries', name: 'fields_text', default_kind: '', default_expression: '' },
      { table: 'entries', name: 'outcome', default_kind: 'DEFAULT', default_expression: 'multiIf(unanswered, 0, status >= 500, 3, status >= 400, 2, 1)' },
      { table: 'entries', name: 'transport', default_kind: 'DEFAULT', default_expression: "'tcp'" },
      { table: 'entries_1h', name: 'outcome', default_kind: 'DEFAULT', default_expression: fromClass },
      { table: 'entries_1m', name: 'outcome', default_kind: 'DEFAULT', default_expression: fromClass },
    ]);
  });

  it('has rollups keyed by name kinds and outcome, with a latency histogram and no t-digest', async () => {
    for (const [table, time] of [['entries_1m', 'minute'], ['entries_1h', 'hour']]) {
      const rs = await t.store.client.query({
        query: `SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String} AND name IN ('src_kind', 'dst_kind', 'outcome', 'duration_h', 'duration_q')`,
        query_params: { db: t.store.database, t: table },
        format: 'JSONEachRow',
      });
      assert.deepEqual(Object.fromEntries((await rs.json<{ name: string; type: string }>()).map((c) => [c.name, c.type])), {
        src_kind: 'UInt8',
        dst_kind: 'UInt8',
        outcome: 'UInt8',
        duration_h: 'SimpleAggregateFunction(sumMap, Tuple(Array(UInt16), Array(UInt64)))',
      }, table);
      const key = await t.store.client.query({
        query: `SELECT sorting_key FROM system.tables WHERE database = {db:String} AND name = {t:String}`,
        query_params: { db: t.store.database, t: table },
        format: 'JSONEachRow',
      });
      assert.deepEqual(await key.json(), [{ sorting_key: `${time}, src_namespace, src_name, dst_namespace, dst_name, protocol, status_class, src_kind, dst_kind, outcome` }]);
    }
  });

  it('re-applies migrations 4 and 5 on a store migrated to 5, and 6 on one migrated to 6, without error (idempotent statements)', async () => {
    // Migration 4's key is not the key once 6 has extended it: a store at 5, in a database of its own.
    const v5: Store = { ...t.store, database: 'tapline_v5' };
    assert.deepEqual(await migrate(v5, { to: 5 }), [1, 2, 3, 4, 5]);
    const reapply = async (store: Store, versions: number[]) => {
      for (const version of versions) {
        for (const sql of migrations.find((m) => m.version === version)!.statements({ database: store.database })) {
          await store.client.command({ query: sql });
        }
      }
    };
    await reapply(v5, [4, 5]);
    await reapply(t.store, [6]);
    await reapply(t.store, [6]);
    await t.store.client.command({ query: 'DROP DATABASE tapline_v5' });
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
    const alters = migrations.find((m) => m.version === 4)!.statements({ database: 'tl', cluster: 'prod' }).filter((s) => s.startsWith('ALTER'));
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

  it('migration 6 alters the local tables and the Distributed ones alike, keys on the local rollups only, then both views', () => {
    const m6 = migrations.find((m) => m.version === 6)!.statements({ database: 'tl', cluster: 'prod' });
    for (const s of m6) assert.match(s, /^ALTER TABLE tl\.\w+ ON CLUSTER prod /, s);
    for (const t of ['entries_local', 'entries']) {
      assert.equal(m6.filter((s) => s === `ALTER TABLE tl.${t} ON CLUSTER prod RENAME COLUMN IF EXISTS method TO operation, RENAME COLUMN IF EXISTS path TO target`).length, 1, t);
      const add = m6.filter((s) => s.startsWith(`ALTER TABLE tl.${t} ON CLUSTER prod ADD COLUMN IF NOT EXISTS transport`));
      assert.equal(add.length, 1, t);
      for (const c of ['outcome UInt8 DEFAULT', 'fields_text Map(LowCardinality(String), String)', 'fields_number Map(LowCardinality(String), Float64)']) assert.ok(add[0].includes(c), c);
    }
    for (const t of ['entries_1m', 'entries_1h']) {
      const time = t === 'entries_1m' ? 'minute' : 'hour';
      assert.deepEqual(m6.filter((s) => s.startsWith(`ALTER TABLE tl.${t}_local `)), [
        `ALTER TABLE tl.${t}_local ON CLUSTER prod ADD COLUMN IF NOT EXISTS outcome UInt8, MODIFY ORDER BY (${time}, src_namespace, src_name, dst_namespace, dst_name, protocol, status_class, src_kind, dst_kind, outcome)`,
        `ALTER TABLE tl.${t}_local ON CLUSTER prod MODIFY COLUMN outcome DEFAULT multiIf(status_class = 0, 0, status_class = 5, 3, status_class = 4, 2, 1)`,
      ]);
      assert.deepEqual(m6.filter((s) => s.startsWith(`ALTER TABLE tl.${t} `)), [
        `ALTER TABLE tl.${t} ON CLUSTER prod ADD COLUMN IF NOT EXISTS outcome UInt8 DEFAULT multiIf(status_class = 0, 0, status_class = 5, 3, status_class = 4, 2, 1)`,
      ]);
    }
    const views = m6.filter((s) => /MODIFY QUERY/.test(s));
    assert.equal(views.length, 2);
    assert.match(views[0], /^ALTER TABLE tl\.entries_1h_mv ON CLUSTER prod MODIFY QUERY\n[^]*\boutcome\b[^]*FROM tl\.entries_1m_local\b/);
    assert.match(views[1], /^ALTER TABLE tl\.entries_1m_mv ON CLUSTER prod MODIFY QUERY\n[^]*countIf\(outcome IN \(0, 3\)\) AS errors[^]*FROM tl\.entries_local\b/);
    // The views change last: the columns they read exist by then.
    assert.deepEqual(m6.slice(-2), views);
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
