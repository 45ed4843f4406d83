/**
 * The ClickHouse store: open it (embedded chDB or a server), migrate it, write entries, keep it
 * bounded, read entries back.
 *
 *   const store = openStore({ kind: 'embedded', dataDir: '.tapline/data' });
 *   await migrate(store);
 *   const rows = await (await store.client.query({
 *     query: `SELECT ${ENTRY_SELECT} FROM ${store.database}.entries ORDER BY start_time DESC LIMIT 100`,
 *     format: 'JSONEachRow' })).json<EntryRow>();
 *   const entries = rows.map(rowToEntry);
 *
 * Table and column names: see the comment at the top of ./schema.ts.
 */
export {
  openStore,
  DEFAULT_DATABASE,
  StoreLockedError,
  StoreOpenError,
  type Store,
  type StoreConfig,
} from './client.js';
export { migrate, appliedVersions, MigrationError, type MigrateOptions } from './migrate.js';
export {
  renderSchema,
  migrations,
  endpointNameSql,
  STATUS_CLASS_SQL,
  DEFAULT_TTL_DAYS,
  ROLLUP_TTL_DAYS,
  HOURLY_ROLLUP_TTL_DAYS,
  SchemaError,
  type SchemaOptions,
} from './schema.js';
export {
  ENTRY_COLUMNS,
  ENTRY_SELECT,
  TsvBatch,
  encodeEntriesTsv,
  entryToRow,
  rowToEntry,
  ipFromStore,
  EntryEncodeError,
  type EntryRow,
} from './rows.js';
export { EntryWriter, type WriterOptions, type WriterCounters } from './writer.js';
export { Retention, RetentionError, DEFAULT_MAX_BYTES, type RetentionOptions, type SizeEnforcement } from './retention.js';
export { storeConfigFrom, StoreConfigError, DEFAULT_DATA_DIR, type StoreCliOptions } from './config.js';
export { findEntry, uuidv7Ms, ID_WINDOW_BEFORE_MS, ID_WINDOW_AFTER_MS } from './read.js';
