/**
 * GraphQL over HTTP (graphql.github.io/graphql-over-http): recognised in a completed HTTP exchange
 * of any HTTP version (POST with a JSON body, a batch as a JSON array, GET with `query=`, a
 * persisted query's hash), its document parsed with the `graphql` package's parser (whole bodies
 * only, bounded by the body limit, the token count and the nesting depth), its response's `errors`
 * read. Pure functions of the exchange: HTTP/1.1 and HTTP/2 exchanges go through the same ones.
 */
import { Kind, parse, type DocumentNode, type OperationDefinitionNode, type SelectionNode } from 'graphql';
import type { ProtocolFields } from '../../entries/entry.js';
import type { DissectorLimits, Exchange, ProtocolCounters } from '../dissector.js';

export const F = {
  operation: 'graphql.operation',
  name: 'graphql.name',
  fields: 'graphql.fields',
  batch: 'graphql.batch',
  persistedHash: 'graphql.persisted_hash',
  errors: 'graphql.errors',
  error: 'graphql.error',
  errorCode: 'graphql.error_code',
  errorKind: 'graphql.error_kind',
  httpMethod: 'graphql.http_method',
  httpPath: 'graphql.http_path',
} as const;

/** The parser gives up on documents of more tokens (a bound on its time and memory). */
export const MAX_TOKENS = 20_000;
/** Deeper nesting is not parsed (the parser recurses once a level). */
export const MAX_DEPTH = 64;

/** One GraphQL request as sent: a POST body (or one element of a batch), or a GET's parameters. */
interface GraphqlRequest {
  query: string | null;
  operationName: string | null;
  variables: unknown;
  /** extensions.persistedQuery.sha256Hash, '' when none. */
  hash: string;
}

function text(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function persistedHash(extensions: unknown): string {
  const pq = (extensions as { persistedQuery?: { sha256Hash?: unknown } } | null)?.persistedQuery;
  return typeof pq?.sha256Hash === 'string' ? pq.sha256Hash : '';
}

/** A JSON value as a GraphQL request, null when it is not one. */
function asRequest(v: unknown): GraphqlRequest | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const query = text(o.query);
  const hash = persistedHash(o.extensions);
  if (query === null && hash === '') return null;
  return { query, operationName: text(o.operationName) || null, variables: o.variables ?? null, hash };
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}

/** The JSON a GET parameter carries (variables, extensions), null when absent or not JSON. */
function jsonParam(params: URLSearchParams, name: string): unknown {
  const v = params.get(name);
  return v === null ? null : (parseJson(v) ?? null);
}

/** Does the body start like JSON of an object or an array (after whitespace)? */
function startsJson(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    return c === 0x7b || c === 0x5b;
  }
  return false;
}

type RequestsRead = { requests: GraphqlRequest[]; batch: boolean } | 'not-graphql' | 'not-json';

/** The GraphQL requests of an HTTP request: GET parameters, a JSON body (a batch: an array), or application/graphql. */
function readRequests(x: Pick<Exchange, 'operation' | 'query' | 'requestBody' | 'requestHeaders'>): RequestsRead {
  if (x.operation === 'GET') {
    const params = new URLSearchParams(x.query);
    const query = params.get('query');
    const extensions = jsonParam(params, 'extensions');
    const hash = persistedHash(extensions);
    if (query === null && hash === '') return 'not-graphql';
    return { requests: [{ query, operationName: params.get('operationName') || null, variables: jsonParam(params, 'variables'), hash }], batch: false };
  }
  if (x.operation !== 'POST') return 'not-graphql';
  const body = x.requestBody.bytes;
  if ((x.requestHeaders.get('content-type') ?? '').toLowerCase().startsWith('application/graphql;') || x.requestHeaders.get('content-type')?.toLowerCase() === 'application/graphql') {
    return { requests: [{ query: body.toString('utf8'), operationName: null, variables: null, hash: '' }], batch: false };
  }
  if (!startsJson(body)) return 'not-json';
  const v = parseJson(body.toString('utf8'));
  if (v === undefined) return 'not-json';
  const list = Array.isArray(v) ? v : [v];
  const requests: GraphqlRequest[] = [];
  for (const item of list) {
    const r = asRequest(item);
    if (r === null) return 'not-graphql';
    requests.push(r);
  }
  return requests.length === 0 ? 'not-graphql' : { requests, batch: Array.isArray(v) };
}

/** The deepest nesting of braces, parentheses and brackets outside strings and comments. */
export function nestingDepth(doc: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < doc.length; i++) {
    const c = doc.charCodeAt(i);
    if (c === 0x22) {
      // A string ("…" or """…"""): skip to its end.
      const block = doc.startsWith('"""', i);
      const close = block ? doc.indexOf('"""', i + 3) : nextQuote(doc, i + 1);
      if (close < 0) return max;
      i = close + (block ? 2 : 0);
    } else if (c === 0x23) {
      const nl = doc.indexOf('\n', i);
      if (nl < 0) return max;
      i = nl;
    } else if (c === 0x7b || c === 0x28 || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x29 || c === 0x5d) depth--;
  }
  return max;
}

function nextQuote(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22 || c === 0x0a) return i;
  }
  return -1;
}

/** A document parsed within the bounds, null when it is not GraphQL (or too big to tell). */
function parseDocument(query: string): DocumentNode | null {
  if (nestingDepth(query) > MAX_DEPTH) return null;
  try {
    return parse(query, { noLocation: true, maxTokens: MAX_TOKENS });
  } catch {
    return null;
  }
}

interface Operation {
  /** query, mutation, subscription; '' when the document is not sent (a persisted query) or not parsed. */
  type: string;
  name: string;
  rootFields: string[];
}

function rootField(s: SelectionNode): string {
  if (s.kind === Kind.FIELD) return s.name.value;
  if (s.kind === Kind.FRAGMENT_SPREAD) return `...${s.name.value}`;
  return s.typeCondition ? `...on ${s.typeCondition.name.value}` : '...';
}

/** The operation a request runs (the one it names, or the only one), from its parsed document. */
function operationOf(r: GraphqlRequest, doc: DocumentNode | null): Operation {
  const ops = (doc?.definitions ?? []).filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const op = r.operationName !== null ? ops.find((o) => o.name?.value === r.operationName) : ops[0];
  if (!op) return { type: '', name: r.operationName ?? '', rootFields: [] };
  return { type: op.operation, name: op.name?.value ?? r.operationName ?? '', rootFields: op.selectionSet.selections.map(rootField) };
}

interface ErrorsRead {
  errors: number;
  first: string;
  code: string;
  /** 'request': rejected before execution (no `data`: syntax, validation, variables); 'field': raised while executing. */
  kind: 'request' | 'field' | '';
}

/** The `errors` of a GraphQL response (each result of a batch), null when the body is not a JSON result. */
function readErrors(body: Buffer): ErrorsRead | null {
  if (!startsJson(body)) return null;
  const v = parseJson(body.toString('utf8'));
  if (typeof v !== 'object' || v === null) return null;
  const out: ErrorsRead = { errors: 0, first: '', code: '', kind: '' };
  for (const result of Array.isArray(v) ? v : [v]) {
    if (typeof result !== 'object' || result === null) return null;
    const errors = (result as { errors?: unknown }).errors;
    if (!Array.isArray(errors) || errors.length === 0) continue;
    if (out.errors === 0) {
      const e = errors[0] as { message?: unknown; extensions?: { code?: unknown } } | null;
      out.first = text(e?.message) ?? '';
      out.code = text(e?.extensions?.code) ?? '';
      // GraphQL spec §7.1.2: "If an error was raised before execution begins, the data entry should not be present".
      out.kind = 'data' in result ? 'field' : 'request';
    }
    out.errors += errors.length;
  }
  return out;
}

const GET_PARAMETERS = /(?:^|&)(?:query|extensions)=/;
const QUERY_MEMBER = Buffer.from('"query"');
const PERSISTED_MEMBER = Buffer.from('"persistedQuery"');

function mentionsQuery(body: Buffer): boolean {
  return body.indexOf(QUERY_MEMBER) >= 0 || body.indexOf(PERSISTED_MEMBER) >= 0;
}

/** Signs an HTTP exchange is GraphQL's whatever its body says: its path, or a GraphQL media type. */
function saysGraphql(x: Pick<Exchange, 'target' | 'requestHeaders' | 'responseHeaders'>): boolean {
  return (
    /graphql/i.test(x.target) ||
    /graphql/i.test(x.requestHeaders.get('content-type') ?? '') ||
    /graphql/i.test(x.responseHeaders.get('content-type') ?? '')
  );
}

/**
 * The exchange as GraphQL's, or null. An exchange whose path or media types say GraphQL is one even
 * when its document does not parse (the server answers with a request error); others must carry
 * a document that parses. A GraphQL-looking request whose body is not JSON is a parse error.
 */
export function recogniseGraphql(x: Exchange, _limits: DissectorLimits, counters: ProtocolCounters): Exchange | null {
  // Most HTTP is not GraphQL: told by a look at the query string or the body before any parsing.
  if (x.operation === 'GET') {
    if (x.status === 101 || !GET_PARAMETERS.test(x.query)) return null;
  } else if (x.operation !== 'POST' || x.requestBody.size === 0) return null;
  const hinted = saysGraphql(x);
  if (x.operation === 'POST' && !hinted && !mentionsQuery(x.requestBody.bytes)) return null;
  const read = readRequests(x);
  if (read === 'not-graphql') return null;
  if (read === 'not-json') {
    // Cut at the body limit: GraphQL by its path or media type, its operation unknown.
    if (hinted && x.requestBody.truncated) return asGraphql(x, [], { requests: [], batch: false });
    if (hinted && x.requestBody.size > 0) counters.parseErrors++;
    return null;
  }
  const ops: Operation[] = [];
  let parsed = 0;
  for (const r of read.requests) {
    const doc = r.query === null ? null : parseDocument(r.query);
    if (doc) parsed++;
    ops.push(operationOf(r, doc));
  }
  const persisted = read.requests.find((r) => r.hash !== '')?.hash ?? '';
  if (!hinted && parsed < read.requests.filter((r) => r.query !== null).length) return null;
  if (!hinted && parsed === 0 && persisted === '') return null;
  return asGraphql(x, ops, read, persisted);
}

/** The exchange as GraphQL's: its operations, and the errors of its response. */
function asGraphql(x: Exchange, ops: Operation[], read: { requests: GraphqlRequest[]; batch: boolean }, persisted = ''): Exchange {
  const join = (values: string[]) => [...new Set(values.filter((v) => v !== ''))].join(',');
  const type = join(ops.map((o) => o.type));
  const names = join(ops.map((o) => o.name));
  const roots = join(ops.flatMap((o) => o.rootFields));
  const fields: Record<string, string | number> = {
    [F.operation]: type,
    [F.name]: names,
    [F.fields]: roots,
    [F.batch]: read.batch ? read.requests.length : 0,
    [F.httpMethod]: x.operation,
    [F.httpPath]: x.target,
  };
  if (persisted !== '') fields[F.persistedHash] = persisted;
  const errors = x.unanswered ? null : readErrors(x.responseBody.bytes);
  if (errors) {
    fields[F.errors] = errors.errors;
    if (errors.errors > 0) {
      fields[F.error] = errors.first;
      fields[F.errorCode] = errors.code;
      fields[F.errorKind] = errors.kind;
    }
  }
  return {
    ...x,
    operation: type !== '' ? type : persisted !== '' ? 'persisted' : 'graphql',
    target: names !== '' ? names : roots,
    statusText: errors && errors.errors > 0 ? errors.first : x.statusText,
    fields: fields as ProtocolFields,
  };
}
