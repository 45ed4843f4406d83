/**
 * The Tapline data source: turns panel queries into hub calls (through Grafana's proxy) and the
 * answers into frames; the live stream query returns a streaming Observable.
 */
import {
  DataSourceApi,
  LoadingState,
  type CoreApp,
  type DataFrame,
  type DataLink,
  type DataQueryRequest,
  type DataQueryResponse,
  type DataSourceGetTagKeysOptions,
  type DataSourceGetTagValuesOptions,
  type DataSourceInstanceSettings,
  type LegacyMetricFindQueryOptions,
  type MetricFindValue,
  type ScopedVars,
  type TestDataSourceResponse,
  type TimeRange,
} from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { catchError, defer, from, merge, of, switchMap, type Observable } from 'rxjs';
import { catalogFrame, entriesFrame, entryFrames, serviceMapFrames, statsFrames, topFrame } from './frames.js';
import { adHocClause, combineFilters, formatVariableValue, withColumn } from './filter.js';
import { HubClient, HubError, toHubError } from './hub.js';
import { describeHealth } from './health.js';
import { ProtocolRegistry } from './protocols.js';
import { liveStream } from './stream.js';
import {
  DEFAULT_CAPACITY,
  DEFAULT_LIMIT,
  DEFAULT_QUANTILES,
  DEFAULT_QUERY,
  LABEL_NAMES,
  MAX_CAPACITY,
  MAX_LIMIT,
  MAX_TOP_ROWS,
  MAX_TOP_SERIES,
  type CompletionsResponse,
  type EntryDetail,
  type HealthResponse,
  type LabelName,
  type TaplineOptions,
  type TaplineQuery,
  type ValidateResponse,
} from './types.js';

/** Ad-hoc keys whose values the hub lists: the filter field → the label it draws from. */
function labelForField(field: string): LabelName | undefined {
  const last = field.split('.').pop() ?? field;
  if (field === 'protocol') return 'protocol';
  if (field === 'operation' || field === 'method' || field === 'request.method') return 'operation';
  if (field === 'status' || field === 'response.status') return 'status';
  if (field === 'outcome') return 'outcome';
  if (/^(src|dst)\.(namespace|service|pod)$/.test(field)) return last as LabelName;
  return undefined;
}

const clampInt = (v: number | undefined, lo: number, hi: number, dflt: number): number =>
  v === undefined || !Number.isFinite(v) ? dflt : Math.min(hi, Math.max(lo, Math.round(v)));

export class DataSource extends DataSourceApi<TaplineQuery, TaplineOptions> {
  readonly hub: HubClient;
  private readonly jsonData: TaplineOptions;
  private fieldTypes?: Promise<Map<string, string>>;
  private registry?: Promise<ProtocolRegistry>;

  constructor(instanceSettings: DataSourceInstanceSettings<TaplineOptions>) {
    super(instanceSettings);
    this.jsonData = instanceSettings.jsonData ?? {};
    this.hub = new HubClient(instanceSettings.url ?? '');
  }

  override getDefaultQuery(_app: CoreApp): Partial<TaplineQuery> {
    return DEFAULT_QUERY;
  }

  override filterQuery(query: TaplineQuery): boolean {
    return !query.hide;
  }

  override query(request: DataQueryRequest<TaplineQuery>): Observable<DataQueryResponse> {
    const targets = request.targets.filter((t) => !t.hide);
    if (targets.length === 0) return of({ data: [], state: LoadingState.Done });
    return merge(
      ...targets.map((t) =>
        t.queryType === 'stream' ? this.streamQuery(t, request) : from(this.runQuery(t, request)),
      ),
    );
  }

  /** The filter the hub receives: the query's own (variables interpolated) and the ad-hoc filters. */
  async buildFilter(query: TaplineQuery, scopedVars: ScopedVars, request?: DataQueryRequest<TaplineQuery>): Promise<string> {
    const own = this.interpolateFilter(query.filter ?? '', scopedVars);
    const adHoc = request?.filters ?? [];
    if (adHoc.length === 0) return own;
    const types = await this.loadFieldTypes();
    return combineFilters([own, ...adHoc.map((f) => adHocClause(f, (k) => types.get(k)))]);
  }

  interpolateFilter(filter: string, scopedVars: ScopedVars = {}): string {
    return filter ? getTemplateSrv().replace(filter, scopedVars, formatVariableValue) : '';
  }

  override interpolateVariablesInQueries(queries: TaplineQuery[], scopedVars: ScopedVars): TaplineQuery[] {
    return queries.map((q) => ({
      ...q,
      filter: this.interpolateFilter(q.filter ?? '', scopedVars),
      entryId: q.entryId ? getTemplateSrv().replace(q.entryId, scopedVars) : q.entryId,
    }));
  }

  private async runQuery(query: TaplineQuery, request: DataQueryRequest<TaplineQuery>): Promise<DataQueryResponse> {
    try {
      const data = await this.frames(query, request);
      return { data, key: query.refId, state: LoadingState.Done };
    } catch (err) {
      return errorResponse(query.refId, err);
    }
  }

  private async frames(query: TaplineQuery, request: DataQueryRequest<TaplineQuery>): Promise<DataFrame[]> {
    const range = rangeMs(request.range);
    const filter = await this.buildFilter(query, request.scopedVars, request);
    const refId = query.refId;
    const timeField = this.jsonData.timeField ?? 'start';
    switch (query.queryType ?? 'entries') {
      case 'entries': {
        const limit = clampInt(query.limit ?? this.jsonData.defaultLimit, 1, MAX_LIMIT, DEFAULT_LIMIT);
        const [res, protocols] = await Promise.all([this.hub.entries({ ...range, filter, limit }), this.getProtocols()]);
        const frame = entriesFrame(res.entries, { refId, timeField, links: this.entryLinks(), protocols });
        if (res.nextCursor) {
          frame.meta = {
            ...frame.meta,
            notices: [{ severity: 'info', text: `Showing the newest ${res.entries.length} entries; more match. Raise the limit or narrow the filter.` }],
          };
        }
        return [frame];
      }
      case 'stats': {
        const metric = query.metric ?? 'requests';
        const groupBy = (query.groupBy ?? 'statusClass').trim();
        if (!groupBy) throw new Error('Group by "Field": name the field (e.g. target, dns.rcode, sql.shape)');
        // Buckets follow the panel: Grafana's interval, widened so no more than maxDataPoints come back.
        const span = range.to - range.from;
        const interval = Math.max(1, request.intervalMs || 0, request.maxDataPoints ? Math.ceil(span / request.maxDataPoints) : 0);
        const q = metric === 'latency' ? (query.quantiles?.length ? query.quantiles : DEFAULT_QUANTILES).join(',') : undefined;
        const top = query.top === undefined ? undefined : clampInt(query.top, 1, MAX_TOP_SERIES, MAX_TOP_SERIES);
        const res = await this.hub.stats({ ...range, filter, interval, groupBy, metric, q, top });
        return statsFrames(res, { refId, metric, groupBy });
      }
      case 'serviceMap': {
        const res = await this.hub.serviceMap({ ...range, filter });
        return serviceMapFrames(res, { refId, secondaryStat: query.secondaryStat ?? 'p95' });
      }
      case 'catalog': {
        const res = await this.hub.catalog({ ...range, filter });
        return [catalogFrame(res, refId)];
      }
      case 'top': {
        const by = query.by?.trim();
        if (!by) throw new Error('No field to list the top values of: set "Field" (e.g. target, dns.qname, sql.shape)');
        const limit = clampInt(query.limit ?? 20, 1, MAX_TOP_ROWS, 20);
        const res = await this.hub.top({ ...range, filter, by, sort: query.sort ?? 'requests', limit });
        return [topFrame(res, refId)];
      }
      case 'entry': {
        const id = getTemplateSrv().replace(query.entryId ?? '', request.scopedVars).trim();
        if (!id) throw new Error('No entry id: set one in the query, or pick a row link in an entries table');
        const [entry, protocols] = await Promise.all([this.hub.entry(id), this.getProtocols()]);
        return entryFrames(entry, { refId, timeField, protocols });
      }
      case 'stream':
        throw new Error('stream queries are served by streamQuery');
    }
  }

  private streamQuery(query: TaplineQuery, request: DataQueryRequest<TaplineQuery>): Observable<DataQueryResponse> {
    const key = `tapline-stream-${request.panelId ?? 'explore'}-${query.refId}`;
    return defer(() => Promise.all([this.buildFilter(query, request.scopedVars, request), this.getProtocols()])).pipe(
      switchMap(([filter, protocols]) =>
        liveStream(this.hub, {
          refId: query.refId,
          key,
          filter,
          protocols,
          capacity: clampInt(query.capacity ?? this.jsonData.defaultCapacity, 1, MAX_CAPACITY, DEFAULT_CAPACITY),
          timeField: this.jsonData.timeField ?? 'start',
          backfill: rangeMs(request.range),
        }),
      ),
      // liveStream itself never errors (it reports in-band); this catches a filter that could not be built.
      catchError((err: unknown) => of(errorResponse(query.refId, err, key))),
    );
  }

  /** Row links from an entries table to one entry: a dashboard (if configured) and Explore. */
  entryLinks(): DataLink[] {
    const links: DataLink[] = [];
    const uid = this.jsonData.entryDashboardUid;
    if (uid) {
      links.push({ title: 'Open entry', url: `/d/${encodeURIComponent(uid)}?var-entry=\${__data.fields.id}&\${__url_time_range}` });
    }
    links.push({
      title: 'Show entry in Explore',
      url: '',
      internal: {
        datasourceUid: this.uid,
        datasourceName: this.name,
        query: { refId: 'A', queryType: 'entry', entryId: '${__data.fields.id}', datasource: { type: this.type, uid: this.uid } },
      },
    });
    return links;
  }

  /** One entry in full, for the stream panel's detail drawer. */
  getEntry(id: string): Promise<EntryDetail> {
    return this.hub.entry(id);
  }

  /**
   * The hub's protocol registry, fetched once per data source and kept. It never fails: a hub that
   * cannot answer gives an empty registry (every protocol shown in a neutral colour), asked again
   * next time; a hub without the endpoint (404, older than the registry) is not asked again.
   */
  getProtocols(): Promise<ProtocolRegistry> {
    this.registry ??= this.hub.protocols().then(
      (json) => new ProtocolRegistry(json),
      (err: unknown) => {
        if (toHubError(err).status !== 404) this.registry = undefined;
        return new ProtocolRegistry();
      },
    );
    return this.registry;
  }

  /** Checks a filter with the hub; `$var`s are replaced first, as they will be when the query runs. */
  async validateFilter(filter: string): Promise<ValidateResponse> {
    const text = this.interpolateFilter(filter);
    const res = await this.hub.validateFilter(text);
    if (res.valid || text === filter) return res;
    return { valid: false, error: { ...res.error, message: `${res.error.message} (with variables replaced: ${text})` } };
  }

  completions(prefix: string, field?: string): Promise<CompletionsResponse> {
    return this.hub.completions(prefix, field);
  }

  /** Variable queries: a label name (`namespace`, `service`, `pod`, `protocol`, `operation`, `status`, `outcome`; `method` = `operation`). */
  override async metricFindQuery(query: unknown, options?: LegacyMetricFindQueryOptions): Promise<MetricFindValue[]> {
    const raw = typeof query === 'string' ? query : (query as { label?: string } | undefined)?.label ?? '';
    const name = getTemplateSrv().replace(raw, options?.scopedVars).trim();
    if (!(LABEL_NAMES as readonly string[]).includes(name)) {
      throw new Error(`Unknown Tapline variable query '${name}': use one of ${LABEL_NAMES.join(', ')}`);
    }
    const res = await this.hub.labels(name as LabelName, options?.range ? rangeMs(options.range) : {});
    return res.values.map((v) => ({ text: v, value: v }));
  }

  override async getTagKeys(_options?: DataSourceGetTagKeysOptions<TaplineQuery>): Promise<MetricFindValue[]> {
    const types = await this.loadFieldTypes();
    return [...types.keys()].filter((k) => !k.endsWith('[]')).map((k) => ({ text: k }));
  }

  override async getTagValues(options: DataSourceGetTagValuesOptions<TaplineQuery>): Promise<MetricFindValue[]> {
    const label = labelForField(options.key);
    if (!label) return [];
    const res = await this.hub.labels(label, options.timeRange ? rangeMs(options.timeRange) : {});
    return res.values.map((v) => ({ text: v }));
  }

  private loadFieldTypes(): Promise<Map<string, string>> {
    this.fieldTypes ??= this.hub.completions('').then(
      (c) => new Map(c.fields.map((f) => [f.name, f.type])),
      (err) => {
        this.fieldTypes = undefined; // try again next time
        throw toHubError(err);
      },
    );
    return this.fieldTypes;
  }

  override async testDatasource(): Promise<TestDataSourceResponse> {
    try {
      return describeHealth(await this.hub.health());
    } catch (err) {
      const e = toHubError(err);
      // A hub whose store is down answers 503 with its health report: describe that, not "unreachable".
      const report = e.body as Partial<HealthResponse> | undefined;
      if (report && typeof report === 'object' && report.store && report.status) return describeHealth(report as HealthResponse);
      const message =
        e.status === 401 || e.code === 'unauthorized'
          ? 'The hub refused the token (401 unauthorized). Enter the token the hub was started with, then Save & test again.'
          : e.code === 'unreachable'
            ? `Grafana could not reach the Tapline hub${this.jsonData.hubUrl ? ` at ${this.jsonData.hubUrl}` : ''}: ${e.message}.`
            : `The hub answered with an error: ${e.message}`;
      return { status: 'error', message };
    }
  }

  override getQueryDisplayText(query: TaplineQuery): string {
    return `${query.queryType ?? 'entries'}${query.filter ? `: ${query.filter}` : ''}`;
  }
}

/** A failed query as Grafana shows it: the message, with the filter column when the hub gave one. */
function errorResponse(refId: string, err: unknown, key = refId): DataQueryResponse {
  const message = err instanceof Error ? err.message : String(err);
  const position = err instanceof HubError ? err.position : undefined;
  return { data: [], key, state: LoadingState.Error, errors: [{ refId, message: withColumn(message, position) }] };
}

function rangeMs(range: TimeRange): { from: number; to: number } {
  return { from: range.from.valueOf(), to: range.to.valueOf() };
}
