/**
 * The rows, virtualised (react-window): only the visible rows exist in the DOM, so 10,000 rows and
 * hundreds of new ones a second stay smooth. Values that make good filters carry "+" and "−".
 */
import { forwardRef, type CSSProperties, type ReactNode } from 'react';
import { FixedSizeList, type ListChildComponentProps } from 'react-window';
import { useTheme2 } from '@grafana/ui';
import type { GrafanaTheme2 } from '@grafana/data';
import type { RowSource } from '../rows.js';
import { COLUMN_LABELS, type ColumnKey, type StreamRow } from '../types.js';

export const ROW_HEIGHT = 28;

export interface FilterAction {
  (field: string, value: string | number, exclude: boolean): void;
}

interface Props {
  rows: RowSource;
  columns: ColumnKey[];
  width: number;
  height: number;
  latencyWarnMs: number;
  latencyCritMs: number;
  onSelect: (row: StreamRow) => void;
  /** Absent when the dashboard has no filter variable to write to. */
  onFilter?: FilterAction;
  /** Called when the user (not the code) scrolls to an offset. */
  onUserScroll: (offset: number) => void;
}

const WIDTHS: Record<ColumnKey, number | string> = {
  time: 110,
  protocol: 70,
  method: 80,
  path: '1 1 30%',
  status: 70,
  latency: 90,
  route: '1 1 40%',
};

const cellStyle = (c: ColumnKey): CSSProperties =>
  typeof WIDTHS[c] === 'number'
    ? { width: WIDTHS[c], flex: 'none', overflow: 'hidden', whiteSpace: 'nowrap', textOverflow: 'ellipsis', padding: '0 6px' }
    : { flex: WIDTHS[c], minWidth: 0, overflow: 'hidden', whiteSpace: 'nowrap', textOverflow: 'ellipsis', padding: '0 6px' };

export function statusColor(theme: GrafanaTheme2, status: number): string {
  const c = Math.floor(status / 100);
  const name = c === 2 ? 'green' : c === 3 ? 'blue' : c === 4 ? 'orange' : c === 5 ? 'red' : 'text';
  return name === 'text' ? theme.colors.text.secondary : theme.visualization.getColorByName(name);
}

function latencyColor(theme: GrafanaTheme2, ms: number, warn: number, crit: number): string | undefined {
  if (ms >= crit) return theme.visualization.getColorByName('red');
  if (ms >= warn) return theme.visualization.getColorByName('orange');
  return undefined;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
/** HH:MM:SS.mmm local time (by hand: toLocaleTimeString builds a formatter per call, too slow per row). */
const time = (ms: number) => {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
};

/** A value with its "+" (keep only this) and "−" (leave this out) buttons. */
export function Filterable({ field, value, onFilter, children }: { field: string; value: string | number; onFilter?: FilterAction; children: ReactNode }) {
  if (!onFilter || value === '' || value === 0) return <>{children}</>;
  const btn: CSSProperties = { border: 'none', background: 'none', cursor: 'pointer', padding: '0 2px', color: 'inherit', opacity: 0.7 };
  return (
    <span>
      {children}
      <button
        type="button"
        style={btn}
        aria-label={`Filter ${field} == ${value}`}
        title={`Add ${field} == ${value} to the filter`}
        onClick={(e) => {
          e.stopPropagation();
          onFilter(field, value, false);
        }}
      >
        +
      </button>
      <button
        type="button"
        style={btn}
        aria-label={`Filter ${field} != ${value}`}
        title={`Add ${field} != ${value} to the filter`}
        onClick={(e) => {
          e.stopPropagation();
          onFilter(field, value, true);
        }}
      >
        −
      </button>
    </span>
  );
}

/** "pod or service name" with the IP on hover, filterable by name and by IP. */
function Endpoint({ side, p, onFilter }: { side: StreamRow['src']; p: 'src' | 'dst'; onFilter?: FilterAction }) {
  const nameField = side.service ? `${p}.service` : side.pod ? `${p}.pod` : `${p}.ip`;
  const nameValue = side.service || side.pod || side.ip;
  return (
    <span title={`${side.ip}:${side.port}${side.namespace ? ` (${side.namespace})` : ''}`}>
      <Filterable field={nameField} value={nameValue} onFilter={onFilter}>
        {side.label || `${side.ip}:${side.port}`}
      </Filterable>
    </span>
  );
}

interface ItemData extends Omit<Props, 'rows' | 'width' | 'height' | 'onUserScroll'> {
  rows: RowSource;
  theme: GrafanaTheme2;
}

function Row({ index, style, data }: ListChildComponentProps<ItemData>) {
  const r = data.rows.row(index);
  const { theme, onFilter } = data;
  const cells: Record<ColumnKey, ReactNode> = {
    time: time(r.timeMs),
    protocol: r.protocol,
    method: (
      <Filterable field="method" value={r.method} onFilter={onFilter}>
        {r.method}
      </Filterable>
    ),
    path: (
      <Filterable field="path" value={r.path} onFilter={onFilter}>
        {r.path}
      </Filterable>
    ),
    status: (
      <Filterable field="status" value={r.status} onFilter={onFilter}>
        <span data-status-class={`${Math.floor(r.status / 100)}xx`} style={{ color: statusColor(theme, r.status), fontWeight: 500 }}>
          {r.status || '—'}
        </span>
      </Filterable>
    ),
    latency: (
      <span style={{ color: latencyColor(theme, r.latencyMs, data.latencyWarnMs, data.latencyCritMs) }}>{r.latencyMs.toFixed(1)} ms</span>
    ),
    route: (
      <>
        <Endpoint side={r.src} p="src" onFilter={onFilter} /> → <Endpoint side={r.dst} p="dst" onFilter={onFilter} />
      </>
    ),
  };
  return (
    <div
      role="row"
      data-entry-id={r.id}
      onClick={() => data.onSelect(r)}
      style={{
        ...style,
        display: 'flex',
        alignItems: 'center',
        cursor: 'pointer',
        borderBottom: `1px solid ${theme.colors.border.weak}`,
        fontSize: theme.typography.bodySmall.fontSize,
      }}
    >
      {data.columns.map((c) => (
        <div key={c} role="cell" style={cellStyle(c)}>
          {cells[c]}
        </div>
      ))}
    </div>
  );
}

export const StreamList = forwardRef<FixedSizeList<ItemData>, Props>(function StreamList(props, ref) {
  const theme = useTheme2();
  const { rows, columns, width, height, onUserScroll, ...rest } = props;
  return (
    <div role="table" aria-label="Live traffic">
      <div role="row" style={{ display: 'flex', fontWeight: 500, height: ROW_HEIGHT, alignItems: 'center', borderBottom: `1px solid ${theme.colors.border.medium}` }}>
        {columns.map((c) => (
          <div key={c} role="columnheader" style={cellStyle(c)}>
            {COLUMN_LABELS[c]}
          </div>
        ))}
      </div>
      <FixedSizeList<ItemData>
        ref={ref}
        width={width}
        height={Math.max(ROW_HEIGHT, height - ROW_HEIGHT)}
        itemCount={rows.length}
        itemSize={ROW_HEIGHT}
        // Keyed by position, not entry id: when live, every visible row changes each update, and
        // reusing the row elements (new text) is much cheaper than replacing them.
        itemData={{ rows, columns, theme, ...rest }}
        onScroll={({ scrollOffset, scrollUpdateWasRequested }) => {
          if (!scrollUpdateWasRequested) onUserScroll(scrollOffset);
        }}
        overscanCount={8}
      >
        {Row}
      </FixedSizeList>
    </div>
  );
});
