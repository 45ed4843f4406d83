/**
 * Keeps the entries table bounded, by time and by size (like Kubeshark's "up to 200MB; old traffic
 * is cleared once the limit is reached").
 *
 * - Time: the table's TTL (`start_time + N days`, whole parts dropped). `applyTtl()` changes it
 *   when the configured days differ from the table's.
 * - Size: `enforceSize()` sums the active parts' bytes on disk (compressed data, marks and
 *   indexes) and, while over the limit, drops the oldest hourly partition; within the newest
 *   partition it drops the oldest parts but never the newest one. `start()` runs it periodically.
 *   Rollups are not touched (they have their own TTL), so stats outlive the raw entries.
 */
import { TaplineError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from './client.js';
import { DEFAULT_TTL_DAYS, dataTable } from './schema.js';

export interface RetentionOptions {
  /** Size limit of the entries table on disk (bytes, default 200 MB). */
  maxBytes?: number;
  /** Time limit (days, default 7). */
  ttlDays?: number;
  /** How often the size limit is enforced (ms, default 60 s). */
  intervalMs?: number;
  /** Cluster name when the schema was rendered ON CLUSTER (acts on each node's local table). */
  cluster?: string;
  logger?: Logger;
}

export const DEFAULT_MAX_BYTES = 200 * 1000 * 1000;

export interface SizeEnforcement {
  bytesBefore: number;
  bytesAfter: number;
  droppedPartitions: string[];
  droppedParts: string[];
}

interface Part {
  partition: string;
  partition_id: string;
  name: string;
  bytes: number;
  rows: number;
}

/** Partition ids and part names come from system.parts; check them before inlining anyway. */
function safeName(name: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new RetentionError(`unexpected partition or part name ${JSON.stringify(name)}`);
  return name;
}

export class RetentionError extends TaplineError {
  override readonly code = 'STORE_RETENTION';
}

export class Retention {
  readonly maxBytes: number;
  readonly ttlDays: number;
  private readonly intervalMs: number;
  private readonly table: string;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: RetentionOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.ttlDays = options.ttlDays ?? DEFAULT_TTL_DAYS;
    this.intervalMs = options.intervalMs ?? 60_000;
    if (!(this.maxBytes > 0) || !Number.isInteger(this.ttlDays) || this.ttlDays < 1) {
      throw new RetentionError(`retention needs maxBytes > 0 and whole ttlDays >= 1 (got ${this.maxBytes}, ${this.ttlDays})`);
    }
    this.table = dataTable({ database: store.database, cluster: options.cluster }, 'entries');
  }

  private get onCluster(): string {
    return this.options.cluster ? ` ON CLUSTER ${this.options.cluster}` : '';
  }

  /** Sets the table's TTL to `ttlDays` when it differs. Returns true when it changed it. */
  async applyTtl(): Promise<boolean> {
    const rs = await this.store.client.query({
      query: 'SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}',
      query_params: { db: this.store.database, t: this.table },
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ engine_full: string }>();
    if (!row) throw new RetentionError(`table ${this.store.database}.${this.table} does not exist: run migrate first`);
    const current = /TTL toDateTime\(start_time\) \+ toIntervalDay\((\d+)\)/.exec(row.engine_full)?.[1];
    if (current !== undefined && Number(current) === this.ttlDays) return false;
    await this.store.client.command({
      query: `ALTER TABLE ${this.store.database}.${this.table}${this.onCluster} MODIFY TTL toDateTime(start_time) + INTERVAL ${this.ttlDays} DAY`,
    });
    this.options.logger?.info({ ttlDays: this.ttlDays, was: current }, `retention: entries now expire after ${this.ttlDays} days`);
    return true;
  }

  /** Bytes on disk of the entries table's active parts. */
  async size(): Promise<number> {
    return (await this.parts()).reduce((n, p) => n + p.bytes, 0);
  }

  private async parts(): Promise<Part[]> {
    const from = this.options.cluster ? `clusterAllReplicas(${this.options.cluster}, system.parts)` : 'system.parts';
    const rs = await this.store.client.query({
      query: `SELECT partition, partition_id, name, toUInt64(bytes_on_disk) AS bytes, toUInt64(rows) AS rows FROM ${from}
              WHERE database = {db:String} AND table = {t:String} AND active
              ORDER BY partition, max_block_number`,
      query_params: { db: this.store.database, t: this.table },
      format: 'JSONEachRow',
    });
    return (await rs.json<Part>()).map((p) => ({ ...p, bytes: Number(p.bytes), rows: Number(p.rows) }));
  }

  /** Drops the oldest data until the table is within `maxBytes` (see the module comment). */
  async enforceSize(): Promise<SizeEnforcement> {
    const parts = await this.parts();
    const bytesBefore = parts.reduce((n, p) => n + p.bytes, 0);
    let bytes = bytesBefore;
    const result: SizeEnforcement = { bytesBefore, bytesAfter: bytes, droppedPartitions: [], droppedParts: [] };
    if (bytes <= this.maxBytes) return result;
    const partitions = [...new Set(parts.map((p) => p.partition))]; // oldest first
    let rows = 0;
    for (const partition of partitions.slice(0, -1)) {
      if (bytes <= this.maxBytes) break;
      const inIt = parts.filter((p) => p.partition === partition);
      await this.store.client.command({
        query: `ALTER TABLE ${this.store.database}.${this.table}${this.onCluster} DROP PARTITION ID '${safeName(inIt[0].partition_id)}'`,
      });
      for (const p of inIt) {
        bytes -= p.bytes;
        rows += p.rows;
      }
      result.droppedPartitions.push(partition);
    }
    const newest = parts.filter((p) => p.partition === partitions[partitions.length - 1]);
    for (const part of newest.slice(0, -1)) {
      if (bytes <= this.maxBytes) break;
      await this.store.client.command({
        query: `ALTER TABLE ${this.store.database}.${this.table}${this.onCluster} DROP PART '${safeName(part.name)}'`,
      });
      bytes -= part.bytes;
      rows += part.rows;
      result.droppedParts.push(part.name);
    }
    result.bytesAfter = bytes;
    const log = this.options.logger;
    if (result.droppedPartitions.length + result.droppedParts.length > 0) {
      log?.info({ ...result, rows, limit: this.maxBytes },
        `retention: the entries table was ${bytesBefore} bytes (limit ${this.maxBytes}); dropped the oldest ${rows} entries ` +
          `(${result.droppedPartitions.length} hourly partitions, ${result.droppedParts.length} parts)`);
    }
    if (bytes > this.maxBytes) {
      log?.warn({ bytes, limit: this.maxBytes },
        'retention: the newest part alone is over the size limit; it stays until newer data replaces it');
    }
    return result;
  }

  /** Applies the TTL, then enforces the size now and every `intervalMs`. Errors are logged. */
  async start(): Promise<void> {
    await this.applyTtl();
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = this.enforceSize()
      .catch((err: unknown) => this.options.logger?.error({ err }, 'retention: enforcing the size limit failed'))
      .finally(() => {
        this.running = undefined;
      });
    await this.running;
  }
}
