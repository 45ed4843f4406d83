/**
 * GraphQL, carried by HTTP: an HTTP exchange that is a GraphQL request becomes a `graphql` entry
 * (as Kubeshark shows it): `operation` the operation type, `target` its name (or its root fields
 * when anonymous), the HTTP status kept, the first GraphQL error as `statusText`. The HTTP method
 * and path are fields; headers and bodies stay the HTTP exchange's, and its sections are shown.
 */
import { Outcome, type Entry } from '../../entries/entry.js';
import type { Dissector, Exchange, Section } from '../dissector.js';
import { httpOutcome, representHttp } from '../http/dissector.js';
import { table } from '../represent.js';
import { redactGraphql } from './redact.js';
import { F, recogniseGraphql } from './recognise.js';

/** Error codes (extensions.code, Apollo's and graphql-http's conventions) that blame the request. */
const CLIENT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST', 'UNAUTHENTICATED', 'FORBIDDEN',
  'PERSISTED_QUERY_NOT_FOUND', 'PERSISTED_QUERY_NOT_SUPPORTED', 'OPERATION_RESOLUTION_FAILURE',
]);

export function graphqlOutcome(x: Pick<Exchange, 'unanswered' | 'status' | 'fields'>): Outcome {
  const http = httpOutcome(x);
  if (http !== Outcome.ok) return http;
  if (!x.fields[F.errors]) return Outcome.ok;
  const code = x.fields[F.errorCode];
  if (code === 'INTERNAL_SERVER_ERROR') return Outcome.serverError;
  if (typeof code === 'string' && CLIENT_CODES.has(code)) return Outcome.clientError;
  return x.fields[F.errorKind] === 'request' ? Outcome.clientError : Outcome.serverError;
}

function represent(e: Entry): Section[] {
  const f = e.fields;
  const s = (name: string) => String(f[name] ?? '');
  return [
    table('GraphQL', [
      ['Operation', s(F.operation)],
      ['Name', s(F.name)],
      ['Root fields', s(F.fields)],
      ['Batch', f[F.batch] ? s(F.batch) : ''],
      ['Persisted query (sha256)', s(F.persistedHash)],
      ['Errors', s(F.errors)],
      ['First error', s(F.error)],
      ['Error code', s(F.errorCode)],
      ['Error kind', s(F.errorKind)],
    ]),
    // The HTTP side as HTTP shows it: its method and path back in their places.
    ...representHttp({ ...e, operation: s(F.httpMethod), target: s(F.httpPath) }),
  ];
}

export const graphqlDissector: Dissector = {
  protocol: 'graphql',
  longName: 'GraphQL over HTTP',
  abbr: 'GQL',
  color: '#e535ab',
  ports: [],
  fields: [
    { name: F.operation, type: 'string', labels: true, doc: 'the operation type: query, mutation, subscription (a batch: its types, comma-separated; "" for a persisted query sent without its document)' },
    { name: F.name, type: 'string', labels: true, doc: 'the operation name (a batch: its names, comma-separated)' },
    { name: F.fields, type: 'string', doc: 'the fields at the root of the operation, comma-separated (fragments as ...Name)' },
    { name: F.batch, type: 'int', doc: 'operations in a batched request (a JSON array); 0 when not batched' },
    { name: F.persistedHash, type: 'string', doc: 'a persisted query\'s sha256Hash (extensions.persistedQuery)' },
    { name: F.errors, type: 'int', doc: 'errors in the response\'s `errors` (every result of a batch); absent when the response was not read' },
    { name: F.error, type: 'string', doc: 'the first error\'s message' },
    { name: F.errorCode, type: 'string', labels: true, doc: 'the first error\'s extensions.code (GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT, INTERNAL_SERVER_ERROR…)' },
    { name: F.errorKind, type: 'string', labels: true, doc: '"request" (rejected before execution: no data) or "field" (raised while executing)' },
    { name: F.httpMethod, type: 'string', labels: true, doc: 'the HTTP method (GET or POST)' },
    { name: F.httpPath, type: 'string', labels: true, doc: 'the HTTP path' },
  ],
  outcomes: {
    ok: 'no GraphQL errors and an HTTP status below 400',
    clientError: 'HTTP 4xx, or errors raised before execution (syntax, validation, variables) or with a client code (BAD_USER_INPUT, UNAUTHENTICATED…)',
    serverError: 'HTTP 5xx, or errors raised while executing (partial data), or INTERNAL_SERVER_ERROR',
    none: 'no response seen',
  },
  secrets: ['what HTTP redacts', 'variables, literal arguments and response members named like credentials (password, token, api_key, accessToken…)'],
  carried: { carriers: ['http', 'http2'], transports: ['tcp'], recognise: recogniseGraphql },
  outcome: graphqlOutcome,
  redact: redactGraphql,
  represent,
};
