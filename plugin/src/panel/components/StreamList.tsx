/**
 * The rows, virtualised (react-window): only the visible rows exist in the DOM, so 10,000 rows and
 * hundreds of new ones a second stay smooth. Values that make good filters carry "+" and "−".
 * Nothing here knows a protocol: the badge comes from the hub's registry (via the frame), the
 * status colour from the outcome class, which means the same for every protocol.
 */
import { forwardRef, type CSSProperties, type ReactNode } from 'react';
import { FixedSizeList, type ListChildComponentProps } from 'react-window';
import { useTheme2 } from '@grafana/ui';
import type { GrafanaTheme2 } from '@grafana/data';
import { OUTCOME_COLORS, type ProtocolBadge } from '../../datasource/protocols.js';
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
  operation: 80,
  target: '1 1 30%',
  status: 70,
  outcome: 110,
  latency: 90,
  route: '1 1 40%',
};

const cellStyle = (c: ColumnKey): CSSProperties =>
  typeof WIDTHS[c] === 'number'
    ? { width: WIDTHS[c], flex: 'none', overflow: 'hidden', whiteSpace: 'nowrap', textOverflow: 'ellipsis', padding: '0 6px' }
    : { flex: WIDTHS[c], minWidth: 0, overflow: 'hidden', whiteSpace: 'nowrap', textOverflow: 'ellipsis', padding: '0 6px' };

/** An outcome's colour, the same for every protocol: ok green, client error orange, server error red, no response grey. */
export function outcomeColor(theme: GrafanaTheme2, outcome: string): string {
  const name = OUTCOME_COLORS[outcome];
  return name ? theme.visualization.getColorByName(name) : theme.colors.text.secondary;
}

/** Text colour on a badge colour, by theme (computed once: every visible row asks on every update). */
const contrast = new Map<string, string>();
function textOn(theme: GrafanaTheme2, bg: string): string {
  const key = `${theme.name}|${bg}`;
  let c = contrast.get(key);
  if (c === undefined) contrast.set(key, (c = theme.colors.getContrastText(bg)));
  return c;
}

/** A protocol's badge: its abbreviation on its registry colour; a protocol the registry does not know is neutral. */
export function ProtocolTag({ badge, theme }: { badge: ProtocolBadge; theme: GrafanaTheme2 }) {
  const bg = badge.color ? theme.visualization.getColorByName(badge.color) : undefined;
  const style: CSSProperties = {
    display: 'inline-block',
    padding: '0 4px',
    borderRadius: theme.shape.radius.default,
    fontSize: 11,
    fontWeight: 500,
    lineHeight: '16px',
    ...(bg
      ? { background: bg, color: textOn(theme, bg) }
      : { border: `1px solid ${theme.colors.border.medium}`, color: theme.colors.text.secondary }),
  };
  return (
    <span data-protocol={badge.name} title={badge.longName ? `${badge.longName} (${badge.name})` : badge.name} style={style}>
      {badge.abbr}
    </span>
  );
}

/** The status as a row shows it: the code, else the status text, else a dash; the rest on hover. */
export function statusLabel(r: Pick<StreamRow, 'status' | 'statusText'>): string {
  return r.status ? String(r.status) : r.statusText || '—';
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
    protocol: <ProtocolTag badge={r.protocol} theme={theme} />,
    operation: (
      <Filterable field="operation" value={r.operation} onFilter={onFilter}>
        {r.operation}
      </Filterable>
    ),
    target: (
      <Filterable field="target" value={r.target} onFilter={onFilter}>
        {r.target}
      </Filterable>
    ),
    status: (
      <Filterable field="status" value={r.status} onFilter={onFilter}>
        <span
          data-outcome={r.outcome}
          title={[`${r.status || ''} ${r.statusText}`.trim(), r.outcome].filter(Boolean).join(' · ')}
          style={{ color: outcomeColor(theme, r.outcome), fontWeight: 500 }}
        >
          {statusLabel(r)}
        </span>
      </Filterable>
    ),
    outcome: (
      <Filterable field="outcome" value={r.outcome} onFilter={onFilter}>
        <span data-outcome={r.outcome} style={{ color: outcomeColor(theme, r.outcome) }}>
          {r.outcome}
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
