/**
 * Hub answers → Grafana data frames. Pure functions: the DataSource fetches, these shape.
 * Entry field names are the filter language's field names (`operation`, `target`, `src.ip`,
 * `dst.service`, `status`, `outcome`…), so a value clicked in a panel turns straight into a filter
 * clause. Entries of every protocol share the columns; the `protocol` field carries the hub's
 * registry (abbreviation and colour of each protocol) as value mappings.
 */
import {
  CircularDataFrame,
  createDataFrame,
  FieldType,
  type DataFrame,
  type DataLink,
  type FieldConfig,
} from '@grafana/data';
import { EMPTY_REGISTRY, outcomeMappings, outcomeName, type ProtocolRegistry } from './protocols.js';
import type {
  BodyJson,
  CallStats,
  CatalogResponse,
  EndpointJson,
  EntryDetail,
  EntrySummary,
  SecondaryStat,
  ServiceMapResponse,
  StatsMetric,
  StatsResponse,
  TimeField,
  TopResponse,
} from './types.js';

/** The columns of an entry row, in order, with how each is read from a summary. */
interface EntryColumn {
  name: string;
  type: FieldType;
  config?: FieldConfig;
  value: (e: EntrySummary, timeField: TimeField) => unknown;
}

const endpointLabel = (p: EndpointJson): string =>
  p.service || p.pod || p.workload || (p.ip.includes(':') ? `[${p.ip}]:${p.port}` : `${p.ip}:${p.port}`);

const ENDPOINT_KEYS = ['ip', 'port', 'pod', 'namespace', 'service', 'workload', 'node'] as const;

function endpointColumns(side: 'src' | 'dst'): EntryColumn[] {
  return ENDPOINT_KEYS.map((k) => ({
    name: `${side}.${k}`,
    type: k === 'port' ? FieldType.number : FieldType.string,
    value: (e: EntrySummary) => e[side][k],
  }));
}

export const ENTRY_COLUMNS: readonly EntryColumn[] = [
  {
    name: 'time',
    type: FieldType.time,
    config: { displayName: 'Time' },
    // Microseconds on the wire; Grafana's time fields are milliseconds.
    value: (e, tf) => (tf === 'end' ? (e.startUs + e.durationUs) / 1000 : e.startUs / 1000),
  },
  { name: 'id', type: FieldType.string, value: (e) => e.id },
  { name: 'protocol', type: FieldType.string, value: (e) => e.protocol },
  /** HTTP method, DNS query type, Redis command… */
  { name: 'operation', type: FieldType.string, value: (e) => e.operation },
  /** HTTP path, DNS name, key… */
  { name: 'target', type: FieldType.string, value: (e) => e.target },
  /** The protocol's own status code (HTTP status, DNS RCODE…; 0 = none): a number. */
  { name: 'status', type: FieldType.number, value: (e) => e.status },
  { name: 'statusText', type: FieldType.string, value: (e) => e.statusText },
  /** The outcome class by name (`outcome == "server error"`), the same for every protocol. */
  { name: 'outcome', type: FieldType.string, config: { mappings: outcomeMappings() }, value: (e) => outcomeName(e.outcome) },
  {
    name: 'latency',
    type: FieldType.number,
    config: { unit: 'ms', decimals: 2 },
    value: (e) => e.durationUs / 1000,
  },
  { name: 'source', type: FieldType.string, value: (e) => endpointLabel(e.src) },
  { name: 'destination', type: FieldType.string, value: (e) => endpointLabel(e.dst) },
  ...endpointColumns('src'),
  ...endpointColumns('dst'),
  { name: 'host', type: FieldType.string, value: (e) => e.host },
  { name: 'query', type: FieldType.string, value: (e) => e.query },
  { name: 'protocol.version', type: FieldType.string, value: (e) => e.protocolVersion },
  { name: 'transport', type: FieldType.string, value: (e) => e.transport },
  { name: 'request.size', type: FieldType.number, config: { unit: 'bytes' }, value: (e) => e.requestSize },
  { name: 'response.size', type: FieldType.number, config: { unit: 'bytes' }, value: (e) => e.responseSize },
  { name: 'unanswered', type: FieldType.boolean, value: (e) => e.unanswered },
  { name: 'incomplete', type: FieldType.boolean, value: (e) => e.incomplete },
  { name: 'agent', type: FieldType.string, value: (e) => e.agent },
];

/** The columns whose cells link to the single-entry view. */
const LINKED_COLUMNS = new Set(['id', 'target']);

/** A column's config: its own, the registry's badges on `protocol`, the links on the linked ones. */
function columnConfig(c: EntryColumn, protocols: ProtocolRegistry, links: DataLink[] = []): FieldConfig {
  const mappings = c.name === 'protocol' ? protocols.mappings() : [];
  return {
    ...c.config,
    ...(mappings.length ? { mappings } : {}),
    ...(LINKED_COLUMNS.has(c.name) && links.length ? { links } : {}),
  };
}

/** Entries as a table frame (newest first, as the hub sends them). */
export function entriesFrame(
  entries: EntrySummary[],
  opts: { refId: string; timeField: TimeField; links: DataLink[]; protocols?: ProtocolRegistry },
): DataFrame {
  const protocols = opts.protocols ?? EMPTY_REGISTRY;
  return createDataFrame({
    refId: opts.refId,
    name: 'entries',
    meta: { preferredVisualisationType: 'table' },
    fields: ENTRY_COLUMNS.map((c) => ({
      name: c.name,
      type: c.type,
      config: columnConfig(c, protocols, opts.links),
      values: entries.map((e) => c.value(e, opts.timeField)),
    })),
  });
}

/** The live stream's frame: a ring of `capacity` rows, newest first, oldest dropped. */
export function streamFrame(refId: string, capacity: number, protocols: ProtocolRegistry = EMPTY_REGISTRY): CircularDataFrame {
  const frame = new CircularDataFrame({ append: 'head', capacity });
  frame.refId = refId;
  frame.name = 'stream';
  frame.meta = { preferredVisualisationType: 'table' };
  for (const c of ENTRY_COLUMNS) frame.addField({ name: c.name, type: c.type, config: columnConfig(c, protocols) });
  return frame;
}

/** Adds entries (oldest first, as the stream sends them) to the stream frame. */
export function appendEntries(frame: CircularDataFrame, entries: EntrySummary[], timeField: TimeField): void {
  for (const e of entries) {
    const row: Record<string, unknown> = {};
    for (const c of ENTRY_COLUMNS) row[c.name] = c.value(e, timeField);
    frame.add(row);
  }
}

const METRIC_UNITS: Record<StatsMetric, string> = { requests: 'short', errors: 'short', latency: 'ms' };

/** One time series frame per hub series; the series name becomes the label of the group. */
export function statsFrames(
  res: StatsResponse,
  opts: { refId: string; metric: StatsMetric; groupBy: string },
): DataFrame[] {
  return res.series.map((s) =>
    createDataFrame({
      refId: opts.refId,
      name: s.name,
      meta: { custom: { intervalMs: res.intervalMs } },
      fields: [
        { name: 'time', type: FieldType.time, values: s.points.map((p) => p[0]), config: { interval: res.intervalMs } },
        {
          name: opts.metric,
          type: FieldType.number,
          values: s.points.map((p) => p[1]),
          labels: opts.groupBy === 'none' ? undefined : { [opts.groupBy]: s.name },
          config: { unit: METRIC_UNITS[opts.metric], displayNameFromDS: s.name },
        },
      ],
    }),
  );
}

/** Colours of the status-class arcs around a service-map node. */
/** Node arcs: the share of each outcome, the same classes for every protocol (HTTP: 4xx client, 5xx server errors). */
const ARCS = [
  { field: 'shareOk', name: 'ok', color: 'green' },
  { field: 'shareClientError', name: 'client error', color: 'orange' },
  { field: 'shareServerError', name: 'server error', color: 'red' },
  { field: 'shareNoResponse', name: 'no response', color: 'grey' },
  { field: 'shareOneWay', name: 'one-way', color: 'blue' },
] as const;

/** The node graph's `nodes` and `edges` frames. */
export function serviceMapFrames(
  res: ServiceMapResponse,
  opts: { refId: string; secondaryStat: SecondaryStat },
): [DataFrame, DataFrame] {
  const secondary =
    opts.secondaryStat === 'p95'
      ? { displayName: 'p95 latency', unit: 'ms', pick: (x: { p95Ms: number }) => x.p95Ms }
      : { displayName: 'Error rate', unit: 'percentunit', pick: (x: { errorRate: number }) => x.errorRate };
  const meta = { preferredVisualisationType: 'nodeGraph' as const };
  const n = res.nodes;
  const nodes = createDataFrame({
    refId: opts.refId,
    name: 'nodes',
    meta,
    fields: [
      { name: 'id', type: FieldType.string, values: n.map((x) => x.id) },
      { name: 'title', type: FieldType.string, values: n.map((x) => x.title) },
      { name: 'subtitle', type: FieldType.string, values: n.map((x) => x.subtitle) },
      {
        name: 'mainstat',
        type: FieldType.number,
        values: n.map((x) => x.ratePerSec),
        config: { displayName: 'Requests/s', unit: 'reqps' },
      },
      {
        name: 'secondarystat',
        type: FieldType.number,
        values: n.map((x) => secondary.pick(x)),
        config: { displayName: secondary.displayName, unit: secondary.unit },
      },
      ...ARCS.map((arc) => ({
        name: `arc__${arc.field.slice('share'.length)}`,
        type: FieldType.number,
        values: n.map((x) => x[arc.field]),
        config: { displayName: arc.name, color: { mode: 'fixed', fixedColor: arc.color } },
      })),
      { name: 'detail__namespace', type: FieldType.string, values: n.map((x) => x.namespace), config: { displayName: 'Namespace' } },
      { name: 'detail__requests', type: FieldType.number, values: n.map((x) => x.requests), config: { displayName: 'Requests' } },
      {
        name: 'detail__errorRate',
        type: FieldType.number,
        values: n.map((x) => x.errorRate),
        config: { displayName: 'Error rate', unit: 'percentunit' },
      },
      { name: 'detail__p95', type: FieldType.number, values: n.map((x) => x.p95Ms), config: { displayName: 'p95 latency', unit: 'ms' } },
    ],
  });
  const e = res.edges;
  const edges = createDataFrame({
    refId: opts.refId,
    name: 'edges',
    meta,
    fields: [
      { name: 'id', type: FieldType.string, values: e.map((x) => x.id) },
      { name: 'source', type: FieldType.string, values: e.map((x) => x.source) },
      { name: 'target', type: FieldType.string, values: e.map((x) => x.target) },
      {
        name: 'mainstat',
        type: FieldType.number,
        values: e.map((x) => x.ratePerSec),
        config: { displayName: 'Requests/s', unit: 'reqps' },
      },
      {
        name: 'secondarystat',
        type: FieldType.number,
        values: e.map((x) => secondary.pick(x)),
        config: { displayName: secondary.displayName, unit: secondary.unit },
      },
      { name: 'detail__requests', type: FieldType.number, values: e.map((x) => x.requests), config: { displayName: 'Requests' } },
      {
        name: 'detail__protocols',
        type: FieldType.string,
        values: e.map((x) => x.protocols.join(', ')),
        config: { displayName: 'Protocols' },
      },
      {
        name: 'detail__errorRate',
        type: FieldType.number,
        values: e.map((x) => x.errorRate),
        config: { displayName: 'Error rate', unit: 'percentunit' },
      },
      { name: 'detail__p95', type: FieldType.number, values: e.map((x) => x.p95Ms), config: { displayName: 'p95 latency', unit: 'ms' } },
    ],
  });
  return [nodes, edges];
}

/** The figures the catalog and `top` give each row (hub/shapes.ts CallStats), as table columns. */
function callStatsFields(s: CallStats[]) {
  return [
      { name: 'requests', type: FieldType.number, values: s.map((x) => x.requests), config: { displayName: 'Requests' } },
      { name: 'succeeded', type: FieldType.number, values: s.map((x) => x.succeeded), config: { displayName: 'Succeeded' } },
      { name: 'failed', type: FieldType.number, values: s.map((x) => x.failed), config: { displayName: 'Failed' } },
      { name: 'avg', type: FieldType.number, values: s.map((x) => x.avgMs), config: { displayName: 'Average latency', unit: 'ms' } },
      { name: 'p95', type: FieldType.number, values: s.map((x) => x.p95Ms), config: { displayName: 'p95 latency', unit: 'ms' } },
      { name: 'protocols', type: FieldType.string, values: s.map((x) => x.protocols.join(', ')), config: { displayName: 'Protocols' } },
  ];
}

/** The service catalog: one row per service. */
export function catalogFrame(res: CatalogResponse, refId: string): DataFrame {
  const s = res.services;
  return createDataFrame({
    refId,
    name: 'catalog',
    meta: { preferredVisualisationType: 'table' },
    fields: [
      { name: 'service', type: FieldType.string, values: s.map((x) => x.service), config: { displayName: 'Service' } },
      { name: 'namespace', type: FieldType.string, values: s.map((x) => x.namespace), config: { displayName: 'Namespace' } },
      ...callStatsFields(s),
    ],
  });
}

/** A field's top values: the value column is named after the field (`dns.qname`), then the figures. */
export function topFrame(res: TopResponse, refId: string): DataFrame {
  return createDataFrame({
    refId,
    name: `top ${res.by}`,
    meta: { preferredVisualisationType: 'table' },
    fields: [{ name: res.by, type: FieldType.string, values: res.rows.map((r) => r.value) }, ...callStatsFields(res.rows)],
  });
}

/** A body as text for a table cell or a text panel: the text, or `base64:` and the bytes. */
export function bodyText(b: BodyJson): string {
  if (b.text !== undefined) return b.text;
  if (b.base64 !== undefined && b.base64 !== '') return `base64:${b.base64}`;
  return '';
}

const headerLines = (h: Array<[string, string]>): string => h.map(([k, v]) => `${k}: ${v}`).join('\n');

/**
 * One entry in full: `entry` (one row: the summary columns, then end time, headers as
 * `Name: value` lines, bodies and their sizes) and `headers` (one row per header, for a table).
 */
export function entryFrames(
  e: EntryDetail,
  opts: { refId: string; timeField: TimeField; protocols?: ProtocolRegistry },
): [DataFrame, DataFrame] {
  const protocols = opts.protocols ?? EMPTY_REGISTRY;
  const extra: Array<{ name: string; type: FieldType; value: unknown; config?: FieldConfig }> = [
    { name: 'end', type: FieldType.time, value: e.endUs / 1000 },
    { name: 'request.headers', type: FieldType.string, value: headerLines(e.requestHeaders) },
    { name: 'request.body', type: FieldType.string, value: bodyText(e.requestBody) },
    { name: 'request.contentType', type: FieldType.string, value: e.requestBody.contentType },
    { name: 'request.encoding', type: FieldType.string, value: e.requestBody.encoding },
    { name: 'request.wireSize', type: FieldType.number, value: e.requestBody.wireSize, config: { unit: 'bytes' } },
    { name: 'request.truncated', type: FieldType.boolean, value: e.requestBody.truncated },
    { name: 'response.headers', type: FieldType.string, value: headerLines(e.responseHeaders) },
    { name: 'response.body', type: FieldType.string, value: bodyText(e.responseBody) },
    { name: 'response.contentType', type: FieldType.string, value: e.responseBody.contentType },
    { name: 'response.encoding', type: FieldType.string, value: e.responseBody.encoding },
    { name: 'response.wireSize', type: FieldType.number, value: e.responseBody.wireSize, config: { unit: 'bytes' } },
    { name: 'response.truncated', type: FieldType.boolean, value: e.responseBody.truncated },
  ];
  const entry = createDataFrame({
    refId: opts.refId,
    name: 'entry',
    fields: [
      ...ENTRY_COLUMNS.map((c) => ({ name: c.name, type: c.type, config: columnConfig(c, protocols), values: [c.value(e, opts.timeField)] })),
      ...extra.map((x) => ({ name: x.name, type: x.type, config: x.config ?? {}, values: [x.value] })),
    ],
  });
  const rows = [
    ...e.requestHeaders.map(([k, v]) => ['request', k, v]),
    ...e.responseHeaders.map(([k, v]) => ['response', k, v]),
  ];
  const headers = createDataFrame({
    refId: opts.refId,
    name: 'headers',
    fields: [
      { name: 'side', type: FieldType.string, values: rows.map((r) => r[0]) },
      { name: 'name', type: FieldType.string, values: rows.map((r) => r[1]) },
      { name: 'value', type: FieldType.string, values: rows.map((r) => r[2]) },
    ],
  });
  return [entry, headers];
}
