/**
 * Prometheus metrics (prom-client, a registry per hub): API latency, entries ingested and dropped
 * (when the hub runs next to a writer), and per-service requests and errors over the last complete
 * minute, read from the rollup at scrape time, for alert rules.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from '../store/index.js';
import { queryRows, type QueryLimits } from './run.js';

export interface IngestCounters {
  /** Entries written to the store so far. */
  ingested: number;
  /** Entries lost so far (full spool, queue limit). */
  dropped: number;
}

export const MAX_SERVICE_SERIES = 500;

export function createMetrics(store: Store, limits: QueryLimits, ingest?: () => IngestCounters) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tapline_hub_' });
  const httpDuration = new Histogram({
    name: 'tapline_hub_request_duration_seconds',
    help: 'Hub API request latency',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  if (ingest) {
    // Counters mirror the writer's own monotonic counts at scrape time.
    const mirror = (name: string, help: string, read: (c: IngestCounters) => number) => {
      let seen = 0;
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          const now = read(ingest());
          if (now > seen) this.inc(now - seen);
          seen = Math.max(seen, now);
        },
      });
    };
    mirror('tapline_entries_ingested_total', 'Entries written to the store', (c) => c.ingested);
    mirror('tapline_entries_dropped_total', 'Entries lost before reaching the store', (c) => c.dropped);
  }
  const perService = (name: string, help: string, column: 'requests' | 'errors') =>
    new Gauge({
      name,
      help,
      labelNames: ['namespace', 'service'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const rows = await queryRows<{ ns: string; svc: string; v: number | string }>(
          store,
          limits,
          `SELECT dst_namespace AS ns, dst_name AS svc, sum(${column}) AS v FROM ${store.database}.entries_1m ` +
            'WHERE minute = toStartOfMinute(now()) - INTERVAL 1 MINUTE GROUP BY ns, svc ORDER BY v DESC ' +
            `LIMIT ${MAX_SERVICE_SERIES}`,
        ).catch(() => []);
        for (const r of rows) this.set({ namespace: r.ns, service: r.svc }, Number(r.v));
      },
    });
  perService('tapline_service_requests_last_minute', 'Requests to a service in the last complete minute', 'requests');
  perService('tapline_service_errors_last_minute', 'Requests to a service answered 5xx or unanswered in the last complete minute', 'errors');
  return { registry, httpDuration };
}
