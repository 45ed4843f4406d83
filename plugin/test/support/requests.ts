/** Builds the DataQueryRequest Grafana would pass for a panel. */
import { lastValueFrom, toArray } from 'rxjs';
import type { DataQueryRequest, DataQueryResponse } from '@grafana/data';
import type { DataSource } from '../../src/datasource/datasource';
import type { TaplineQuery } from '../../src/datasource/types';
import { timeRange } from './grafana-runtime-standins';

export const FROM_MS = 1732600000000;
export const TO_MS = FROM_MS + 3_600_000;

export function request(targets: TaplineQuery[], extra: Partial<DataQueryRequest<TaplineQuery>> = {}): DataQueryRequest<TaplineQuery> {
  return {
    requestId: 'Q1',
    interval: '15s',
    intervalMs: 15_000,
    maxDataPoints: 1000,
    range: timeRange(FROM_MS, TO_MS),
    scopedVars: {},
    targets,
    timezone: 'utc',
    app: 'dashboard',
    startTime: Date.now(),
    panelId: 3,
    ...extra,
  };
}

/** Runs a non-streaming query to its end and returns every packet. */
export async function runAll(ds: DataSource, req: DataQueryRequest<TaplineQuery>): Promise<DataQueryResponse[]> {
  return lastValueFrom(ds.query(req).pipe(toArray()));
}

/** Waits for a condition, failing with `what` after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
