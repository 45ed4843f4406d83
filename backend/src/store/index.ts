/**
 * The ClickHouse store: open it (embedded chDB or a server), migrate it, write entries, keep it
 * bounded, read entries back.
 *
 *   const store = openStore({ kind: 'embedded', dataDir: '.tapline/data' }); // or storeConfigFrom(cliOptions)
 *   await migrate(store);
 *   const writer = await EntryWriter.create(store, { spoolDir });        // an EntrySink
 *   const retention = new Retention(store, { maxBytes, ttlDays }); await retention.start();
 *   const rows = await (await store.client.query({
 *     query: `SELECT ${ENTRY_SELECT} FROM ${store.database}.entries
 *             WHERE start_time >= now64(6) - INTERVAL 1 HOUR ORDER BY start_time DESC LIMIT 100`,
 *     format: 'JSONEachRow' })).json<EntryRow>();
 *   const entries = rows.map(rowToEntry);
 *   const one = await findEntry(store, id);
 *
 * Table and column names: see the comment at the top of ./schema.ts; the SQL expressions rollups
 * and raw-table queries share (names, kinds, status classes, error counts, latency buckets) are
 * in ./rollup-sql.ts. Bound raw-table queries by time: a query over every hourly partition is
 * slow (bench/RESULTS.md).
 */
export {
  openStore,
  DEFAULT_DATABASE,
  StoreLockedError,
  StoreOpenError,
  StoreInsertError,
  type Store,
  type StoreConfig,
} from './client.js';
export { migrate, appliedVersions, MigrationError, type MigrateOptions } from './migrate.js';
export { renderSchema, DEFAULT_TTL_DAYS, SchemaError, type SchemaOptions } from './schema.js';
export {
  endpointNameSql,
  endpointKindSql,
  ENDPOINT_KIND,
  durationBucketSql,
  latencyQuantilesSql,
  LATENCY_BUCKETS_PER_OCTAVE,
  STATUS_CLASS_SQL,
  ERRORS_SQL,
  CLIENT_ERRORS_SQL,
} from './rollup-sql.js';
export {
  ENTRY_COLUMNS,
  ENTRY_SELECT,
  entryToRow,
  rowToEntry,
  ipFromStore,
  EntryEncodeError,
  type EntryRow,
} from './rows.js';
export { NativeBatch, encodeEntriesNative } from './native.js';
export { EntryWriter, type WriterOptions, type WriterCounters } from './writer.js';
export { Retention, RetentionError, DEFAULT_MAX_BYTES, type RetentionOptions, type SizeEnforcement } from './retention.js';
export { storeConfigFrom, StoreConfigError, DEFAULT_DATA_DIR, type StoreCliOptions } from './config.js';
export { findEntries, findEntry, newestEntriesSql, uuidv7Ms } from './read.js';
