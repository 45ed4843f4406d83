/** What the import benches share: CPU time from /proc, a timed run, and a sink that only counts. */
import { readFileSync } from 'node:fs';
import type { Entry, EntrySink } from '../backend/src/entries/entry.js';

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
