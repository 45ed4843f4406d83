/** Values seen for a label (Grafana variables) and for a filter field (completions). */
import { lookupField } from '../query/fields.js';
import type { Store } from '../store/index.js';
import { ApiError } from './errors.js';
import { rangeSql, type TimeRange } from './params.js';
import { queryRows, type QueryLimits } from './run.js';

export const LABELS = ['namespace', 'service', 'pod', 'protocol', 'operation', 'method', 'status', 'outcome'] as const;
export type LabelName = (typeof LABELS)[number];
export const MAX_VALUES = 1000;

/** The field a label reads; `namespace`, `service` and `pod` read both sides of a connection. */
const LABEL_FIELDS: Record<LabelName, string[]> = {
  namespace: ['src.namespace', 'dst.namespace'],
  service: ['src.service', 'dst.service'],
  pod: ['src.pod', 'dst.pod'],
  protocol: ['protocol'],
  operation: ['operation'],
  // The name Grafana variables had before operations were protocol-neutral.
  method: ['operation'],
  status: ['response.status'],
  outcome: ['outcome'],
};

/** The SQL whose values completions offer for a filter field (its `values`), if it has one. */
export function fieldValuesSql(field: string): string | undefined {
  return lookupField(field)?.values;
}

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
  return LABEL_FIELDS[name as LabelName].map((f) => lookupField(f)!.values!);
}
