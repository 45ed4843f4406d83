/**
 * gRPC: calls are HTTP/2 streams with content-type application/grpc*, emitted by the HTTP/2
 * dissector as `grpc` entries (gRPC has no detection of its own: its `carrier` is http2). One
 * entry per call, streaming or not, with its message counts; the bodies keep the first messages
 * as sent (length-prefixed), decoded for the drawer without a schema, like `protoc --decode_raw`,
 * or with field names when the hub was given the .proto files (`--proto DIR`, schemas.ts).
 */
import { Outcome, type Body, type Entry } from '../../entries/entry.js';
import type { Dissector, Exchange, Section } from '../dissector.js';
import { splitTrailers } from '../http2/exchange.js';
import { fieldsTable, table } from '../represent.js';
import { grpcStatusName, splitMessages } from './messages.js';
import { decodeRaw } from './protobuf.js';
import { decodeNamed } from './schemas.js';

/** Codes that say the caller was wrong or gave up (as Google's HTTP mapping has them: 4xx). */
const CLIENT_ERRORS = new Set([1, 3, 5, 6, 7, 8, 9, 10, 11, 16]);

export function grpcOutcome(x: Pick<Exchange, 'unanswered' | 'fields'>): Outcome {
  if (x.unanswered) return Outcome.none;
  const status = x.fields['grpc.status'];
  // A response that never said how the call ended (reset, or not gRPC after all) is the server's failure.
  if (typeof status !== 'number') return Outcome.serverError;
  if (status === 0) return Outcome.ok;
  return CLIENT_ERRORS.has(status) ? Outcome.clientError : Outcome.serverError;
}

/** Messages the drawer decodes, each at most this many bytes. */
const SHOWN_MESSAGES = 16;
const MAX_MESSAGE_BYTES = 64 * 1024;

/** A side's first messages, decoded: with the user's schema when it knows the call (`--proto`), else raw. */
function messages(e: Entry, side: 'request' | 'response', encoding: string): Section[] {
  const body = side === 'request' ? e.requestBody : e.responseBody;
  if (body.bytes.length === 0) return [];
  const service = String(e.fields['grpc.service'] ?? '');
  const method = String(e.fields['grpc.method'] ?? '');
  const title = side === 'request' ? 'Request message' : 'Response message';
  const list = splitMessages(body.bytes, encoding, MAX_MESSAGE_BYTES).slice(0, SHOWN_MESSAGES);
  return list.map((m, i) => {
    const named = m.cut ? null : decodeNamed(service, method, side, m.bytes);
    const text = named ?? decodeRaw(m.bytes) ?? m.bytes.toString('latin1');
    const bytes = Buffer.from(text, 'utf8');
    const shown: Body = { bytes, wireSize: m.length, size: bytes.length, truncated: m.cut, encoding: m.compressed ? encoding : '' };
    return { kind: 'body', title: `${title} ${i + 1}`, body: shown, contentType: named === null ? 'text/plain' : 'application/json' } as const;
  });
}

function represent(e: Entry): Section[] {
  const f = e.fields;
  const { headers, trailers } = splitTrailers(e, 'grpc.trailers');
  const status = f['grpc.status'];
  const sections: Section[] = [
    table('Call', [
      ['Service', f['grpc.service'] ?? ''],
      ['Method', f['grpc.method'] ?? ''],
      ['Authority', e.host],
      ['Stream', f['grpc.stream_id'] ?? ''],
      ['Status', typeof status === 'number' ? `${status} ${grpcStatusName(status)}` : e.unanswered ? 'no response' : 'none (no grpc-status)'],
      ['Message', f['grpc.message'] ?? ''],
      ['Reset', f['grpc.rst_code'] ?? ''],
      ['Messages sent', f['grpc.request_messages'] ?? 0],
      ['Messages received', f['grpc.response_messages'] ?? 0],
    ]),
  ];
  if (e.requestHeaders.count > 0) sections.push({ kind: 'table', title: 'Request metadata', rows: e.requestHeaders.toPairs() });
  sections.push(...messages(e, 'request', String(f['grpc.encoding'] ?? '')));
  if (headers.length > 0) sections.push({ kind: 'table', title: 'Response metadata', rows: headers });
  sections.push(...messages(e, 'response', String(f['grpc.response_encoding'] ?? '')));
  if (trailers.length > 0) sections.push({ kind: 'table', title: 'Trailers', rows: trailers });
  return [...sections, ...fieldsTable(e, grpcDissector)];
}

export const grpcDissector: Dissector = {
  protocol: 'grpc',
  longName: 'gRPC Remote Procedure Calls',
  abbr: 'gRPC',
  color: '#2da6b0',
  ports: [],
  carried: { carriers: ['http2'], transports: ['tcp'] },
  fields: [
    { name: 'grpc.service', type: 'string', doc: 'the service, with its package (helloworld.Greeter), from the path', labels: true },
    { name: 'grpc.method', type: 'string', doc: 'the method (SayHello), from the path', labels: true },
    { name: 'grpc.status', type: 'int', doc: 'the grpc-status code (0 OK, 4 DEADLINE_EXCEEDED, 14 UNAVAILABLE…), from the trailers or a trailers-only response; absent when none came' },
    { name: 'grpc.message', type: 'string', doc: 'the grpc-message (the error text), percent-decoded' },
    { name: 'grpc.request_messages', type: 'int', doc: 'messages the client sent (streaming calls send several)' },
    { name: 'grpc.response_messages', type: 'int', doc: 'messages the server sent' },
    { name: 'grpc.encoding', type: 'string', doc: 'the grpc-encoding of the request messages (gzip, deflate), empty when none', labels: true },
    { name: 'grpc.response_encoding', type: 'string', doc: 'the grpc-encoding of the response messages', labels: true },
    { name: 'grpc.http_status', type: 'int', doc: 'the HTTP :status of the response (200 unless a proxy or the server refused the call)' },
    { name: 'grpc.stream_id', type: 'int', doc: 'the HTTP/2 stream id of the call' },
    { name: 'grpc.trailers', type: 'int', doc: 'trailer fields (the last ones of the response headers)' },
    {
      name: 'grpc.rst_code',
      type: 'string',
      doc: 'the error code name of the RST_STREAM that ended the call: CANCEL is how a client gives up (cancelled, or its deadline passed: the DEADLINE_EXCEEDED it reports is its own, never sent)',
      labels: true,
    },
  ],
  outcomes: {
    ok: 'status 0 OK',
    clientError: 'CANCELLED, INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE, UNAUTHENTICATED',
    serverError: 'UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS, and a response without grpc-status',
    none: 'no response seen',
  },
  secrets: ['credential metadata (authorization, API keys and tokens), as HTTP headers are'],
  outcome: grpcOutcome,
  represent,
};
