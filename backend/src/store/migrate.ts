/**
 * Applies the schema's migrations that a store has not seen yet, in version order, and records
 * each one in `schema_migrations`. Safe to run at every start and from several processes at once
 * (statements are IF NOT EXISTS; a version recorded twice is read once).
 */
import { TaplineError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from './client.js';
import { migrations, migrationsTableSql, type SchemaOptions } from './schema.js';

export interface MigrateOptions {
  /** Cluster name: render the schema ON CLUSTER with Replicated + Distributed tables. */
  cluster?: string;
  /** Apply versions up to this one only (default: all); for upgrade tests. */
  to?: number;
  logger?: Logger;
}

export class MigrationError extends TaplineError {
  override readonly code = 'STORE_MIGRATION';
}

/** Returns the versions applied by this call (empty when the store was up to date). */
export async function migrate(store: Store, options: MigrateOptions = {}): Promise<number[]> {
  const schema: SchemaOptions = { database: store.database, cluster: options.cluster };
  for (const sql of migrationsTableSql(schema)) await store.client.command({ query: sql });
  const done = new Set(await appliedVersions(store));
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version) || (options.to !== undefined && m.version > options.to)) continue;
    try {
      for (const sql of m.statements(schema)) await store.client.command({ query: sql });
      if (m.rebuildRollups) {
        const fromSec = await rebuildStart(store);
        if (fromSec !== undefined) {
          for (const sql of m.rebuildRollups(schema, fromSec)) {
            await store.client.command({ query: sql, clickhouse_settings: { mutations_sync: '2' } });
          }
          options.logger?.info({ version: m.version, from: new Date(fromSec * 1000).toISOString() }, 'rollups rebuilt from the raw entries');
        }
      }
    } catch (err) {
      throw new MigrationError(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    await store.client.insert({
      table: `${store.database}.schema_migrations`,
      values: [{ version: m.version, name: m.name }],
      format: 'JSONEachRow',
    });
    options.logger?.info({ version: m.version, name: m.name }, 'store migration applied');
    applied.push(m.version);
  }
  return applied;
}

/**
 * The first hour (epoch seconds) the raw table holds whole: the hour of its oldest entry, unless
 * the hourly rollup counted more requests in that hour than the table still holds (retention took
 * part of it), then the next one. Undefined when the table is empty.
 */
async function rebuildStart(store: Store): Promise<number | undefined> {
  const db = store.database;
  const rows = async (query: string) => (await store.client.query({ query, format: 'JSONEachRow' })).json<Record<string, number | string>>();
  const [oldest] = await rows(`SELECT toUnixTimestamp(toStartOfHour(min(start_time))) AS h0, count() AS n FROM ${db}.entries`);
  if (Number(oldest.n) === 0) return undefined;
  const h0 = Number(oldest.h0);
  const [{ raw, rolled }] = await rows(
    `SELECT (SELECT count() FROM ${db}.entries WHERE toStartOfHour(start_time) = toDateTime(${h0}, 'UTC')) AS raw, ` +
      `(SELECT sum(requests) FROM ${db}.entries_1h WHERE hour = toDateTime(${h0}, 'UTC')) AS rolled`,
  );
  return h0 + (Number(rolled) > Number(raw) ? 3600 : 0);
}

/** Versions recorded in `schema_migrations`, ascending. */
export async function appliedVersions(store: Store): Promise<number[]> {
  const rs = await store.client.query({
    query: `SELECT DISTINCT version FROM ${store.database}.schema_migrations ORDER BY version`,
    format: 'JSONEachRow',
  });
  return (await rs.json<{ version: number | string }>()).map((r) => Number(r.version));
}
