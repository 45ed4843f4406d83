/**
 * Benchmark: synthetic entries through the EntryWriter into a fresh embedded store (chDB).
 *
 *   node --import tsx bench/store-ingest.ts [--rows 1000000] [--batch N (default: the writer's)]
 *
 * Prints: the synthetic generator alone (entries/s, and its CPU per entry), generate + writer end
 * to end (entries/s, wall and per CPU-second of this process, chDB's threads included), the
 * writer's share (generation subtracted: wall estimate and per CPU-second), and the compressed
 * bytes per entry on disk (as inserted, and after merging all parts). The load average is printed
 * at the start and at the end: on a shared machine the per-CPU-second figures are the steadier ones.
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { syntheticEntries } from '../backend/src/entries/synthetic.js';
import { createLogger } from '../backend/src/log.js';
import { EntryWriter, migrate, openStore } from '../backend/src/store/index.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '1000000' }, batch: { type: 'string' } },
});
const ROWS = Number(values.rows);
const BATCH = values.batch === undefined ? undefined : Number(values.batch);
const SPAN_US = 2 * 3600e6;
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
const loadAtStart = load();

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);

// 1. The generator alone, on a slice, to separate its cost from the writer's.
const genRows = Math.min(ROWS, 200_000);
let cpu0 = process.cpuUsage();
let t0 = performance.now();
let n = 0;
for (const _ of syntheticEntries({ count: genRows, seed: 2 })) n++;
const genRate = rate(n, performance.now() - t0);
const genCpuMsPerEntry = cpuMs(process.cpuUsage(cpu0)) / n;

// 2. Generate + push + insert, end to end.
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-ingest-'));
const store = openStore({ kind: 'embedded', dataDir: dir });
try {
  await migrate(store);
  const writer = await EntryWriter.create(store, { batchSize: BATCH, logger: createLogger('bench', 'warn') });
  cpu0 = process.cpuUsage();
  t0 = performance.now();
  for (const e of syntheticEntries({ count: ROWS, seed: 1, startUs: Date.now() * 1000 - SPAN_US, spanUs: SPAN_US })) {
    if (!writer.push(e)) await writer.drained();
  }
  await writer.close();
  const wallMs = performance.now() - t0;
  const cpu = cpuMs(process.cpuUsage(cpu0));
  if (writer.counters.written !== ROWS) throw new Error(`wrote ${writer.counters.written} of ${ROWS}: ${JSON.stringify(writer.counters)}`);
  const loadAtEnd = load();

  const size = async () => {
    const rs = await store.client.query({
      query: `SELECT sum(rows) AS rows, sum(bytes_on_disk) AS disk, sum(data_compressed_bytes) AS compressed,
                sum(data_uncompressed_bytes) AS raw, count() AS parts
              FROM system.parts WHERE database = {db:String} AND table = 'entries' AND active`,
      query_params: { db: store.database },
      format: 'JSONEachRow',
    });
    const [r] = await rs.json<Record<string, number>>();
    return { perEntryDisk: Number(r.disk) / Number(r.rows), perEntryCompressed: Number(r.compressed) / Number(r.rows), perEntryRaw: Number(r.raw) / Number(r.rows), parts: Number(r.parts) };
  };
  const inserted = await size();
  await store.client.command({ query: `OPTIMIZE TABLE ${store.database}.entries FINAL` });
  const merged = await size();

  const writerOnly = Math.round(1 / (1 / rate(ROWS, wallMs) - 1 / genRate));
  console.log(JSON.stringify({
    date: new Date().toISOString(), cpus: `${cpus().length} × ${cpus()[0].model}`, loadavgAtStart: loadAtStart, loadavgAtEnd: loadAtEnd,
    rows: ROWS, batch: writer.batchSize,
    generatorPerSec: genRate,
    generatorCpuUsPerEntry: +(genCpuMsPerEntry * 1000).toFixed(2),
    endToEndPerSec: rate(ROWS, wallMs), endToEndSeconds: +(wallMs / 1000).toFixed(1),
    perCpuSecond: rate(ROWS, cpu),
    cpuUsPerEntry: +((cpu * 1000) / ROWS).toFixed(1),
    writerOnlyPerSecEstimate: writerOnly,
    writerOnlyPerCpuSecond: rate(ROWS, cpu - genCpuMsPerEntry * ROWS),
    bytesPerEntryAsInserted: { disk: Math.round(inserted.perEntryDisk), compressedData: Math.round(inserted.perEntryCompressed), uncompressed: Math.round(inserted.perEntryRaw), parts: inserted.parts },
    bytesPerEntryMerged: { disk: Math.round(merged.perEntryDisk), compressedData: Math.round(merged.perEntryCompressed), uncompressed: Math.round(merged.perEntryRaw), parts: merged.parts },
  }, null, 2));
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
