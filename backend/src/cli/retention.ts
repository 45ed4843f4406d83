/**
 * Retention options of `tapline up` and `tapline hub`: how much traffic the store keeps, by size
 * and by age (like `kubeshark tap`'s "up to 200MB"), from flags or TAPLINE_RETENTION_* (Helm sets those).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Logger } from '../log.js';
import { DEFAULT_MAX_BYTES, DEFAULT_TTL_DAYS, Retention, type Store } from '../store/index.js';

export interface RetentionCliOptions {
  retentionMaxSize: number;
  retentionDays: number;
}

const UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30, ti: 2 ** 40 };

/** "200MB" (decimal, as kubeshark counts), "1GiB" (binary), "500M", "1048576" (bytes). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?$/i.exec(text.trim());
  const bytes = m ? Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]) : NaN;
  if (!(bytes > 0)) throw new InvalidArgumentError(`expected a size above zero like 200MB or 1GiB, got ${JSON.stringify(text)}`);
  return bytes;
}

/** The size as a person writes it: "200 MB", "1 GiB", "1.5 GB". */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n} ${unit}`;
  }
  for (const [unit, n] of [['TB', 1e12], ['GB', 1e9], ['MB', 1e6], ['kB', 1e3]] as const) {
    if (bytes >= n) return `${Number((bytes / n).toFixed(1))} ${unit}`;
  }
  return `${bytes} bytes`;
}

function wholeDays(text: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || n < 1) throw new InvalidArgumentError(`expected a whole number of days, at least 1, got ${JSON.stringify(text)}`);
  return n;
}

export function addRetentionOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--retention-max-size <size>', 'keep at most this much traffic on disk; the oldest is cleared first (e.g. 200MB, 1GiB)')
        .env('TAPLINE_RETENTION_MAX_SIZE')
        .argParser(parseSize)
        .default(DEFAULT_MAX_BYTES, formatSize(DEFAULT_MAX_BYTES)),
    )
    .addOption(
      new Option('--retention-days <days>', 'keep traffic at most this many days')
        .env('TAPLINE_RETENTION_DAYS')
        .argParser(wholeDays)
        .default(DEFAULT_TTL_DAYS),
    );
}

/** The line `tapline up` prints at start, as `kubeshark tap` does. */
export function describeRetention(o: RetentionCliOptions): string {
  const days = o.retentionDays === 1 ? '1 day' : `${o.retentionDays} days`;
  return `Keeping up to ${formatSize(o.retentionMaxSize)} of traffic for up to ${days}; the oldest is cleared once the limit is reached.`;
}

/**
 * Starts enforcing the limits. A store that refuses (e.g. a read-only user on a server) only gets a
 * warning: serving goes on, whoever owns the schema keeps it bounded then.
 */
export async function startRetention(store: Store, o: RetentionCliOptions, logger: Logger): Promise<Retention> {
  const retention = new Retention(store, { maxBytes: o.retentionMaxSize, ttlDays: o.retentionDays, logger });
  try {
    await retention.start();
  } catch (err) {
    logger.warn({ err }, `retention: cannot apply the limits to the store (${(err as Error).message}); the data is not trimmed by this process`);
  }
  return retention;
}
