/**
 * Benchmark page: the stream panel holding 10,000 rows while `rate` new entries a second arrive in
 * batches every 100 ms (as the live stream delivers them), for `seconds`. Measures what a user
 * feels: time between animation frames, long tasks (> 50 ms), and the time to render each update.
 */
import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { dateTime, LoadingState, type PanelData, type PanelProps } from '@grafana/data';
import { appendEntries, streamFrame } from '../src/datasource/frames';
import type { EntrySummary } from '../src/datasource/types';
import { StreamPanel } from '../src/panel/components/StreamPanel';
import { DEFAULT_OPTIONS, type StreamOptions } from '../src/panel/types';
import { setTemplateSrv, type TemplateSrv } from '@grafana/runtime';
import { TemplateSrvStandIn } from '../test/support/template-srv-standin';

// Grafana's template service, played by the test stand-in (the panel reads its filter variable).
setTemplateSrv(new TemplateSrvStandIn({ filter: 'http' }) as unknown as TemplateSrv);

const q = new URLSearchParams(location.search);
const ROWS = Number(q.get('rows') ?? 10_000);
const RATE = Number(q.get('rate') ?? 500);
const SECONDS = Number(q.get('seconds') ?? 10);
const BATCH_MS = 100;

let n = 0;
function entry(): EntrySummary {
  const i = n++;
  const status = [200, 200, 200, 201, 304, 404, 500][i % 7];
  const ep = (ip: string, pod: string, service: string) => ({ ip, port: 80, pod, namespace: 'default', service, workload: pod, node: 'node-1' });
  return {
    id: `e-${i}`, startUs: Date.now() * 1000 + (i % 1000), durationUs: 300 + (i % 5000), protocol: 'http', protocolVersion: '1.1', transport: 'tcp',
    operation: i % 5 ? 'GET' : 'POST', target: `/api/items/${i % 997}`, query: '', host: 'api.default', status, statusText: '',
    outcome: status >= 500 ? 3 : status >= 400 ? 2 : 1, unanswered: false, incomplete: false,
    src: ep(`10.244.${i % 7}.${i % 250}`, `client-${i % 40}`, ''), dst: ep('10.96.0.20', 'api-7c5b8d', 'api'), requestSize: 0, responseSize: 512, agent: 'node-1',
    fields: {},
  };
}

const frame = streamFrame('A', ROWS);
appendEntries(frame, Array.from({ length: ROWS }, entry), 'start');
const renderMs: number[] = [];
let pendingSince = 0;

function packet(): PanelData {
  const now = Date.now();
  return { state: LoadingState.Streaming, series: [frame], timeRange: { from: dateTime(now - 60_000), to: dateTime(now), raw: { from: 'now-1m', to: 'now' } } };
}

function Bench() {
  const [data, setData] = useState(packet);
  useEffect(() => {
    if (pendingSince) renderMs.push(performance.now() - pendingSince);
    pendingSince = 0;
  }, [data]);
  useEffect(() => {
    const perBatch = Math.max(1, Math.round((RATE * BATCH_MS) / 1000));
    const t = setInterval(() => {
      appendEntries(frame, Array.from({ length: perBatch }, entry), 'start');
      pendingSince = performance.now();
      setData(packet());
    }, BATCH_MS);
    return () => clearInterval(t);
  }, []);
  const props = { data, options: { ...DEFAULT_OPTIONS, maxRows: ROWS }, width: 1180, height: 680, id: 1, timeZone: 'utc', transparent: false, title: 'Live', renderCounter: 0, fieldConfig: { defaults: {}, overrides: [] }, timeRange: data.timeRange, replaceVariables: (s: string) => s, onOptionsChange: () => {}, onFieldConfigChange: () => {}, onChangeTimeRange: () => {}, eventBus: {} } as unknown as PanelProps<StreamOptions>;
  return <StreamPanel {...props} />;
}

declare global {
  interface Window {
    benchResult?: unknown;
  }
}

const frames: number[] = [];
const longTasks: number[] = [];
new PerformanceObserver((list) => list.getEntries().forEach((e) => longTasks.push(e.duration))).observe({ type: 'longtask', buffered: true });
let last = 0;
const start = performance.now();
const tick = (t: number) => {
  if (last) frames.push(t - last);
  last = t;
  if (t - start < SECONDS * 1000) requestAnimationFrame(tick);
  else {
    const pct = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor((a.length * p) / 100))] ?? 0;
    window.benchResult = {
      rows: frame.length, rate: RATE, seconds: SECONDS, updates: renderMs.length, entriesAdded: n - ROWS,
      fps: frames.length / SECONDS, frameP50: pct(frames, 50), frameP95: pct(frames, 95), frameMax: Math.max(...frames),
      renderP50: pct(renderMs, 50), renderP95: pct(renderMs, 95), longTasks: longTasks.length, longestTask: Math.max(0, ...longTasks),
      domRows: document.querySelectorAll('[data-entry-id]').length,
    };
  }
};
createRoot(document.getElementById('root')!).render(<Bench />);
requestAnimationFrame(tick);
