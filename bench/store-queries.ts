/**
 * Benchmark: the hub's typical queries over a large embedded store (chDB).
 *
 *   node --import tsx bench/store-queries.ts [--rows 10000000] [--base 500000] [--budget 240] [--runs 5]
 *
 * Builds the data set first: `--base` synthetic entries through the EntryWriter (the last
 * 24h/copies of time), then copies of them shifted back in time with new ids by INSERT … SELECT
 * inside the engine (the rollup view sees every copy), until `--rows` entries span 24 h or the
 * `--budget` seconds for building run out (then it says how many it reached). Queries run through
 * @clickhouse/client as the hub runs them; each is timed once cold, then `--runs` times (median, max).
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { syntheticEntries } from '../backend/src/entries/synthetic.js';
import { createLogger } from '../backend/src/log.js';
import { ENTRY_SELECT, EntryWriter, findEntry, migrate, openStore } from '../backend/src/store/index.js';

const FIND_ENTRY = 'findEntry()';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    base: { type: 'string', default: '500000' },
    budget: { type: 'string', default: '240' },
    runs: { type: 'string', default: '5' },
  },
});
const TARGET = Number(values.rows);
const BASE = Math.min(Number(values.base), TARGET);
const COPIES = Math.ceil(TARGET / BASE);
const DAY_US = 86_400e6;
const SLICE_US = Math.floor(DAY_US / COPIES);
const RUNS = Number(values.runs);

const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-queries-'));
const store = openStore({ kind: 'embedded', dataDir: dir });
const db = store.database;
const q = async (sql: string, params: Record<string, unknown> = {}) =>
  (await store.client.query({ query: sql, query_params: params, format: 'JSONEachRow' })).json<Record<string, unknown>>();

try {
  await migrate(store);
  const buildStart = performance.now();
  const nowUs = Math.floor(Date.now() / 1000) * 1e6;
  const writer = await EntryWriter.create(store, { logger: createLogger('bench', 'warn') });
  for (const e of syntheticEntries({ count: BASE, seed: 1, startUs: nowUs - SLICE_US, spanUs: SLICE_US })) {
    if (!writer.push(e)) await writer.drained();
  }
  await writer.close();
  const baseSeconds = (performance.now() - buildStart) / 1000;
  let rows = BASE;
  const copyColumns = `* EXCEPT (id, start_time, end_time, ingested_at, h)`;
  for (let k = 1; k < COPIES && rows < TARGET; k++) {
    if ((performance.now() - buildStart) / 1000 > Number(values.budget)) break;
    const shift = k * SLICE_US;
    await store.client.command({
      // New ids keep the UUIDv7 shape and carry the shifted time (as the agent's ids carry theirs).
      query: `INSERT INTO ${db}.entries (id, start_time, end_time, ${'{cols}'}) SELECT
                concat(substring(h, 1, 8), '-', substring(h, 9, 4), substring(id, 14)),
                fromUnixTimestamp64Micro(toUnixTimestamp64Micro(start_time) - ${shift}, 'UTC'),
                fromUnixTimestamp64Micro(toUnixTimestamp64Micro(end_time) - ${shift}, 'UTC'), ${copyColumns}
              FROM (SELECT *, leftPad(lower(hex(intDiv(toUnixTimestamp64Micro(end_time) - ${shift}, 1000))), 12, '0') AS h
                    FROM ${db}.entries WHERE start_time >= fromUnixTimestamp64Micro(${nowUs - SLICE_US}, 'UTC'))
              LIMIT ${Math.min(BASE, TARGET - rows)}`.replace('{cols}', (await columnsExcept(['id', 'start_time', 'end_time', 'ingested_at'])).join(', ')),
    });
    rows += Math.min(BASE, TARGET - rows);
  }
  const buildSeconds = (performance.now() - buildStart) / 1000;
  const [stats] = await q(`SELECT count() AS n, sum(bytes_on_disk) AS disk, (SELECT count() FROM system.parts WHERE database = '${db}' AND table = 'entries' AND active) AS parts,
                             (SELECT toUnixTimestamp64Micro(min(start_time)) FROM ${db}.entries) AS first
                           FROM system.parts WHERE database = '${db}' AND table = 'entries' AND active`);
  const [{ n }] = await q(`SELECT count() AS n FROM ${db}.entries`);
  const [{ id }] = await q(`SELECT id FROM ${db}.entries WHERE start_time < fromUnixTimestamp64Micro(${nowUs - DAY_US / 2}, 'UTC') ORDER BY start_time DESC LIMIT 1`);

  const SUMMARY = `id, toUnixTimestamp64Micro(start_time) AS start_us, duration_us, protocol, method, path, query, host, status,
    unanswered, incomplete, toString(src_ip) AS src_ip, src_port, src_pod, src_namespace, src_service, src_workload, src_node,
    toString(dst_ip) AS dst_ip, dst_port, dst_pod, dst_namespace, dst_service, dst_workload, dst_node,
    request_body_size, response_body_size, agent`;
  const lastHour = `start_time >= now64(6) - INTERVAL 1 HOUR AND start_time <= now64(6)`;
  const rollupHour = `minute >= now() - INTERVAL 1 HOUR`;
  const queries: Array<[string, string, Record<string, unknown>?]> = [
    ['newest 100 (last hour)', `SELECT ${SUMMARY} FROM ${db}.entries WHERE ${lastHour} ORDER BY start_time DESC LIMIT 100`],
    ['newest 100 (no time bound)', `SELECT ${SUMMARY} FROM ${db}.entries ORDER BY start_time DESC LIMIT 100`],
    ['newest 100 for one service (last hour)', `SELECT ${SUMMARY} FROM ${db}.entries WHERE dst_service = {svc:String} AND ${lastHour} ORDER BY start_time DESC LIMIT 100`, { svc: 'payments-api' }],
    ['newest 100 for one service, 5xx (24 h)', `SELECT ${SUMMARY} FROM ${db}.entries WHERE dst_service = {svc:String} AND status >= 500 AND start_time >= now64(6) - INTERVAL 24 HOUR ORDER BY start_time DESC LIMIT 100`, { svc: 'catalog' }],
    ['one entry by id (full, no time hint)', `SELECT ${ENTRY_SELECT} FROM ${db}.entries WHERE id = {id:String}`, { id }],
    ['one entry by id (findEntry: UUIDv7 time window)', FIND_ENTRY, { id }],
    ['requests per minute by status class, 24 h (rollup)', `SELECT toUnixTimestamp(minute) * 1000 AS t, status_class, sum(requests) AS n FROM ${db}.entries_1m WHERE minute >= now() - INTERVAL 24 HOUR GROUP BY minute, status_class ORDER BY minute`],
    ['requests per minute by status class, 24 h (raw table)', `SELECT toUnixTimestamp(toStartOfMinute(start_time)) * 1000 AS t, intDiv(status, 100) AS c, count() AS n FROM ${db}.entries WHERE start_time >= now64(6) - INTERVAL 24 HOUR GROUP BY t, c ORDER BY t`],
    ['p50/p95/p99 latency by service, 24 h (rollup)', `SELECT dst_namespace, dst_name, quantilesTDigestMerge(0.5, 0.95, 0.99)(duration_q) AS q FROM ${db}.entries_1m WHERE minute >= now() - INTERVAL 24 HOUR GROUP BY dst_namespace, dst_name`],
    ['p50/p95/p99 latency by service, 24 h (hourly rollup)', `SELECT dst_namespace, dst_name, quantilesTDigestMerge(0.5, 0.95, 0.99)(duration_q) AS q FROM ${db}.entries_1h WHERE hour >= now() - INTERVAL 24 HOUR GROUP BY dst_namespace, dst_name`],
    ['p50/p95/p99 latency by service, 1 h (raw table)', `SELECT dst_namespace, dst_service, quantilesTDigest(0.5, 0.95, 0.99)(duration_us) AS q FROM ${db}.entries WHERE ${lastHour} AND NOT unanswered GROUP BY dst_namespace, dst_service`],
    ['service-map edges, 1 h (rollup)', `SELECT src_namespace, src_name, dst_namespace, dst_name, sum(requests) AS total, sum(errors) AS failed,
        quantilesTDigestMerge(0.95)(duration_q)[1] AS p95, groupUniqArray(protocol) AS protocols
      FROM ${db}.entries_1m WHERE ${rollupHour} GROUP BY src_namespace, src_name, dst_namespace, dst_name`],
    ['catalog, 1 h (rollup)', `SELECT dst_namespace, dst_name, sum(requests) AS total, total - sum(errors) - sum(errors_4xx) AS succeeded,
        sum(errors) + sum(errors_4xx) AS failed, sum(duration_sum_us) / greatest(sum(answered), 1) / 1000 AS avg_ms,
        quantilesTDigestMerge(0.95)(duration_q)[1] / 1000 AS p95_ms
      FROM ${db}.entries_1m WHERE ${rollupHour} GROUP BY dst_namespace, dst_name`],
  ];

  const results: Array<Record<string, unknown>> = [];
  for (const [name, sql, params] of queries) {
    const time = async () => {
      const t0 = performance.now();
      const rowsOut = sql === FIND_ENTRY ? [await findEntry(store, String(params?.id))].filter(Boolean) : await q(sql, params);
      return { ms: performance.now() - t0, rows: rowsOut.length };
    };
    const cold = await time();
    const warm: number[] = [];
    for (let i = 0; i < RUNS; i++) warm.push((await time()).ms);
    warm.sort((a, b) => a - b);
    results.push({ query: name, rows: cold.rows, coldMs: +cold.ms.toFixed(1), medianMs: +warm[Math.floor(warm.length / 2)].toFixed(1), maxMs: +warm[warm.length - 1].toFixed(1) });
  }
  console.log(JSON.stringify({
    date: new Date().toISOString(), cpus: `${cpus().length} × ${cpus()[0].model}`, loadavg: loadavg().map((l) => l.toFixed(1)).join(' '),
    entries: Number(n), target: TARGET, spanHours: +((nowUs - Number(stats.first)) / 3600e6).toFixed(1),
    build: { baseEntries: BASE, baseSeconds: +baseSeconds.toFixed(1), totalSeconds: +buildSeconds.toFixed(1), copies: Math.ceil(Number(n) / BASE) - 1 },
    bytesOnDisk: Number(stats.disk), bytesPerEntry: Math.round(Number(stats.disk) / Number(n)), parts: Number(stats.parts),
  }, null, 2));
  console.table(results);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

async function columnsExcept(skip: string[]): Promise<string[]> {
  const cols = await q(`SELECT name FROM system.columns WHERE database = '${db}' AND table = 'entries' ORDER BY position`);
  return cols.map((c) => String(c.name)).filter((c) => !skip.includes(c));
}
