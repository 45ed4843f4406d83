/** Values seen for a label (Grafana variables) and for a filter field (completions). */
import type { Store } from '../store/index.js';
import { ApiError } from './errors.js';
import { rangeSql, type TimeRange } from './params.js';
import { queryRows, type QueryLimits } from './run.js';

export const LABELS = ['namespace', 'service', 'pod', 'protocol', 'method', 'status'] as const;
export type LabelName = (typeof LABELS)[number];
export const MAX_VALUES = 1000;

/** Columns each label reads (both sides of a connection where there are two). */
const LABEL_COLUMNS: Record<LabelName, string[]> = {
  namespace: ['src_namespace', 'dst_namespace'],
  service: ['src_service', 'dst_service'],
  pod: ['src_pod', 'dst_pod'],
  protocol: ['protocol'],
  method: ['method'],
  status: ['toString(status)'],
};

/** Filter fields whose values completions can offer, and the column each reads. */
export const FIELD_VALUE_COLUMNS: Record<string, string> = {
  protocol: 'protocol',
  agent: 'agent',
  'request.method': 'method',
  'request.host': 'host',
  'response.status': 'toString(status)',
  ...Object.fromEntries(
    (['src', 'dst'] as const).flatMap((side) =>
      ['pod', 'namespace', 'service', 'workload', 'node'].map((n) => [`${side}.${n}`, `${side}_${n}`]),
    ),
  ),
};

export async function distinctValues(store: Store, limits: QueryLimits, columns: string[], range: TimeRange, max = MAX_VALUES): Promise<string[]> {
  const r = rangeSql(range);
  const union = columns.map((c) => `SELECT ${c} AS v FROM ${store.database}.entries WHERE ${r.sql}`).join(' UNION ALL ');
  const rows = await queryRows<{ v: string }>(
    store,
    limits,
    `SELECT DISTINCT v FROM (${union}) WHERE v != '' AND v != '0' ORDER BY v LIMIT ${max}`,
    r.params,
  );
  return rows.map((row) => row.v);
}

export function labelColumns(name: string): string[] {
  if (!(LABELS as readonly string[]).includes(name)) {
    throw new ApiError(404, 'not_found', `no label ${JSON.stringify(name)}; labels: ${LABELS.join(', ')}`);
  }
  return LABEL_COLUMNS[name as LabelName];
}
