/**
 * The data source's query and settings models, and the hub's answers (docs/api.md).
 * The hub's answers (entries, stream, sections, bodies, stats, service map, catalog, the protocol
 * registry) are its own TypeBox types from backend/src/hub/shapes.ts, imported as types: `import type` is
 * erased by the bundler, so the browser bundle holds no backend code (test/build/dist checks it),
 * and the plugin cannot drift from what the hub sends. The plugin may import types from shapes.ts
 * only (it depends on nothing but TypeBox): never values, never other backend modules.
 * The small answers (validation, completions, labels, health, errors) are typed here.
 */
import type { DataQuery, DataSourceJsonData } from '@grafana/data';
import type {
  BodyJson,
  CallStats,
  CatalogJson,
  CatalogService,
  EndpointJson,
  EntriesPage,
  EntryDetail,
  EntrySummary,
  ProtocolInfo,
  ProtocolsJson,
  SectionJson,
  ServiceMapEdge,
  ServiceMapJson,
  ServiceMapNode,
  StatsJson,
  StreamPage,
  TopJson,
  TopRow,
} from '../../../backend/src/hub/shapes.js';

export type { BodyJson, CallStats, EndpointJson, EntryDetail, EntrySummary, ProtocolInfo, ProtocolsJson, SectionJson };

export const QUERY_TYPES = ['entries', 'stream', 'stats', 'serviceMap', 'catalog', 'top', 'entry'] as const;
export type QueryType = (typeof QUERY_TYPES)[number];

export const STATS_GROUP_BY = ['statusClass', 'outcome', 'protocol', 'service', 'none'] as const;
/** A built-in grouping, or the name of a field with one value an entry (`dns.rcode`, `sql.shape`). */
export type StatsGroupBy = (typeof STATS_GROUP_BY)[number] | (string & {});
export const TOP_SORTS = ['requests', 'failed', 'p95', 'avg'] as const;
export type TopSort = (typeof TOP_SORTS)[number];
export const MAX_TOP_SERIES = 50;
export const MAX_TOP_ROWS = 1000;
export const STATS_METRICS = ['requests', 'errors', 'latency'] as const;
export type StatsMetric = (typeof STATS_METRICS)[number];
export type SecondaryStat = 'p95' | 'errorRate';
export type TimeField = 'start' | 'end';

export interface TaplineQuery extends DataQuery {
  queryType?: QueryType;
  /** Filter-language text; `$var` and ad-hoc filters are applied before it reaches the hub. */
  filter?: string;
  /** entries: rows to fetch (hub max 10000); top: values to list (max 1000). */
  limit?: number;
  /** stream: rows the live frame keeps before dropping the oldest. */
  capacity?: number;
  /** stats */
  metric?: StatsMetric;
  groupBy?: StatsGroupBy;
  /** stats grouped by a field: keep the N biggest series, the rest summed as `other`. */
  top?: number;
  /** top: the field whose values are listed, and the order. */
  by?: string;
  sort?: TopSort;
  /** stats with metric 'latency': quantiles between 0 and 1. */
  quantiles?: number[];
  /** serviceMap: what the second number inside a node and on an edge shows. */
  secondaryStat?: SecondaryStat;
  /** entry: the id (may be `$entry`). */
  entryId?: string;
}

export const DEFAULT_QUERY: Partial<TaplineQuery> = { queryType: 'entries', filter: '' };
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10000;
export const DEFAULT_CAPACITY = 1000;
export const MAX_CAPACITY = 100000;
export const DEFAULT_QUANTILES = [0.5, 0.95, 0.99];

/** jsonData: stored in clear by Grafana. */
export interface TaplineOptions extends DataSourceJsonData {
  /** The hub's base URL as Grafana's server reaches it, e.g. http://tapline-hub:8787. */
  hubUrl?: string;
  /** Which time the entries table's `time` column shows: request start or response end. */
  timeField?: TimeField;
  defaultLimit?: number;
  defaultCapacity?: number;
  /** uid of a dashboard that shows one entry from its `entry` variable (target of row links). */
  entryDashboardUid?: string;
}

/** secureJsonData: encrypted by Grafana, used only by its proxy route, never sent to the browser. */
export interface TaplineSecureOptions {
  token?: string;
}

// ---- the hub's other answers (docs/api.md) ----

export type EntriesResponse = EntriesPage;
export type StreamResponse = StreamPage;
export type StatsResponse = StatsJson;
export type ServiceMapResponse = ServiceMapJson;
export type CatalogResponse = CatalogJson;
export type TopResponse = TopJson;
export type { TopRow };
export type { CatalogService, ServiceMapEdge, ServiceMapNode };

export type ValidateResponse =
  | { valid: true }
  | { valid: false; error: { message: string; position: number; expected?: string[] } };

export interface CompletionsResponse {
  fields: Array<{ name: string; type: string; doc: string }>;
  operators: string[];
  values: string[];
}

export interface LabelsResponse {
  values: string[];
}

/** The hub's label names (`method` is the old name of `operation`, kept for saved variables). */
export const LABEL_NAMES = ['namespace', 'service', 'pod', 'protocol', 'operation', 'method', 'status', 'outcome'] as const;
export type LabelName = (typeof LABEL_NAMES)[number];

export interface HealthResponse {
  status: 'ok' | 'degraded' | 'down';
  store: { reachable: boolean; message?: string; entries?: number };
  agent?: { running: boolean; packets?: number; entries?: number; drops?: number; [k: string]: unknown };
  version: string;
}

export interface HubErrorBody {
  error: { code: string; message: string; position?: number };
}
