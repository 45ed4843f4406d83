/**
 * The store's schema, as versioned migrations (applied by `migrate`, recorded in `schema_migrations`).
 * What follows is the schema as the last migration leaves it.
 *
 * Tables (database `tapline` by default):
 *
 * - `entries`: one row per Entry of any protocol (see entries/entry.ts; columns are its fields in
 *   snake_case). The envelope: `protocol` (its keyword: 'http', 'dns'…), `protocol_version`,
 *   `transport` ('tcp' or 'udp'), times, both endpoints. The summary every view shows:
 *   `operation` (HTTP method, DNS query type, Redis command…), `target` (HTTP path, DNS name,
 *   key…), `query` and `host` (HTTP family), `status` and `status_text` (protocol-native: HTTP
 *   status, DNS RCODE, gRPC code…; `status` 0 = none) and `outcome`, the same classes for every
 *   protocol (UInt8, entries/entry.ts `Outcome`: 0 no response, 1 ok, 2 client error, 3 server
 *   error, 4 one-way). Each side's name/value attributes (HTTP headers, gRPC metadata, DNS
 *   answers…) are parallel arrays `*_header_names` / `*_header_values`, in wire order with
 *   repeats kept; payloads are raw bytes (String). The protocol's typed fields, by filter name
 *   (`dns.rcode`, `kafka.topic`…), are two maps: `fields_text` Map(LowCardinality(String),
 *   String) and `fields_number` Map(LowCardinality(String), Float64) (read `fields_number['dns.rcode']`;
 *   empty for protocols without fields).
 *   Times are DateTime64(6, 'UTC') (microseconds). IPs are IPv6; IPv4 is stored IPv4-mapped
 *   (`::ffff:10.0.0.1`; compare with `toIPv6('10.0.0.1')`, show with `ipFromStore`).
 *   Partitioned by hour of `start_time`, ordered by `start_time`: newest-first reads in order
 *   and stops early (a tie-break on `id` needs store/read's `newestEntriesSql` to stay early); a
 *   time range prunes partitions and granules; a bloom filter on `id` finds one entry (findEntry
 *   adds `start_time` bounds from the UUIDv7). The `set` skip indexes on services, namespaces and
 *   status skip little in mixed traffic (over 10M synthetic entries every granule held every
 *   service and a 5xx: bench/RESULTS.md).
 *   TTL `start_time + 7 days` (whole parts only); the size limit is enforced by store/retention.
 *   `ingested_at` (DEFAULT now64(6)) is the insert time, for a live cursor in cluster mode.
 *   Defaults left by migration 6 for rows older than it: `transport` 'tcp', `outcome` HTTP's
 *   mapping of `status`/`unanswered` (the writer always sends both).
 * - `entries_1m`: AggregatingMergeTree rollup kept by the materialized view `entries_1m_mv`,
 *   per minute × src (namespace, name, kind) × dst (namespace, name, kind) × protocol × status
 *   class × outcome. "name" is the service if known, else the workload, else the pod, else the IP
 *   text (`endpointNameSql`); "kind" says which of them it is (`endpointKindSql`: 1 service,
 *   2 workload, 3 pod, 4 IP; 0 = unknown, rows written before migration 4 that it could not
 *   rebuild), so a filter on a service (`dst.service == "x"` is `dst_kind = 1 AND dst_name = 'x'`)
 *   is exact.
 *   status_class (`STATUS_CLASS_SQL`): 0 = no response, 1..5 = a status of 100..599 by its
 *   hundreds (HTTP's 1xx..5xx), 6 = an answered status below 100 (DNS RCODEs, gRPC codes…),
 *   7 = 600 and above (MySQL error codes…). outcome: the entry's outcome class (above).
 *   Columns: requests, errors (`ERRORS_SQL`: server errors and no response, outcome 3 or 0; for
 *   HTTP 5xx and unanswered), errors_4xx (`CLIENT_ERRORS_SQL`: client errors, outcome 2; for HTTP
 *   4xx), answered, duration_sum_us
 *   (answered only), duration_h (latency histogram of answered requests: bucket numbers
 *   `durationBucketSql` → counts, a `sumMap` tuple; read quantiles with `latencyQuantilesSql`),
 *   request_bytes and response_bytes (wire sizes). Sum columns are SimpleAggregateFunction(sum):
 *   read with sum(), aliased to a name that is not a column (`sum(requests) AS total`): ClickHouse
 *   substitutes an alias named like a column into later expressions, and
 *   `sum(requests) - sum(errors)` would then nest aggregates.
 *   Latency buckets: 16 per doubling (`LATENCY_BUCKETS_PER_OCTAVE`); a quantile is the geometric
 *   middle of the bucket holding the nearest-rank order statistic (rank ⌈q·n⌉), so it is within
 *   2^(1/32) − 1 < 2.2 % of that exact value. Merging them is cheap, unlike t-digest states (24 h
 *   by service in 5-minute buckets: 4× faster, bench/RESULTS.md), and the raw table computes the
 *   same buckets, so rollup and raw answers agree exactly. The SQL both use is in ./rollup-sql.ts.
 *   TTL 30 days.
 * - `entries_1h`: the same rollup per hour (`hour` instead of `minute`), kept by `entries_1h_mv`
 *   from `entries_1m`, for long ranges. TTL 90 days.
 * - Migration 4 added the kinds and the histogram (replacing a t-digest state, `duration_q`) and
 *   rebuilt both rollups from the raw table for every hour it still holds whole; older rollup rows
 *   keep their counts and sums, but have kind 0 and no latency. Migration 6 added the outcome:
 *   rollup rows written before it read the outcome of their status class (0 → 0, 5 → 3, 4 → 2,
 *   else 1: HTTP's mapping; see `protocolNeutral` for the one exception), and keep their status
 *   class as written, 0..5.
 * - `schema_migrations`: versions applied (version, name, applied_at).
 *
 * Cluster mode (`cluster` set): every table is created `ON CLUSTER`, data lives in Replicated
 * `*_local` tables and `entries` / `entries_1m` / `entries_1h` are Distributed tables over them, so
 * readers and writers use the same names in both modes.
 */

import { TaplineError } from '../errors.js';
import {
  CLIENT_ERRORS_SQL,
  ERRORS_SQL,
  STATUS_CLASS_SQL,
  durationBucketSql,
  endpointKindSql,
  endpointNameSql,
} from './rollup-sql.js';

export interface SchemaOptions {
  /** Database name (an identifier: letters, digits, underscore). */
  database: string;
  /** ClickHouse cluster name for the Replicated + Distributed rendering; omit for one node. */
  cluster?: string;
}

export interface Migration {
  version: number;
  name: string;
  statements(opts: SchemaOptions): string[];
  /**
   * After its statements, `migrate` recomputes the rollups from the raw table with these
   * statements (`fromSec`: the first whole hour the raw table holds), as of this migration's schema.
   */
  rebuildRollups?: (opts: SchemaOptions, fromSec: number) => string[];
}

/** Time-based retention of raw entries (days); store/retention can change it at run time. */
export const DEFAULT_TTL_DAYS = 7;
/** Time-based retention of the per-minute rollups (days). */
export const ROLLUP_TTL_DAYS = 30;
/** Time-based retention of the hourly rollups (days). */
export const HOURLY_ROLLUP_TTL_DAYS = 90;

/**
 * The status class and error counts as migrations 2 and 4 wrote them (before outcomes): kept for
 * those migrations, whose SQL never changes. The current ones are in ./rollup-sql.ts.
 */
const V2_STATUS_CLASS_SQL = 'toUInt8(least(intDiv(status, 100), 5))';
const V2_ERRORS_SQL = 'countIf(status >= 500 OR unanswered)';
const V2_ERRORS_4XX_SQL = 'countIf(status >= 400 AND status < 500)';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class SchemaError extends TaplineError {
  override readonly code = 'STORE_SCHEMA';
}

function check(opts: SchemaOptions): void {
  if (!IDENT.test(opts.database)) throw new SchemaError(`invalid database name ${JSON.stringify(opts.database)}`);
  if (opts.cluster !== undefined && !IDENT.test(opts.cluster)) {
    throw new SchemaError(`invalid cluster name ${JSON.stringify(opts.cluster)}`);
  }
}

function onCluster(o: SchemaOptions): string {
  return o.cluster ? ` ON CLUSTER ${o.cluster}` : '';
}

/** Name of the table that holds the data: `x` on one node, `x_local` behind a Distributed `x`. */
export function dataTable(o: SchemaOptions, table: string): string {
  return o.cluster ? `${table}_local` : table;
}

function engine(o: SchemaOptions, kind: 'MergeTree' | 'AggregatingMergeTree', table: string): string {
  if (!o.cluster) return `${kind}`;
  return `Replicated${kind}('/clickhouse/tables/{shard}/${o.database}/${table}', '{replica}')`;
}

/** A Distributed table `name` over `name_local`, only in cluster mode. */
function distributed(o: SchemaOptions, table: string, shardingKey: string): string[] {
  if (!o.cluster) return [];
  return [
    `CREATE TABLE IF NOT EXISTS ${o.database}.${table}${onCluster(o)} AS ${o.database}.${table}_local ` +
      `ENGINE = Distributed(${o.cluster}, ${o.database}, ${table}_local, ${shardingKey})`,
  ];
}

function endpointColumns(side: 'src' | 'dst'): string {
  return [
    `${side}_ip IPv6 CODEC(ZSTD(1))`,
    `${side}_port UInt16 CODEC(ZSTD(1))`,
    `${side}_pod LowCardinality(String)`,
    `${side}_namespace LowCardinality(String)`,
    `${side}_service LowCardinality(String)`,
    `${side}_workload LowCardinality(String)`,
    `${side}_node LowCardinality(String)`,
  ].join(',\n  ');
}

function bodyColumns(side: 'request' | 'response'): string {
  return [
    `${side}_header_names Array(String) CODEC(ZSTD(1))`,
    `${side}_header_values Array(String) CODEC(ZSTD(1))`,
    `${side}_body String CODEC(ZSTD(3))`,
    `${side}_body_size UInt64 CODEC(ZSTD(1))`,
    `${side}_body_wire_size UInt64 CODEC(ZSTD(1))`,
    `${side}_body_truncated Bool`,
    `${side}_body_encoding LowCardinality(String)`,
  ].join(',\n  ');
}

function createEntries(o: SchemaOptions): string {
  const t = dataTable(o, 'entries');
  return `CREATE TABLE IF NOT EXISTS ${o.database}.${t}${onCluster(o)} (
  id String CODEC(ZSTD(1)),
  agent LowCardinality(String),
  protocol LowCardinality(String),
  protocol_version LowCardinality(String),
  start_time DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
  end_time DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
  duration_us UInt64 CODEC(ZSTD(1)),
  ${endpointColumns('src')},
  ${endpointColumns('dst')},
  method LowCardinality(String),
  path String CODEC(ZSTD(1)),
  query String CODEC(ZSTD(1)),
  host String CODEC(ZSTD(1)),
  status UInt16,
  status_text LowCardinality(String),
  ${bodyColumns('request')},
  ${bodyColumns('response')},
  unanswered Bool,
  incomplete Bool,
  ingested_at DateTime64(6, 'UTC') DEFAULT now64(6) CODEC(Delta, ZSTD(1)),
  INDEX idx_id id TYPE bloom_filter(0.001) GRANULARITY 1,
  INDEX idx_src_service src_service TYPE set(256) GRANULARITY 4,
  INDEX idx_dst_service dst_service TYPE set(256) GRANULARITY 4,
  INDEX idx_src_namespace src_namespace TYPE set(256) GRANULARITY 4,
  INDEX idx_dst_namespace dst_namespace TYPE set(256) GRANULARITY 4,
  INDEX idx_status status TYPE set(64) GRANULARITY 4,
  INDEX idx_src_ip src_ip TYPE bloom_filter(0.01) GRANULARITY 4,
  INDEX idx_dst_ip dst_ip TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ${engine(o, 'MergeTree', t)}
PARTITION BY toStartOfHour(start_time)
ORDER BY start_time
TTL toDateTime(start_time) + INTERVAL ${DEFAULT_TTL_DAYS} DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000`;
}

function createRollup(o: SchemaOptions, table: 'entries_1m' | 'entries_1h'): string {
  const t = dataTable(o, table);
  const time = table === 'entries_1m' ? 'minute' : 'hour';
  const partition = table === 'entries_1m' ? 'toDate(minute)' : 'toStartOfMonth(hour)';
  const ttl = table === 'entries_1m' ? ROLLUP_TTL_DAYS : HOURLY_ROLLUP_TTL_DAYS;
  return `CREATE TABLE IF NOT EXISTS ${o.database}.${t}${onCluster(o)} (
  ${time} DateTime('UTC') CODEC(Delta, ZSTD(1)),
  src_namespace LowCardinality(String),
  src_name LowCardinality(String),
  dst_namespace LowCardinality(String),
  dst_name LowCardinality(String),
  protocol LowCardinality(String),
  status_class UInt8,
  requests SimpleAggregateFunction(sum, UInt64),
  errors SimpleAggregateFunction(sum, UInt64),
  errors_4xx SimpleAggregateFunction(sum, UInt64),
  answered SimpleAggregateFunction(sum, UInt64),
  duration_sum_us SimpleAggregateFunction(sum, UInt64),
  duration_q AggregateFunction(quantileTDigest, UInt64),
  request_bytes SimpleAggregateFunction(sum, UInt64),
  response_bytes SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ${engine(o, 'AggregatingMergeTree', t)}
PARTITION BY ${partition}
ORDER BY (${time}, src_namespace, src_name, dst_namespace, dst_name, protocol, status_class)
TTL ${time} + INTERVAL ${ttl} DAY`;
}

function createRollupView(o: SchemaOptions): string {
  // In cluster mode the view sits on each shard's local table and feeds its local rollup.
  return `CREATE MATERIALIZED VIEW IF NOT EXISTS ${o.database}.entries_1m_mv${onCluster(o)}
TO ${o.database}.${dataTable(o, 'entries_1m')} AS
SELECT
  toStartOfMinute(start_time) AS minute,
  src_namespace,
  ${endpointNameSql('src')} AS src_name,
  dst_namespace,
  ${endpointNameSql('dst')} AS dst_name,
  protocol,
  ${V2_STATUS_CLASS_SQL} AS status_class,
  count() AS requests,
  ${V2_ERRORS_SQL} AS errors,
  ${V2_ERRORS_4XX_SQL} AS errors_4xx,
  countIf(NOT unanswered) AS answered,
  sumIf(duration_us, NOT unanswered) AS duration_sum_us,
  quantileTDigestStateIf(duration_us, NOT unanswered) AS duration_q,
  sum(request_body_wire_size) AS request_bytes,
  sum(response_body_wire_size) AS response_bytes
FROM ${o.database}.${dataTable(o, 'entries')}
GROUP BY minute, src_namespace, src_name, dst_namespace, dst_name, protocol, status_class`;
}

function createHourlyView(o: SchemaOptions): string {
  return `CREATE MATERIALIZED VIEW IF NOT EXISTS ${o.database}.entries_1h_mv${onCluster(o)}
TO ${o.database}.${dataTable(o, 'entries_1h')} AS
SELECT
  toStartOfHour(minute) AS hour,
  src_namespace, src_name, dst_namespace, dst_name, protocol, status_class,
  sum(requests) AS requests,
  sum(errors) AS errors,
  sum(errors_4xx) AS errors_4xx,
  sum(answered) AS answered,
  sum(duration_sum_us) AS duration_sum_us,
  quantileTDigestMergeState(duration_q) AS duration_q,
  sum(request_bytes) AS request_bytes,
  sum(response_bytes) AS response_bytes
FROM ${o.database}.${dataTable(o, 'entries_1m')}
GROUP BY hour, src_namespace, src_name, dst_namespace, dst_name, protocol, status_class`;
}

const HISTOGRAM_TYPE = 'SimpleAggregateFunction(sumMap, Tuple(Array(UInt16), Array(UInt64)))';
const KEY = 'src_namespace, src_name, dst_namespace, dst_name, protocol, status_class';

/**
 * Versions of the rollups' shape: 4 (name kinds and histograms; what migrations 4 and 5 leave) and
 * 6 (the outcome class in the key; status classes and error counts by outcome). Each migration
 * renders the shape of its own time, so that a store several versions behind goes through each.
 */
type RollupShape = 4 | 6;

/** The rollups' key columns after the time, by shape. */
function rollupKey(shape: RollupShape): string {
  return shape === 4 ? `${KEY}, src_kind, dst_kind` : `${KEY}, src_kind, dst_kind, outcome`;
}

/** The per-minute rollup's columns of a shape, in order, with their expressions over `entries`. */
function minuteRollupColumns(shape: RollupShape): Array<[string, string]> {
  return [
    ['minute', 'toStartOfMinute(start_time)'],
    ['src_namespace', 'src_namespace'],
    ['src_name', endpointNameSql('src')],
    ['dst_namespace', 'dst_namespace'],
    ['dst_name', endpointNameSql('dst')],
    ['protocol', 'protocol'],
    ['status_class', shape === 4 ? V2_STATUS_CLASS_SQL : STATUS_CLASS_SQL],
    ['src_kind', endpointKindSql('src')],
    ['dst_kind', endpointKindSql('dst')],
    ...(shape === 4 ? [] : [['outcome', 'outcome'] as [string, string]]),
    ['requests', 'count()'],
    ['errors', shape === 4 ? V2_ERRORS_SQL : ERRORS_SQL],
    ['errors_4xx', shape === 4 ? V2_ERRORS_4XX_SQL : CLIENT_ERRORS_SQL],
    ['answered', 'countIf(NOT unanswered)'],
    ['duration_sum_us', 'sumIf(duration_us, NOT unanswered)'],
    ['duration_h', `sumMapIf([${durationBucketSql('duration_us')}], [toUInt64(1)], NOT unanswered)`],
    ['request_bytes', 'sum(request_body_wire_size)'],
    ['response_bytes', 'sum(response_body_wire_size)'],
  ];
}

/** The per-minute rollup's rows for the entries in `entriesTable` (matching `where`). */
function minuteRollupSelect(shape: RollupShape, entriesTable: string, where = ''): string {
  const cols = minuteRollupColumns(shape);
  return `SELECT\n  ${cols.map(([name, sql]) => (name === sql ? name : `${sql} AS ${name}`)).join(',\n  ')}
FROM ${entriesTable}${where ? ` WHERE ${where}` : ''}
GROUP BY minute, ${rollupKey(shape)}`;
}

function hourlyRollupSelect(o: SchemaOptions, shape: RollupShape): string {
  return `SELECT
  toStartOfHour(minute) AS hour,
  ${rollupKey(shape)},
  sum(requests) AS requests,
  sum(errors) AS errors,
  sum(errors_4xx) AS errors_4xx,
  sum(answered) AS answered,
  sum(duration_sum_us) AS duration_sum_us,
  sumMap(duration_h) AS duration_h,
  sum(request_bytes) AS request_bytes,
  sum(response_bytes) AS response_bytes
FROM ${o.database}.${dataTable(o, 'entries_1m')}
GROUP BY hour, ${rollupKey(shape)}`;
}

/**
 * Migration 4 on one rollup: the kind columns join the end of the sorting key (allowed for columns
 * added in the same ALTER; old rows read kind 0) and the histogram column is added.
 */
function addKindsAndHistogram(o: SchemaOptions, table: 'entries_1m' | 'entries_1h'): string[] {
  const time = table === 'entries_1m' ? 'minute' : 'hour';
  const add = `ADD COLUMN IF NOT EXISTS src_kind UInt8, ADD COLUMN IF NOT EXISTS dst_kind UInt8, ADD COLUMN IF NOT EXISTS duration_h ${HISTOGRAM_TYPE}`;
  return [
    `ALTER TABLE ${o.database}.${dataTable(o, table)}${onCluster(o)} ${add}, MODIFY ORDER BY (${time}, ${rollupKey(4)})`,
    ...(o.cluster ? [`ALTER TABLE ${o.database}.${table}${onCluster(o)} ${add}`] : []),
  ];
}

/** Drops the t-digest column once no view writes or reads it. */
function dropTDigest(o: SchemaOptions, table: 'entries_1m' | 'entries_1h'): string[] {
  const tables = o.cluster ? [dataTable(o, table), table] : [table];
  return tables.map((t) => `ALTER TABLE ${o.database}.${t}${onCluster(o)} DROP COLUMN IF EXISTS duration_q`);
}

function kindsAndHistogram(o: SchemaOptions): string[] {
  return [
    ...addKindsAndHistogram(o, 'entries_1m'),
    ...addKindsAndHistogram(o, 'entries_1h'),
    // The hourly view first: it then reads what the new per-minute view writes.
    `ALTER TABLE ${o.database}.entries_1h_mv${onCluster(o)} MODIFY QUERY\n${hourlyRollupSelect(o, 4)}`,
    `ALTER TABLE ${o.database}.entries_1m_mv${onCluster(o)} MODIFY QUERY\n${minuteRollupSelect(4, `${o.database}.${dataTable(o, 'entries')}`)}`,
    ...dropTDigest(o, 'entries_1h'),
    ...dropTDigest(o, 'entries_1m'),
  ];
}

/**
 * Recomputes both rollups from the raw entries for every time from `fromSec` (a whole hour, epoch
 * seconds) on: deletes those rollup rows (run with `mutations_sync`), then inserts the raw
 * entries' per-minute rows, which the hourly view rolls up again. Inserts that arrive meanwhile
 * would be counted twice: `migrate` runs before the writer starts (in embedded mode no other
 * process can write); in cluster mode, run it with writers stopped. For the current schema.
 */
export function rebuildRollupsSql(o: SchemaOptions, fromSec: number): string[] {
  return rebuildSql(o, fromSec, 6);
}

function rebuildSql(o: SchemaOptions, fromSec: number, shape: RollupShape): string[] {
  check(o);
  if (!Number.isSafeInteger(fromSec) || fromSec % 3600 !== 0) throw new SchemaError(`rebuild start ${fromSec} is not a whole hour`);
  const from = `toDateTime(${fromSec}, 'UTC')`;
  return [
    `ALTER TABLE ${o.database}.${dataTable(o, 'entries_1h')}${onCluster(o)} DELETE WHERE hour >= ${from}`,
    `ALTER TABLE ${o.database}.${dataTable(o, 'entries_1m')}${onCluster(o)} DELETE WHERE minute >= ${from}`,
    // Public names: in cluster mode through the Distributed tables, every shard's entries.
    `INSERT INTO ${o.database}.entries_1m (${minuteRollupColumns(shape).map(([n]) => n).join(', ')})\n` +
      minuteRollupSelect(shape, `${o.database}.entries`, `start_time >= ${from}`),
  ];
}

/**
 * Parts of the raw table below this much uncompressed data are written Compact (all columns in one
 * file) instead of Wide (a file per column and stream). The writer's blocks (≈ 33 MB) and their
 * first merges then stay compact: inserting them took ≈ 4 µs less CPU an entry than the default's
 * (10 MiB) wide parts, 19–20 instead of 21–26 µs end to end, and their merges less too, for 5 % more
 * bytes until parts merge past this size into wide ones (bench/RESULTS.md, "Store: ingest").
 * Queries over compact parts measured no slower.
 */
export const COMPACT_PART_MAX_BYTES = 256 * 1024 * 1024;

function compactInsertedParts(o: SchemaOptions): string[] {
  return [
    `ALTER TABLE ${o.database}.${dataTable(o, 'entries')}${onCluster(o)} MODIFY SETTING min_bytes_for_wide_part = ${COMPACT_PART_MAX_BYTES}`,
  ];
}

/** Outcome by HTTP's mapping (httpOutcome in protocols/http): every row written before migration 6 is HTTP. */
const HTTP_OUTCOME_SQL = 'multiIf(unanswered, 0, status >= 500, 3, status >= 400, 2, 1)';

/**
 * A rollup row's outcome from its (pre-migration-6) status class: no response, 5xx server
 * error, 4xx client error, anything else ok.
 */
const OUTCOME_OF_STATUS_CLASS_SQL = 'multiIf(status_class = 0, 0, status_class = 5, 3, status_class = 4, 2, 1)';

/**
 * Migration 6, protocol-neutral entries (one Entry shape for HTTP, DNS, Redis…):
 *
 * - `entries`: `method` and `path` renamed `operation` and `target`; `transport` (DEFAULT 'tcp'),
 *   `outcome` and the typed-field maps `fields_text` / `fields_number` added (new columns of old
 *   parts cost no rewrite: the engine reads their defaults, and a merge writes them out).
 *   `outcome` keeps the DEFAULT of HTTP's mapping, which is what every old row holds: a
 *   MATERIALIZE COLUMN then REMOVE DEFAULT would rewrite every compact part (most parts, since
 *   migration 5) at start-up, and a re-run after REMOVE DEFAULT fails ("no default expression to
 *   materialize"). The writer always sends `outcome`, so the default serves old parts only (and
 *   inserts that name no outcome, which nothing of Tapline's makes).
 * - Rollups: `outcome` joins the end of the sorting key. A column added to the key must come
 *   without a default (the engine refuses one), so it is added plain in the ALTER that extends the
 *   key and gets its DEFAULT in a second one: old parts then read the outcome of their status class
 *   (0 → 0, 5 → 3, 4 → 2, else 1), which for HTTP is the outcome of every row they counted (an
 *   HTTP status class holds one outcome), and merges write it out. Verified in chDB: old parts read
 *   it, and OPTIMIZE FINAL keeps it (backend/test/store/migrate-v6.test.ts).
 * - Both views: status classes 6 and 7, errors and errors_4xx by outcome (`ERRORS_SQL`,
 *   `CLIENT_ERRORS_SQL`), the outcome column.
 *
 * No rollup rebuild: for HTTP, every count a rollup keeps (requests, errors = 5xx or unanswered,
 * errors_4xx = 4xx, answered, durations, bytes, histograms) is the same under the new expressions.
 * Only statuses outside 100..599 change class (the HTTP parser takes any three digits: an answered
 * 000–099 was class 0 and is now 6, 600–999 was 5 and is now 7); old rollup rows keep their class,
 * and a class-0 row's outcome is "no response" even for the odd answered 0xx it counted. Fixing
 * those would rewrite up to a week of rollups from the raw table at start-up, and not the older
 * rollup rows, which have no raw entries left.
 */
function protocolNeutral(o: SchemaOptions): string[] {
  const db = o.database;
  const c = onCluster(o);
  // Local tables first, as in migration 4; the Distributed ones take the same column definitions.
  const entries = o.cluster ? [dataTable(o, 'entries'), 'entries'] : ['entries'];
  const statements = entries.flatMap((t) => [
    `ALTER TABLE ${db}.${t}${c} RENAME COLUMN IF EXISTS method TO operation, RENAME COLUMN IF EXISTS path TO target`,
    `ALTER TABLE ${db}.${t}${c} ` +
      `ADD COLUMN IF NOT EXISTS transport LowCardinality(String) DEFAULT 'tcp' AFTER protocol_version, ` +
      `ADD COLUMN IF NOT EXISTS outcome UInt8 DEFAULT ${HTTP_OUTCOME_SQL} AFTER status_text, ` +
      `ADD COLUMN IF NOT EXISTS fields_text Map(LowCardinality(String), String) CODEC(ZSTD(1)) AFTER response_body_encoding, ` +
      `ADD COLUMN IF NOT EXISTS fields_number Map(LowCardinality(String), Float64) CODEC(ZSTD(1)) AFTER fields_text`,
  ]);
  for (const table of ['entries_1m', 'entries_1h'] as const) {
    const time = table === 'entries_1m' ? 'minute' : 'hour';
    const local = `${db}.${dataTable(o, table)}${c}`;
    statements.push(
      `ALTER TABLE ${local} ADD COLUMN IF NOT EXISTS outcome UInt8, MODIFY ORDER BY (${time}, ${rollupKey(6)})`,
      `ALTER TABLE ${local} MODIFY COLUMN outcome DEFAULT ${OUTCOME_OF_STATUS_CLASS_SQL}`,
      ...(o.cluster ? [`ALTER TABLE ${db}.${table}${c} ADD COLUMN IF NOT EXISTS outcome UInt8 DEFAULT ${OUTCOME_OF_STATUS_CLASS_SQL}`] : []),
    );
  }
  statements.push(
    // The hourly view first: it then reads what the new per-minute view writes.
    `ALTER TABLE ${db}.entries_1h_mv${c} MODIFY QUERY\n${hourlyRollupSelect(o, 6)}`,
    `ALTER TABLE ${db}.entries_1m_mv${c} MODIFY QUERY\n${minuteRollupSelect(6, `${db}.${dataTable(o, 'entries')}`)}`,
  );
  return statements;
}

/** The migrations table itself is created before any migration runs (see `migrate`). */
export function migrationsTableSql(o: SchemaOptions): string[] {
  check(o);
  const t = dataTable(o, 'schema_migrations');
  return [
    `CREATE DATABASE IF NOT EXISTS ${o.database}${onCluster(o)}`,
    `CREATE TABLE IF NOT EXISTS ${o.database}.${t}${onCluster(o)} (
  version UInt32,
  name String,
  applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ${engine(o, 'MergeTree', t)}
ORDER BY version`,
    ...distributed(o, 'schema_migrations', 'version'),
  ];
}

/**
 * Every migration in order. Statements are idempotent (IF NOT EXISTS, re-adding the same key), so a
 * re-run is harmless. Versions 2 and 3 create the rollups as they first were; 4 alters them; 5
 * changes a storage setting of the raw table; 6 makes entries protocol-neutral. A migration's SQL
 * never changes once released (stores applied it): later shapes are new migrations.
 */
export const migrations: Migration[] = [
  {
    version: 1,
    name: 'entries table',
    statements: (o) => [createEntries(o), ...distributed(o, 'entries', 'rand()')],
  },
  {
    version: 2,
    name: 'per-minute rollup and its materialized view',
    statements: (o) => [createRollup(o, 'entries_1m'), ...distributed(o, 'entries_1m', 'rand()'), createRollupView(o)],
  },
  {
    version: 3,
    name: 'hourly rollup fed from the per-minute one',
    statements: (o) => [createRollup(o, 'entries_1h'), ...distributed(o, 'entries_1h', 'rand()'), createHourlyView(o)],
  },
  {
    version: 4,
    name: 'rollups: name kinds in the key, latency histogram instead of t-digest, rebuilt from the raw table',
    statements: kindsAndHistogram,
    rebuildRollups: (o, fromSec) => rebuildSql(o, fromSec, 4),
  },
  {
    version: 5,
    name: 'raw entries: the writer\'s parts stored compact',
    statements: compactInsertedParts,
  },
  {
    version: 6,
    name: 'protocol-neutral entries: operation/target, transport, outcome, typed field maps; rollups by outcome',
    statements: protocolNeutral,
  },
];

/** The whole schema as SQL statements, in the order `migrate` applies them. */
export function renderSchema(o: SchemaOptions): string[] {
  check(o);
  return [...migrationsTableSql(o), ...migrations.flatMap((m) => m.statements(o))];
}
