import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appliedVersions, migrate, renderSchema } from '../../src/store/index.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';

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
    assert.deepEqual(await migrate(t.store), [1, 2, 3]);
    assert.deepEqual(await migrate(t.store), []);
    assert.deepEqual(await appliedVersions(t.store), [1, 2, 3]);
    const rs = await t.store.client.query({
      query: `SELECT count() AS n FROM ${t.store.database}.schema_migrations`,
      format: 'JSONEachRow',
    });
    assert.equal(Number((await rs.json<{ n: number }>())[0].n), 3, 'each version recorded once');
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
});

describe('cluster rendering', () => {
  const sql = renderSchema({ database: 'tl', cluster: 'prod' });

  it('creates everything ON CLUSTER', () => {
    for (const s of sql) assert.match(s, /^CREATE \S+( VIEW)? IF NOT EXISTS tl(\.\w+)? ON CLUSTER prod\b/, s);
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
