/**
 * Store clients behind one interface, both `@clickhouse/client`: embedded (chDB in this process,
 * a data directory) or server (HTTP). Everything above this module (schema, writer, hub) only
 * sees `Store`.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFile } from 'node:fs';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Connection } from '@clickhouse/client/dist/common/connection.js';
import { createChdbConnection } from 'chdb/connection';
import { TaplineError } from '../errors.js';

type NodeConnection = Connection<Readable>;

export type StoreConfig =
  | {
      kind: 'embedded';
      /** Data directory (created when missing). One process at a time may open it. */
      dataDir: string;
      /** Database name, default 'tapline'. */
      database?: string;
    }
  | {
      kind: 'server';
      /** e.g. http://clickhouse:8123 */
      url: string;
      username?: string;
      password?: string;
      /** Database name, default 'tapline'. */
      database?: string;
      /** Per-request timeout (ms), default 30000. */
      requestTimeoutMs?: number;
    };

export interface Store {
  readonly kind: 'embedded' | 'server';
  /** The @clickhouse/client client (also for chDB). Qualify tables with `database`. */
  readonly client: ClickHouseClient;
  readonly database: string;
  /**
   * Inserts one block in ClickHouse's Native format (as store/native.ts encodes it) into `table`
   * (unqualified); `columns` are the block's columns, in order. `dedupToken` makes a retried
   * insert of the same batch a no-op (ClickHouse insert deduplication), so a retry after a lost
   * answer duplicates nothing.
   */
  insertNative(table: string, columns: readonly string[], block: Buffer, dedupToken?: string): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_DATABASE = 'tapline';

/** A second process opened an embedded data directory that another process holds. */
export class StoreLockedError extends TaplineError {
  override readonly code = 'STORE_LOCKED';
  constructor(
    readonly dataDir: string,
    readonly pid: number | undefined,
  ) {
    super(
      `the data directory ${dataDir} is in use by another process` +
        `${pid !== undefined ? ` (pid ${pid})` : ''}; stop it or use another --data directory`,
    );
  }
}

/** The store could not be opened (bad directory, unreachable server, …). */
export class StoreOpenError extends TaplineError {
  override readonly code = 'STORE_OPEN';
}

/** An insert named a table or column that is not a plain identifier. */
export class StoreInsertError extends TaplineError {
  override readonly code = 'STORE_INSERT';
}

/** PID recorded in a ClickHouse data directory's `status` file (present while it is open). */
function lockHolderPid(dataDir: string): number | undefined {
  const status = join(dataDir, 'status');
  if (!existsSync(status)) return undefined;
  const m = /PID:\s*(\d+)/.exec(readFileSync(status, 'utf8'));
  return m ? Number(m[1]) : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `INSERT INTO db.table (columns)`, names checked (they are inlined into SQL). */
function insertInto(database: string, table: string, columns: readonly string[]): string {
  for (const name of [table, ...columns]) {
    if (!IDENTIFIER.test(name)) throw new StoreInsertError(`insert: invalid table or column name ${JSON.stringify(name)}`);
  }
  return `INSERT INTO ${database}.${table} (${columns.join(', ')})`;
}

/** A ClickHouse string literal. */
function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * A new directory for this store's insert blocks, under `<dataDir>/tapline-inserts/`, named after
 * this process. Only one process opens a data directory, so other processes' directories are left
 * by a crash: removed.
 */
function stagingDir(dataDir: string): string {
  const root = join(dataDir, 'tapline-inserts');
  mkdirSync(root, { recursive: true });
  for (const name of readdirSync(root)) {
    if (!name.startsWith(`${process.pid}-`)) rmSync(join(root, name), { recursive: true, force: true });
  }
  return mkdtempSync(join(root, `${process.pid}-`));
}

/**
 * Writes a file in one write call. fs/promises' writeFile goes in 512 KiB chunks, each waiting for
 * a turn of the event loop: while a producer kept the loop busy, staging a 33 MB block took 1–2 s
 * and the engine sat idle (bench/RESULTS.md, "Store: ingest").
 */
const writeWhole = promisify(writeFile);

function openEmbedded(dataDir: string, database: string): Store {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  let connection: ReturnType<typeof createChdbConnection>;
  try {
    connection = createChdbConnection({ path: dir });
  } catch (err) {
    // chDB prints "Cannot lock file …/status" to stderr and throws a generic connection error.
    const pid = lockHolderPid(dir);
    if (pid !== undefined && pid !== process.pid && isAlive(pid)) throw new StoreLockedError(dir, pid);
    throw new StoreOpenError(`cannot open the embedded store in ${dir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  // chdb types its connection against @clickhouse/client-common 1.23.0, the client bundles 1.23.1's
  // copy of the same interface: identical at run time, distinct nominal types for tsc.
  const client = createClient({ connection: connection as unknown as NodeConnection });
  // chDB takes SQL text only, so a binary block reaches it as a file the engine reads itself
  // (FROM INFILE: the same Native input path a server's HTTP insert takes).
  const insertDir = stagingDir(dir);
  let insertSeq = 0;
  return {
    kind: 'embedded',
    client,
    database,
    async insertNative(table, columns, block, dedupToken) {
      const sql = insertInto(database, table, columns);
      const file = join(insertDir, `${insertSeq++}.native`);
      await writeWhole(file, block);
      try {
        // Settings inline: a SET would stay on chDB's one session and apply to later inserts.
        const settings = dedupToken ? ` SETTINGS insert_deduplication_token = ${sqlString(dedupToken)}` : '';
        await client.command({ query: `${sql} FROM INFILE ${sqlString(file)}${settings} FORMAT Native` });
      } finally {
        await rm(file, { force: true });
      }
    },
    async close() {
      await client.close();
      rmSync(insertDir, { recursive: true, force: true });
    },
  };
}

function openServer(config: Extract<StoreConfig, { kind: 'server' }>, database: string): Store {
  const client = createClient({
    url: config.url,
    username: config.username ?? 'default',
    password: config.password ?? '',
    request_timeout: config.requestTimeoutMs ?? 30_000,
    // Failures reach the caller as errors (the writer and the hub log them with context).
    log: { level: ClickHouseLogLevel.OFF },
  });
  return {
    kind: 'server',
    client,
    database,
    async insertNative(table, columns, block, dedupToken) {
      // client.insert() has no binary formats; exec() sends the block as the request body.
      const { stream } = await client.exec({
        query: `${insertInto(database, table, columns)} FORMAT Native`,
        values: Readable.from([block], { objectMode: false }),
        ...(dedupToken ? { clickhouse_settings: { insert_deduplication_token: dedupToken } } : {}),
      });
      await finished(stream.resume());
    },
    close: () => client.close(),
  };
}

/**
 * Opens the store. Does not create the database or tables: run `migrate(store)` next.
 * Throws StoreLockedError when another process holds the embedded directory.
 */
export function openStore(config: StoreConfig): Store {
  const database = config.database ?? DEFAULT_DATABASE;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) {
    throw new StoreOpenError(`invalid database name ${JSON.stringify(database)}`);
  }
  return config.kind === 'embedded' ? openEmbedded(config.dataDir, database) : openServer(config, database);
}
