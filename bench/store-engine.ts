/**
 * Benchmark: the engine's share of ingest. The writer's Native blocks (50 000 synthetic entries
 * each, encoded once before the clock starts) are inserted into the real `entries` table and into
 * copies of it that leave one cost out, in the same embedded store:
 *
 *   node --import tsx bench/store-engine.ts [--rows 300000] [--rounds 2] [--only REGEX]
 *
 * - `read`: a Null table: reading the block only.
 * - `wide` / `compact`: MergeTree with the real columns, codecs, partitioning and order, no skip
 *   indexes and no views, parts forced Wide (a file per column) or Compact (one file).
 * - `indexes`: `compact` plus the real table's skip indexes.
 * - `views`: a Null table feeding a copy of the per-minute rollup view (the view's cost, and the
 *   read's).
 * - `real`: the real `entries` table as migrated, with its indexes and both rollup views.
 *
 * For each: CPU µs an entry of the inserts (the process's CPU: chDB runs in it; merges stopped, so
 * only the insert counts); then merges are started and `OPTIMIZE … FINAL` run: the CPU µs of each
 * row they wrote (the engine's `MergedRows`: background merges start alongside, so a row may be
 * merged more than once) and how many rows they wrote an entry; and the compressed bytes an entry
 * after them. Each variant is measured `--rounds` times, the variants taking turns, after a warm-up
 * insert.
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { syntheticEntries } from '../backend/src/entries/synthetic.js';
import { ENTRY_COLUMNS, NativeBatch, migrate, openStore } from '../backend/src/store/index.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '300000' },
    rounds: { type: 'string', default: '2' },
    only: { type: 'string' },
  },
});
const BLOCK = 50_000;
const ROWS = Math.max(BLOCK, Math.round(Number(values.rows) / BLOCK) * BLOCK);
const ROUNDS = Number(values.rounds);
const only = values.only === undefined ? null : new RegExp(values.only);
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
const loadAtStart = load();

const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-engine-'));
const store = openStore({ kind: 'embedded', dataDir: dir });
const db = store.database;
const command = (query: string) => store.client.command({ query });
async function rows<T>(query: string): Promise<T[]> {
  return (await store.client.query({ query, format: 'JSONEachRow' })).json<T>();
}
/** Rows the engine has written in merges since it started (every table). */
async function mergedRows(): Promise<number> {
  const [r] = await rows<{ value: string }>(`SELECT value FROM system.events WHERE event = 'MergedRows'`);
  return Number(r?.value ?? 0);
}
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

try {
  await migrate(store);
  const blocks: Buffer[] = [];
  const batch = new NativeBatch(BLOCK);
  const startUs = Date.now() * 1000 - 24 * 3600e6;
  for (const e of syntheticEntries({ count: ROWS, seed: 3, startUs, spanUs: 20 * 3600e6 })) {
    batch.append(e);
    if (batch.rows === BLOCK) blocks.push(batch.take().body);
  }

  // The real table's columns (with codecs) and skip indexes, from the engine itself.
  const [{ statement }] = await rows<{ statement: string }>(`SHOW CREATE TABLE ${db}.entries`);
  const body = statement.slice(statement.indexOf('('), statement.indexOf('\nENGINE'));
  const lines = body.slice(1, -1).split('\n').map((l) => l.trim().replace(/,$/, '')).filter((l) => l !== '');
  const columns = lines.filter((l) => !l.startsWith('INDEX'));
  const indexes = lines.filter((l) => l.startsWith('INDEX'));
  const [{ statement: view }] = await rows<{ statement: string }>(`SHOW CREATE TABLE ${db}.entries_1m_mv`);
  // The `views` variant re-points this view's source: it must read the raw table by that name.
  if (!view.includes(`FROM ${db}.entries\n`)) throw new Error(`the rollup view does not read ${db}.entries: ${view}`);
  const mergeTree = (wide: boolean) =>
    `ENGINE = MergeTree PARTITION BY toStartOfHour(start_time) ORDER BY start_time ` +
    `SETTINGS non_replicated_deduplication_window = 1000, min_bytes_for_wide_part = ${wide ? 0 : 2 ** 40}`;
  const table = (name: string, cols: string[], engine: string) =>
    `CREATE TABLE ${db}.${name} (\n  ${cols.join(',\n  ')}\n) ${engine}`;

  const variants: Array<{ name: string; table: string; create: string[]; merges: boolean }> = [
    { name: 'read', table: 'v_read', create: [table('v_read', columns, 'ENGINE = Null')], merges: false },
    { name: 'wide', table: 'v_wide', create: [table('v_wide', columns, mergeTree(true))], merges: true },
    { name: 'compact', table: 'v_compact', create: [table('v_compact', columns, mergeTree(false))], merges: true },
    { name: 'indexes', table: 'v_indexes', create: [table('v_indexes', [...columns, ...indexes], mergeTree(false))], merges: true },
    {
      name: 'views',
      table: 'v_views',
      create: [
        table('v_views', columns, 'ENGINE = Null'),
        // The same view into the same rollup (its rows are dropped with the store).
        view.replace(`${db}.entries_1m_mv`, `${db}.v_views_mv`).replace(`FROM ${db}.entries`, `FROM ${db}.v_views`),
      ],
      merges: false,
    },
    { name: 'real', table: 'entries', create: [], merges: true },
  ].filter((v) => only === null || only.test(v.name));
  for (const v of variants) for (const sql of v.create) await command(sql);

  // Warm-up: the engine's first insert of a process costs more than the next ones.
  await command(`CREATE TABLE ${db}.warm_up (\n  ${columns.join(',\n  ')}\n) ENGINE = Null`);
  await store.insertNative('warm_up', ENTRY_COLUMNS, blocks[0]);

  const figures = new Map<string, { insert: number[]; merge: number[]; rewrites: number[]; bytes: number }>();
  let token = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of variants) {
      const qualified = `${db}.${v.table}`;
      if (v.merges) {
        await command(`TRUNCATE TABLE ${qualified}`);
        await command(`SYSTEM STOP MERGES ${qualified}`);
      }
      const c0 = cpuMs();
      for (const b of blocks) await store.insertNative(v.table, ENTRY_COLUMNS, b, `bench-${token++}`);
      const insert = ((cpuMs() - c0) * 1000) / ROWS;
      const f = figures.get(v.name) ?? { insert: [], merge: [], rewrites: [], bytes: 0 };
      f.insert.push(+insert.toFixed(2));
      if (v.merges) {
        const merged0 = await mergedRows();
        const c1 = cpuMs();
        await command(`SYSTEM START MERGES ${qualified}`);
        await command(`OPTIMIZE TABLE ${qualified} FINAL`);
        const cpu = cpuMs() - c1;
        const merged = (await mergedRows()) - merged0;
        f.merge.push(+((cpu * 1000) / merged).toFixed(2));
        f.rewrites.push(+(merged / ROWS).toFixed(2));
        const [size] = await rows<{ bytes: string }>(
          `SELECT sum(data_compressed_bytes) AS bytes FROM system.parts WHERE database = '${db}' AND table = '${v.table}' AND active`,
        );
        f.bytes = Math.round(Number(size.bytes) / ROWS);
      }
      figures.set(v.name, f);
    }
  }
  console.log(JSON.stringify({ date: new Date().toISOString(), rows: ROWS, rounds: ROUNDS, loadAtStart, loadAtEnd: load() }));
  console.table(
    [...figures].map(([name, f]) => ({
      variant: name,
      'insert CPU µs/entry': f.insert.join(', '),
      'merge CPU µs/merged row': f.merge.join(', '),
      'merged rows/entry': f.rewrites.join(', '),
      'compressed bytes/entry': f.bytes || '',
    })),
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
