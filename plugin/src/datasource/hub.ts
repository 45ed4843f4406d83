/**
 * The hub client: every call goes through Grafana's data source proxy (`<instance url>/hub/...`),
 * whose route in plugin.json points at the hub URL and adds the bearer token on Grafana's server.
 */
import { getBackendSrv, isFetchError } from '@grafana/runtime';
import { lastValueFrom, map, Observable, catchError, throwError } from 'rxjs';
import type {
  CatalogResponse,
  CompletionsResponse,
  EntriesResponse,
  EntryDetail,
  HealthResponse,
  HubErrorBody,
  LabelName,
  LabelsResponse,
  ProtocolsJson,
  ServiceMapResponse,
  StatsResponse,
  StreamResponse,
  TopResponse,
  ValidateResponse,
} from './types.js';

/** The proxy route's path in plugin.json: `<instance url>/hub/api/v1/...` reaches `<hubUrl>/api/v1/...`. */
export const HUB_ROUTE = 'hub';

/** A failed hub call, with the hub's error code (docs/api.md) or `unreachable` when no hub answered. */
export class HubError extends Error {
  override readonly name = 'HubError';
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
    readonly position?: number,
    /** The answer's body as sent, when there was one (health answers 503 with its report). */
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** Query parameters; undefined and empty values are left out. */
type Params = { [key: string]: string | number | undefined } | object;

export interface TimeParams {
  from?: number;
  to?: number;
}

export class HubClient {
  constructor(private readonly instanceUrl: string) {}

  entries(p: TimeParams & { filter?: string; limit?: number; cursor?: string }): Promise<EntriesResponse> {
    return this.get('entries', p);
  }

  entry(id: string): Promise<EntryDetail> {
    return this.get(`entries/${encodeURIComponent(id)}`, {});
  }

  /** The protocol registry: names, badges, fields, outcome classes. */
  protocols(): Promise<ProtocolsJson> {
    return this.get('protocols', {});
  }

  /** One long-poll round; unsubscribing aborts the request. */
  stream(p: { filter?: string; cursor?: string; wait: number }): Observable<StreamResponse> {
    return this.request<StreamResponse>('GET', 'stream', p);
  }

  stats(
    p: TimeParams & { filter?: string; interval?: number; groupBy?: string; metric?: string; q?: string; top?: number },
  ): Promise<StatsResponse> {
    return this.get('stats', p);
  }

  serviceMap(p: TimeParams & { filter?: string }): Promise<ServiceMapResponse> {
    return this.get('servicemap', p);
  }

  catalog(p: TimeParams & { filter?: string }): Promise<CatalogResponse> {
    return this.get('catalog', p);
  }

  top(p: TimeParams & { filter?: string; by: string; sort?: string; limit?: number }): Promise<TopResponse> {
    return this.get('top', p);
  }

  validateFilter(filter: string): Promise<ValidateResponse> {
    return lastValueFrom(this.request<ValidateResponse>('POST', 'filter/validate', {}, { filter }));
  }

  completions(prefix: string, field?: string): Promise<CompletionsResponse> {
    return this.get('filter/completions', { prefix, field });
  }

  labels(name: LabelName, p: TimeParams): Promise<LabelsResponse> {
    return this.get(`labels/${name}`, p);
  }

  health(): Promise<HealthResponse> {
    return this.get('health', {});
  }

  private get<T>(path: string, params: Params): Promise<T> {
    return lastValueFrom(this.request<T>('GET', path, params));
  }

  private request<T>(method: 'GET' | 'POST', path: string, params: Params, data?: unknown): Observable<T> {
    const clean: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(params) as Array<[string, string | number | undefined]>) {
      if (v !== undefined && v !== '') clean[k] = v;
    }
    return getBackendSrv()
      .fetch<T>({
        url: `${this.instanceUrl}/${HUB_ROUTE}/api/v1/${path}`,
        method,
        params: clean,
        data,
        showErrorAlert: false,
        showSuccessAlert: false,
      })
      .pipe(
        map((r) => r.data),
        catchError((e: unknown) => throwError(() => toHubError(e))),
      );
  }
}

/** Turns what backendSrv throws into a HubError whose message a user can act on. */
export function toHubError(e: unknown): HubError {
  if (e instanceof HubError) return e;
  if (isFetchError(e)) {
    const body = e.data as Partial<HubErrorBody> & { message?: string };
    if (body && typeof body === 'object' && body.error && typeof body.error.message === 'string') {
      return new HubError(body.error.message, body.error.code ?? 'internal', e.status, body.error.position);
    }
    // No hub error body: Grafana's proxy answered for a hub it could not reach (502/504), or the
    // connection itself failed (status 0 or -1).
    const detail = body?.message ?? e.statusText ?? e.message ?? '';
    if (e.status <= 0 || e.status === 502 || e.status === 503 || e.status === 504) {
      return new HubError(
        `the Tapline hub is unreachable (HTTP ${e.status}${detail ? `: ${detail}` : ''}); check the hub URL and that the hub is running`,
        'unreachable',
        e.status,
        undefined,
        e.data,
      );
    }
    return new HubError(`the hub answered HTTP ${e.status}${detail ? `: ${detail}` : ''}`, 'internal', e.status);
  }
  const message = e instanceof Error ? e.message : String(e);
  return new HubError(`the Tapline hub is unreachable: ${message}`, 'unreachable', 0);
}
