/** Runs the hub's read queries with its limits (time per query), as JSON rows. */
import type { Store } from '../store/index.js';

export interface QueryLimits {
  /** Longest a query may run (ms); ClickHouse stops it with TIMEOUT_EXCEEDED. */
  queryTimeoutMs: number;
}

/**
 * Identical queries in flight, per store: they share one run. Dashboards ask the same question
 * from several panels and viewers at once, and the embedded engine runs one query at a time, so
 * each copy would otherwise wait for all the others. Callers get the same rows: never mutate them.
 */
const running = new WeakMap<Store, Map<string, Promise<unknown[]>>>();

export function queryRows<T>(
  store: Store,
  limits: QueryLimits,
  query: string,
  params: Record<string, unknown> = {},
): Promise<T[]> {
  let byKey = running.get(store);
  if (!byKey) running.set(store, (byKey = new Map()));
  const key = `${limits.queryTimeoutMs}\0${query}\0${JSON.stringify(params)}`;
  const shared = byKey.get(key);
  if (shared) return shared as Promise<T[]>;
  const run = runQuery<T>(store, limits, query, params).finally(() => byKey.delete(key));
  byKey.set(key, run);
  return run;
}

async function runQuery<T>(store: Store, limits: QueryLimits, query: string, params: Record<string, unknown>): Promise<T[]> {
  const rs = await store.client.query({
    query,
    query_params: params,
    format: 'JSONEachRow',
    clickhouse_settings: {
      max_execution_time: Math.max(1, Math.ceil(limits.queryTimeoutMs / 1000)),
      // Select lists alias computed columns with column names (toString(src_ip) AS src_ip): the
      // filter in WHERE must still see the columns, not the aliases.
      prefer_column_name_to_alias: 1,
    },
  });
  return rs.json<T>();
}
