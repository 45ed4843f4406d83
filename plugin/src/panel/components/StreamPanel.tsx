/**
 * The Kubeshark-like live view: rows flow in at the top; scrolling away from the top or "Pause"
 * freezes the view while a counter says how many arrived; "Resume" jumps back to live. A click on a
 * row opens the entry in full; "+"/"−" next to a value narrow the dashboard's filter.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { LoadingState, type PanelProps } from '@grafana/data';
import { getDataSourceSrv } from '@grafana/runtime';
import { Alert, Button, useTheme2 } from '@grafana/ui';
import type { FixedSizeList } from 'react-window';
import { addClause, currentFilter, filterClause, setFilter } from '../filterClick.js';
import { arraySource, entryFrame, frameSource, snapshot, type RowSource } from '../rows.js';
import { columnKeys, DEFAULT_OPTIONS, type StreamOptions } from '../types.js';
import { EntryDrawer, type EntrySource } from './EntryDrawer.js';
import { ROW_HEIGHT, StreamList } from './StreamList.js';

const HEADER_HEIGHT = 32;

/**
 * Counts rows that arrive while paused. New rows come in at the newest end, so each update counts
 * the rows ahead of the newest one seen before (all of them when that one has left the buffer).
 */
function useArrivals(paused: boolean, rows: RowSource): number {
  const newest = useRef<string | null>(null);
  const [count, setCount] = useState(0);
  useEffect(() => {
    if (!paused) {
      newest.current = null;
      setCount(0);
      return;
    }
    const head = rows.length ? rows.id(0) : null;
    if (newest.current === null) {
      newest.current = head ?? '';
      return;
    }
    let fresh = 0;
    while (fresh < rows.length && rows.id(fresh) !== newest.current) fresh++;
    newest.current = head ?? newest.current;
    if (fresh) setCount((c) => c + fresh);
  }, [paused, rows]);
  return count;
}

const reversed = (r: RowSource): RowSource => ({ length: r.length, row: (i) => r.row(r.length - 1 - i), id: (i) => r.id(r.length - 1 - i) });

export function StreamPanel({ data, options, width, height }: PanelProps<StreamOptions>) {
  const o = { ...DEFAULT_OPTIONS, ...options };
  const theme = useTheme2();
  const frame = entryFrame(data.series);
  // Keyed on `data`, not the frame: a streaming frame is the same object, grown in place.
  const rows = useMemo(() => (frame ? frameSource(frame, o.maxRows, o.newestFirst) : arraySource([])), [data, o.maxRows, o.newestFirst]);
  const [frozen, setFrozen] = useState<RowSource | null>(null);
  const paused = frozen !== null;
  // Newest first, the head is where arrivals show; oldest first, count from the other end.
  const arrived = useArrivals(paused, useMemo(() => (o.newestFirst ? rows : reversed(rows)), [rows, o.newestFirst]));
  const [selected, setSelected] = useState<string | undefined>();
  const list = useRef<FixedSizeList>(null);

  const pause = useCallback(() => setFrozen((f) => f ?? snapshot(rows)), [rows]);
  const resume = () => {
    setFrozen(null);
    list.current?.scrollTo(o.newestFirst ? 0 : Number.MAX_SAFE_INTEGER);
  };
  const shown = frozen ?? rows;

  // Oldest-first: live means following the bottom.
  useEffect(() => {
    if (!paused && !o.newestFirst && rows.length) list.current?.scrollToItem(rows.length - 1, 'end');
  }, [rows, paused, o.newestFirst]);

  const onUserScroll = (offset: number) => {
    const listHeight = height - HEADER_HEIGHT - ROW_HEIGHT;
    const awayFromLive = o.newestFirst ? offset > ROW_HEIGHT / 2 : offset + listHeight < shown.length * ROW_HEIGHT - ROW_HEIGHT / 2;
    if (awayFromLive && !paused) pause();
  };

  const filterNow = currentFilter(o.filterVariable);
  const onFilter =
    filterNow === undefined
      ? undefined
      : (field: string, value: string | number, exclude: boolean) => setFilter(o.filterVariable, addClause(filterNow, filterClause(field, value, exclude)));

  const dsRef = data.request?.targets?.[0]?.datasource;
  // Looked up only when a row is opened: the list itself needs nothing from the data source.
  const source = useMemo(
    () => (selected ? (getDataSourceSrv().get(dsRef) as unknown as Promise<EntrySource>) : undefined),
    [dsRef, selected],
  );

  const errors = data.errors ?? (data.error ? [data.error] : []);
  const streaming = data.state === LoadingState.Streaming;
  let empty: string | undefined;
  if (!frame && data.state === LoadingState.Loading) empty = 'Connecting to the Tapline hub…';
  else if (!frame && errors.length === 0)
    empty = 'This panel shows Tapline entries: choose the Tapline data source and the "Live stream" (or "Entries") query type.';
  else if (frame && rows.length === 0 && errors.length === 0)
    empty = streaming ? 'Live — waiting for traffic that matches the filter.' : 'No entries match the filter in this time range.';

  return (
    <div style={{ width, height, display: 'flex', flexDirection: 'column' }}>
      <div style={{ height: HEADER_HEIGHT, display: 'flex', alignItems: 'center', gap: 8 }}>
        {paused ? (
          <>
            <span aria-label="stream state" style={{ color: theme.colors.warning.text }}>
              ❚❚ Paused
            </span>
            <span aria-label="new while paused">{arrived} new</span>
            <Button size="sm" icon="play" onClick={resume}>
              Resume
            </Button>
          </>
        ) : (
          <>
            <span aria-label="stream state" style={{ color: streaming ? theme.colors.success.text : theme.colors.text.secondary }}>
              {streaming ? '● Live' : '○ Not streaming'}
            </span>
            <Button size="sm" variant="secondary" icon="pause" onClick={pause}>
              Pause
            </Button>
          </>
        )}
        <span style={{ marginLeft: 'auto', color: theme.colors.text.secondary }}>{shown.length.toLocaleString('en-US')} rows</span>
        {onFilter === undefined && (
          <span title={`Add a text box variable "${o.filterVariable}" and use \${${o.filterVariable}:raw} in the query's filter to filter by clicking values.`}>
            ⓘ click-to-filter off
          </span>
        )}
      </div>
      {errors.map((e, i) => (
        <Alert key={i} severity="error" title={/unreachable/i.test(e.message ?? '') ? 'The Tapline hub is unreachable' : 'The query failed'}>
          {e.message}
          {/unreachable/i.test(e.message ?? '') && ' — the stream reconnects on its own; check the data source\'s hub URL (Save & test) if this lasts.'}
        </Alert>
      ))}
      {empty ? (
        <div role="status" style={{ padding: 16, color: theme.colors.text.secondary }}>
          {empty}
        </div>
      ) : (
        <StreamList
          ref={list}
          rows={shown}
          columns={columnKeys(o.columns)}
          width={width}
          height={height - HEADER_HEIGHT}
          latencyWarnMs={o.latencyWarnMs}
          latencyCritMs={o.latencyCritMs}
          onSelect={(r) => setSelected(r.id)}
          onFilter={onFilter}
          onUserScroll={onUserScroll}
        />
      )}
      {selected && source && (
        <EntryDrawer id={selected} source={source} onClose={() => setSelected(undefined)} onFilter={onFilter} entryDashboardUid={o.entryDashboardUid} />
      )}
    </div>
  );
}
