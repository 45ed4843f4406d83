/**
 * Secrets never leave the agent: values of credential attributes (HTTP headers, gRPC metadata…)
 * are marked redacted (every reader of the entry, the store's encoder included, sees REDACTED
 * instead), then the entry's protocol redacts what is secret in it (its descriptor's `redact`:
 * HTTP's query parameters, Redis AUTH, database passwords…), before an entry is handed on. On by
 * default.
 */
import type { Entry, HeaderList } from '../entries/entry.js';
import type { Dissector } from '../protocols/dissector.js';

/** Attribute names (lowercase) whose values are always secrets, in every protocol. */
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

export interface RedactionOptions {
  enabled: boolean;
  /** Extra attribute (header) names to redact (any case). */
  headers: readonly string[];
  /** Extra parameter names to redact (any case): HTTP query parameters, and what each protocol's redaction reads. */
  queryParams: readonly string[];
}

export const defaultRedaction: RedactionOptions = { enabled: true, headers: [], queryParams: [] };

export class Redactor {
  /**
   * Redacted header names (lowercase) by length: most headers are told apart by their length and first
   * letters, without a lowercased copy or a hash of every name.
   */
  private readonly headersByLength: Array<string[] | undefined> = [];
  /** The user's extra names (lowercase), for the protocols' own redaction. */
  private readonly extraNames: ReadonlySet<string>;

  constructor(private readonly opts: RedactionOptions = defaultRedaction) {
    const headers = new Set([...defaultRedactedHeaders, ...opts.headers.map((h) => h.toLowerCase())]);
    for (const h of headers) (this.headersByLength[h.length] ??= []).push(h);
    this.extraNames = new Set([...opts.headers, ...opts.queryParams].map((h) => h.toLowerCase()));
  }

  /** Redacts in place: the shared attribute names, then what `dissector` says is secret. */
  redact(entry: Entry, dissector: Dissector): void {
    if (!this.opts.enabled) return;
    this.redactHeaders(entry.requestHeaders);
    this.redactHeaders(entry.responseHeaders);
    dissector.redact?.(entry, this.extraNames);
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
}
