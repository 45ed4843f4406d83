/** Runs the hub's read queries with its limits (time per query), as JSON rows. */
import type { Store } from '../store/index.js';

export interface QueryLimits {
  /** Longest a query may run (ms); ClickHouse stops it with TIMEOUT_EXCEEDED. */
  queryTimeoutMs: number;
}

export async function queryRows<T>(
  store: Store,
  limits: QueryLimits,
  query: string,
  params: Record<string, unknown> = {},
): Promise<T[]> {
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
