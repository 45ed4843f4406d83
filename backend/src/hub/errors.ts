/** The hub's error answers: `{"error": {"code", "message", "position"?}}` (docs/api.md). */
import { TaplineError } from '../errors.js';
import { FilterError } from '../query/errors.js';

export type ApiErrorCode =
  | 'bad_request'
  | 'bad_filter'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'too_large'
  | 'timeout'
  | 'store_unavailable'
  | 'internal';

export class ApiError extends TaplineError {
  constructor(
    readonly status: number,
    override readonly code: ApiErrorCode,
    message: string,
    readonly position?: number,
  ) {
    super(message);
  }

  toJSON(): { error: { code: ApiErrorCode; message: string; position?: number } } {
    return { error: { code: this.code, message: this.message, ...(this.position !== undefined ? { position: this.position } : {}) } };
  }
}

/** Thrown at start-up for a configuration the hub refuses (e.g. no token beyond loopback). */
export class HubConfigError extends TaplineError {
  override readonly code = 'HUB_CONFIG';
}

const STORE_DOWN = /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|socket hang up|fetch failed|Connection refused|Timeout error/i;

/** Maps anything a handler threw to the API's error vocabulary. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof FilterError) return new ApiError(400, 'bad_filter', err.message, err.column);
  const e = err as { validation?: unknown; statusCode?: number; message?: string; code?: string; type?: string };
  const message = e?.message ?? String(err);
  if (e?.validation) return new ApiError(400, 'bad_request', message);
  if (e?.statusCode === 413 || e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError(413, 'too_large', message);
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return new ApiError(e.statusCode, 'bad_request', message);
  if (e?.type === 'TIMEOUT_EXCEEDED' || /TIMEOUT_EXCEEDED|Timeout exceeded: elapsed/.test(message)) {
    return new ApiError(504, 'timeout', `the query ran past the hub's time limit; narrow the time range or the filter (${firstLine(message)})`);
  }
  if (/TOO_MANY_ROWS|TOO_MANY_BYTES|MEMORY_LIMIT_EXCEEDED/.test(message + (e?.type ?? ''))) {
    return new ApiError(413, 'too_large', `the query reads more than the hub allows; narrow it (${firstLine(message)})`);
  }
  if (STORE_DOWN.test(message) || STORE_DOWN.test(e?.code ?? '')) {
    return new ApiError(503, 'store_unavailable', `the store is unreachable: ${firstLine(message)}`);
  }
  return new ApiError(500, 'internal', firstLine(message));
}

function firstLine(s: string): string {
  return s.split('\n')[0].slice(0, 500);
}
