/**
 * The SQL expressions the rollup views and the hub's raw-table queries share, so that a rollup and
 * the raw table answer a question alike (see the comment at the top of ./schema.ts for the tables).
 * Each takes the `entries` table's columns as of the current schema (migration 6). The migrations
 * keep their own copies of what they wrote at the time: an old migration's SQL never changes.
 */

/** The name of one side of an entry in rollups: service, else workload, else pod, else IP text. */
export function endpointNameSql(side: 'src' | 'dst'): string {
  return (
    `multiIf(${side}_service != '', ${side}_service, ${side}_workload != '', ${side}_workload, ` +
    `${side}_pod != '', ${side}_pod, ` +
    `replaceRegexpOne(toString(${side}_ip), '^::ffff:([0-9]+\\\\.[0-9]+\\\\.[0-9]+\\\\.[0-9]+)$', '\\\\1'))`
  );
}

/** Which name `endpointNameSql` took, as stored in the rollups' `*_kind` columns. */
export const ENDPOINT_KIND = { unknown: 0, service: 1, workload: 2, pod: 3, ip: 4 } as const;

export function endpointKindSql(side: 'src' | 'dst'): string {
  const k = ENDPOINT_KIND;
  return `toUInt8(multiIf(${side}_service != '', ${k.service}, ${side}_workload != '', ${k.workload}, ${side}_pod != '', ${k.pod}, ${k.ip}))`;
}

/** Latency histogram resolution: bucket b ≥ 1 holds [2^((b−1)/16), 2^(b/16)) µs; bucket 0 holds 0. */
export const LATENCY_BUCKETS_PER_OCTAVE = 16;

/** The histogram bucket of a duration in µs (UInt16). */
export function durationBucketSql(durationUs: string): string {
  return `if(${durationUs} = 0, toUInt16(0), toUInt16(floor(log2(${durationUs}) * ${LATENCY_BUCKETS_PER_OCTAVE})) + 1)`;
}

/**
 * Latency quantiles (µs, Array(Float64)) from bucket numbers and their counts, given as an
 * aggregate over rows: `quantilesExactWeighted…(levels)(…)` yields the bucket of the nearest-rank
 * order statistic, shown as the bucket's geometric middle. NaN where nothing was answered
 * (`answered` counts the answered requests of the group), as the caller skips such points.
 * `levels` must be numbers the caller checked.
 */
export function latencyQuantilesSql(
  levels: readonly number[],
  weighted: (levels: string) => string,
  answered: string,
): string {
  const list = levels.map((q) => String(q)).join(', ');
  const nans = levels.map(() => 'nan').join(', ');
  return (
    `if(${answered} = 0, [${nans}], arrayMap(b -> if(b = 0, 0, exp2((b - 0.5) / ${LATENCY_BUCKETS_PER_OCTAVE})), ` +
    `${weighted(list)}))`
  );
}

/**
 * Status class of an entry (UInt8): 0 = no response, 1..5 = a status of 100..599 by its hundreds
 * (HTTP's 1xx..5xx), 6 = an answered status below 100 (DNS RCODEs, gRPC codes, HTTP's odd 0xx),
 * 7 = 600 and above (MySQL error codes…).
 */
export const STATUS_CLASS_SQL = 'toUInt8(multiIf(unanswered, 0, status < 100, 6, status < 600, intDiv(status, 100), 7))';

/**
 * Over a rollup: a status that compares with whole classes (`== 5xx`, `>= 4xx`) as the raw status
 * does — class 6 as 0 (below every class bound), class 7 as 600 (above them), the rest by hundreds.
 */
export const ROLLUP_STATUS_SQL = 'multiIf(status_class = 6, 0, status_class = 7, 600, status_class * 100)';

/** Failed requests, over raw entries: server errors and no response (for HTTP: 5xx and unanswered). */
export const ERRORS_SQL = 'countIf(outcome IN (0, 3))';

/** Requests refused as the client's fault, over raw entries (for HTTP: 4xx). */
export const CLIENT_ERRORS_SQL = 'countIf(outcome = 2)';
