/**
 * `tapline seed --rows N`: fills a store with synthetic entries (entries/synthetic.ts) through the
 * real writer, e.g. for a demo, a dashboard check or a benchmark.
 */
import { Command, InvalidArgumentError } from 'commander';
import { COMMAND_DESCRIPTIONS } from './command-list.js';
import cliProgress from 'cli-progress';
import { SYNTHETIC_PROTOCOLS, syntheticEntries, type SyntheticProtocol } from '../entries/synthetic.js';
import { createLogger } from '../log.js';
import { EntryWriter, migrate, openStore, storeConfigFrom, DEFAULT_DATA_DIR, DEFAULT_TTL_DAYS, type StoreCliOptions } from '../store/index.js';

const UNITS: Record<string, number> = { s: 1e6, m: 60e6, h: 3600e6, d: 86400e6 };

/** "90s", "30m", "24h", "7d" -> microseconds. */
export function parseSpan(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text.trim());
  if (!m || Number(m[1]) <= 0) throw new InvalidArgumentError(`expected a duration like 30m, 24h or 7d, got ${JSON.stringify(text)}`);
  return Number(m[1]) * UNITS[m[2]];
}

function positiveInt(text: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive whole number, got ${JSON.stringify(text)}`);
  return n;
}

function protocolList(text: string): SyntheticProtocol[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(SYNTHETIC_PROTOCOLS as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`expected some of ${SYNTHETIC_PROTOCOLS.join(', ')} (comma-separated), got ${JSON.stringify(text)}`);
  }
  return names as SyntheticProtocol[];
}

interface SeedOptions extends StoreCliOptions {
  rows: number;
  protocols?: SyntheticProtocol[];
  span: number;
  seed: number;
  batch?: number;
  progress: boolean;
}

export async function seed(o: SeedOptions): Promise<{ rows: number; seconds: number }> {
  if (o.span > DEFAULT_TTL_DAYS * UNITS.d) {
    throw new InvalidArgumentError(`--span reaches past the store's ${DEFAULT_TTL_DAYS}-day retention: entries that old are not kept`);
  }
  const log = createLogger('seed');
  const store = openStore(storeConfigFrom(o));
  try {
    await migrate(store, { logger: log });
    const writer = await EntryWriter.create(store, { batchSize: o.batch, logger: log });
    const bar = o.progress ? new cliProgress.SingleBar({ format: 'seeding [{bar}] {percentage}% {value}/{total} entries, {eta}s left', etaBuffer: 50 }, cliProgress.Presets.shades_classic) : undefined;
    bar?.start(o.rows, 0);
    const started = performance.now();
    let i = 0;
    const entries = syntheticEntries({ count: o.rows, seed: o.seed, spanUs: o.span, startUs: Date.now() * 1000 - o.span, protocols: o.protocols ?? SYNTHETIC_PROTOCOLS });
    await writer.pushAll((function* counted() {
      for (const entry of entries) {
        yield entry;
        if (++i % 10_000 === 0) bar?.update(i);
      }
    })());
    await writer.close();
    bar?.update(o.rows);
    bar?.stop();
    const { written, dropped, rejected, expired } = writer.counters;
    if (written !== o.rows) {
      throw new Error(`seeded ${written} of ${o.rows} entries (dropped ${dropped}, rejected ${rejected}, expired ${expired}): see the log above`);
    }
    return { rows: written, seconds: (performance.now() - started) / 1000 };
  } finally {
    await store.close();
  }
}

export function registerSeed(program: Command): void {
  program
    .command('seed')
      .description(COMMAND_DESCRIPTIONS.seed)
    .requiredOption('--rows <n>', 'how many entries', positiveInt)
    .option('--data <dir>', `embedded store directory (default ${DEFAULT_DATA_DIR})`)
    .option('--url <url>', 'ClickHouse server instead, e.g. http://127.0.0.1:8123 (or TAPLINE_CLICKHOUSE_URL)')
    .option('--user <name>', 'ClickHouse user (or TAPLINE_CLICKHOUSE_USER)')
    .option('--password <secret>', 'ClickHouse password (or TAPLINE_CLICKHOUSE_PASSWORD)')
    .option('--database <name>', 'database (default tapline)')
    .option('--span <duration>', 'spread the entries over this much time, ending now (30m, 24h, 7d at most; default 1h)', parseSpan, parseSpan('1h'))
    .option('--seed <n>', 'random seed (same seed, same entries)', positiveInt, 1)
    .option('--protocols <list>', `which protocols' entries to make, comma-separated (default all: ${SYNTHETIC_PROTOCOLS.join(',')})`, protocolList)
    .option('--batch <n>', "entries per insert (default: the writer's)", positiveInt)
    .option('--no-progress', 'no progress bar')
    .action(async (o: SeedOptions) => {
      const { rows, seconds } = await seed({ ...o, progress: o.progress && process.stderr.isTTY === true });
      console.log(`seeded ${rows} entries in ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} entries/s)`);
    });
}
