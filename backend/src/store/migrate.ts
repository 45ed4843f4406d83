/**
 * Applies the schema's migrations that a store has not seen yet, in version order, and records
 * each one in `schema_migrations`. Safe to run at every start and from several processes at once
 * (statements are IF NOT EXISTS; a version recorded twice is read once).
 */
import type { Logger } from '../log.js';
import type { Store } from './client.js';
import { migrations, migrationsTableSql, type SchemaOptions } from './schema.js';

export interface MigrateOptions {
  /** Cluster name: render the schema ON CLUSTER with Replicated + Distributed tables. */
  cluster?: string;
  logger?: Logger;
}

export class MigrationError extends Error {
  readonly code = 'MIGRATION';
}

/** Returns the versions applied by this call (empty when the store was up to date). */
export async function migrate(store: Store, options: MigrateOptions = {}): Promise<number[]> {
  const schema: SchemaOptions = { database: store.database, cluster: options.cluster };
  for (const sql of migrationsTableSql(schema)) await store.client.command({ query: sql });
  const done = new Set(await appliedVersions(store));
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    try {
      for (const sql of m.statements(schema)) await store.client.command({ query: sql });
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

/** Versions recorded in `schema_migrations`, ascending. */
export async function appliedVersions(store: Store): Promise<number[]> {
  const rs = await store.client.query({
    query: `SELECT DISTINCT version FROM ${store.database}.schema_migrations ORDER BY version`,
    format: 'JSONEachRow',
  });
  return (await rs.json<{ version: number | string }>()).map((r) => Number(r.version));
}
