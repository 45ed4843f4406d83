/**
 * DNS with real peers: dnsmasq (the Debian package) serving a local zone on 127.0.0.1, dig and
 * Node's resolver (c-ares) as clients over UDP and TCP (A, AAAA, SRV, CNAME, TXT, NXDOMAIN,
 * REFUSED, a truncated answer that makes dig retry over TCP, a query to an upstream that never
 * answers), captured by tcpdump on lo, imported like any capture; the entries must be tshark's
 * queries, names, types, rcodes and latencies (dns.time), exactly.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { typeCode } from '../../src/protocols/dns/message.js';
import { ADDITIONAL_PREFIX, AUTHORITY_PREFIX, dnsDissector } from '../../src/protocols/dns/dissector.js';
import { analyse } from '../agent/compare.js';
import { tempFile } from '../agent/run.js';
import { freePort, Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { dig, Dnsmasq, tsharkDns, tsharkExchanges } from './dns-support.js';

let dnsmasq: Dnsmasq;
let port: number;
/** A port nothing listens on: dnsmasq's upstream for dead.test (its queries are never answered). */
let deadPort: number;
const bigText = 'x'.repeat(250);

before(async () => {
  await tsharkAvailable();
  port = await freePort();
  deadPort = await freePort();
  dnsmasq = await Dnsmasq.start(port, [
    '--local=/zone.test/',
    '--address=/svc.test/10.0.0.7',
    '--host-record=web.zone.test,10.0.0.8,fd00::8',
    '--srv-host=_http._tcp.zone.test,web.zone.test,8080,0,5',
    '--cname=alias.zone.test,web.zone.test',
    '--txt-record=txt.zone.test,hello world',
    `--txt-record=big.zone.test,${bigText},${bigText},${bigText}`,
    `--server=/dead.test/127.0.0.1#${deadPort}`,
  ]);
});

after(() => dnsmasq?.stop());

/** The answer section (the records not named with an authority or additional prefix). */
const answers = (e: Entry) => e.responseHeaders.toPairs().filter(([n]) => !n.startsWith(AUTHORITY_PREFIX) && !n.startsWith(ADDITIONAL_PREFIX));
const rows = (entries: Entry[]) => entries.map((e) => `${e.transport} ${e.operation} ${e.target} ${e.unanswered ? '-' : e.statusText}`);

test('dig and Node\'s resolver against dnsmasq over UDP and TCP: entries are tshark\'s queries, names, types, rcodes and latencies', async () => {
  const file = tempFile('dns.pcap');
  const dump = await Tcpdump.start('lo', `udp port ${port} or tcp port ${port}`, file);
  const outputs: string[] = [];
  try {
    const q = async (...args: string[]) => outputs.push(await dig(port, '+tries=1', '+time=2', ...args));
    await q('svc.test', 'A');
    await q('web.zone.test', 'AAAA');
    await q('_http._tcp.zone.test', 'SRV');
    await q('alias.zone.test', 'A');
    await q('txt.zone.test', 'TXT');
    await q('nope.zone.test', 'A');
    await q('example.com', 'A'); // no upstream: REFUSED
    await q('+tcp', 'web.zone.test', 'A');
    await q('+tcp', 'nope.zone.test', 'AAAA');
    await q('+noedns', 'big.zone.test', 'TXT'); // > 512 bytes: TC over UDP, then dig retries over TCP
    // dnsmasq forwards to a closed port and never answers: dig gives up after one second.
    await q('+time=1', 'x.dead.test', 'A');
    // Node's resolver (c-ares) as the other client.
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    assert.deepEqual(await resolver.resolve4('svc.test'), ['10.0.0.7']);
    assert.deepEqual(await resolver.resolveSrv('_http._tcp.zone.test'), [{ name: 'web.zone.test', port: 8080, priority: 0, weight: 5 }]);
    await assert.rejects(resolver.resolve6('nope.zone.test'), { code: 'ENOTFOUND' });
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  assert.match(outputs[9], /Truncated, retrying in TCP mode/);
  assert.match(outputs[10], /timed out/);
  const c = await analyse(file, []);
  const entries = [...c.entries].sort((a, b) => a.startUs - b.startUs);
  assert.deepEqual(rows(entries), [
    'udp A svc.test NOERROR',
    'udp AAAA web.zone.test NOERROR',
    'udp SRV _http._tcp.zone.test NOERROR',
    'udp A alias.zone.test NOERROR',
    'udp TXT txt.zone.test NOERROR',
    'udp A nope.zone.test NXDOMAIN',
    'udp A example.com REFUSED',
    'tcp A web.zone.test NOERROR',
    'tcp AAAA nope.zone.test NXDOMAIN',
    'udp TXT big.zone.test NOERROR',
    'tcp TXT big.zone.test NOERROR',
    'udp A x.dead.test -',
    'udp A svc.test NOERROR',
    'udp SRV _http._tcp.zone.test NOERROR',
    'udp AAAA nope.zone.test NXDOMAIN',
  ]);

  // The reference: tshark on the same file, every message, paired by (transport, client port, id):
  // the same names, types, rcodes, TC bits and latencies (tshark's dns.time), exactly.
  const theirs = tsharkExchanges(await tsharkDns(file, port));
  const ours = entries.map((e) => ({
    key: `${e.transport} ${e.src.port} ${e.fields['dns.id']}`,
    name: e.target,
    type: typeCode(e.operation),
    rcode: e.unanswered ? null : e.status,
    truncated: e.fields['dns.truncated'] === 1,
    latencyUs: e.unanswered ? null : e.durationUs,
  }));
  const byKey = (xs: typeof ours) => [...xs].sort((a, b) => a.key.localeCompare(b.key));
  assert.equal(theirs.length, 15);
  assert.deepEqual(byKey(ours), byKey(theirs.map((t) => ({ ...t }))));

  const [a, aaaa, srv, cname, txt, nx, refused, tcpA, , tc, tcRetry, dead] = entries;
  assert.deepEqual(answers(a), [['svc.test', 'A 0 10.0.0.7']]);
  assert.deepEqual(answers(aaaa), [['web.zone.test', 'AAAA 0 fd00::8']]);
  assert.deepEqual(answers(srv).slice(0, 1), [['_http._tcp.zone.test', 'SRV 0 0 5 8080 web.zone.test']]);
  assert.deepEqual(answers(cname).slice(0, 2), [
    ['alias.zone.test', 'CNAME 0 web.zone.test'],
    ['web.zone.test', 'A 0 10.0.0.8'],
  ]);
  assert.deepEqual(answers(txt), [['txt.zone.test', 'TXT 0 "hello world"']]);
  assert.deepEqual([nx.status, nx.fields['dns.answers'], dnsDissector.outcome({ ...nx, clientDir: 0 })], [3, 0, Outcome.clientError]);
  assert.deepEqual([refused.status, dnsDissector.outcome({ ...refused, clientDir: 0 })], [5, Outcome.clientError]);
  assert.deepEqual([a.status, dnsDissector.outcome({ ...a, clientDir: 0 }), a.fields['dns.answers'], a.fields['dns.qtype']], [0, Outcome.ok, 1, 'A']);
  assert.equal(tcpA.transport, 'tcp');
  assert.deepEqual([tc.fields['dns.truncated'], tcRetry.fields['dns.truncated']], [1, 0]);
  // The SRV target's addresses come as additional records; dnsmasq answers dig's EDNS0 with its own OPT.
  assert.deepEqual(srv.responseHeaders.toPairs().slice(1), [
    ['additional web.zone.test', 'A 0 10.0.0.8'],
    ['additional web.zone.test', 'AAAA 0 fd00::8'],
    ['additional <Root>', 'OPT version 0, udp 1232'],
  ]);
  assert.ok(tcRetry.responseHeaders.value(0) === `TXT 0 "${bigText}" "${bigText}" "${bigText}"`, 'the whole TXT record over TCP');
  assert.deepEqual([dead.unanswered, dead.durationUs, dead.fields['dns.rcode'], dnsDissector.outcome({ ...dead, clientDir: 0 })], [true, 0, undefined, Outcome.none]);
  for (const e of entries) {
    assert.equal(e.dst.port, port, `${e.target}: the server is dnsmasq`);
    assert.equal(e.protocol, 'dns');
    assert.equal(e.protocolVersion, '');
    if (!e.unanswered) assert.ok(e.durationUs > 0 && e.durationUs < 2e6, `${e.target}: latency ${e.durationUs} µs`);
  }
  // dig sends EDNS0 (udp 1232) unless told not to.
  assert.match(a.requestHeaders.get('edns') ?? '', /udp 1232/);
  assert.equal(tc.requestHeaders.get('edns'), undefined);
});
