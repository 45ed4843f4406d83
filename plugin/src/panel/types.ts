/** The stream panel's options and the row it draws. */

export const COLUMNS = ['time', 'protocol', 'method', 'path', 'status', 'latency', 'route'] as const;
export type ColumnKey = (typeof COLUMNS)[number];
export const COLUMN_LABELS: Record<ColumnKey, string> = {
  time: 'Time',
  protocol: 'Protocol',
  method: 'Method',
  path: 'Path',
  status: 'Status',
  latency: 'Latency',
  route: 'Source → Destination',
};

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
  columns: [...COLUMNS],
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
  protocol: string;
  method: string;
  path: string;
  status: number;
  latencyMs: number;
  src: Side;
  dst: Side;
}
