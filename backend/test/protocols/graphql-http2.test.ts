/**
 * GraphQL over HTTP/2 (issue 23): the same schema behind graphql-http's HTTP/2 handler on a Node
 * h2c server, Node's http2 client sending a query, a failing query and a GET with `query=` on one
 * connection, captured by tcpdump on loopback. HTTP/2 carries GraphQL as HTTP/1.1 does: each
 * stream is a graphql entry with its operation, name and errors, and the streams are tshark's.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import { createHandler } from 'graphql-http/lib/use/http2';
import { Outcome } from '../../src/entries/entry.js';
import { analyse } from '../agent/compare.js';
import { tempFile } from '../agent/run.js';
import { freePort, Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { root, schema } from './graphql-support.js';
import { byKey, tsharkStreams } from './http2-support.js';

let server: http2.Http2Server;
let port: number;

before(async () => {
  await tsharkAvailable();
  port = await freePort();
  const handler = createHandler({ schema, rootValue: root });
  server = http2.createServer((req, res) => void handler(req, res));
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
});

after(() => server?.close());

function request(client: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = client.request(headers);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.end(body);
  });
}

test('queries over h2c are graphql entries, carried by HTTP/2, the streams tshark sees', async () => {
  const file = tempFile('graphql-h2.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${port}`, file);
  try {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    const post = (query: string) => request(client, { ':method': 'POST', ':path': '/graphql', 'content-type': 'application/json' }, JSON.stringify({ query }));
    assert.match(await post('query ListUsers { users { id name } }'), /"ada"/);
    assert.match(await post('{ nope }'), /Cannot query field/);
    assert.match(await request(client, { ':method': 'GET', ':path': `/graphql?query=${encodeURIComponent('{ user(id: "2") { name } }')}` }), /"grace"/);
    client.close();
    await once(client, 'close');
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  const { entries } = await analyse(file, []);
  const sorted = [...entries].sort((a, b) => a.startUs - b.startUs);
  assert.deepEqual(
    sorted.map((e) => [e.protocol, e.protocolVersion, e.operation, e.target, e.status, e.fields['graphql.errors'], e.outcome]),
    [
      ['graphql', '2', 'query', 'ListUsers', 200, 0, Outcome.ok],
      ['graphql', '2', 'query', 'nope', 200, 1, Outcome.clientError],
      ['graphql', '2', 'query', 'user', 200, 0, Outcome.ok],
    ],
  );
  // The HTTP/2 side as tshark reads it: the same three streams, on the same client port, to /graphql, 200.
  const theirs = byKey(await tsharkStreams(file, port)).map((s) => s.split(' ').slice(0, 4).join(' ').replace(/\?.*? /, ' '));
  assert.deepEqual(theirs, [1, 3, 5].map((id, i) => `${sorted[i].src.port}/${id} ${i < 2 ? 'POST' : 'GET'} /graphql 200`));
  assert.deepEqual(sorted.map((e) => e.dst.port), [port, port, port]);
});
