/**
 * Hand-built captures of what goes wrong on real networks, each checked against what the test
 * wrote (and, where tshark defines the answer, against tshark).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 } from '../../src/capture/link.js';
import { Conversation, ethernet, ipTcp, pcapFile, sll, sll2, type Frame } from '../capture/frames.js';
import { analyse, assertSameAsTshark } from './compare.js';
import { importFrames, tempFile, text } from './run.js';

const client = { ip: '10.1.0.5', port: 40100 };
const server = { ip: '10.1.0.9', port: 8080 };
const body = 'B'.repeat(4000);
const response = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

/** One GET and a 4000-byte response in 1000-byte segments; returns the conversation and its segments. */
function exchange(path = '/x', c = new Conversation(client, server).handshake()) {
  const req = c.send(`GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`);
  const res = c.reply(response, 1000);
  return { c, req, res };
}

/** A segment carrying the bytes of `a` from `shift` on and the first `shift` bytes of `b` (Ethernet, IPv4, 20-byte TCP). */
function overlapping(a: Frame, b: Frame, shift: number): Frame {
  const payload = (f: Frame) => f.data.subarray(14 + 20 + 20, 14 + f.data.readUInt16BE(14 + 2));
  const pa = payload(a);
  const seq = a.data.readUInt32BE(14 + 20 + 4) + shift;
  return {
    tsUs: b.tsUs + 1,
    data: ethernet(ipTcp({ src: server.ip, dst: client.ip, sport: server.port, dport: client.port, seq, ack: a.data.readUInt32BE(14 + 20 + 8), flags: 'PA', payload: Buffer.concat([pa.subarray(shift), payload(b).subarray(0, shift)]) })),
  };
}

async function compareWithTshark(frames: Frame[], linkType = LINKTYPE_ETHERNET) {
  const f = tempFile('edge.pcap');
  writeFileSync(f, pcapFile(linkType, frames));
  const c = await analyse(f, [server.port]);
  assertSameAsTshark(c);
  return c;
}

test('segments out of order, duplicated and overlapping: one complete entry, as tshark says', async () => {
  const { c, req, res } = exchange();
  c.close();
  const [r0, r1, r2, r3, r4] = res;
  // A retransmission overlapping the second half of segment 1 and the first half of segment 2.
  const overlap = overlapping(r1, r2, 500);
  const hs = c.frames.slice(0, 3);
  const tail = c.frames.slice(3 + req.length + res.length);
  const frames = [...hs, ...req, r0, r2, overlap, r1, r1, r4, r3, r2, ...tail];
  const { entries, result } = await importFrames(frames);
  assert.equal(entries.length, 1);
  assert.equal(text(entries[0].responseBody), body);
  assert.equal(entries[0].incomplete, false);
  assert.ok(result.counters.outOfOrder >= 2);
  assert.ok(result.counters.duplicateBytes >= 2000);
  await compareWithTshark(frames);
});

test('a lost segment: the entry keeps its status, is marked incomplete, body cut; the next exchange is intact', async () => {
  const { c, res } = exchange('/lossy');
  exchange('/after', c);
  c.close();
  const frames = c.frames.filter((f) => f !== res[2]);
  const { entries, result } = await importFrames(frames);
  assert.deepEqual(entries.map((e) => [e.target, e.status, e.incomplete]), [['/lossy', 200, true], ['/after', 200, false]]);
  assert.equal(entries[0].responseBody.truncated, true);
  assert.equal(entries[0].responseBody.wireSize, body.length);
  assert.equal(text(entries[1].responseBody), body);
  assert.equal(result.counters.gapBytes, 1000);
});

test('capture starting mid-connection: the partial exchange is skipped, the next ones are whole; a response whose request was not captured is an orphan entry', async () => {
  const { c, res } = exchange('/before');
  exchange('/second', c);
  exchange('/third', c);
  // Start inside the first response's body (its head is not seen).
  const start = c.frames.indexOf(res[2]);
  const { entries, result } = await importFrames(c.frames.slice(start));
  assert.deepEqual(entries.map((e) => [e.target, e.status, text(e.responseBody) === body]), [['/second', 200, true], ['/third', 200, true]]);
  assert.equal(entries[0].src.ip, client.ip, 'the client is found from the request line');
  assert.equal(result.counters.midStream, 1);
  // Starting between a request and its response: the response is still an entry (no request,
  // no latency, incomplete), counted as an orphan; tshark shows it as a response alone.
  const reqIdx = c.frames.findIndex((f) => f.data.includes('GET /second'));
  const r2 = await importFrames(c.frames.slice(reqIdx + 1));
  assert.deepEqual(
    r2.entries.map((e) => [e.operation, e.target, e.status, e.durationUs, e.incomplete, text(e.responseBody) === body]),
    [['', '', 200, 0, true, true], ['GET', '/third', 200, r2.entries[1].durationUs, false, true]],
  );
  assert.ok(r2.entries[1].durationUs > 0);
  assert.equal(r2.entries[0].src.ip, client.ip, 'the client is the side the response goes to');
  assert.equal(r2.result.counters.protocols.http.orphanResponses, 1);
});

test('a snap length that cuts bodies: heads and statuses survive, bodies are cut and sized', async () => {
  const { c } = exchange('/snapped');
  exchange('/next', c);
  for (const f of c.frames) f.caplen = Math.min(f.data.length, 14 + 40 + 300);
  const { entries } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => [e.target, e.status]), [['/snapped', 200], ['/next', 200]]);
  for (const e of entries) {
    assert.equal(e.incomplete, true);
    assert.equal(e.responseBody.truncated, true);
    assert.equal(e.responseBody.size, body.length);
    assert.ok(e.responseBody.bytes.length < body.length);
  }
});

test('RST in the middle of a response: one incomplete entry with what was seen', async () => {
  const { c, res } = exchange('/reset');
  const keep = c.frames.slice(0, c.frames.indexOf(res[1]) + 1);
  c.reset(false);
  const frames = [...keep, c.frames[c.frames.length - 1]];
  const { entries, result } = await importFrames(frames);
  assert.equal(entries.length, 1);
  assert.equal(entries[0].status, 200);
  assert.equal(entries[0].incomplete, true);
  assert.equal(entries[0].responseBody.truncated, true);
  assert.equal(result.counters.closedRst, 1);
});

test('IPv6, VLAN-tagged Ethernet, Linux SLL and SLL2: the same entries, as tshark says', async () => {
  const v6client = { ip: 'fd00:1::5', port: 40200 };
  const v6server = { ip: 'fd00:1::9', port: 8080 };
  const v6 = exchange('/v6', new Conversation(v6client, v6server).handshake());
  v6.c.close();
  const r6 = await compareWithTshark(v6.c.frames);
  assert.deepEqual(r6.entries.map((e) => [e.src.ip, e.dst.ip, e.target, e.status]), [['fd00:1::5', 'fd00:1::9', '/v6', 200]]);

  const vlan = exchange('/vlan', new Conversation(client, server, undefined, (ip) => ethernet(ip, [100])).handshake());
  const rv = await compareWithTshark(vlan.c.frames);
  assert.deepEqual(rv.entries.map((e) => [e.target, e.status]), [['/vlan', 200]]);

  for (const [linkType, wrap] of [[LINKTYPE_LINUX_SLL, sll], [LINKTYPE_LINUX_SLL2, sll2]] as const) {
    const x = exchange('/cooked', new Conversation(client, server, undefined, wrap).handshake());
    const rx = await compareWithTshark(x.c.frames, linkType);
    assert.deepEqual(rx.entries.map((e) => [e.target, text(e.responseBody) === body]), [['/cooked', true]], `link type ${linkType}`);
  }
});

test('TCP Fast Open: the request in the SYN is dissected (RFC 7413), as tshark says', async () => {
  // Built by hand: a Fast Open client needs a cookie from an earlier connection; this is the second
  // connection, its SYN carrying the cookie option's data (the request) from ISN + 1.
  const req = 'GET /fast HTTP/1.1\r\nHost: h\r\n\r\n';
  const res = 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfast';
  const f = (tsUs: number, fromClient: boolean, flags: string, seq: number, ack: number, payload = '') => ({
    tsUs,
    data: ethernet(ipTcp({ src: fromClient ? client.ip : server.ip, dst: fromClient ? server.ip : client.ip, sport: fromClient ? client.port : server.port, dport: fromClient ? server.port : client.port, seq, ack, flags, payload })),
  });
  const frames = [
    f(1, true, 'S', 7000, 0, req),
    f(2, false, 'SA', 9000, 7001 + req.length),
    f(3, true, 'A', 7001 + req.length, 9001),
    f(4, false, 'PA', 9001, 7001 + req.length, res),
    f(5, true, 'FA', 7001 + req.length, 9001 + res.length),
    f(6, false, 'FA', 9001 + res.length, 7002 + req.length),
  ];
  const { entries } = await importFrames(frames);
  assert.deepEqual(entries.map((e) => [e.target, e.status, e.incomplete]), [['/fast', 200, false]]);
  await compareWithTshark(frames);
});

test('a mirror that sends each packet once per VLAN, the second copy late: one entry per exchange, not two', async () => {
  const c10 = new Conversation(client, server, 1_700_000_000_000_000, (ip) => ethernet(ip, [10])).handshake();
  const c20 = new Conversation(client, server, 1_700_000_000_000_000, (ip) => ethernet(ip, [20])).handshake();
  for (const c of [c10, c20]) {
    exchange('/a', c);
    exchange('/b', c);
    c.close();
  }
  // Copies interleaved, then copies that come after the first copy's connection closed.
  const interleaved = c10.frames.flatMap((f, i) => [f, { ...c20.frames[i], tsUs: f.tsUs + 5 }]);
  const late = [...c10.frames, ...c20.frames.map((f) => ({ ...f, tsUs: f.tsUs + 1000 }))];
  for (const frames of [interleaved, late]) {
    const { entries, result } = await importFrames(frames);
    assert.deepEqual(entries.map((e) => [e.target, e.status]), [['/a', 200], ['/b', 200]]);
    assert.equal(result.counters.connections, 1);
  }
});
