/**
 * Benchmark: the writer's row encoding alone (Entry → a Native block, `NativeBatch`), without the
 * store, on synthetic entries in batches of 10 000 — the JS share of the ingest path.
 *
 *   node --import tsx bench/store-encode.ts [--rows 200000] [--runs 5]
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { syntheticEntries } from '../backend/src/entries/synthetic.js';
import { encodeEntriesNative } from '../backend/src/store/native.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '200000' }, runs: { type: 'string', default: '5' } } });
const entries = [...syntheticEntries({ count: Number(values.rows), seed: 7 })];
const rates: number[] = [];
for (let r = 0; r < Number(values.runs); r++) {
  const t = process.hrtime.bigint();
  for (let i = 0; i < entries.length; i += 10_000) encodeEntriesNative(entries.slice(i, i + 10_000));
  rates.push(entries.length / (Number(process.hrtime.bigint() - t) / 1e9));
}
const k = (x: number) => `${(x / 1000).toFixed(0)}k`;
console.log(
  `${new Date().toISOString()}, ${cpus().length} × ${cpus()[0].model.split(' ').slice(0, 2).join(' ')}, load ${loadavg()[0].toFixed(1)}: ` +
    `${entries.length} entries encoded per run, entries/s by run: ${rates.map(k).join(', ')}`,
);
