/**
 * Data frames → panel rows. The panel reads the columns the Tapline data source writes (entries
 * and live stream frames share them), by name, so any frame with those fields works.
 *
 * Rows are read lazily: the list asks only for the few rows on screen, so an update of a
 * 10,000-row stream costs what is visible, not what is kept.
 */
import type { DataFrame } from '@grafana/data';
import { badgesFromField, unknownBadge, type ProtocolBadge } from '../datasource/protocols.js';
import type { Side, StreamRow } from './types.js';

const REQUIRED = ['id', 'time'];

/** Rows by position, newest first (or oldest first, as the panel is set). */
export interface RowSource {
  readonly length: number;
  row(i: number): StreamRow;
  id(i: number): string;
}

/** The first frame that carries Tapline entries, if any. */
export function entryFrame(series: DataFrame[]): DataFrame | undefined {
  return series.find((f) => REQUIRED.every((n) => f.fields.some((x) => x.name === n)));
}

export function arraySource(rows: StreamRow[]): RowSource {
  return { length: rows.length, row: (i) => rows[i], id: (i) => rows[i].id };
}

/** Copies a source (e.g. to freeze the view while the frame keeps changing underneath). */
export function snapshot(src: RowSource): RowSource {
  return arraySource(Array.from({ length: src.length }, (_, i) => src.row(i)));
}

type Values = ArrayLike<unknown>;

/** The newest `max` rows of a frame, read on demand. */
export function frameSource(frame: DataFrame, max: number, newestFirst: boolean): RowSource {
  const by = new Map<string, Values>(frame.fields.map((f) => [f.name, f.values as Values]));
  const empty: Values = [];
  const col = (name: string) => by.get(name) ?? empty;
  const [id, time, protocol, operation, target, status, statusText, outcome, latency, source, destination] = [
    'id', 'time', 'protocol', 'operation', 'target', 'status', 'statusText', 'outcome', 'latency', 'source', 'destination',
  ].map(col);
  // Each protocol's badge, from the registry the data source put on the frame's protocol field.
  const badges = badgesFromField(frame.fields.find((f) => f.name === 'protocol'));
  const badge = (name: string): ProtocolBadge => {
    let b = badges.get(name);
    if (!b) badges.set(name, (b = unknownBadge(name)));
    return b;
  };
  const sides = (p: 'src' | 'dst') => ['ip', 'port', 'pod', 'namespace', 'service'].map((k) => col(`${p}.${k}`));
  const [src, dst] = [sides('src'), sides('dst')];
  const str = (v: Values, i: number) => String(v[i] ?? '');
  const side = (c: Values[], i: number, label: string): Side => ({
    ip: str(c[0], i),
    port: Number(c[1][i] ?? 0),
    pod: str(c[2], i),
    namespace: str(c[3], i),
    service: str(c[4], i),
    label,
  });
  const build = (i: number): StreamRow => ({
    id: str(id, i),
    timeMs: Number(time[i] ?? 0),
    protocol: badge(str(protocol, i)),
    operation: str(operation, i),
    target: str(target, i),
    status: Number(status[i] ?? 0),
    statusText: str(statusText, i),
    outcome: str(outcome, i),
    latencyMs: Number(latency[i] ?? 0),
    src: side(src, i, str(source, i)),
    dst: side(dst, i, str(destination, i)),
  });

  // Tapline's frames come newest first (the stream's ring and the entries table); a frame oldest
  // first is read backwards. Only the ends are compared: a full scan would cost every update
  // O(rows) reads through the ring buffer, which is what the lazy reading avoids.
  const n = frame.length;
  const oldestFirst = n > 1 && Number(time[0] ?? 0) < Number(time[n - 1] ?? 0);
  const order = oldestFirst ? (i: number) => n - 1 - i : (i: number) => i;
  const length = Math.min(n, Math.max(0, max));
  const at = newestFirst ? order : (i: number) => order(length - 1 - i);
  return { length, row: (i) => build(at(i)), id: (i) => str(id, at(i)) };
}
