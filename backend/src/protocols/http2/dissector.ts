/**
 * HTTP/2 over cleartext (h2c): found by the client preface, by the server's SETTINGS as its first
 * bytes, by the HTTP/1.1 `Upgrade: h2c` hand-off, or (a capture started mid-connection) by frames
 * whose header blocks begin like a request or a response. One entry per stream, paired by stream
 * id; gRPC calls (content-type application/grpc*) become `grpc` entries when gRPC is registered.
 */
import type { Entry } from '../../entries/entry.js';
import type { Direction } from '../../net/stream.js';
import { Detection, type Dissector, type DissectorContext, type Section } from '../dissector.js';
import { grpcExchange, isGrpc, watchGrpc } from '../grpc/call.js';
import { httpOutcome } from '../http/dissector.js';
import { redactQuery } from '../http/redact.js';
import { fieldsTable, side, table } from '../represent.js';
import { Http2Connection, type Http2Stream } from './connection.js';
import { regularCount, splitTrailers, streamExchange } from './exchange.js';
import { ACK_FLAG, CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_BYTES, FrameType, FrameWalk, walkFrames } from './frames.js';

function detect(buf: Buffer, start: number, end: number): Detection {
  const n = Math.min(end - start, CLIENT_PREFACE.length);
  if (n > 0 && buf.compare(CLIENT_PREFACE, 0, n, start, start + n) === 0) return n < CLIENT_PREFACE.length ? Detection.More : Detection.FromClient;
  if (end - start < FRAME_HEADER_BYTES) return n > 0 && buf[start] === 0 ? Detection.More : Detection.No;
  // A server's first frame is its SETTINGS (RFC 9113 section 3.4).
  const length = buf.readUIntBE(start, 3);
  if (buf[start + 3] === FrameType.Settings && (buf[start + 4] & ACK_FLAG) === 0 && buf.readUInt32BE(start + 5) === 0 && length % 6 === 0 && length <= 6 * 16) {
    return Detection.FromServer;
  }
  const walk = walkFrames(buf, start, end, DEFAULT_MAX_FRAME_SIZE);
  return walk === FrameWalk.Request ? Detection.FromClient : walk === FrameWalk.Response ? Detection.FromServer : Detection.No;
}

function open(ctx: DissectorContext, clientDir: Direction): Http2Connection {
  return new Http2Connection(ctx, clientDir, {
    opened: (stream) => {
      if (isGrpc(stream)) watchGrpc(stream);
    },
    settled: (stream) => settled(ctx, clientDir, stream),
  });
}

function settled(ctx: DissectorContext, clientDir: Direction, stream: Http2Stream): void {
  const x = streamExchange(stream, clientDir, ctx.limits);
  if (stream.onData !== null && ctx.emitAs('grpc', grpcExchange(stream, x))) return;
  ctx.counters.exchanges++;
  if (x.unanswered) ctx.counters.unanswered++;
  x.fields = {
    'http2.stream_id': stream.id,
    'http2.scheme': stream.request.values[stream.request.names.indexOf(':scheme')] ?? '',
    'http2.rst_code': stream.rstCode,
    'http2.goaway_code': stream.goawayCode,
    'http2.unknown_headers': stream.unknownFields,
    'http2.trailers': regularCount(stream.trailers),
  };
  ctx.emit(x);
}

function represent(e: Entry): Section[] {
  const f = e.fields;
  const { headers, trailers } = splitTrailers(e, 'http2.trailers');
  const sections: Section[] = [
    table('Request', [
      ['Method', e.operation],
      ['Path', e.target],
      ['Query', e.query],
      ['Authority', e.host],
      ['Scheme', f['http2.scheme'] ?? ''],
      ['Stream', f['http2.stream_id'] ?? ''],
      ['Version', 'HTTP/2'],
    ]),
    ...side(e, 'request', { attributes: 'Request headers', payload: 'Request body', contentType: e.requestHeaders.get('content-type') ?? '' }),
  ];
  if (!e.unanswered) sections.push(table('Response', [['Status', `${e.status} ${e.statusText}`.trim()]]));
  if (headers.length > 0) sections.push({ kind: 'table', title: 'Response headers', rows: headers });
  if (e.responseBody.size > 0 || e.responseBody.wireSize > 0) {
    sections.push({ kind: 'body', title: 'Response body', body: e.responseBody, contentType: e.responseHeaders.get('content-type') ?? '' });
  }
  if (trailers.length > 0) sections.push({ kind: 'table', title: 'Trailers', rows: trailers });
  return [...sections, ...fieldsTable(e, http2Dissector, 'Stream')];
}

export const http2Dissector: Dissector = {
  protocol: 'http2',
  longName: 'Hypertext Transfer Protocol version 2',
  abbr: 'HTTP/2',
  color: '#1f8a70',
  ports: [],
  fields: [
    { name: 'http2.stream_id', type: 'int', doc: 'the stream id that paired request and response' },
    { name: 'http2.scheme', type: 'string', doc: 'the :scheme pseudo-header (http, https)', labels: true },
    { name: 'http2.rst_code', type: 'string', doc: 'the error code name of the RST_STREAM that ended the stream (CANCEL, REFUSED_STREAM…), empty when none did', labels: true },
    { name: 'http2.goaway_code', type: 'string', doc: 'the error code name of the GOAWAY that ended the stream (it was past the last stream id), empty when none did', labels: true },
    { name: 'http2.unknown_headers', type: 'int', doc: 'header fields shown as [unknown]: they referred to HPACK table entries sent before the capture started (or in lost bytes)' },
    { name: 'http2.trailers', type: 'int', doc: 'trailer fields (the last ones of the response headers)' },
  ],
  outcomes: { ok: '1xx, 2xx, 3xx', clientError: '4xx', serverError: '5xx', none: 'no response headers seen (unanswered, or reset before them)' },
  secrets: ['credential headers (Authorization, Cookie, Set-Cookie, API keys and tokens)', 'credential query parameters (access_token, api_key, password, signature…)'],
  stream: { detect, open },
  outcome: httpOutcome,
  redact: redactQuery,
  represent,
};
