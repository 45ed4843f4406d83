/**
 * Secrets never leave the agent: values of credential headers are marked redacted (every reader of
 * the entry, the store's encoder included, sees REDACTED instead) and same-named query parameters
 * replaced, before an entry is handed on. On by default.
 */
import { REDACTED, type Entry, type HeaderList } from '../entries/entry.js';

/** Header names (lowercase) whose values are always secrets. */
export const defaultRedactedHeaders: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'apikey',
  'x-auth-token',
  'x-access-token',
  'x-refresh-token',
  'x-csrf-token',
  'x-xsrf-token',
  'x-amz-security-token',
  'x-goog-api-key',
  'x-vault-token',
  'x-consul-token',
  'private-token',
  'x-gitlab-token',
  'x-hub-signature',
  'x-hub-signature-256',
];

/** Query parameters (lowercase) that carry credentials by convention. */
export const defaultRedactedQueryParams: readonly string[] = [
  'access_token',
  'refresh_token',
  'id_token',
  'token',
  'api_key',
  'apikey',
  'password',
  'client_secret',
  'x-amz-signature',
  'sig',
  'signature',
];

export interface RedactionOptions {
  enabled: boolean;
  /** Extra header names to redact (any case). */
  headers: readonly string[];
  /** Extra query parameter names to redact (any case). */
  queryParams: readonly string[];
}

export const defaultRedaction: RedactionOptions = { enabled: true, headers: [], queryParams: [] };

export class Redactor {
  /**
   * Redacted header names (lowercase) by length: most headers are told apart by their length and first
   * letters, without a lowercased copy or a hash of every name.
   */
  private readonly headersByLength: Array<string[] | undefined> = [];
  private readonly params: Set<string>;

  constructor(private readonly opts: RedactionOptions = defaultRedaction) {
    const headers = new Set([...defaultRedactedHeaders, ...opts.headers.map((h) => h.toLowerCase())]);
    for (const h of headers) (this.headersByLength[h.length] ??= []).push(h);
    this.params = new Set([...defaultRedactedQueryParams, ...opts.queryParams.map((h) => h.toLowerCase())]);
  }

  /** Redacts in place. */
  redact(entry: Entry): void {
    if (!this.opts.enabled) return;
    this.redactHeaders(entry.requestHeaders);
    this.redactHeaders(entry.responseHeaders);
    if (entry.query !== '') entry.query = this.redactQuery(entry.query);
  }

  private redactHeaders(list: HeaderList): void {
    for (let i = 0; i < list.count; i++) {
      const candidates = this.headersByLength[list.nameLength(i)];
      if (candidates === undefined) continue;
      for (let k = 0; k < candidates.length; k++) {
        if (list.nameIs(i, candidates[k])) {
          list.redact(i);
          break;
        }
      }
    }
  }

  private redactQuery(query: string): string {
    let changed = false;
    const parts = query.split('&').map((part) => {
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // a malformed escape: compare the raw name
      }
      if (eq < 0 || !this.params.has(decoded.toLowerCase())) return part;
      changed = true;
      return `${name}=${REDACTED}`;
    });
    return changed ? parts.join('&') : query;
  }
}
