/**
 * STAND-INS for Grafana's runtime — the only part of these tests that is not the real thing.
 *
 * - `ProxyBackendSrvStandIn` plays getBackendSrv(): `fetch()` over real HTTP (Node's fetch), with
 *   Grafana's data source proxy emulated from the plugin's own plugin.json `routes`: a request to
 *   `<instance url>/<route path>/…` goes to the route's `url` template filled from jsonData, with
 *   the route's headers filled from secureJsonData, as Grafana's server does. Failures come back
 *   as Grafana's FetchError shape (`{status, data, statusText, config}`); a hub that cannot be
 *   reached answers 502 like Grafana's proxy.
 * - `LocationServiceStandIn` plays locationService (records `partial()` URL updates), and
 *   `DataSourceSrvStandIn` plays getDataSourceSrv() (hands out the one data source under test).
 * - `TemplateSrvStandIn` plays getTemplateSrv(): `$name`, `${name}`, `${name:raw}` and scoped vars,
 *   calling the data source's format function the way Grafana does (a multi-value variable passes
 *   an array).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dateTime, type DataSourceInstanceSettings, type TimeRange } from '@grafana/data';
import {
  setBackendSrv,
  setDataSourceSrv,
  setLocationService,
  setTemplateSrv,
  type BackendSrv,
  type BackendSrvRequest,
  type DataSourceSrv,
  type FetchResponse,
  type LocationService,
  type TemplateSrv,
} from '@grafana/runtime';
import { Observable } from 'rxjs';
import type { TaplineOptions, TaplineSecureOptions } from '../../src/datasource/types';
import { TemplateSrvStandIn, type VarValue } from './template-srv-standin';
import { RealAbortController, realFetch } from './node-fetch';

export { realFetch };

interface Route {
  path: string;
  url: string;
  headers?: Array<{ name: string; content: string }>;
}

export const PLUGIN_JSON = JSON.parse(readFileSync(join(__dirname, '../../src/datasource/plugin.json'), 'utf8')) as {
  id: string;
  routes: Route[];
};

/** Fills Grafana's `{{ .JsonData.x }}` / `{{ .SecureJsonData.x }}` route templates. */
export function fillTemplate(t: string, jsonData: Record<string, unknown>, secure: Record<string, unknown>): string {
  return t.replace(/\{\{\s*\.(JsonData|SecureJsonData)\.(\w+)\s*\}\}/g, (_m, where: string, key: string) =>
    String((where === 'JsonData' ? jsonData : secure)[key] ?? ''),
  );
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
}

export class ProxyBackendSrvStandIn {
  /** Requests as they left for the hub (after the proxy rewrite), for assertions. */
  readonly sent: RecordedRequest[] = [];
  /** Requests still open (a long-poll waiting, say). */
  inFlight = 0;

  constructor(
    private readonly instanceUrl: string,
    private readonly jsonData: TaplineOptions,
    private readonly secure: TaplineSecureOptions,
  ) {}

  fetch<T>(options: BackendSrvRequest): Observable<FetchResponse<T>> {
    return new Observable<FetchResponse<T>>((subscriber) => {
      const abort = new RealAbortController();
      const { url, headers } = this.proxy(options);
      const method = options.method ?? 'GET';
      const init: RequestInit = { method, headers, signal: abort.signal as AbortSignal };
      if (options.data !== undefined) {
        init.body = JSON.stringify(options.data);
        headers['content-type'] = 'application/json';
      }
      this.sent.push({ method, url, headers });
      this.inFlight++;
      let done = false;
      const settle = () => {
        if (!done) this.inFlight--;
        done = true;
      };
      realFetch(url, init)
        .then(async (res) => {
          const text = await res.text();
          let data: unknown = text;
          try {
            data = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text, as backendSrv does
          }
          settle();
          if (res.ok) {
            subscriber.next({ data: data as T, status: res.status, statusText: res.statusText, ok: true, headers: res.headers, redirected: false, type: 'basic', url, config: options });
            subscriber.complete();
          } else {
            subscriber.error({ status: res.status, statusText: res.statusText, data, config: options });
          }
        })
        .catch((err: Error) => {
          settle();
          if (abort.signal.aborted) return;
          subscriber.error({ status: 502, statusText: 'Bad Gateway', data: { message: `proxy: ${err.message}` }, config: options });
        });
      return () => {
        settle();
        abort.abort();
      };
    });
  }

  /** Grafana's data source proxy: instance URL + route path → the route's URL, plus its headers. */
  private proxy(options: BackendSrvRequest): { url: string; headers: Record<string, string> } {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    let target = options.url;
    for (const route of PLUGIN_JSON.routes) {
      const prefix = `${this.instanceUrl}/${route.path}`;
      if (options.url === prefix || options.url.startsWith(`${prefix}/`)) {
        const base = fillTemplate(route.url, this.jsonData as Record<string, unknown>, this.secure as Record<string, unknown>);
        target = base.replace(/\/$/, '') + options.url.slice(prefix.length);
        for (const h of route.headers ?? []) {
          headers[h.name.toLowerCase()] = fillTemplate(h.content, this.jsonData as Record<string, unknown>, this.secure as Record<string, unknown>);
        }
        break;
      }
    }
    if (target === options.url) throw new Error(`stand-in proxy: no route for ${options.url}`);
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(options.params ?? {})) params.set(k, String(v));
    const qs = params.toString();
    return { url: qs ? `${target}?${qs}` : target, headers };
  }
}

export { TemplateSrvStandIn };

export interface StandIns {
  backend: ProxyBackendSrvStandIn;
  templates: TemplateSrvStandIn;
  settings: DataSourceInstanceSettings<TaplineOptions>;
}

/** Installs both stand-ins and returns the instance settings Grafana would hand the DataSource. */
export function installGrafanaRuntimeStandIns(opts: {
  hubUrl: string;
  token?: string;
  jsonData?: Partial<TaplineOptions>;
  variables?: Record<string, VarValue>;
}): StandIns {
  const instanceUrl = '/api/datasources/proxy/uid/tapline-test';
  const jsonData: TaplineOptions = { hubUrl: opts.hubUrl, ...opts.jsonData };
  const backend = new ProxyBackendSrvStandIn(instanceUrl, jsonData, { token: opts.token ?? '' });
  const templates = new TemplateSrvStandIn(opts.variables);
  setBackendSrv(backend as unknown as BackendSrv);
  setTemplateSrv(templates as unknown as TemplateSrv);
  const settings = {
    id: 7,
    uid: 'tapline-test',
    type: PLUGIN_JSON.id,
    name: 'Tapline',
    url: instanceUrl,
    access: 'proxy',
    jsonData,
    readOnly: false,
    meta: { id: PLUGIN_JSON.id, name: 'Tapline', type: 'datasource', streaming: true, metrics: true } as never,
  } as DataSourceInstanceSettings<TaplineOptions>;
  return { backend, templates, settings };
}

/** A time range as Grafana passes it. */
export function timeRange(fromMs: number, toMs: number): TimeRange {
  const from = dateTime(fromMs);
  const to = dateTime(toMs);
  return { from, to, raw: { from, to } };
}

export class LocationServiceStandIn {
  readonly partials: Array<Record<string, unknown>> = [];
  partial(query: Record<string, unknown>): void {
    this.partials.push(query);
  }
}

export class DataSourceSrvStandIn {
  constructor(private readonly ds: object) {}
  get(): Promise<object> {
    return Promise.resolve(this.ds);
  }
}

/** Installs the panel-side stand-ins: URL updates recorded, one data source served. */
export function installPanelStandIns(ds: object): LocationServiceStandIn {
  const location = new LocationServiceStandIn();
  setLocationService(location as unknown as LocationService);
  setDataSourceSrv(new DataSourceSrvStandIn(ds) as unknown as DataSourceSrv);
  return location;
}
