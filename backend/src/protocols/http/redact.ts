/**
 * HTTP's own secrets, beyond the credential headers every protocol's attributes are checked for
 * (agent/redact.ts): query parameters that carry credentials by convention.
 */
import { REDACTED, type Entry } from '../../entries/entry.js';

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

const DEFAULT_PARAMS = new Set(defaultRedactedQueryParams);

/** Is `lower` (a lowercase parameter name) a credential's: a default name or one of `extraNames`? */
export function isCredentialParam(lower: string, extraNames: ReadonlySet<string>): boolean {
  return DEFAULT_PARAMS.has(lower) || extraNames.has(lower);
}

/** Replaces the values of credential query parameters (the defaults and `extraNames`) in place. */
export function redactQuery(entry: Entry, extraNames: ReadonlySet<string>): void {
  if (entry.query === '') return;
  const query = entry.query;
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
    const lower = decoded.toLowerCase();
    if (eq < 0 || !isCredentialParam(lower, extraNames)) return part;
    changed = true;
    return `${name}=${REDACTED}`;
  });
  if (changed) entry.query = parts.join('&');
}
