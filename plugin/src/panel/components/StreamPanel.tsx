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
import { entryFrame, frameRows } from '../rows.js';
import { DEFAULT_OPTIONS, type StreamOptions, type StreamRow } from '../types.js';
import { EntryDrawer, type EntrySource } from './EntryDrawer.js';
import { ROW_HEIGHT, StreamList } from './StreamList.js';

const HEADER_HEIGHT = 32;

/** Counts rows that arrive while paused, remembering ids in a set bounded by the rows kept. */
function useArrivals(paused: boolean, rows: StreamRow[], limit: number): number {
  const seen = useRef<Set<string> | null>(null);
  const [count, setCount] = useState(0);
  useEffect(() => {
    if (!paused) {
      seen.current = null;
      setCount(0);
      return;
    }
    if (seen.current === null) {
      seen.current = new Set(rows.map((r) => r.id));
      return;
    }
    let fresh = 0;
    for (const r of rows) {
      if (!seen.current.has(r.id)) {
        seen.current.add(r.id);
        fresh++;
      }
    }
    // Rows that left the buffer never come back: forget them so the set stays bounded.
    if (seen.current.size > 4 * limit) seen.current = new Set(rows.map((r) => r.id));
    if (fresh) setCount((c) => c + fresh);
  }, [paused, rows, limit]);
  return count;
}

export function StreamPanel({ data, options, width, height }: PanelProps<StreamOptions>) {
  const o = { ...DEFAULT_OPTIONS, ...options };
  const theme = useTheme2();
  const frame = entryFrame(data.series);
  // Keyed on `data`, not the frame: a streaming frame is the same object, grown in place.
  const rows = useMemo(() => (frame ? frameRows(frame, o.maxRows, o.newestFirst) : []), [data, o.maxRows, o.newestFirst]);
  const [frozen, setFrozen] = useState<StreamRow[] | null>(null);
  const paused = frozen !== null;
  const arrived = useArrivals(paused, rows, o.maxRows);
  const [selected, setSelected] = useState<string | undefined>();
  const list = useRef<FixedSizeList>(null);

  const pause = useCallback(() => setFrozen((f) => f ?? rows), [rows]);
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
  const source = useMemo(() => getDataSourceSrv().get(dsRef) as unknown as Promise<EntrySource>, [dsRef]);

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
          columns={o.columns}
          width={width}
          height={height - HEADER_HEIGHT}
          latencyWarnMs={o.latencyWarnMs}
          latencyCritMs={o.latencyCritMs}
          onSelect={(r) => setSelected(r.id)}
          onFilter={onFilter}
          onUserScroll={onUserScroll}
        />
      )}
      {selected && (
        <EntryDrawer id={selected} source={source} onClose={() => setSelected(undefined)} onFilter={onFilter} entryDashboardUid={o.entryDashboardUid} />
      )}
    </div>
  );
}
