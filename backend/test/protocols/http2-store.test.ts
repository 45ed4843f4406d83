/**
 * HTTP/2 and gRPC entries through the house: real traffic (Node's http2, grpc-js) captured,
 * imported with the default redaction, written to the embedded store by the real writer, read
 * back column by column and through the hub. No secret (Authorization, Cookie, Set-Cookie, a
 * token in the query, gRPC authorization metadata) appears anywhere; the fields filter in SQL
 * (`grpc and grpc.status != 0`); the stored entries give the sections they had when captured.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { importCaptureFile } from '../../src/agent/import-file.js';
import { CollectingSink } from '../../src/agent/json-sink.js';
import type { Entry } from '../../src/entries/entry.js';
import { sectionsOf, sectionToJson } from '../../src/hub/summary.js';
import { protocols } from '../../src/protocols/registry.js';
import { fixture, getJson, q, type Fixture } from '../hub/fixture.js';
import { tempFile } from '../agent/run.js';
import { Tcpdump } from '../agent/traffic.js';
import { readBack } from '../store/read-back.js';
import { echoClient, startEcho, unary } from './grpc-support.js';
import { H2cServer } from './http2-support.js';

const SECRETS = ['h2-bearer-secret', 'h2-cookie-secret', 'h2-query-secret', 'h2-setcookie-secret', 'grpc-bearer-secret'];

let f: Fixture;
let base: string;
let captured: Entry[];

before(async () => {
  const h2 = await H2cServer.start((stream) => {
    stream.respond({ ':status': 200, 'set-cookie': `sid=${SECRETS[3]}`, 'content-type': 'text/plain' });
    stream.end('fine');
  });
  const echo = await startEcho();
  const file = tempFile('http2-store.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${h2.port} or tcp port ${echo.port}`, file);
  try {
    const session = http2.connect(`http://127.0.0.1:${h2.port}`);
    await new Promise<void>((resolve, reject) => {
      const req = session.request({ ':path': `/account?access_token=${SECRETS[2]}&page=2`, authorization: `Bearer ${SECRETS[0]}`, cookie: `session=${SECRETS[1]}` });
      req.on('data', () => undefined);
      req.on('close', resolve);
      req.on('error', reject);
    });
    await new Promise<void>((resolve) => session.close(resolve));
    const client = echoClient(echo.port);
    const meta = new grpc.Metadata();
    meta.set('authorization', `Bearer ${SECRETS[4]}`);
    await unary(client, { text: 'hello' }, {}, meta);
    await unary(client, { text: 'fail' }, {}, meta);
    client.close();
  } finally {
    await dump.stop();
    await h2.stop();
    echo.server.forceShutdown();
  }
  const sink = new CollectingSink();
  const { error } = await importCaptureFile(file, sink, {});
  assert.equal(error, undefined);
  captured = sink.entries;
  assert.deepEqual(captured.map((e) => e.protocol).sort(), ['grpc', 'grpc', 'http2']);
  f = await fixture(0);
  await f.write(captured);
  base = await f.hub();
});

after(() => f?.dispose());

const range = () => {
  const ms = captured.map((e) => Math.floor(e.startUs / 1000));
  return { from: Math.min(...ms) - 60_000, to: Math.max(...ms) + 60_000 };
};

async function rows(filter: string): Promise<string[]> {
  const { status, body } = await getJson(`${base}/api/v1/entries?${q({ filter, ...range() })}`);
  assert.equal(status, 200, JSON.stringify(body));
  return (body.entries as Array<{ protocol: string; operation: string; target: string; status: number }>).map((e) => `${e.protocol} ${e.operation} ${e.target} ${e.status}`).sort();
}

test('no secret in any stored column or anything the hub serves', async () => {
  const stored = JSON.stringify(await readBack(f.temp.store, captured.map((e) => e.id)));
  const raw = JSON.stringify(await f.sql(`SELECT * FROM ${f.temp.store.database}.entries`));
  const served: string[] = [JSON.stringify((await getJson(`${base}/api/v1/entries?${q({ ...range() })}`)).body)];
  for (const e of captured) served.push(JSON.stringify((await getJson(`${base}/api/v1/entries/${e.id}`)).body));
  for (const secret of SECRETS) {
    for (const [what, text] of [['stored entries', stored], ['raw rows', raw], ['hub answers', served.join('\n')]] as const) {
      assert.ok(!text.includes(secret), `${secret} in ${what}`);
    }
  }
  // The non-secret parts are still there.
  const h2 = captured.find((e) => e.protocol === 'http2')!;
  assert.equal(h2.query, 'access_token=[REDACTED]&page=2');
  assert.ok(stored.includes('page=2'));
});

test('HTTP/2 and gRPC fields filter in the store', async () => {
  assert.deepEqual(await rows('grpc and grpc.status != 0'), ['grpc Unary tapline.test.Echo 5']);
  assert.deepEqual(await rows('grpc.method == "Unary" and outcome == "ok"'), ['grpc Unary tapline.test.Echo 0']);
  assert.deepEqual(await rows('http2 and http2.stream_id == 1'), ['http2 GET /account 200']);
  assert.deepEqual(await rows('grpc.service == "tapline.test.Echo" and grpc.response_messages == 0'), ['grpc Unary tapline.test.Echo 5']);
});

test('stored entries give the sections they had when captured; /api/v1/protocols lists http2 and grpc over TCP', async () => {
  for (const e of captured) {
    const { status, body } = await getJson(`${base}/api/v1/entries/${e.id}`);
    assert.equal(status, 200);
    assert.deepEqual(body.sections, JSON.parse(JSON.stringify(sectionsOf(e).map(sectionToJson))), `${e.protocol} ${e.target}`);
  }
  const { body } = await getJson(`${base}/api/v1/protocols`);
  for (const name of ['http2', 'grpc']) {
    const p = body.protocols.find((x: { name: string }) => x.name === name);
    assert.ok(p, name);
    assert.deepEqual(p.transports, ['tcp']);
    assert.deepEqual(p.fields.map((x: { name: string }) => x.name), protocols.get(name)!.fields.map((x) => x.name));
  }
});
