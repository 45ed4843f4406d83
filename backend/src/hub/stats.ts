/**
 * Time series: requests, errors or latency quantiles per bucket, grouped by status class, outcome,
 * protocol, service, or any field with one value an entry (`dns.rcode`, `sql.shape`, `target`).
 */
import { OUTCOME_NAMES } from '../entries/entry.js';
import type { Expr } from '../query/ast.js';
import type { Store } from '../store/index.js';
import type { FieldDef } from '../query/fields.js';
import { aggregateSource, groupableField } from './aggregate.js';
import { ApiError } from './errors.js';
import type { TimeRange } from './params.js';
import { queryRows, type QueryLimits } from './run.js';
import type { StatsJson } from './shapes.js';

const BUILTIN_GROUPS = ['statusClass', 'outcome', 'protocol', 'service', 'none'] as const;
/** A built-in grouping, or a field name. */
export type GroupBy = (typeof BUILTIN_GROUPS)[number] | (string & {});
export type Metric = 'requests' | 'errors' | 'latency';

export const MAX_POINTS = 11_000;
export const MAX_SERIES = 200;
/** The series a `top` keeps beside the rest, summed as `other`. */
export const MAX_TOP = 50;
export const OTHER_SERIES = 'other';
/** A field group's series for entries without a value. */
export const EMPTY_SERIES = '(none)';
/** Bucket sizes the default interval picks from (ms): about 300 points over the range. */
const NICE_INTERVALS = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400].map((s) => s * 1000);

export function defaultInterval(range: TimeRange): number {
  const target = (range.toMs - range.fromMs) / 300;
  return NICE_INTERVALS.find((i) => i >= target) ?? NICE_INTERVALS.at(-1)!;
}

export function parseQuantiles(q: string | undefined): number[] {
  if (q === undefined || q === '') return [0.5, 0.95, 0.99];
  const levels = q.split(',').map((s) => Number(s.trim()));
  if (levels.length > 5 || levels.some((l) => !Number.isFinite(l) || l <= 0 || l >= 1)) {
    throw new ApiError(400, 'bad_request', `'q' must be up to 5 comma-separated numbers between 0 and 1, not ${JSON.stringify(q)}`);
  }
  return levels;
}

/** Status classes by number (store/rollup-sql.ts STATUS_CLASS_SQL). */
const CLASS_NAMES = ['no response', '1xx', '2xx', '3xx', '4xx', '5xx', 'below 100', '600 and above'];

export async function stats(
  store: Store,
  limits: QueryLimits,
  filter: Expr,
  range: TimeRange,
  opts: { intervalMs?: number; groupBy: GroupBy; metric: Metric; quantiles: number[]; top?: number },
): Promise<StatsJson> {
  const intervalMs = opts.intervalMs ?? defaultInterval(range);
  const points = Math.floor(range.toMs / intervalMs) - Math.floor(range.fromMs / intervalMs) + 1;
  if (points > MAX_POINTS) {
    throw new ApiError(400, 'too_large', `an interval of ${intervalMs} ms gives ${points} points over this range; the limit is ${MAX_POINTS}`);
  }
  const field: FieldDef | undefined = (BUILTIN_GROUPS as readonly string[]).includes(opts.groupBy) ? undefined : groupableField('groupBy', opts.groupBy);
  // Rollups only know whole minutes or hours: finer buckets read the raw table.
  const src = aggregateSource(store, filter, range, (resolutionMs) => intervalMs % resolutionMs === 0, field ? [field] : []);
  const group = field
    ? `toString(${src.fieldSql(field)})`
    : {
        statusClass: src.statusClass,
        outcome: src.outcome,
        protocol: src.protocol,
        service: `if(${src.dstNamespace} = '', ${src.dstName}, concat(${src.dstNamespace}, '/', ${src.dstName}))`,
        none: "''",
      }[opts.groupBy as (typeof BUILTIN_GROUPS)[number]];
  const value =
    opts.metric === 'latency' ? src.quantilesUs(opts.quantiles) : opts.metric === 'errors' ? src.errors : src.requests;
  const rows = await queryRows<{ t: number | string; g: string | number; v: number | string | number[] }>(
    store,
    limits,
    `SELECT intDiv(${src.timeMs}, {ivMs:UInt64}) * {ivMs:UInt64} AS t, ${group} AS g, ${value} AS v ` +
      `${src.from} GROUP BY t, g ORDER BY t`,
    { ...src.params, ivMs: intervalMs },
  );

  const keep = opts.top === undefined || opts.groupBy === 'none' ? undefined : topGroups(rows, opts.top, opts.metric === 'latency');
  const label = (g: string | number): string =>
    field
      ? String(g) === '' ? EMPTY_SERIES : String(g)
      : opts.groupBy === 'statusClass'
        ? CLASS_NAMES[Number(g)] ?? String(g)
        : opts.groupBy === 'outcome'
          ? OUTCOME_NAMES[Number(g)] ?? String(g)
          : opts.groupBy === 'none'
            ? opts.metric
            : String(g);
  const seriesName = (g: string | number): string => (keep && !keep.has(String(g)) ? OTHER_SERIES : label(g));
  const byName = new Map<string, Map<number, number>>();
  const put = (name: string, t: number, v: number) => {
    let s = byName.get(name);
    if (!s) byName.set(name, (s = new Map()));
    s.set(t, v);
  };
  for (const row of rows) {
    const t = Number(row.t);
    // Quantiles of the rest cannot be merged from theirs: `other` has counts only.
    if (keep && !keep.has(String(row.g)) && opts.metric === 'latency') continue;
    if (opts.metric === 'latency') {
      const qs = row.v as number[];
      opts.quantiles.forEach((q, i) => {
        // No answered request in the bucket: no latency point (NaN from the quantile function).
        if (Number.isFinite(qs[i])) put(`${opts.groupBy === 'none' ? '' : seriesName(row.g) + ' '}p${+(q * 100).toFixed(3)}`, t, Number((qs[i] / 1000).toFixed(3)));
      });
    } else {
      const name = seriesName(row.g);
      put(name, t, (byName.get(name)?.get(t) ?? 0) + Number(row.v));
    }
  }
  if (byName.size > MAX_SERIES) {
    throw new ApiError(400, 'too_large', `${byName.size} series; the limit is ${MAX_SERIES} (narrow the filter or group differently)`);
  }
  const first = Math.floor(range.fromMs / intervalMs) * intervalMs;
  const series = [...byName.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, values]) => {
      // Counts are zero where nothing happened; latency has no point there.
      const pts: Array<[number, number]> = [];
      if (opts.metric === 'latency') for (const [t, v] of [...values.entries()].sort((a, b) => a[0] - b[0])) pts.push([t, v]);
      else for (let t = first; t <= range.toMs; t += intervalMs) pts.push([t, values.get(t) ?? 0]);
      return { name, points: pts };
    });
  return { intervalMs, series };
}

/** The `top` groups by total count over the range (latency: by how many buckets have a point). */
function topGroups(rows: ReadonlyArray<{ g: string | number; v: unknown }>, top: number, latency: boolean): Set<string> {
  const totals = new Map<string, number>();
  for (const r of rows) totals.set(String(r.g), (totals.get(String(r.g)) ?? 0) + (latency ? 1 : Number(r.v)));
  return new Set([...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top).map(([g]) => g));
}
