/** What the import benches share: CPU time from /proc, a timed run, a sink that only counts, the import-vs-tshark run and its printout. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { promisify } from 'node:util';
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

/** Prints the machine and its load, a line per timed run (`[name, timing, what]`), and the CPU ratio of the last to the first. */
export function printComparison(rows: Array<[name: string, t: { ms: number; cpuMs: number }, what: string]>): void {
  console.log(`machine: ${cpus().length} × ${cpus()[0].model}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  for (const [name, t, what] of rows) console.log(`${name.padEnd(34)} ${t.ms.toFixed(0).padStart(6)} ms wall ${t.cpuMs.toFixed(0).padStart(6)} ms CPU  ${what}`);
  const [imp, tshark] = [rows[0][1], rows[rows.length - 1][1]];
  console.log(`ratio (CPU): import is ${(tshark.cpuMs / imp.cpuMs).toFixed(1)}x cheaper than tshark (goal ≥ 10x)`);
}

/** `n` per CPU-second of `ms`, in thousands. */
export const perCpuSecond = (n: number, ms: number): string => `${(n / ms).toFixed(0)}k`;
