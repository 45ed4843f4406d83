/**
 * Data frames → panel rows. The panel reads the columns the Tapline data source writes (entries
 * and live stream frames share them), by name, so any frame with those fields works.
 */
import type { DataFrame, Field } from '@grafana/data';
import type { Side, StreamRow } from './types.js';

const REQUIRED = ['id', 'time'];

/** The first frame that carries Tapline entries, if any. */
export function entryFrame(series: DataFrame[]): DataFrame | undefined {
  return series.find((f) => REQUIRED.every((n) => f.fields.some((x) => x.name === n)));
}

/** Rows, newest first (or oldest first), at most `max` of the newest. */
export function frameRows(frame: DataFrame, max: number, newestFirst: boolean): StreamRow[] {
  const by = new Map<string, Field>(frame.fields.map((f) => [f.name, f]));
  const col = (name: string) => by.get(name)?.values;
  const str = (name: string, i: number) => String(col(name)?.[i] ?? '');
  const num = (name: string, i: number) => Number(col(name)?.[i] ?? 0);
  const side = (p: 'src' | 'dst', i: number, label: string): Side => ({
    ip: str(`${p}.ip`, i),
    port: num(`${p}.port`, i),
    pod: str(`${p}.pod`, i),
    namespace: str(`${p}.namespace`, i),
    service: str(`${p}.service`, i),
    label,
  });
  const times = col('time') ?? [];
  const n = frame.length;
  const rows: StreamRow[] = [];
  for (let i = 0; i < n; i++) {
    rows.push({
      id: str('id', i),
      timeMs: Number(times[i] ?? 0),
      protocol: str('protocol', i),
      method: str('method', i),
      path: str('path', i),
      status: num('status', i),
      latencyMs: num('latency', i),
      src: side('src', i, str('source', i)),
      dst: side('dst', i, str('destination', i)),
    });
  }
  // Frames may come either way round; order by time (ties keep the frame's order).
  rows.sort((a, b) => b.timeMs - a.timeMs);
  const kept = rows.slice(0, Math.max(0, max));
  return newestFirst ? kept : kept.reverse();
}
