/** The stream panel's options and the row it draws. */
import type { ProtocolBadge } from '../datasource/protocols.js';

/** Every column the panel can show, in order. */
export const COLUMNS = ['time', 'protocol', 'operation', 'target', 'status', 'outcome', 'latency', 'route'] as const;
export type ColumnKey = (typeof COLUMNS)[number];
export const COLUMN_LABELS: Record<ColumnKey, string> = {
  time: 'Time',
  protocol: 'Protocol',
  operation: 'Operation',
  target: 'Target',
  status: 'Status',
  outcome: 'Outcome',
  latency: 'Latency',
  route: 'Source → Destination',
};
/** Shown unless the panel's options say otherwise (the status is coloured by outcome already). */
export const DEFAULT_COLUMNS: ColumnKey[] = ['time', 'protocol', 'operation', 'target', 'status', 'latency', 'route'];

/** Column keys of saved panels from before entries were protocol-neutral. */
const LEGACY_COLUMNS: Readonly<Record<string, ColumnKey>> = { method: 'operation', path: 'target' };

/** A saved `columns` option as today's keys: old names renamed, unknown ones left out. */
export function columnKeys(saved: readonly string[] | undefined): ColumnKey[] {
  const known = new Set<string>(COLUMNS);
  const keys = (saved ?? DEFAULT_COLUMNS).map((c) => LEGACY_COLUMNS[c] ?? c).filter((c): c is ColumnKey => known.has(c));
  return [...new Set(keys)];
}

export interface StreamOptions {
  columns: ColumnKey[];
  /** Rows the panel keeps (the newest). */
  maxRows: number;
  newestFirst: boolean;
  latencyWarnMs: number;
  latencyCritMs: number;
  /** The dashboard's text box variable that the query's filter reads as `${filter:raw}`. */
  filterVariable: string;
  /** A dashboard showing one entry from its `entry` variable (the drawer links to it). */
  entryDashboardUid: string;
}

export const DEFAULT_OPTIONS: StreamOptions = {
  columns: [...DEFAULT_COLUMNS],
  maxRows: 10_000,
  newestFirst: true,
  latencyWarnMs: 250,
  latencyCritMs: 1000,
  filterVariable: 'filter',
  entryDashboardUid: '',
};

export interface Side {
  ip: string;
  port: number;
  pod: string;
  namespace: string;
  service: string;
  /** The name shown: service, pod or ip:port. */
  label: string;
}

export interface StreamRow {
  id: string;
  timeMs: number;
  protocol: ProtocolBadge;
  operation: string;
  target: string;
  /** The protocol's own status code; 0 = none. */
  status: number;
  statusText: string;
  /** The outcome class's name: 'ok', 'client error', 'server error', 'no response', 'one-way'. */
  outcome: string;
  latencyMs: number;
  src: Side;
  dst: Side;
}
