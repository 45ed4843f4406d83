/**
 * The rollups' contents computed independently: in JavaScript from the entries that were written
 * (`expectedRollup`), and read back from a rollup table in the same shape (`readRollup`).
 */
import { Outcome, type Endpoint, type Entry } from '../../src/entries/entry.js';
import type { Store } from '../../src/store/index.js';

export const nameOf = (p: Endpoint) => p.service || p.workload || p.pod || p.ip;
/** 1 service, 2 workload, 3 pod, 4 IP (the contract in store/schema.ts). */
export const kindOf = (p: Endpoint) => (p.service ? 1 : p.workload ? 2 : p.pod ? 3 : 4);
/** 0 no response, 1..5 a status of 100..599 by its hundreds, 6 answered below 100, 7 from 600 (store/rollup-sql.ts). */
export const statusClassOf = (e: Entry) => (e.unanswered ? 0 : e.status < 100 ? 6 : e.status < 600 ? Math.floor(e.status / 100) : 7);
/** The latency bucket: 16 a doubling, [2^((b-1)/16), 2^(b/16)) µs; 0 for 0. */
export const bucketOf = (us: number) => (us === 0 ? 0 : Math.floor(Math.log2(us) * 16) + 1);

export interface Agg {
  requests: number; errors: number; errors_4xx: number; answered: number; duration_sum_us: number; request_bytes: number; response_bytes: number;
  /** The latency histogram, "bucket:count" in bucket order. */
  hist: string;
}

/**
 * Per bucket of `bucketS` seconds × src × dst × protocol × status class × outcome. `legacy`: as rows
 * written before migration 4 read (kind 0, no histogram). Errors are server errors and no response,
 * errors_4xx client errors, by the entry's outcome (for HTTP: 5xx or unanswered, and 4xx).
 */
export function expectedRollup(entries: Entry[], bucketS = 60, legacy = false): Map<string, Agg> {
  const m = new Map<string, Agg & { h: Map<number, number> }>();
  for (const e of entries) {
    const k = [
      Math.floor(e.startUs / (bucketS * 1e6)) * bucketS, e.src.namespace, nameOf(e.src), legacy ? 0 : kindOf(e.src), e.dst.namespace,
      nameOf(e.dst), legacy ? 0 : kindOf(e.dst), e.protocol, statusClassOf(e), e.outcome,
    ].join('|');
    const a = m.get(k) ?? { requests: 0, errors: 0, errors_4xx: 0, answered: 0, duration_sum_us: 0, request_bytes: 0, response_bytes: 0, hist: '', h: new Map() };
    a.requests++;
    if (e.outcome === Outcome.none || e.outcome === Outcome.serverError) a.errors++;
    if (e.outcome === Outcome.clientError) a.errors_4xx++;
    if (!e.unanswered) {
      a.answered++;
      a.duration_sum_us += e.durationUs;
      if (!legacy) a.h.set(bucketOf(e.durationUs), (a.h.get(bucketOf(e.durationUs)) ?? 0) + 1);
    }
    a.request_bytes += e.requestBody.wireSize;
    a.response_bytes += e.responseBody.wireSize;
    m.set(k, a);
  }
  return new Map(
    [...m].map(([k, { h, ...a }]) => [k, { ...a, hist: [...h].sort((x, y) => x[0] - y[0]).map(([b, n]) => `${b}:${n}`).join(' ') }]),
  );
}

/** A rollup table's rows in `expectedRollup`'s shape, optionally only `where`. */
export async function readRollup(store: Store, table: 'entries_1m' | 'entries_1h', where = '1'): Promise<Map<string, Agg>> {
  const time = table === 'entries_1m' ? 'minute' : 'hour';
  const rs = await store.client.query({
    query: `SELECT toUnixTimestamp(${time}) AS m, src_namespace, src_name, src_kind, dst_namespace, dst_name, dst_kind, protocol, status_class, outcome,
              sum(requests) AS n_requests, sum(errors) AS n_errors, sum(errors_4xx) AS n_errors_4xx, sum(answered) AS n_answered,
              sum(duration_sum_us) AS dsum, sum(request_bytes) AS req_bytes, sum(response_bytes) AS resp_bytes, sumMap(duration_h) AS h
            FROM ${store.database}.${table} WHERE ${where}
            GROUP BY m, src_namespace, src_name, src_kind, dst_namespace, dst_name, dst_kind, protocol, status_class, outcome`,
    format: 'JSONEachRow',
  });
  const m = new Map<string, Agg>();
  for (const r of await rs.json<Record<string, string | number> & { h: [number[], Array<number | string>] }>()) {
    const k = [r.m, r.src_namespace, r.src_name, r.src_kind, r.dst_namespace, r.dst_name, r.dst_kind, r.protocol, r.status_class, r.outcome].join('|');
    m.set(k, {
      requests: Number(r.n_requests), errors: Number(r.n_errors), errors_4xx: Number(r.n_errors_4xx), answered: Number(r.n_answered),
      duration_sum_us: Number(r.dsum), request_bytes: Number(r.req_bytes), response_bytes: Number(r.resp_bytes),
      hist: r.h[0].map((b, i) => `${b}:${Number(r.h[1][i])}`).join(' '),
    });
  }
  return m;
}
