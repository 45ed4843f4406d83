/**
 * gRPC as a carried protocol: registered without a stream or datagram dissector of its own
 * (its `carrier` is http2), emitted by the HTTP/2 dissector through `emitAs`, counted as gRPC;
 * without gRPC in a pipeline's protocols the same stream is an http2 entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transportsOf } from '../../src/protocols/dissector.js';
import { grpcDissector } from '../../src/protocols/grpc/dissector.js';
import { http2Dissector } from '../../src/protocols/http2/dissector.js';
import { Dissectors, ProtocolRegistry } from '../../src/protocols/registry.js';
import { connection, DATA, END_HEADERS, END_STREAM, frame, HEADERS, indexed, literal, PREFACE, requestBlock } from './http2-wire.js';

const call = Buffer.concat([
  PREFACE,
  frame(HEADERS, END_HEADERS, 1, requestBlock('POST', '/pkg.Svc/Get', [literal(31, 'application/grpc')])),
  frame(DATA, END_STREAM, 1, Buffer.from([0, 0, 0, 0, 2, 0x08, 0x2a])),
]);
const answer = Buffer.concat([
  frame(HEADERS, END_HEADERS, 1, Buffer.concat([indexed(8), literal(31, 'application/grpc')])),
  frame(DATA, 0, 1, Buffer.from([0, 0, 0, 0, 0])),
  frame(HEADERS, END_HEADERS | END_STREAM, 1, Buffer.concat([literal('grpc-status', '7'), literal('grpc-message', 'no%20way')])),
]);

test('a carried protocol registers without detection of its own, over its carrier\'s transports', () => {
  const r = new ProtocolRegistry([http2Dissector]);
  r.register(grpcDissector);
  assert.deepEqual(transportsOf(grpcDissector), ['tcp']);
  assert.throws(() => r.register({ ...grpcDissector, protocol: 'lonely', fields: [], carried: undefined }), /neither a stream nor a datagram dissector/);
});

test('the HTTP/2 dissector emits a gRPC call as a grpc entry, counted as gRPC', () => {
  const c = connection();
  c.send(0, call);
  c.send(1, answer);
  assert.deepEqual(
    c.exchanges.map((x) => [x.protocol, x.operation, x.target, x.status, x.statusText, x.fields['grpc.message'], x.fields['grpc.request_messages'], x.fields['grpc.response_messages']]),
    [['grpc', 'Get', 'pkg.Svc', 7, 'PERMISSION_DENIED', 'no way', 1, 1]],
  );
  assert.deepEqual([c.counters.grpc.exchanges, c.counters.http2.exchanges], [1, 0]);
  // A call the server never answers is counted unanswered as gRPC too.
  c.send(0, Buffer.concat([frame(HEADERS, END_HEADERS, 3, requestBlock('POST', '/pkg.Svc/Get', [literal(31, 'application/grpc')]))]));
  c.consumer.end('fin', 0);
  assert.deepEqual([c.counters.grpc.exchanges, c.counters.grpc.unanswered, c.counters.http2.unanswered], [2, 1, 0]);
});

test('without gRPC among the protocols, the same stream is an http2 entry', () => {
  const got: string[] = [];
  const d = new Dissectors((x, _c, dissector) => String(got.push(`${dissector.protocol} ${x.operation} ${x.target} ${x.status}`)), undefined, [http2Dissector]);
  const consumer = d.claimStream(http2Dissector, { id: 1, transport: 'tcp', ip: ['a', 'b'], port: [1, 2], clientDir: 0, midStream: false }, 0);
  consumer.data(0, call, 0, call.length, 1);
  consumer.data(1, answer, 0, answer.length, 2);
  assert.deepEqual(got, ['http2 POST /pkg.Svc/Get 200']);
});
