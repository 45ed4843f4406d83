/**
 * DNS entries through the house: imported from hand-built frames, written to the embedded store by
 * the real writer, read back by the hub. The filter fields select in SQL, the stored entry gives
 * the same sections as the one captured, and /api/v1/protocols lists DNS with its fields.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/entries/entry.js';
import { dnsDissector } from '../../src/protocols/dns/dissector.js';
import { ethernet, ipUdp, type Frame } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';
import { fixture, getJson, q, type Fixture } from '../hub/fixture.js';
import { a, query, response } from './dns-wire.js';

const t0 = (Date.now() - 60_000) * 1000;
const client = { ip: '10.9.1.5', port: 40200 };
const server = { ip: '10.9.1.53', port: 53 };
const udp = (toServer: boolean, payload: Buffer, tsUs: number): Frame => {
  const [s, d] = toServer ? [client, server] : [server, client];
  return { tsUs, data: ethernet(ipUdp({ src: s.ip, dst: d.ip, sport: s.port, dport: d.port, payload })) };
};

let f: Fixture;
let base: string;
let captured: Entry[];

before(async () => {
  f = await fixture(5, { startUs: t0 - 3_600e6 });
  const frames = [
    udp(true, query(1, 'api.svc.test'), t0),
    udp(false, response(1, 'api.svc.test', 1, 0, [a('api.svc.test', '10.0.0.7')]), t0 + 900),
    udp(true, query(2, 'api.svc.test', 28), t0 + 1000),
    udp(false, response(2, 'api.svc.test', 28, 0), t0 + 1500),
    udp(true, query(3, 'nope.test'), t0 + 2000),
    udp(false, response(3, 'nope.test', 1, 3), t0 + 2600),
    udp(true, query(4, 'big.test', 16), t0 + 3000),
    udp(false, response(4, 'big.test', 16, 0, [], 0x0200), t0 + 3300),
  ];
  captured = (await importFrames(frames)).entries;
  await f.write(captured);
  base = await f.hub();
});

after(() => f?.dispose());

async function targets(filter: string): Promise<string[]> {
  const { status, body } = await getJson(`${base}/api/v1/entries?${q({ filter, from: Math.floor(t0 / 1000) - 1000, to: Math.floor(t0 / 1000) + 60_000 })}`);
  assert.equal(status, 200, JSON.stringify(body));
  return (body.entries as Array<{ operation: string; target: string }>).map((e) => `${e.operation} ${e.target}`).sort();
}

test('the DNS fields filter in the store', async () => {
  assert.deepEqual(await targets('dns'), ['A api.svc.test', 'A nope.test', 'AAAA api.svc.test', 'TXT big.test']);
  assert.deepEqual(await targets('dns.rcode == 3'), ['A nope.test']);
  assert.deepEqual(await targets('dns.qtype == "AAAA"'), ['AAAA api.svc.test']);
  assert.deepEqual(await targets('dns.truncated'), ['TXT big.test']);
  assert.deepEqual(await targets('dns.answers == 0 and dns.rcode == 0 and not dns.truncated'), ['AAAA api.svc.test']);
  assert.deepEqual(await targets('dns.qname.endsWith(".svc.test") and dns.id == 1'), ['A api.svc.test']);
  assert.deepEqual(await targets('dns and outcome == "client error"'), ['A nope.test']);
});

test('an entry read back from the store has the sections it had when captured', async () => {
  for (const e of captured) {
    const { status, body } = await getJson(`${base}/api/v1/entries/${e.id}`);
    assert.equal(status, 200);
    assert.deepEqual(body.sections, JSON.parse(JSON.stringify(dnsDissector.represent(e))), `${e.operation} ${e.target}`);
    assert.deepEqual(body.fields, e.fields);
  }
  const { body } = await getJson(`${base}/api/v1/entries/${captured[0].id}`);
  assert.deepEqual(body.sections.find((s: { title: string }) => s.title === 'Answers').rows, [['api.svc.test', 'A 60 10.0.0.7']]);
});

test('/api/v1/protocols lists DNS over UDP and TCP with its fields', async () => {
  const { body } = await getJson(`${base}/api/v1/protocols`);
  const dns = body.protocols.find((p: { name: string }) => p.name === 'dns');
  assert.ok(dns, JSON.stringify(body.protocols));
  assert.deepEqual(dns.transports, ['tcp', 'udp']);
  assert.deepEqual(dns.secrets, []);
  const fields = (dns.fields as Array<{ name: string; type: string }>).map((x) => `${x.name} ${x.type}`);
  assert.deepEqual(fields, dnsDissector.fields.map((x) => `${x.name} ${x.type}`));
});

test('the service map counts DNS calls between the client and the DNS server like any other protocol', async () => {
  const range = { from: Math.floor(t0 / 1000) - 1000, to: Math.floor(t0 / 1000) + 60_000 };
  const { status, body } = await getJson(`${base}/api/v1/servicemap?${q({ filter: 'dns', ...range })}`);
  assert.equal(status, 200, JSON.stringify(body));
  const edges = body.edges as Array<{ source: string; target: string; requests: number; protocols: string[] }>;
  assert.deepEqual(edges.map((e) => [e.requests, e.protocols]), [[4, ['dns']]], JSON.stringify(body));
});
