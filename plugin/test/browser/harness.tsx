/**
 * The browser page for the stream panel's end-to-end test: the real panel and the real DataSource,
 * with Grafana's runtime played by stand-ins. The page's own server plays Grafana's data source
 * proxy (route and token), so the browser-side backendSrv stand-in is plain same-origin fetch.
 * The harness runs the query like Grafana's panel query runner: subscribe, hand each packet to
 * the panel, re-run when the filter variable changes.
 */
import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { dateTime, LoadingState, type PanelData, type PanelProps } from '@grafana/data';
import {
  setBackendSrv,
  setDataSourceSrv,
  locationService,
  setTemplateSrv,
  type BackendSrv,
  type BackendSrvRequest,
  type DataSourceSrv,
  type FetchResponse,
  type TemplateSrv,
} from '@grafana/runtime';
import { Observable } from 'rxjs';
import { DataSource } from '../../src/datasource/datasource';
import { StreamPanel } from '../../src/panel/components/StreamPanel';
import { DEFAULT_OPTIONS, type StreamOptions } from '../../src/panel/types';
import { TemplateSrvStandIn } from '../support/template-srv-standin';

const INSTANCE_URL = '/api/datasources/proxy/uid/tapline';

/** backendSrv.fetch over the browser's fetch, failing with Grafana's FetchError shape. */
class BrowserBackendSrvStandIn {
  fetch<T>(o: BackendSrvRequest): Observable<FetchResponse<T>> {
    return new Observable((sub) => {
      const abort = new AbortController();
      const qs = new URLSearchParams(Object.entries(o.params ?? {}).map(([k, v]) => [k, String(v)])).toString();
      const url = qs ? `${o.url}?${qs}` : o.url;
      fetch(url, {
        method: o.method ?? 'GET',
        signal: abort.signal,
        headers: o.data === undefined ? {} : { 'content-type': 'application/json' },
        body: o.data === undefined ? undefined : JSON.stringify(o.data),
      })
        .then(async (res) => {
          const text = await res.text();
          let data: unknown = text;
          try {
            data = text ? JSON.parse(text) : undefined;
          } catch {
            // keep text
          }
          if (res.ok) {
            sub.next({ data: data as T, status: res.status, statusText: res.statusText, ok: true, headers: res.headers, redirected: false, type: 'basic', url, config: o });
            sub.complete();
          } else sub.error({ status: res.status, statusText: res.statusText, data, config: o });
        })
        .catch((err: Error) => {
          if (!abort.signal.aborted) sub.error({ status: 502, statusText: 'Bad Gateway', data: { message: err.message }, config: o });
        });
      return () => abort.abort();
    });
  }
}

const params = new URLSearchParams(location.search);
const templates = new TemplateSrvStandIn({ filter: params.get('filter') ?? '' });
const ds = new DataSource({
  id: 1,
  uid: 'tapline',
  type: 'tapline-traffic-datasource',
  name: 'Tapline',
  url: INSTANCE_URL,
  access: 'proxy',
  jsonData: {},
  readOnly: false,
  meta: { id: 'tapline-traffic-datasource', name: 'Tapline', type: 'datasource' },
} as never);

let onFilter: (f: string) => void = () => {};
setBackendSrv(new BrowserBackendSrvStandIn() as unknown as BackendSrv);
setTemplateSrv(templates as unknown as TemplateSrv);
setDataSourceSrv({ get: () => Promise.resolve(ds) } as unknown as DataSourceSrv);
// Grafana's real locationService: "+" writes ?var-filter=… into the URL; the harness follows the URL
// as Grafana's variables do.
locationService.getHistory().listen(() => {
  const f = locationService.getSearchObject()['var-filter'];
  if (typeof f === 'string' && f !== templates.variables.filter) onFilter(f);
});

declare global {
  interface Window {
    harness: { filter: () => string; packets: number };
  }
}
window.harness = { filter: () => String(templates.variables.filter), packets: 0 };

function Harness() {
  const [filter, setFilter] = useState(String(templates.variables.filter));
  const [data, setData] = useState<PanelData>({ state: LoadingState.Loading, series: [], timeRange: range() });
  onFilter = (f) => {
    templates.variables.filter = f;
    setFilter(f);
  };
  useEffect(() => {
    const sub = ds
      .query({
        requestId: 'harness',
        interval: '1s',
        intervalMs: 1000,
        range: range(),
        scopedVars: {},
        targets: [{ refId: 'A', queryType: 'stream', filter: '${filter:raw}', datasource: { type: 'tapline-traffic-datasource', uid: 'tapline' } }],
        timezone: 'utc',
        app: 'dashboard',
        startTime: Date.now(),
        panelId: 1,
      })
      .subscribe((p) => {
        window.harness.packets++;
        setData({ state: p.state ?? LoadingState.Done, series: p.data, errors: p.errors, timeRange: range(), request: { targets: [{ refId: 'A', datasource: { type: 'tapline-traffic-datasource', uid: 'tapline' } }] } as PanelData['request'] });
      });
    return () => sub.unsubscribe();
  }, [filter]);
  const options: StreamOptions = { ...DEFAULT_OPTIONS, entryDashboardUid: 'tapline-request' };
  const props = { data, options, width: 1180, height: 640, id: 1, timeZone: 'utc', transparent: false, title: 'Live', renderCounter: 0, fieldConfig: { defaults: {}, overrides: [] }, timeRange: data.timeRange, replaceVariables: (s: string) => s, onOptionsChange: () => {}, onFieldConfigChange: () => {}, onChangeTimeRange: () => {}, eventBus: {} } as unknown as PanelProps<StreamOptions>;
  return (
    <div style={{ padding: 10 }}>
      <div data-testid="filter" style={{ fontFamily: 'monospace', marginBottom: 6 }}>
        filter: {filter}
      </div>
      <StreamPanel {...props} />
    </div>
  );
}

function range() {
  const now = Date.now();
  return { from: dateTime(now - 60_000), to: dateTime(now), raw: { from: 'now-1m', to: 'now' } };
}

createRoot(document.getElementById('root')!).render(<Harness />);
