/**
 * gRPC with real peers: a @grpc/grpc-js server and client (@grpc/proto-loader, the fixture's
 * echo.proto) on lo: unary, server streaming, client streaming, bidirectional, an error status,
 * a deadline exceeded (the client resets the stream), a 1 MB message, a gzip-compressed call. Each call is one `grpc` entry
 * whose stream, path, HTTP status and grpc-status are tshark's, exactly; message counts are what
 * the peers sent; messages decode without a schema.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { grpcDissector } from '../../src/protocols/grpc/dissector.js';
import { loadProtoDir } from '../../src/protocols/grpc/schemas.js';
import { analyse } from '../agent/compare.js';
import { tempFile } from '../agent/run.js';
import { Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { blob, echoClient, failure, PROTO, startEcho, unary, type EchoReply } from './grpc-support.js';
import { byKey, entryStreams, tsharkStreams } from './http2-support.js';

let server: grpc.Server;
let port: number;

before(async () => {
  await tsharkAvailable();
  ({ server, port } = await startEcho());
});

after(() => server?.forceShutdown());

const drain = <T>(s: NodeJS.ReadableStream): Promise<T[]> =>
  new Promise((resolve, reject) => {
    const got: T[] = [];
    s.on('data', (d: T) => got.push(d));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });

const row = (e: Entry) =>
  `${e.fields['grpc.service']}/${e.fields['grpc.method']} ${e.unanswered ? '-' : e.statusText} ${e.fields['grpc.request_messages']}/${e.fields['grpc.response_messages']}`;

test('grpc-js calls of every kind: one grpc entry each, as tshark sees them, with counts, status and decoded messages', async () => {
  const file = tempFile('grpc.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${port}`, file);
  const client = echoClient(port);
  const zipped = echoClient(port, { 'grpc.default_compression_algorithm': 2 });
  try {
    const meta = new grpc.Metadata();
    meta.set('x-tenant', 'acme');
    assert.deepEqual(await unary(client, { text: 'hello' }, { deadline: Date.now() + 10_000 }, meta), { text: 'echo hello', index: 0 });
    assert.equal((await drain<EchoReply>(client.ServerStream({ text: 's', count: 3 }))).length, 3);
    const sum = await new Promise<EchoReply>((resolve, reject) => {
      const w = client.ClientStream((err, r) => (err ? reject(err) : resolve(r!)));
      for (const t of ['a', 'b', 'c', 'd']) w.write({ text: t });
      w.end();
    });
    assert.equal(sum.text, 'a+b+c+d');
    const bidi = client.Bidi();
    const replies = drain<EchoReply>(bidi);
    for (const t of ['x', 'y', 'z']) bidi.write({ text: t });
    bidi.end();
    assert.equal((await replies).length, 3);
    assert.equal(((await unary(client, { text: 'fail' })) as grpc.ServiceError).code, grpc.status.NOT_FOUND);
    assert.equal(((await unary(client, { text: 'sleep' }, { deadline: Date.now() + 300 })) as grpc.ServiceError).code, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(((await unary(client, { text: 'big', blob })) as EchoReply).index, blob.length);
    const inner = { id: '12345678901234', tags: ['red', 'green'] };
    assert.equal(((await unary(zipped, { text: 'zipped '.repeat(50), inner })) as EchoReply).text, `echo ${'zipped '.repeat(50)}`);
  } finally {
    client.close();
    zipped.close();
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  const { entries } = await analyse(file, []);
  const calls = entries.filter((e) => e.protocol === 'grpc').sort((a, b) => a.startUs - b.startUs);
  assert.equal(entries.length, calls.length, 'every stream is a gRPC call');
  assert.deepEqual(calls.map(row), [
    'tapline.test.Echo/Unary OK 1/1',
    'tapline.test.Echo/ServerStream OK 1/3',
    'tapline.test.Echo/ClientStream OK 4/1',
    'tapline.test.Echo/Bidi OK 3/3',
    'tapline.test.Echo/Unary NOT_FOUND 1/0',
    'tapline.test.Echo/Unary - 1/0',
    'tapline.test.Echo/Unary OK 1/1',
    'tapline.test.Echo/Unary OK 1/1',
  ]);
  assert.deepEqual(byKey(entryStreams(calls)), byKey(await tsharkStreams(file, port)));

  const [hello, serverStream, , , failed, deadline, big, gz] = calls;
  assert.deepEqual([hello.operation, hello.target, hello.protocolVersion, hello.status, hello.fields['grpc.http_status']], ['Unary', 'tapline.test.Echo', '2', 0, 200]);
  assert.equal(hello.requestHeaders.get('te'), 'trailers');
  assert.equal(hello.requestHeaders.get('x-tenant'), 'acme', 'metadata');
  assert.equal(hello.requestHeaders.get('grpc-timeout') !== undefined, true);
  assert.equal(hello.fields['grpc.trailers'], 2, 'grpc-status and grpc-message');
  assert.deepEqual([failed.status, failed.fields['grpc.message'], grpcDissector.outcome({ ...failed, clientDir: 0 })], [5, failure, Outcome.clientError]);
  assert.equal(failed.fields['grpc.trailers'], 0, 'a trailers-only response: the status is in the headers');
  // Past its deadline the client resets the stream: DEADLINE_EXCEEDED is its own verdict, never sent.
  assert.deepEqual([deadline.unanswered, deadline.fields['grpc.rst_code'], deadline.fields['grpc.status'], grpcDissector.outcome({ ...deadline, clientDir: 0 })], [true, 'CANCEL', undefined, Outcome.none]);
  assert.match(deadline.requestHeaders.get('grpc-timeout') ?? '', /^\d+[mu]$/);
  assert.equal(grpcDissector.outcome({ ...hello, clientDir: 0 }), Outcome.ok);
  assert.equal(big.requestBody.truncated, true);
  // The 5-byte prefix, field 1 (tag, length, "big"), field 3 (tag, a 3-byte varint length, the blob).
  assert.equal(big.requestBody.wireSize, 5 + (1 + 1 + 3) + (1 + 3 + blob.length));
  assert.deepEqual([gz.fields['grpc.encoding'], gz.requestHeaders.get('grpc-encoding')], ['gzip', 'gzip']);

  // The drawer: the call, decoded messages (schema-less, like protoc --decode_raw).
  const sections = (e: Entry) => grpcDissector.represent(e);
  const body = (e: Entry, title: string) => {
    const s = sections(e).find((x) => x.title === title);
    assert.ok(s && s.kind === 'body', `${title} in ${JSON.stringify(sections(e).map((x) => x.title))}`);
    return s.body.bytes.toString();
  };
  const call = sections(hello).find((s) => s.title === 'Call');
  assert.deepEqual(call && call.kind === 'table' ? call.rows.slice(0, 2) : [], [['Service', 'tapline.test.Echo'], ['Method', 'Unary']]);
  assert.equal(body(hello, 'Request message 1'), '1: "hello"');
  // protobufjs writes a field that is set, even to proto3's default (the server sets index: 0).
  assert.equal(body(hello, 'Response message 1'), '1: "echo hello"\n2: 0');
  assert.equal(body(serverStream, 'Response message 3'), '1: "part 2"\n2: 2');
  assert.equal(body(gz, 'Request message 1'), `1: ${JSON.stringify('zipped '.repeat(50))}\n4 {\n  1: 12345678901234\n  2: "red"\n  2: "green"\n}`);

  // With the .proto files (`--proto DIR`): the same messages with their field names.
  assert.equal(loadProtoDir(dirname(PROTO)), 4);
  assert.deepEqual(JSON.parse(body(gz, 'Request message 1')), { text: 'zipped '.repeat(50), inner: { id: '12345678901234', tags: ['red', 'green'] } });
  assert.deepEqual(JSON.parse(body(serverStream, 'Response message 3')), { text: 'part 2', index: 2 });
  const named = sections(gz).find((x) => x.title === 'Request message 1');
  assert.equal(named?.kind === 'body' ? named.contentType : '', 'application/json');
});
