/**
 * GraphQL's secrets: variables, literal arguments and result members whose names are credentials'
 * (the credential query parameter and header names every protocol's redaction uses, matched also
 * in camelCase and as a suffix: `password`, `newPassword`, `accessToken`, `api_key`,
 * `Authorization`…), in the request body, a GET's parameters and the response body. A body that is
 * not whole JSON (cut at the body limit) is masked by pattern.
 */
import { defaultRedactedHeaders } from '../../agent/redact.js';
import { REDACTED, type Body, type Entry } from '../../entries/entry.js';
import { defaultRedactedQueryParams, isCredentialParam, redactQuery } from '../http/redact.js';

/** The default names without separators: `access_token` also names `accessToken`, `x-api-key` `xApiKey`. */
const FLAT_NAMES = [...defaultRedactedQueryParams, ...defaultRedactedHeaders].map((n) => n.replace(/[-_]/g, ''));

/**
 * Every default credential name contains one of these (whatever its case or separators): text
 * without any cannot hold a default secret name, and is not searched further.
 */
export const SECRET_STEMS = /token|key|passw|secret|sig|auth|cookie/i;

export function isSecretName(name: string, extraNames: ReadonlySet<string>): boolean {
  const lower = name.toLowerCase();
  if (isCredentialParam(lower, extraNames)) return true;
  const flat = lower.replace(/[-_]/g, '');
  for (const n of FLAT_NAMES) if (flat.endsWith(n)) return true;
  return false;
}

/** Beyond this nesting a value is redacted whole (a walk that deep would be an attack, not an API). */
const MAX_WALK_DEPTH = 64;
const QUOTED = JSON.stringify(REDACTED);

/** A literal argument or input field in a document: `name: "value"` (block strings too). */
const ARGUMENT = /([A-Za-z_][A-Za-z0-9_]*)(\s*:\s*)("""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*")/g;
/** The same inside a JSON string, its quotes escaped. */
const ESCAPED_ARGUMENT = /([A-Za-z_][A-Za-z0-9_]*)(\s*:\s*)(\\"(?:[^"\\]|\\[^"])*\\")/g;
/** A variable passed as an argument: `password: $p` makes `p` a secret variable. */
const VARIABLE_ARGUMENT = /([A-Za-z_][A-Za-z0-9_]*)\s*:\s*\$([A-Za-z_][A-Za-z0-9_]*)/g;
/** A JSON member with a scalar value. */
const MEMBER = /"((?:[^"\\]|\\.)*)"(\s*:\s*)("(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*|true|false)/g;

function maskPattern(s: string, pattern: RegExp, extraNames: ReadonlySet<string>, replacement: string): string {
  return s.replace(pattern, (whole, name: string, sep: string) => (isSecretName(name, extraNames) ? `${pattern === MEMBER ? `"${name}"` : name}${sep}${replacement}` : whole));
}

/** A document with its secret literal arguments masked. */
export function maskDocument(query: string, extraNames: ReadonlySet<string>): string {
  return maskPattern(query, ARGUMENT, extraNames, QUOTED);
}

/** Redacts the variables a document passes to secret arguments; returns whether anything changed. */
function redactPassedVariables(query: string, variables: Record<string, unknown>, extraNames: ReadonlySet<string>): boolean {
  let changed = false;
  for (const [, argument, variable] of query.matchAll(VARIABLE_ARGUMENT)) {
    if (variable in variables && variables[variable] !== REDACTED && isSecretName(argument, extraNames)) {
      variables[variable] = REDACTED;
      changed = true;
    }
  }
  return changed;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Redacts a parsed JSON value in place; returns whether anything changed. */
function walk(v: unknown, extraNames: ReadonlySet<string>, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return false;
  let changed = false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (depth >= MAX_WALK_DEPTH && typeof v[i] === 'object' && v[i] !== null) {
        v[i] = REDACTED;
        changed = true;
      } else if (walk(v[i], extraNames, depth + 1)) changed = true;
    }
    return changed;
  }
  const o = v as Record<string, unknown>;
  let passedSecrets = false;
  if (typeof o.query === 'string' && isObject(o.variables)) passedSecrets = redactPassedVariables(o.query, o.variables, extraNames);
  for (const [k, value] of Object.entries(o)) {
    if (isSecretName(k, extraNames) || (depth >= MAX_WALK_DEPTH && typeof value === 'object' && value !== null)) {
      o[k] = REDACTED;
      changed = true;
    } else if (k === 'query' && typeof value === 'string') {
      const masked = maskDocument(value, extraNames);
      if (masked !== value) {
        o[k] = masked;
        changed = true;
      }
    } else if (walk(value, extraNames, depth + 1)) changed = true;
  }
  return changed || passedSecrets;
}

/**
 * A text's JSON members (`"name": scalar`) whose names are credentials' masked, by pattern: for
 * text that is not whole JSON, or not worth parsing (every WebSocket message). Null when nothing
 * changed.
 */
export function maskJsonMembers(s: string, extraNames: ReadonlySet<string>): string | null {
  if (extraNames.size === 0 && !SECRET_STEMS.test(s)) return null;
  let masked = maskPattern(s, MEMBER, extraNames, QUOTED);
  if (masked.includes('\\"')) masked = maskPattern(masked, ESCAPED_ARGUMENT, extraNames, `\\"${REDACTED}\\"`);
  return masked === s ? null : masked;
}

/** A JSON text redacted: structurally when it parses, else by pattern. Null when nothing changed. */
function redactJsonText(s: string, extraNames: ReadonlySet<string>): string | null {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    return maskJsonMembers(s, extraNames);
  }
  return walk(v, extraNames, 0) ? JSON.stringify(v) : null;
}

function redactBody(body: Body, extraNames: ReadonlySet<string>): Body {
  if (body.bytes.length === 0) return body;
  const redacted = redactJsonText(body.bytes.toString('utf8'), extraNames);
  return redacted === null ? body : { ...body, bytes: Buffer.from(redacted, 'utf8') };
}

/** A GET's `query` and `variables` parameters redacted. */
function redactGetParams(query: string, extraNames: ReadonlySet<string>): string {
  const params = new URLSearchParams(query);
  let changed = false;
  const doc = params.get('query');
  if (doc !== null) {
    const masked = maskDocument(doc, extraNames);
    if (masked !== doc) {
      params.set('query', masked);
      changed = true;
    }
  }
  const variables = params.get('variables');
  if (variables !== null) {
    // The variables as the POST body would carry them, with the document that passes them.
    const redacted = redactJsonText(`{"query":${JSON.stringify(doc ?? '')},"variables":${variables}}`, extraNames);
    const parsed = redacted === null ? null : (JSON.parse(redacted) as { variables: unknown });
    if (parsed !== null) {
      params.set('variables', JSON.stringify(parsed.variables));
      changed = true;
    }
  }
  return changed ? params.toString() : query;
}

export function redactGraphql(entry: Entry, extraNames: ReadonlySet<string>): void {
  redactQuery(entry, extraNames);
  if (entry.query !== '') entry.query = redactGetParams(entry.query, extraNames);
  entry.requestBody = redactBody(entry.requestBody, extraNames);
  entry.responseBody = redactBody(entry.responseBody, extraNames);
}
