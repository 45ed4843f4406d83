/**
 * The service map (who calls whom, with rates, errors and p95), the service catalog (per
 * service: requests, succeeded, failed, latency) and the top values of any field with the same
 * figures (`/api/v1/top?by=dns.qname`). A service is named as in the rollup: the Kubernetes
 * service, else the workload, else the pod, else the IP.
 */
import { OUTCOME_NAMES } from '../entries/entry.js';
import type { Expr } from '../query/ast.js';
import type { Store } from '../store/index.js';
import { aggregateSource, groupableField, type AggregateSource } from './aggregate.js';
import type { TimeRange } from './params.js';
import { queryRows, type QueryLimits } from './run.js';
import type { CatalogJson, CallStats, ServiceMapJson, ServiceMapNode, TopJson } from './shapes.js';

export const MAX_EDGES = 5_000;

type Num = number | string;

function nodeId(namespace: string, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

const round = (x: number, digits = 4) => Number(x.toFixed(digits));

export async function serviceMap(store: Store, limits: QueryLimits, filter: Expr, range: TimeRange): Promise<ServiceMapJson> {
  const src = aggregateSource(store, filter, range);
  const seconds = Math.max(1, (range.toMs - range.fromMs) / 1000);
  // One scan for both: edges are (source, target) groups, nodes the target groups.
  const rows = await queryRows<{
    sn: string; s: string; dn: string; d: string; n_req: Num; n_err: Num; q: number[]; protocols: string[];
    c2: Num; c3: Num; c4: Num; c5: Num; o0: Num; o1: Num; o2: Num; o3: Num; o4: Num; node_row: number;
  }>(
    store,
    limits,
    `SELECT ${src.srcNamespace} AS sn, ${src.srcName} AS s, ${src.dstNamespace} AS dn, ${src.dstName} AS d, ` +
      `${src.requests} AS n_req, ${src.errors} AS n_err, ${src.quantilesUs([0.95])} AS q, ` +
      `arraySort(groupUniqArray(${src.protocol})) AS protocols, ` +
      [2, 3, 4, 5].map((c) => `${src.requestsIf(`${src.statusClass} = ${c}`)} AS c${c}`).join(', ') +
      ', ' +
      OUTCOME_NAMES.map((_, o) => `${src.requestsIf(`${src.outcome} = ${o}`)} AS o${o}`).join(', ') +
      // grouping(sn) is 1 in the set that leaves the source out: the node rows.
      `, grouping(sn) AS node_row ${src.from} GROUP BY GROUPING SETS ((sn, s, dn, d), (dn, d))`,
    src.params,
  );
  const nodeRows = rows.filter((r) => Number(r.node_row) === 1);
  const edgeRows = rows
    .filter((r) => Number(r.node_row) === 0)
    .sort((a, b) => Number(b.n_req) - Number(a.n_req))
    .slice(0, MAX_EDGES);

  const nodes = new Map<string, ServiceMapNode>();
  function emptyNode(namespace: string, name: string): ServiceMapNode {
    return {
      id: nodeId(namespace, name),
      title: name,
      subtitle: namespace,
      namespace,
      requests: 0,
      ratePerSec: 0,
      errorRate: 0,
      p95Ms: 0,
      share2xx: 0,
      share3xx: 0,
      share4xx: 0,
      share5xx: 0,
      shareOk: 0,
      shareClientError: 0,
      shareServerError: 0,
      shareNoResponse: 0,
      shareOneWay: 0,
    };
  }
  for (const r of nodeRows) {
    const requests = Number(r.n_req);
    const n = emptyNode(r.dn, r.d);
    n.requests = requests;
    n.ratePerSec = round(requests / seconds);
    n.errorRate = requests ? round(Number(r.n_err) / requests) : 0;
    n.p95Ms = Number.isFinite(r.q[0]) ? round(r.q[0] / 1000, 3) : 0;
    // Shares stay unrounded: the node graph's arcs must sum to at most 1.
    n.share2xx = requests ? Number(r.c2) / requests : 0;
    n.share3xx = requests ? Number(r.c3) / requests : 0;
    n.share4xx = requests ? Number(r.c4) / requests : 0;
    n.share5xx = requests ? Number(r.c5) / requests : 0;
    n.shareNoResponse = requests ? Number(r.o0) / requests : 0;
    n.shareOk = requests ? Number(r.o1) / requests : 0;
    n.shareClientError = requests ? Number(r.o2) / requests : 0;
    n.shareServerError = requests ? Number(r.o3) / requests : 0;
    n.shareOneWay = requests ? Number(r.o4) / requests : 0;
    nodes.set(n.id, n);
  }
  const edges = edgeRows.map((r) => {
    const source = nodeId(r.sn, r.s);
    const target = nodeId(r.dn, r.d);
    // Pure clients (the outside world, probes) only appear as sources.
    if (!nodes.has(source)) nodes.set(source, emptyNode(r.sn, r.s));
    const requests = Number(r.n_req);
    return {
      id: `${source}->${target}`,
      source,
      target,
      requests,
      ratePerSec: round(requests / seconds),
      errorRate: requests ? round(Number(r.n_err) / requests) : 0,
      p95Ms: Number.isFinite(r.q[0]) ? round(r.q[0] / 1000, 3) : 0,
      protocols: r.protocols,
    };
  });
  return { nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)), edges };
}

/** The figures the catalog and `top` give each group, as SQL over a source and read back. */
const callStatsSql = (src: AggregateSource) =>
  `${src.requests} AS n_req, ${src.errors} + ${src.errors4xx} AS n_failed, ${src.answered} AS n_ans, ` +
  `${src.durationSumUs} AS dsum, ${src.quantilesUs([0.95])} AS q, arraySort(groupUniqArray(${src.protocol})) AS protocols`;
interface CallStatsRow {
  n_req: Num;
  n_failed: Num;
  n_ans: Num;
  dsum: Num;
  q: number[];
  protocols: string[];
}

function callStats(r: CallStatsRow): CallStats {
  const requests = Number(r.n_req);
  const failed = Number(r.n_failed);
  const answered = Number(r.n_ans);
  return {
    requests,
    succeeded: requests - failed,
    failed,
    avgMs: answered ? round(Number(r.dsum) / answered / 1000, 3) : 0,
    p95Ms: Number.isFinite(r.q[0]) ? round(r.q[0] / 1000, 3) : 0,
    protocols: r.protocols,
  };
}

export async function catalog(store: Store, limits: QueryLimits, filter: Expr, range: TimeRange): Promise<CatalogJson> {
  const src = aggregateSource(store, filter, range);
  const rows = await queryRows<CallStatsRow & { dn: string; d: string }>(
    store,
    limits,
    `SELECT ${src.dstNamespace} AS dn, ${src.dstName} AS d, ${callStatsSql(src)} ${src.from} GROUP BY dn, d ORDER BY n_req DESC, dn, d`,
    src.params,
  );
  return { services: rows.map((r) => ({ service: r.d, namespace: r.dn, ...callStats(r) })) };
}

export const TOP_SORTS = ['requests', 'failed', 'p95', 'avg'] as const;
export type TopSort = (typeof TOP_SORTS)[number];
const TOP_ORDER: Record<TopSort, string> = { requests: 'n_req', failed: 'n_failed', p95: 'q[1]', avg: 'if(n_ans = 0, 0, dsum / n_ans)' };
export const MAX_TOP_ROWS = 1000;

/** The values of a field with the most requests (failures, slowest p95 or mean), with the catalog's figures. */
export async function top(
  store: Store,
  limits: QueryLimits,
  filter: Expr,
  range: TimeRange,
  opts: { by: string; sort: TopSort; limit: number },
): Promise<TopJson> {
  const field = groupableField('by', opts.by);
  const src = aggregateSource(store, filter, range, undefined, [field]);
  const rows = await queryRows<CallStatsRow & { v: string }>(
    store,
    limits,
    `SELECT toString(${src.fieldSql(field)}) AS v, ${callStatsSql(src)} ${src.from} ` +
      `GROUP BY v ORDER BY ${TOP_ORDER[opts.sort]} DESC, n_req DESC, v LIMIT {topLimit:UInt32}`,
    { ...src.params, topLimit: opts.limit },
  );
  return { by: field.name, rows: rows.map((r) => ({ value: r.v, ...callStats(r) })) };
}
