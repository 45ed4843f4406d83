/**
 * Store settings from command-line options and the environment, shared by the commands that
 * open a store: `--data DIR` (embedded, the default `.tapline/data`) or `--url URL` (a server,
 * with `--user`/`--password`, or TAPLINE_CLICKHOUSE_URL/_USER/_PASSWORD), `--database`.
 */
import { TaplineError } from '../errors.js';
import type { StoreConfig } from './client.js';
import { DEFAULT_DATABASE } from './client.js';

export interface StoreCliOptions {
  data?: string;
  url?: string;
  user?: string;
  password?: string;
  database?: string;
}

export const DEFAULT_DATA_DIR = '.tapline/data';

export class StoreConfigError extends TaplineError {
  override readonly code = 'STORE_CONFIG';
}

export function storeConfigFrom(o: StoreCliOptions, env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const url = o.url ?? (o.data ? undefined : env.TAPLINE_CLICKHOUSE_URL);
  const database = o.database ?? env.TAPLINE_CLICKHOUSE_DATABASE ?? DEFAULT_DATABASE;
  if (o.data && o.url) throw new StoreConfigError('give either --data DIR (embedded store) or --url URL (ClickHouse server), not both');
  if (url) {
    try {
      new URL(url);
    } catch {
      throw new StoreConfigError(`--url: not a URL: ${JSON.stringify(url)} (e.g. http://clickhouse:8123)`);
    }
    return {
      kind: 'server', url, database,
      username: o.user ?? env.TAPLINE_CLICKHOUSE_USER, password: o.password ?? env.TAPLINE_CLICKHOUSE_PASSWORD,
    };
  }
  return { kind: 'embedded', dataDir: o.data ?? DEFAULT_DATA_DIR, database };
}
