/**
 * Benchmark: the hub's typical queries over a large embedded store (chDB).
 *
 *   node --import tsx bench/store-queries.ts [--rows 10000000] [--base 625000] [--runs 5] [--data DIR] [--only REGEX]
 *
 * Builds the data set first: `--base` synthetic entries through the EntryWriter over the newest
 * slice of a day, then doubles the table with INSERT … SELECT inside the engine (every row copied
 * one span further back in time with a new id; the rollup views see every copy) until `--rows`
 * entries span 24 h. Ids are made as the agent makes them (agent/ids.ts: a UUIDv7 of the entry's
 * start millisecond); a few entries get ids carrying their end time instead, as `tapline seed`'s do.
 * `--data DIR` keeps the store in DIR and reuses it when it already holds the entries (migrations
 * are applied first, so an older store is upgraded). Then waits for background merges to settle.
 *
 * Queries run as the hub runs them (its own functions, with time ranges ending at the newest entry);
 * each is timed once cold, then `--runs` times: median and max. `--only` times the queries whose
 * name matches a regular expression (e.g. `--only 'stats|map|catalog'`).
 */
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { syntheticEntries } from '../backend/src/entries/synthetic.js';
import { uuidv7 } from '../backend/src/agent/ids.js';
import { createLogger } from '../backend/src/log.js';
import { EntryWriter, findEntry, migrate, openStore } from '../backend/src/store/index.js';
import { newestEntriesSql } from '../backend/src/store/read.js';
import { parseFilter } from '../backend/src/query/parser.js';
import { listEntries } from '../backend/src/hub/entries.js';
import { stats } from '../backend/src/hub/stats.js';
import { catalog, serviceMap } from '../backend/src/hub/topology.js';
import { rangeSql, type TimeRange } from '../backend/src/hub/params.js';
import { SUMMARY_SELECT } from '../backend/src/hub/summary.js';
import { compileExpr } from '../backend/src/query/compile.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    base: { type: 'string', default: '625000' },
    runs: { type: 'string', default: '5' },
    data: { type: 'string' },
    only: { type: 'string' },
  },
});
const TARGET = Number(values.rows);
const DOUBLINGS = Math.max(0, Math.ceil(Math.log2(TARGET / Number(values.base))));
const BASE = Math.ceil(TARGET / 2 ** DOUBLINGS);
const DAY_US = 86_400e6;
const SLICE_US = Math.floor(DAY_US / 2 ** DOUBLINGS);
const RUNS = Number(values.runs);
/** Entries whose id carries their end time (as `tapline seed` makes them), to time that lookup too. */
const END_TIME_IDS = 10;

const dir = values.data ?? mkdtempSync(join(tmpdir(), 'tapline-bench-queries-'));
const fresh = !existsSync(dir);
mkdirSync(dir, { recursive: true });
const store = openStore({ kind: 'embedded', dataDir: dir });
const db = store.database;
const q = async (sql: string, params: Record<string, unknown> = {}) =>
  (await store.client.query({ query: sql, query_params: params, format: 'JSONEachRow' })).json<Record<string, unknown>>();

/** Rows and bytes the engine read, summed over the queries of one timed call (FORMAT JSON's statistics). */
const engineRead = { rows: 0, bytes: 0 };
const plainQuery = store.client.query.bind(store.client);
store.client.query = (async (params: Parameters<typeof plainQuery>[0]) => {
  if (params.format !== 'JSONEachRow') return plainQuery(params);
  const rs = await plainQuery({ ...params, format: 'JSON' });
  return {
    json: async () => {
      const out = (await rs.json()) as unknown as { data: unknown[]; statistics: { rows_read: number; bytes_read: number } };
      engineRead.rows += Number(out.statistics.rows_read);
      engineRead.bytes += Number(out.statistics.bytes_read);
      return out.data;
    },
  };
}) as unknown as typeof store.client.query;
const countEntries = async () => Number((await q(`SELECT count() AS n FROM ${db}.entries`))[0].n);

try {
  const m0 = performance.now();
  const migrated = await migrate(store);
  const migrateSeconds = +((performance.now() - m0) / 1000).toFixed(1);
  let build: Record<string, number> | string = 'reused';
  if (fresh || (await countEntries()) < TARGET) build = await buildDataSet();
  const settleSeconds = await settleMerges();
  const n = await countEntries();
  const [span] = await q(`SELECT toUnixTimestamp64Milli(min(start_time)) AS first, toUnixTimestamp64Milli(max(start_time)) AS last FROM ${db}.entries`);
  const [disk] = await q(`SELECT sum(bytes_on_disk) AS bytes, count() AS parts FROM system.parts WHERE database = '${db}' AND table = 'entries' AND active`);
  const lastMs = Number(span.last) + 1;
  const range = (hours: number): TimeRange => ({ fromMs: lastMs - hours * 3600e3, toMs: lastMs });
  const [{ id: agentId }] = await q(`SELECT id FROM ${db}.entries WHERE start_time < fromUnixTimestamp64Milli(${lastMs - 12 * 3600e3}) ORDER BY start_time DESC LIMIT 1`);
  const [{ id: endId }] = await q(`SELECT id FROM ${db}.entries WHERE startsWith(agent, 'seed-') LIMIT 1`);
  const limits = { queryTimeoutMs: 60_000 };
  const f = (text: string) => parseFilter(text);
  const one = (name: string, run: () => Promise<unknown>): [string, () => Promise<number>] => [
    name,
    async () => {
      const out = await run();
      return Array.isArray(out) ? out.length : out === undefined ? 0 : 1;
    },
  ];
  const list = (filter: string, hours: number) => async () => (await listEntries(store, limits, f(filter), range(hours), 100)).entries;
  // A change proposed for hub/entries.ts: its list query through store/read's newestEntriesSql.
  const proposedList = (filter: string, hours: number) => async () => {
    const c = compileExpr(f(filter));
    const r = rangeSql(range(hours));
    const rs = await store.client.query({
      query: newestEntriesSql(db, SUMMARY_SELECT, `${r.sql} AND (${c.sql})`, '{limit:UInt32}'),
      query_params: { ...c.params, ...r.params, limit: 100 },
      format: 'JSONEachRow',
      clickhouse_settings: { prefer_column_name_to_alias: 1 },
    });
    return rs.json();
  };
  const NEWEST_SQL = `SELECT id, toUnixTimestamp64Micro(start_time) AS start_us, status, dst_service FROM ${db}.entries ORDER BY start_time DESC LIMIT 100`;
  const queries = [
    one('newest 100, last hour', list('', 1)),
    one('newest 100, 24 h', list('', 24)),
    one('newest 100, no time bound (raw SQL; the hub always sends a range)', () => q(NEWEST_SQL)),
    one('the same with read_in_order_use_virtual_row = 1', () => q(`${NEWEST_SQL} SETTINGS read_in_order_use_virtual_row = 1`)),
    one('newest 100 for one service, last hour', list('dst.service == "payments-api"', 1)),
    one('newest 100 for one service, 24 h', list('dst.service == "payments-api"', 24)),
    one('newest 100 for one service with status >= 500, 24 h', list('dst.service == "catalog" and response.status >= 500', 24)),
    one('newest 100 slower than 1 s, 24 h', list('latency > 1s', 24)),
    one('proposed (newestEntriesSql): newest 100 for one service, last hour', proposedList('dst.service == "payments-api"', 1)),
    one('proposed: newest 100, 24 h', proposedList('', 24)),
    one('proposed: newest 100 for one service, 24 h', proposedList('dst.service == "payments-api"', 24)),
    one('proposed: newest 100 for one service with status >= 500, 24 h', proposedList('dst.service == "catalog" and response.status >= 500', 24)),
    one('proposed: newest 100 slower than 1 s, 24 h', proposedList('latency > 1s', 24)),
    one('one entry by id (findEntry; id carries the start time, as the agent makes it)', () => findEntry(store, String(agentId))),
    one('one entry by id (findEntry; id carries the end time, as tapline seed makes it)', () => findEntry(store, String(endId))),
    one('one entry by id, plain WHERE id = (no time hint)', () => q(`SELECT * FROM ${db}.entries WHERE id = {id:String}`, { id: agentId })),
    one('requests per minute by status class, 24 h (stats)', async () => (await stats(store, limits, f(''), range(24), { intervalMs: 60_000, groupBy: 'statusClass', metric: 'requests', quantiles: [] })).series),
    one('p50/p95/p99 by service, 24 h, default interval (stats)', async () => (await stats(store, limits, f(''), range(24), { groupBy: 'service', metric: 'latency', quantiles: [0.5, 0.95, 0.99] })).series),
    one('p50/p95/p99 by service, 24 h, 1 h interval (stats, hourly rollup)', async () => (await stats(store, limits, f(''), range(24), { intervalMs: 3_600_000, groupBy: 'service', metric: 'latency', quantiles: [0.5, 0.95, 0.99] })).series),
    one('p50/p95/p99 for one service, 24 h, default interval (stats)', async () => (await stats(store, limits, f('dst.service == "catalog"'), range(24), { groupBy: 'service', metric: 'latency', quantiles: [0.5, 0.95, 0.99] })).series),
    one('requests per minute for one service, 24 h (stats)', async () => (await stats(store, limits, f('dst.service == "catalog"'), range(24), { intervalMs: 60_000, groupBy: 'statusClass', metric: 'requests', quantiles: [] })).series),
    one('requests per minute called by one service, 24 h (stats)', async () => (await stats(store, limits, f('src.service == "frontend"'), range(24), { intervalMs: 60_000, groupBy: 'statusClass', metric: 'requests', quantiles: [] })).series),
    one('service map, 1 h', async () => (await serviceMap(store, limits, f(''), range(1))).edges),
    one('catalog, 1 h', async () => (await catalog(store, limits, f(''), range(1))).services),
    one('catalog, 24 h', async () => (await catalog(store, limits, f(''), range(24))).services),
    one('service map for one service, 1 h', async () => (await serviceMap(store, limits, f('dst.service == "catalog"'), range(1))).edges),
    one('service map for one service, 24 h', async () => (await serviceMap(store, limits, f('dst.service == "catalog"'), range(24))).edges),
  ];

  // The proposal must answer exactly what the hub answers today.
  if (values.only === undefined) for (const [filter, hours] of [['', 24], ['dst.service == "payments-api"', 1], ['dst.service == "catalog" and response.status >= 500', 24], ['latency > 1s', 24]] as const) {
    const hub = (await list(filter, hours)()).map((e) => e.id).join();
    const proposed = ((await proposedList(filter, hours)()) as Array<{ id: string }>).map((e) => e.id).join();
    if (hub !== proposed) throw new Error(`the proposed list differs from the hub's for ${JSON.stringify(filter)}`);
  }

  const results: Array<Record<string, unknown>> = [];
  for (const [name, run] of queries) {
    if (values.only !== undefined && !new RegExp(values.only).test(name)) continue;
    const time = async () => {
      engineRead.rows = engineRead.bytes = 0;
      const t0 = performance.now();
      const rows = await run();
      return { ms: performance.now() - t0, rows, readRows: engineRead.rows, readMB: +(engineRead.bytes / 1e6).toFixed(1) };
    };
    const cold = await time();
    const warm: number[] = [];
    for (let i = 0; i < RUNS; i++) warm.push((await time()).ms);
    warm.sort((a, b) => a - b);
    results.push({ query: name, rows: cold.rows, readRows: cold.readRows, readMB: cold.readMB, coldMs: +cold.ms.toFixed(1), medianMs: +warm[Math.floor(warm.length / 2)].toFixed(1), maxMs: +warm[warm.length - 1].toFixed(1) });
  }
  console.log(JSON.stringify({
    date: new Date().toISOString(), cpus: `${cpus().length} × ${cpus()[0].model}`, loadavg: loadavg().map((l) => l.toFixed(1)).join(' '),
    entries: n, spanHours: +((lastMs - Number(span.first)) / 3600e3).toFixed(1), migrated, migrateSeconds, build, settleSeconds,
    bytesOnDisk: Number(disk.bytes), bytesPerEntry: Math.round(Number(disk.bytes) / n), parts: Number(disk.parts),
  }, null, 2));
  console.table(results);
} finally {
  await store.close();
  if (!values.data) rmSync(dir, { recursive: true, force: true });
}

async function buildDataSet(): Promise<Record<string, number>> {
  if ((await countEntries()) > 0) throw new Error(`${dir} holds fewer than ${TARGET} entries: use a new --data directory`);
  const t0 = performance.now();
  const nowUs = Math.floor(Date.now() / 1000) * 1e6;
  const writer = await EntryWriter.create(store, { logger: createLogger('bench', 'warn') });
  let i = 0;
  await writer.pushAll((function* withAgentIds() {
    for (const e of syntheticEntries({ count: BASE, seed: 1, startUs: nowUs - SLICE_US, spanUs: SLICE_US })) {
      // The agent's id: a UUIDv7 of the start millisecond; a few keep the generator's (end time).
      yield i++ < END_TIME_IDS ? { ...e, agent: `seed-${e.agent}`, durationUs: e.durationUs + 2e6, endUs: e.endUs + 2e6, id: uuidv7((e.endUs + 2e6) / 1000) } : { ...e, id: uuidv7(e.startUs / 1000) };
    }
  })());
  await writer.close();
  const baseSeconds = (performance.now() - t0) / 1000;
  const cols = (await q(`SELECT name FROM system.columns WHERE database = '${db}' AND table = 'entries' AND name NOT IN ('id', 'start_time', 'end_time', 'ingested_at') ORDER BY position`)).map((c) => String(c.name));
  let rows = BASE;
  const steps: number[] = [];
  for (let k = 0; k < DOUBLINGS; k++) {
    const shift = SLICE_US * 2 ** k;
    const s0 = performance.now();
    const take = Math.min(rows, TARGET - rows);
    // New ids keep the UUIDv7 shape and carry the shifted start (seed-style rows: the shifted end).
    await store.client.command({
      query: `INSERT INTO ${db}.entries (id, start_time, end_time, ${cols.join(', ')})
              SELECT concat(substring(h, 1, 8), '-', substring(h, 9, 4), substring(id, 14)),
                     fromUnixTimestamp64Micro(toUnixTimestamp64Micro(start_time) - ${shift}, 'UTC'),
                     fromUnixTimestamp64Micro(toUnixTimestamp64Micro(end_time) - ${shift}, 'UTC'), ${cols.join(', ')}
              FROM (SELECT *, leftPad(lower(hex(intDiv(toUnixTimestamp64Micro(if(startsWith(agent, 'seed-'), end_time, start_time)) - ${shift}, 1000))), 12, '0') AS h
                    FROM ${db}.entries LIMIT ${take})`,
    });
    rows += take;
    steps.push(+((performance.now() - s0) / 1000).toFixed(1));
  }
  return { baseEntries: BASE, baseSeconds: +baseSeconds.toFixed(1), doublingSeconds: +steps.reduce((a, b) => a + b, 0).toFixed(1), totalSeconds: +((performance.now() - t0) / 1000).toFixed(1) };
}

/** Waits (up to 5 min) until no merge or mutation runs on the entries, so queries see a steady table. */
async function settleMerges(): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const [{ busy }] = await q(`SELECT (SELECT count() FROM system.merges WHERE database = '${db}') + (SELECT count() FROM system.mutations WHERE database = '${db}' AND NOT is_done) AS busy`);
    if (Number(busy) === 0 || performance.now() - t0 > 300_000) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return +((performance.now() - t0) / 1000).toFixed(1);
}
