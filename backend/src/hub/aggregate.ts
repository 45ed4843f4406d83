/**
 * Where stats, the service map and the catalog read from: the hourly rollup `entries_1h` for ranges
 * of a day or more, the per-minute `entries_1m` for ranges of ten minutes or more — when the
 * filter only uses what the rollups keep (protocol, namespaces, services, status classes) — else
 * the raw `entries` table. A rollup takes the range in its whole buckets. Both expose the same
 * aggregate expressions, so each endpoint writes its query once; latency quantiles come from the
 * same histogram buckets in both (store/schema.ts), so rollup and raw answers agree exactly.
 */
import type { Expr } from '../query/ast.js';
import { compileExpr } from '../query/compile.js';
import { isProtocolKeyword, lookupField, type FieldDef } from '../query/fields.js';
import {
  CLIENT_ERRORS_SQL,
  ERRORS_SQL,
  STATUS_CLASS_SQL,
  durationBucketSql,
  endpointNameSql,
  latencyQuantilesSql,
  type Store,
} from '../store/index.js';
import { ApiError } from './errors.js';
import { rangeSql, type TimeRange } from './params.js';

export interface AggregateSource {
  kind: 'rollup' | 'raw';
  /** `FROM … WHERE …` (range and filter). */
  from: string;
  params: Record<string, string | number>;
  /** Smallest bucket the source can tell apart (ms). */
  resolutionMs: number;
  /** Time of a row in ms since the epoch (bucket start for the rollup). */
  timeMs: string;
  srcNamespace: string;
  srcName: string;
  dstNamespace: string;
  dstName: string;
  protocol: string;
  /** 0 = no response, 1..5 = 1xx..5xx, 6 = below 100, 7 = 600 and above (store/rollup-sql.ts). */
  statusClass: string;
  /** The outcome class (entries/entry.ts `Outcome`). */
  outcome: string;
  /** A field's SQL in this source (one `groupableField`s passed to `aggregateSource`). */
  fieldSql(def: FieldDef): string;
  requests: string;
  /** Requests where `cond` holds (cond over the dimension expressions above). */
  requestsIf(cond: string): string;
  /** Server errors and no response (HTTP: 5xx and unanswered). */
  errors: string;
  /** Client errors (HTTP: 4xx). */
  errors4xx: string;
  answered: string;
  durationSumUs: string;
  /** Array(Float64) of latency quantiles (µs) over answered requests; levels are numbers we checked. */
  quantilesUs(levels: readonly number[]): string;
}

/** True when the filter can be answered exactly from the rollup (every field it reads has `rollup` SQL). */
export function rollupCanAnswer(e: Expr): boolean {
  switch (e.kind) {
    case 'and':
    case 'or':
      return rollupCanAnswer(e.left) && rollupCanAnswer(e.right);
    case 'not':
      return rollupCanAnswer(e.expr);
    case 'const':
      return true;
    case 'bare':
      return e.field.key === undefined && isProtocolKeyword(e.field.path);
    case 'compare':
    case 'in':
    case 'method': {
      const def = lookupField(e.field.path);
      if (def?.rollup === undefined) return false;
      if (def.type !== 'status') return true;
      // Only whole classes (== 5xx, >= 4xx) survive the rollup's status_class.
      return e.kind === 'compare' && e.value.kind === 'statusClass';
    }
  }
}

/** Field types a breakdown can group by: values, not measures (durations, sizes, times are ranges). */
const GROUPABLE_TYPES = new Set(['string', 'int', 'status', 'ip', 'bool']);

/**
 * The field a breakdown (`groupBy`, `by`) names, or a 400 that says why not: any field of the
 * filter language holding one value an entry (`dns.qname`, `sql.shape`, `operation`), not keyed
 * ones (`request.header["…"]`) nor measures.
 */
export function groupableField(param: string, name: string): FieldDef {
  const keyed = /^([\w.]+)\[.*\]$/.exec(name);
  const def = lookupField(keyed ? `${keyed[1]}[]` : name);
  if (!def) throw new ApiError(400, 'bad_request', `'${param}': no field ${JSON.stringify(name)} (GET /api/v1/protocols lists the fields)`);
  if (typeof def.sql !== 'string') {
    throw new ApiError(400, 'bad_request', `'${param}': ${def.name.replace('[]', '["…"]')} holds many values an entry (attributes by name); group by a field with one value an entry`);
  }
  if (!GROUPABLE_TYPES.has(def.type)) throw new ApiError(400, 'bad_request', `'${param}': ${name} is a ${def.type}, a measure; group by a field with values (operation, target, a protocol's field…)`);
  return def;
}

const rollupField = (path: string): FieldDef | undefined => {
  const def = lookupField(path);
  return def?.rollup === undefined ? undefined : { ...def, sql: def.rollup };
};

const ROLLUPS = [
  { table: 'entries_1h', time: 'hour', floor: 'toStartOfHour', resolutionMs: 3_600_000, minRangeMs: 86_400_000 },
  { table: 'entries_1m', time: 'minute', floor: 'toStartOfMinute', resolutionMs: 60_000, minRangeMs: 600_000 },
];

/**
 * `bucketsOk(ms)`: whether the caller can use buckets of that size (stats need their interval to
 * be a whole number of them). `groupFields`: fields the caller groups by (the rollups keep few).
 */
export function aggregateSource(
  store: Store,
  filter: Expr,
  range: TimeRange,
  bucketsOk: (resolutionMs: number) => boolean = () => true,
  groupFields: readonly FieldDef[] = [],
): AggregateSource {
  const db = store.database;
  const rollup = rollupCanAnswer(filter) && groupFields.every((f) => f.rollup !== undefined && f.type !== 'status')
    ? ROLLUPS.find((r) => range.toMs - range.fromMs >= r.minRangeMs && bucketsOk(r.resolutionMs))
    : undefined;
  if (rollup) {
    const f = compileExpr(filter, rollupField);
    return {
      kind: 'rollup',
      from:
        `FROM ${db}.${rollup.table} WHERE ${rollup.time} >= ${rollup.floor}(fromUnixTimestamp64Milli({fromMs:Int64})) ` +
        `AND ${rollup.time} <= fromUnixTimestamp64Milli({toMs:Int64}) AND (${f.sql})`,
      params: { ...f.params, fromMs: range.fromMs, toMs: range.toMs },
      resolutionMs: rollup.resolutionMs,
      timeMs: `toUnixTimestamp(${rollup.time}) * 1000`,
      srcNamespace: 'src_namespace',
      srcName: 'src_name',
      dstNamespace: 'dst_namespace',
      dstName: 'dst_name',
      protocol: 'protocol',
      statusClass: 'status_class',
      outcome: 'outcome',
      fieldSql: (def) => def.rollup!,
      requests: 'sum(requests)',
      requestsIf: (cond) => `sumIf(requests, ${cond})`,
      errors: 'sum(errors)',
      errors4xx: 'sum(errors_4xx)',
      answered: 'sum(answered)',
      durationSumUs: 'sum(duration_sum_us)',
      quantilesUs: (levels) =>
        latencyQuantilesSql(levels, (l) => `quantilesExactWeightedArray(${l})(duration_h.1, duration_h.2)`, 'sum(answered)'),
    };
  }
  const f = compileExpr(filter);
  const r = rangeSql(range);
  return {
    kind: 'raw',
    from: `FROM ${db}.entries WHERE ${r.sql} AND (${f.sql})`,
    params: { ...f.params, ...r.params },
    resolutionMs: 1,
    timeMs: 'toUnixTimestamp64Milli(start_time)',
    srcNamespace: 'src_namespace',
    srcName: endpointNameSql('src'),
    dstNamespace: 'dst_namespace',
    dstName: endpointNameSql('dst'),
    protocol: 'protocol',
    statusClass: STATUS_CLASS_SQL,
    outcome: 'outcome',
    fieldSql: (def) => def.sql as string,
    requests: 'count()',
    requestsIf: (cond) => `countIf(${cond})`,
    errors: ERRORS_SQL,
    errors4xx: CLIENT_ERRORS_SQL,
    answered: 'countIf(NOT unanswered)',
    durationSumUs: 'sumIf(duration_us, NOT unanswered)',
    quantilesUs: (levels) =>
      latencyQuantilesSql(
        levels,
        (l) => `quantilesExactWeightedIf(${l})(${durationBucketSql('duration_us')}, toUInt64(1), NOT unanswered)`,
        'countIf(NOT unanswered)',
      ),
  };
}
