/**
 * Benchmark: synthetic entries through the EntryWriter into a fresh embedded store (chDB).
 *
 *   node --import tsx bench/store-ingest.ts [--rows 1000000] [--batch N (default: the writer's)]
 *                                            [--mode writer|generated|both (default both)]
 *
 * Two measurements, each into its own fresh store:
 * - "writer": the writer alone. A pool of 100 000 distinct synthetic entries is made before the
 *   clock starts; each push takes the next pool entry with a fresh agent id (agent/ids.ts, as the
 *   capture agent makes them) and its times moved on by the pool's span, so the store sees
 *   `--rows` distinct entries in time order. The writer encodes at push(), so reusing the object
 *   afterwards is what a producer may do.
 * - "generated": the synthetic generator in the loop (what `tapline seed` does): its CPU is
 *   printed separately.
 * Each prints entries/s (wall), entries per CPU-second of this process (JS, chDB's threads and its
 * background merges), that CPU split by thread (Linux: the JS thread as `js`, the others by name:
 * `node` is V8's and libuv's helpers, `Unknown` the libuv threads chDB runs queries on,
 * `MergeMutate` and `ThreadPool` the engine's merges and pools), the full (mark-compact) GCs, and
 * the compressed bytes per entry on disk (as inserted, and after merging all parts). The load
 * average is printed at the start and at the end: on a shared machine the per-CPU-second figures
 * are the steadier ones.
 */
import { parseArgs } from 'node:util';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { PerformanceObserver, constants as perfConstants, type NodeGCPerformanceDetail } from 'node:perf_hooks';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../backend/src/entries/entry.js';
import { syntheticEntries } from '../backend/src/entries/synthetic.js';
import { uuidv7 } from '../backend/src/agent/ids.js';
import { createLogger } from '../backend/src/log.js';
import { EntryWriter, migrate, openStore } from '../backend/src/store/index.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    batch: { type: 'string' },
    mode: { type: 'string', default: 'both' },
  },
});
const ROWS = Number(values.rows);
const BATCH = values.batch === undefined ? undefined : Number(values.batch);
const SPAN_US = 2 * 3600e6;
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
const loadAtStart = load();

const MODES = values.mode === 'both' ? ['writer', 'generated'] : [values.mode];
if (!MODES.every((m) => m === 'writer' || m === 'generated')) throw new Error(`--mode: writer, generated or both, not ${values.mode}`);
const POOL = Math.min(ROWS, 100_000);

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);

// The generator alone, on a slice, to show its cost.
const genRows = Math.min(ROWS, 200_000);
const genCpu0 = process.cpuUsage();
const genT0 = performance.now();
let generated = 0;
for (const _ of syntheticEntries({ count: genRows, seed: 2 })) generated++;
const genRate = rate(generated, performance.now() - genT0);
const genCpuUsPerEntry = (cpuMs(process.cpuUsage(genCpu0)) * 1000) / generated;

/** CPU ms of each thread of this process by name (the JS thread as `js`); empty off Linux. */
function threadCpuMs(): Map<string, number> {
  const byName = new Map<string, number>();
  if (!existsSync('/proc/self/task')) return byName;
  const tickMs = 10; // USER_HZ = 100 on Linux
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const close = stat.lastIndexOf(')');
    const name = Number(tid) === process.pid ? 'js' : stat.slice(stat.indexOf('(') + 1, close).replace(/[0-9]+$/, '');
    const fields = stat.slice(close + 2).split(' ');
    byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) * tickMs);
  }
  return byName;
}

let fullGcs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    // A gc entry's detail is a NodeGCPerformanceDetail (the typings leave it off PerformanceEntry).
    const { detail } = e as unknown as { detail: NodeGCPerformanceDetail };
    if (detail.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) fullGcs++;
  }
}).observe({ entryTypes: ['gc'] });

/** `--rows` entries: the pool's, each with a fresh id and its times moved on by the pool's span. */
function* fromPool(pool: Entry[], poolSpanUs: number): Generator<Entry> {
  for (let i = 0; i < ROWS; i++) {
    const e = pool[i % POOL];
    if (i >= POOL && i % POOL === 0) {
      for (const p of pool) {
        p.startUs += poolSpanUs;
        p.endUs += poolSpanUs;
      }
    }
    e.id = uuidv7(e.startUs / 1000);
    yield e;
  }
}

async function run(mode: string): Promise<Record<string, unknown>> {
  const startUs = Date.now() * 1000 - SPAN_US;
  let entries: Iterable<Entry>;
  if (mode === 'writer') {
    const poolSpanUs = (SPAN_US * POOL) / ROWS;
    const pool = [...syntheticEntries({ count: POOL, seed: 1, startUs, spanUs: poolSpanUs })];
    entries = fromPool(pool, poolSpanUs);
  } else {
    entries = syntheticEntries({ count: ROWS, seed: 1, startUs, spanUs: SPAN_US });
  }
  const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-ingest-'));
  const store = openStore({ kind: 'embedded', dataDir: dir });
  try {
    await migrate(store);
    const writer = await EntryWriter.create(store, { batchSize: BATCH, logger: createLogger('bench', 'warn') });
    const threads0 = threadCpuMs();
    const fullGcs0 = fullGcs;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await writer.pushAll(entries);
    await writer.close();
    const wallMs = performance.now() - t0;
    const cpu = cpuMs(process.cpuUsage(cpu0));
    const byThread = [...threadCpuMs()].map(([name, ms]): [string, number] => [name, ((ms - (threads0.get(name) ?? 0)) * 1000) / ROWS]);
    const cpuUsPerEntryByThread = Object.fromEntries(
      byThread.filter(([, us]) => us >= 0.05).sort((a, b) => b[1] - a[1]).map(([name, us]) => [name, +us.toFixed(2)]),
    );
    if (writer.counters.written !== ROWS) throw new Error(`wrote ${writer.counters.written} of ${ROWS}: ${JSON.stringify(writer.counters)}`);

    const size = async () => {
      const rs = await store.client.query({
        query: `SELECT sum(rows) AS rows, sum(bytes_on_disk) AS disk, sum(data_compressed_bytes) AS compressed,
                  sum(data_uncompressed_bytes) AS raw, count() AS parts
                FROM system.parts WHERE database = {db:String} AND table = 'entries' AND active`,
        query_params: { db: store.database },
        format: 'JSONEachRow',
      });
      const [r] = await rs.json<Record<string, number>>();
      const per = (x: number) => Math.round(Number(x) / Number(r.rows));
      return { disk: per(r.disk), compressedData: per(r.compressed), uncompressed: per(r.raw), parts: Number(r.parts) };
    };
    const inserted = await size();
    await store.client.command({ query: `OPTIMIZE TABLE ${store.database}.entries FINAL` });
    return {
      mode,
      entriesPerSec: rate(ROWS, wallMs),
      seconds: +(wallMs / 1000).toFixed(1),
      perCpuSecond: rate(ROWS, cpu),
      cpuUsPerEntry: +((cpu * 1000) / ROWS).toFixed(1),
      cpuUsPerEntryByThread,
      fullGcs: fullGcs - fullGcs0,
      bytesPerEntryAsInserted: inserted,
      bytesPerEntryMerged: await size(),
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [];
for (const mode of MODES) results.push(await run(mode));
console.log(JSON.stringify({
  date: new Date().toISOString(), cpus: `${cpus().length} × ${cpus()[0].model}`, loadavgAtStart: loadAtStart, loadavgAtEnd: load(),
  rows: ROWS, batch: BATCH ?? 'writer default',
  generatorPerSec: genRate, generatorCpuUsPerEntry: +genCpuUsPerEntry.toFixed(2),
  results,
}, null, 2));
