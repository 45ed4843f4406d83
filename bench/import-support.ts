/** What the import benches share: CPU time from /proc, a timed run, a sink that only counts, the protocol benches' options and report. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs, promisify } from 'node:util';
import { importCaptureFile } from '../backend/src/agent/import-file.js';
import type { Entry, EntrySink } from '../backend/src/entries/entry.js';

const run = promisify(execFile);

/** CPU time (ms) of this process and of its waited-for children, from /proc (utime, stime, cutime, cstime). */
export function cpuNow(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / 100;
}

/** Wall and CPU time: the machine is shared, so CPU time is the steadier yardstick. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; cpuMs: number }> {
  const c0 = cpuNow();
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0, cpuMs: cpuNow() - c0 };
}

/** Counts entries (and the answered ones), keeps nothing. */
export class CountingSink implements EntrySink {
  count = 0;
  answered = 0;
  push(e: Entry): boolean {
    this.count++;
    if (!e.unanswered) this.answered++;
    return true;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
}

/** The options of a protocol's capture bench: how many operations to record, or a capture to read. */
export function captureBenchArgs(countOption: string): { count: number; keep?: string; file?: string; port?: number } {
  const { values } = parseArgs({
    options: {
      [countOption]: { type: 'string', default: '100000' },
      keep: { type: 'string' },
      file: { type: 'string' },
      port: { type: 'string' },
    },
  });
  const v = values as Record<string, string | undefined>;
  return { count: Number(v[countOption]), keep: v.keep, file: v.file, port: v.port === undefined ? undefined : Number(v.port) };
}

/**
 * Imports `file` into a counting sink, then runs `tshark -r file -n …tsharkArgs` on it (`count`
 * reads the operations from its output), one after the other; prints the machine, the capture,
 * both runs' wall and CPU time per operation, and the CPU ratio.
 */
export async function importVsTshark(file: string, tsharkArgs: string[], count: (stdout: string) => number, unit: string): Promise<void> {
  const { sink, imp, tshark } = await importThenTshark(file, ['-n', ...tsharkArgs], count);
  printComparison(unit, `${imp.value.counters.packets} packets, tshark: ${tshark.value} ${unit}`, imp, sink, tshark, tshark.value);
}

/**
 * The offline comparison every protocol's bench makes: `file` imported into a counting sink, then
 * tshark with `tsharkArgs` on the same file (its output read by `read`), one after the other.
 */
export async function importThenTshark<T>(file: string, tsharkArgs: string[], read: (stdout: string) => T) {
  const sink = new CountingSink();
  const imp = await timed(() => importCaptureFile(file, sink));
  const tshark = await timed(async () => read((await run('tshark', ['-r', file, ...tsharkArgs], { maxBuffer: 1 << 30 })).stdout));
  return { sink, imp, tshark };
}

/**
 * The report every import bench ends with: the machine and its load, the capture, both runs (wall,
 * CPU, `unit`s per CPU-second) and the CPU ratio against the goal.
 */
export function printComparison(
  unit: string,
  capture: string,
  imp: { ms: number; cpuMs: number },
  sink: CountingSink,
  tshark: { ms: number; cpuMs: number },
  tsharkCount: number,
): void {
  const rate = (n: number, ms: number) => `${((n * 1000) / ms / 1000).toFixed(0)}k`;
  const row = (name: string, t: { ms: number; cpuMs: number }, what: string) =>
    console.log(`${name.padEnd(34)} ${t.ms.toFixed(0).padStart(6)} ms wall ${t.cpuMs.toFixed(0).padStart(6)} ms CPU  ${what}`);
  console.log(`machine: ${cpus().length} × ${cpus()[0].model}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  console.log(`capture: ${capture}`);
  row('import pipeline (counting sink)', imp, `${rate(sink.count, imp.cpuMs)} ${unit} per CPU-s (${sink.count} entries, ${sink.answered} answered)`);
  row('tshark -T fields', tshark, `${rate(tsharkCount, tshark.cpuMs)} ${unit} per CPU-s`);
  console.log(`ratio (CPU): import is ${(tshark.cpuMs / imp.cpuMs).toFixed(1)}x cheaper than tshark (goal ≥ 10x)`);
}
