/**
 * Benchmark: the writer's row encoding alone (Entry → a Native block, `NativeBatch`, one batch
 * object reused as the writer does), without the store, on synthetic entries in batches of
 * 10 000 — the JS share of the ingest path.
 *
 *   node --import tsx bench/store-encode.ts [--rows 200000] [--runs 5]
 *
 * Prints entries/s (wall) and entries per CPU-second (this process) for each run.
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { syntheticEntries } from '../backend/src/entries/synthetic.js';
import { NativeBatch } from '../backend/src/store/native.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '200000' }, runs: { type: 'string', default: '5' } } });
const entries = [...syntheticEntries({ count: Number(values.rows), seed: 7 })];
const batch = new NativeBatch(10_000);
const rates: number[] = [];
const cpuRates: number[] = [];
let bytes = 0;
for (let r = 0; r < Number(values.runs); r++) {
  const t = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    batch.append(entries[i]);
    if (batch.rows === 10_000 || i === entries.length - 1) bytes += batch.take().body.length;
  }
  rates.push(entries.length / (Number(process.hrtime.bigint() - t) / 1e9));
  const cpu = process.cpuUsage(cpu0);
  cpuRates.push(entries.length / ((cpu.user + cpu.system) / 1e6));
}
const k = (x: number) => `${(x / 1000).toFixed(0)}k`;
console.log(
  `${new Date().toISOString()}, ${cpus().length} × ${cpus()[0].model.split(' ').slice(0, 2).join(' ')}, load ${loadavg()[0].toFixed(1)}: ` +
    `${entries.length} entries encoded per run (${Math.round(bytes / entries.length)} bytes each), entries/s by run: ${rates.map(k).join(', ')}; ` +
    `per CPU-second: ${cpuRates.map(k).join(', ')}`,
);
