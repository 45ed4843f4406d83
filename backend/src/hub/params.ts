/**
 * Request parameters shared by the endpoints: the time range, the filter, and how they become SQL
 * conditions with parameters.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_TIME_US, compileExpr, type CompiledFilter } from '../query/compile.js';
import { parseFilter } from '../query/parser.js';
import type { Expr } from '../query/ast.js';
import { ApiError } from './errors.js';

export const MAX_FILTER_LENGTH = 4096;
export const DEFAULT_RANGE_MS = 3_600_000;

/** Latest time a range may name (ms): the end of 2254, as for times in filters (compile.ts). */
export const MAX_TIME_MS = Math.floor(MAX_TIME_US / 1000);

/**
 * An integer of the query string. Every one has both bounds, at most 2^53 − 1: the hub's ajv runs
 * with `strictNumbers: false` (server.ts), under which "Infinity" and "1e400" coerce to ±Infinity
 * and only a `maximum` / `minimum` refuses them.
 */
export function SafeInteger(options: { minimum?: number; maximum?: number; description?: string } = {}) {
  return Type.Integer({ minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, ...options });
}

/** A time in ms since the epoch, from 1970 up to MAX_TIME_MS. */
export const TimeMs = () => SafeInteger({ minimum: 0, maximum: MAX_TIME_MS, description: 'ms since the epoch' });

export const RangeQuery = Type.Object({
  filter: Type.Optional(Type.String()),
  from: Type.Optional(TimeMs()),
  to: Type.Optional(TimeMs()),
});
export type RangeQuery = Static<typeof RangeQuery>;

export interface TimeRange {
  fromMs: number;
  toMs: number;
}

export function timeRange(q: { from?: number; to?: number }, now = Date.now()): TimeRange {
  const toMs = q.to ?? now;
  const fromMs = q.from ?? toMs - DEFAULT_RANGE_MS;
  if (fromMs > toMs) throw new ApiError(400, 'bad_request', `'from' (${fromMs}) is after 'to' (${toMs})`);
  return { fromMs, toMs };
}

/** Parses the user's filter (length-limited); FilterError becomes a bad_filter answer upstream. */
export function parseUserFilter(text: string | undefined): Expr {
  const t = text ?? '';
  if (t.length > MAX_FILTER_LENGTH) {
    throw new ApiError(400, 'too_large', `the filter is ${t.length} characters long; the limit is ${MAX_FILTER_LENGTH}`);
  }
  return parseFilter(t);
}

export function compileUserFilter(text: string | undefined): CompiledFilter {
  return compileExpr(parseUserFilter(text));
}

/** SQL condition for a time range on `start_time`, with its parameters. */
export function rangeSql(r: TimeRange): { sql: string; params: Record<string, number> } {
  return {
    sql: 'start_time >= fromUnixTimestamp64Milli({fromMs:Int64}) AND start_time <= fromUnixTimestamp64Milli({toMs:Int64})',
    params: { fromMs: r.fromMs, toMs: r.toMs },
  };
}
