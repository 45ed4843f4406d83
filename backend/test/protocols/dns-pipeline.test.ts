/**
 * DNS through the agent's pipeline on hand-built frames: pairing by id over UDP (a retransmitted
 * query counted on its entry, an orphan answer counted, an unanswered query after the timeout),
 * the outcome of each RCODE, a TC answer, DNS over TCP (several messages in one segment, one split
 * across segments, a length prefix alone), detection on any port, garbage on port 53, the
 * sections a person sees, and random datagrams through the whole pipeline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { dnsDissector } from '../../src/protocols/dns/dissector.js';
import { protocols } from '../../src/protocols/registry.js';
import { lookupField } from '../../src/query/fields.js';
import { Conversation, ethernet, ipUdp, type Frame } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';
import { a, message, query, response, tcpFramed } from './dns-wire.js';

const t0 = 1_700_000_000_000_000;
const client = { ip: '10.9.0.5', port: 40123 };
const server = { ip: '10.9.0.53', port: 53 };

function udp(from: { ip: string; port: number }, to: { ip: string; port: number }, payload: Buffer, tsUs: number): Frame {
  return { tsUs, data: ethernet(ipUdp({ src: from.ip, dst: to.ip, sport: from.port, dport: to.port, payload })) };
}
const ask = (payload: Buffer, tsUs: number, from = client, to = server) => udp(from, to, payload, tsUs);
const answer = (payload: Buffer, tsUs: number, from = client, to = server) => udp(to, from, payload, tsUs);
const outcome = (e: Entry) => dnsDissector.outcome({ ...e, clientDir: 0 });
const summary = (e: Entry) => `${e.operation} ${e.target} ${e.unanswered ? 'unanswered' : `${e.status} ${e.statusText}`}`;

test('DNS is a built-in protocol with its filter fields', () => {
  assert.equal(protocols.get('dns'), dnsDissector);
  assert.deepEqual(
    ['dns.qname', 'dns.qtype', 'dns.rcode', 'dns.answers', 'dns.truncated', 'dns.id'].map((n) => lookupField(n)?.type),
    ['string', 'string', 'int', 'int', 'bool', 'int'],
  );
  assert.equal(lookupField('dns.rcode')?.sql, "fields_number['dns.rcode']");
  assert.deepEqual(dnsDissector.secrets, [], 'DNS carries no credential by default');
});

test('UDP: paired by id; a retransmission counted, not duplicated; an orphan counted; every RCODE its outcome', async () => {
  const frames: Frame[] = [
    ask(query(1, 'svc.test'), t0),
    ask(query(1, 'svc.test'), t0 + 1_000_000), // the client gave up waiting and sent it again
    answer(response(1, 'svc.test', 1, 0, [a('svc.test', '10.0.0.7', 30)]), t0 + 1_002_000),
    answer(response(99, 'ghost.test', 1, 0), t0 + 1_003_000), // nobody asked
    ask(query(2, 'nope.test', 28), t0 + 1_010_000),
    answer(response(2, 'nope.test', 28, 3), t0 + 1_011_000),
    ask(query(3, 'up.test'), t0 + 1_020_000),
    answer(response(3, 'up.test', 1, 2), t0 + 1_021_000),
    ask(query(4, 'no.test'), t0 + 1_030_000),
    answer(response(4, 'no.test', 1, 5), t0 + 1_031_000),
    ask(query(5, 'bad.test'), t0 + 1_040_000),
    answer(response(5, 'bad.test', 1, 1), t0 + 1_041_000),
    ask(query(6, 'empty.test', 28), t0 + 1_050_000),
    answer(response(6, 'empty.test', 28, 0), t0 + 1_051_000), // NOERROR, no answer (NODATA)
    ask(query(7, 'odd.test'), t0 + 1_060_000),
    answer(response(7, 'odd.test', 1, 4), t0 + 1_061_000), // NOTIMP
    ask(query(8, 'big.test', 16), t0 + 1_070_000),
    answer(response(8, 'big.test', 16, 0, [], 0x0200), t0 + 1_071_000), // TC
  ];
  const { entries, result } = await importFrames(frames);
  assert.deepEqual(entries.map(summary), [
    'A svc.test 0 NOERROR',
    'AAAA nope.test 3 NXDOMAIN',
    'A up.test 2 SERVFAIL',
    'A no.test 5 REFUSED',
    'A bad.test 1 FORMERR',
    'AAAA empty.test 0 NOERROR',
    'A odd.test 4 NOTIMP',
    'TXT big.test 0 NOERROR',
  ]);
  assert.deepEqual(entries.map(outcome), [Outcome.ok, Outcome.clientError, Outcome.serverError, Outcome.clientError, Outcome.clientError, Outcome.ok, Outcome.serverError, Outcome.ok]);
  const [first] = entries;
  assert.deepEqual([first.transport, first.src.ip, first.src.port, first.dst.ip, first.dst.port], ['udp', client.ip, client.port, server.ip, 53]);
  assert.deepEqual([first.startUs, first.durationUs], [t0, 1_002_000], 'latency from the first send');
  assert.deepEqual(first.fields, {
    'dns.id': 1, 'dns.qname': 'svc.test', 'dns.qtype': 'A', 'dns.retransmits': 1,
    'dns.rcode': 0, 'dns.answers': 1, 'dns.truncated': 0, 'dns.flags': 'qr rd ra',
  });
  assert.deepEqual(first.responseHeaders.toPairs(), [['svc.test', 'A 30 10.0.0.7']]);
  assert.deepEqual(entries[5].fields['dns.answers'], 0);
  assert.deepEqual([entries[7].fields['dns.truncated'], entries[7].fields['dns.flags']], [1, 'qr tc rd ra']);
  const c = result.counters.protocols.dns;
  assert.deepEqual([c.connections, c.exchanges, c.orphanResponses, c.unanswered, c.parseErrors], [1, 8, 1, 0, 0]);
});

test('UDP: a query unanswered past the timeout is an unanswered entry then; its late answer is an orphan', async () => {
  const frames = [
    ask(query(10, 'slow.test'), t0),
    ask(query(11, 'fast.test'), t0 + 3_000_000),
    answer(response(11, 'fast.test', 1, 0, [a('fast.test', '10.0.0.1')]), t0 + 3_001_000),
    answer(response(10, 'slow.test', 1, 0), t0 + 3_002_000),
  ];
  const limits = { maxHeaderBytes: 65536, maxBodyBytes: 65536, maxPendingRequests: 128, unansweredTimeoutUs: 2_000_000 };
  const { entries, result } = await importFrames(frames, { dissectors: limits });
  // Emitted when the clock passed its timeout, before the later query's answer: not at the flow's end.
  assert.deepEqual(entries.map(summary), ['A slow.test unanswered', 'A fast.test 0 NOERROR']);
  assert.deepEqual([entries[0].endUs, entries[0].durationUs, entries[0].fields['dns.rcode'], outcome(entries[0])], [t0, 0, undefined, Outcome.none]);
  assert.deepEqual([result.counters.protocols.dns.unanswered, result.counters.protocols.dns.orphanResponses], [1, 1]);
});

test('UDP on any port, flows apart: the same id on two flows is two exchanges; garbage on port 53 is not DNS', async () => {
  const other = { ip: '10.9.0.6', port: 40999 };
  const odd = { ip: '10.9.0.99', port: 10053 };
  const garbage = Buffer.from('this is not a DNS message at all, just bytes to port 53');
  const frames = [
    ask(query(7, 'one.test'), t0, client, odd),
    ask(query(7, 'two.test'), t0 + 10, other, odd),
    answer(response(7, 'two.test', 1, 0), t0 + 20, other, odd),
    answer(response(7, 'one.test', 1, 3), t0 + 30, client, odd),
    ask(garbage, t0 + 40, { ip: '10.9.0.7', port: 40500 }, server),
  ];
  const { entries, result } = await importFrames(frames);
  assert.deepEqual(entries.map((e) => `${e.src.ip} ${summary(e)}`).sort(), ['10.9.0.5 A one.test 3 NXDOMAIN', '10.9.0.6 A two.test 0 NOERROR']);
  assert.equal(result.counters.unknownFlows, 1);
  assert.equal(result.counters.protocols.dns.connections, 2);
});

test('TCP: two messages in one segment, one split across segments, a length prefix sent alone', async () => {
  const conv = new Conversation({ ip: client.ip, port: 41000 }, { ip: server.ip, port: 53 }).handshake();
  conv.send(tcpFramed(query(0x100, 'a.test'), query(0x101, 'b.test', 28)));
  const big = response(0x101, 'b.test', 28, 0, Array.from({ length: 40 }, (_, i) => ({ name: 'b.test', type: 28, rdata: Buffer.alloc(16, i) })));
  conv.reply(tcpFramed(response(0x100, 'a.test', 1, 0, [a('a.test', '10.0.0.2')]), big), 300); // the second spans segments
  const third = tcpFramed(query(0x102, 'c.test', 33));
  conv.send(third.subarray(0, 2));
  conv.send(third.subarray(2));
  conv.reply(tcpFramed(response(0x102, 'c.test', 33, 3)));
  conv.close();
  const { entries, result } = await importFrames(conv.frames);
  assert.deepEqual(entries.map(summary), ['A a.test 0 NOERROR', 'AAAA b.test 0 NOERROR', 'SRV c.test 3 NXDOMAIN']);
  assert.deepEqual(entries.map((e) => e.transport), ['tcp', 'tcp', 'tcp']);
  assert.equal(entries[1].fields['dns.answers'], 40);
  assert.equal(entries[1].responseHeaders.value(39), 'AAAA 300 2727:2727:2727:2727:2727:2727:2727:2727');
  assert.deepEqual(result.counters.protocols.dns.parseErrors, 0);
});

test('TCP: after a gap, framing resumes at the next message that starts a segment', async () => {
  const conv = new Conversation({ ip: client.ip, port: 41001 }, { ip: server.ip, port: 53 }).handshake();
  conv.send(tcpFramed(query(1, 'before.test')));
  const lost = conv.reply(tcpFramed(response(1, 'before.test', 1, 0, [a('before.test', '10.0.0.3')])), 20);
  conv.send(tcpFramed(query(2, 'after.test')));
  conv.reply(tcpFramed(response(2, 'after.test', 1, 0)));
  conv.close();
  // The middle segment of the first response is never captured.
  const frames = conv.frames.filter((f) => f !== lost[1]);
  const { entries } = await importFrames(frames);
  assert.deepEqual(entries.map(summary), ['A after.test 0 NOERROR', 'A before.test unanswered']);
});

test('sections: the query, the response, answers, authority and additional records, the fields', async () => {
  const soa = { name: 'test', type: 6, rdata: Buffer.concat([Buffer.from('\x03ns1\x04test\x00\x05admin\x04test\x00', 'latin1'), Buffer.alloc(20, 0)]) };
  const res = message({
    id: 42, flags: 0x8183, questions: [['gone.test', 1]], authority: [soa],
    additional: [{ name: '', type: 41, rclass: 1232, ttl: 0, rdata: Buffer.alloc(0) }],
  });
  const withEdns = message({ id: 42, flags: 0x0120, questions: [['gone.test', 1]], additional: [{ name: '', type: 41, rclass: 4096, ttl: 0x8000, rdata: Buffer.alloc(0) }] });
  const { entries } = await importFrames([ask(withEdns, t0), answer(res, t0 + 500)]);
  const sections = dnsDissector.represent(entries[0]);
  assert.deepEqual(sections, [
    { kind: 'table', title: 'Query', rows: [['Name', 'gone.test'], ['Type', 'A'], ['Class', 'IN'], ['ID', '42'], ['Opcode', 'QUERY'], ['Flags', 'rd ad'], ['EDNS', 'version 0, udp 4096, do']] },
    { kind: 'table', title: 'Response', rows: [['RCODE', '3 NXDOMAIN'], ['Flags', 'qr rd ra'], ['Answers', '0']] },
    { kind: 'table', title: 'Authority', rows: [['test', 'SOA 300 ns1.test admin.test 0 0 0 0 0']] },
    { kind: 'table', title: 'Additional', rows: [['<Root>', 'OPT version 0, udp 1232']] },
    {
      kind: 'table', title: 'Fields',
      rows: [['dns.qname', 'gone.test'], ['dns.qtype', 'A'], ['dns.rcode', '3'], ['dns.answers', '0'], ['dns.truncated', '0'], ['dns.id', '42'], ['dns.flags', 'qr rd ra'], ['dns.retransmits', '0']],
    },
  ]);
});

test('fuzz through the pipeline: random and mutated datagrams to port 53 and a garbage TCP stream never throw', async () => {
  let x = 0x1234567;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
  const seeds = [query(1, 'svc.test'), response(1, 'svc.test', 1, 0, [a('svc.test', '10.0.0.7')]), response(2, 'x.test', 28, 3)];
  const frames: Frame[] = [];
  for (let i = 0; i < 3000; i++) {
    let b: Buffer;
    if (i % 3 === 0) {
      b = Buffer.alloc(1 + Math.floor(next() * 300));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(next() * 256);
    } else {
      b = Buffer.from(seeds[i % seeds.length]);
      for (let k = 0; k < 3; k++) b[Math.floor(next() * b.length)] = next() < 0.3 ? 0xc0 : Math.floor(next() * 256);
    }
    const port = 30000 + Math.floor(next() * 8);
    frames.push(i % 2 === 0 ? ask(b, t0 + i * 1000, { ...client, port }) : answer(b, t0 + i * 1000, { ...client, port }));
  }
  const conv = new Conversation({ ip: client.ip, port: 41002 }, { ip: server.ip, port: 53 }).handshake();
  conv.send(tcpFramed(query(1, 'x.test')));
  for (let i = 0; i < 50; i++) {
    const junk = Buffer.alloc(1 + Math.floor(next() * 200));
    for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(next() * 256);
    if (i % 2 === 0) conv.send(junk);
    else conv.reply(junk);
  }
  conv.close();
  for (const f of conv.frames) f.tsUs += 4e9;
  const { entries, result } = await importFrames([...frames, ...conv.frames]);
  const c = result.counters.protocols.dns;
  assert.ok(entries.length <= 1500 + 1, `${entries.length} entries from at most 1500 queries`);
  assert.ok(c.parseErrors + c.orphanResponses > 0, 'bad messages were counted');
  for (const e of entries) assert.ok(e.responseHeaders.count <= 3 * 64 && e.target.length <= 4 * 255);
});
