/**
 * The UDP flow table: both directions of a 5-tuple reach one consumer, idle flows time out on
 * capture time, the cap evicts the least recently used flow, closeAll ends everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newNetCounters } from '../../src/net/counters.js';
import { defaultFlowLimits, FlowTable, type FlowLimits } from '../../src/net/flows.js';
import { decodeIp, IpResult, newSegment } from '../../src/net/ip.js';
import type { ConnectionInfo, Direction } from '../../src/net/stream.js';
import type { DatagramConsumer } from '../../src/protocols/dissector.js';
import { ipUdp } from '../capture/frames.js';

/** Records what a consumer is told: datagrams as `dir:text@ts`, the end as `reason@ts`. */
class Recorder implements DatagramConsumer {
  readonly got: string[] = [];
  ended = '';
  lastTick = -1;
  constructor(readonly info: ConnectionInfo) {}
  datagram(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    assert.equal(this.ended, '', 'a datagram after the end');
    this.got.push(`${dir}:${buf.toString('latin1', start, end)}@${tsUs}`);
  }
  end(reason: string, tsUs: number): void {
    assert.equal(this.ended, '', 'ended twice');
    this.ended = `${reason}@${tsUs}`;
  }
  tick(nowUs: number): void {
    this.lastTick = nowUs;
  }
}

interface Ep {
  ip: string;
  port: number;
}

function setup(limits: Partial<FlowLimits> = {}) {
  const counters = newNetCounters();
  const flows: Recorder[] = [];
  const table = new FlowTable((info) => {
    const r = new Recorder(info);
    flows.push(r);
    return r;
  }, counters, { ...defaultFlowLimits, ...limits });
  const seg = newSegment();
  /** One datagram from `a` to `b` at tsUs, decoded from its bytes. */
  const send = (a: Ep, b: Ep, text: string, tsUs: number) => {
    const ip = ipUdp({ src: a.ip, dst: b.ip, sport: a.port, dport: b.port, payload: text });
    assert.equal(decodeIp(ip[0] >> 4 === 6 ? 0x86dd : 0x0800, ip, 0, ip.length, ip.length, seg), IpResult.Udp);
    table.datagram(seg, tsUs);
  };
  return { table, counters, flows, send };
}

const client: Ep = { ip: '10.0.0.1', port: 40000 };
const dns: Ep = { ip: '10.0.0.53', port: 53 };
const t0 = 1_700_000_000_000_000;

test('both directions of a flow reach one consumer; direction 0 is the first sender, whichever endpoint is lower', () => {
  for (const [first, second] of [[client, dns], [dns, client]]) {
    const { flows, send, counters } = setup();
    send(first, second, 'q1', t0);
    send(second, first, 'a1', t0 + 10);
    send(first, second, 'q2', t0 + 20);
    assert.equal(flows.length, 1);
    assert.deepEqual(flows[0].got, [`0:q1@${t0}`, `1:a1@${t0 + 10}`, `0:q2@${t0 + 20}`]);
    const info = flows[0].info;
    assert.deepEqual([info.transport, info.ip, info.port, info.clientDir, info.midStream], ['udp', [first.ip, second.ip], [first.port, second.port], undefined, false]);
    assert.deepEqual([counters.udpDatagrams, counters.udpBytes, counters.flows, counters.currentFlows], [3, 6, 1, 1]);
  }
});

test('IPv6 flows: both directions meet; another port, another address or another family is another flow', () => {
  const { flows, send, counters } = setup();
  const a6: Ep = { ip: 'fd00::1', port: 40000 };
  const b6: Ep = { ip: 'fd00::35', port: 53 };
  send(a6, b6, 'q', t0);
  send(b6, a6, 'a', t0 + 1);
  send({ ...a6, port: 40001 }, b6, 'other port', t0 + 2);
  send({ ip: 'fd00::2', port: 40000 }, b6, 'other address', t0 + 3);
  send(client, dns, 'v4', t0 + 4);
  send(dns, client, 'v4 back', t0 + 5);
  assert.deepEqual(
    flows.map((f) => f.got.map((g) => g.split('@')[0])),
    [['0:q', '1:a'], ['0:other port'], ['0:other address'], ['0:v4', '1:v4 back']],
  );
  assert.deepEqual(flows[0].info.ip, ['fd00::1', 'fd00::35']);
  assert.deepEqual(new Set(flows.map((f) => f.info.id)).size, 4);
  assert.equal(counters.flows, 4);
});

test('idle flows end with timeout after the idle time (capture time); the recent one stays; the tuple then opens a new flow', () => {
  const { table, flows, send, counters } = setup({ idleTimeoutUs: 30e6 });
  const other: Ep = { ip: '10.0.0.2', port: 40000 };
  send(client, dns, 'old', t0);
  send(other, dns, 'recent', t0 + 20e6);
  table.tick(t0 + 30e6); // exactly the idle time: not yet
  assert.deepEqual([flows[0].ended, flows[1].ended, table.size], ['', '', 2]);
  assert.equal(flows[0].lastTick, t0 + 30e6);
  table.tick(t0 + 30e6 + 1);
  assert.deepEqual([flows[0].ended, flows[1].ended], [`timeout@${t0 + 30e6 + 1}`, '']);
  assert.equal(flows[1].lastTick, t0 + 30e6 + 1);
  assert.deepEqual([counters.flowsTimedOut, counters.currentFlows, table.size], [1, 1, 1]);
  // A datagram refreshes a flow: the second one lives 30 s from its last datagram.
  send(dns, other, 'answer', t0 + 40e6);
  table.tick(t0 + 55e6);
  assert.equal(flows[1].ended, '');
  send(dns, client, 'late', t0 + 60e6);
  assert.equal(flows.length, 3);
  assert.deepEqual(flows[2].got, [`0:late@${t0 + 60e6}`]);
  assert.deepEqual(flows[2].info.ip, [dns.ip, client.ip]);
  assert.equal(counters.flows, 3);
});

test('the cap evicts the least recently used flow, counted, at its own last time', () => {
  const { table, flows, send, counters } = setup({ maxFlows: 3 });
  const ep = (i: number): Ep => ({ ip: `10.1.0.${i}`, port: 1000 + i });
  send(ep(1), dns, 'a', t0 + 1);
  send(ep(2), dns, 'b', t0 + 2);
  send(ep(3), dns, 'c', t0 + 3);
  send(dns, ep(1), 'a again', t0 + 4); // flow 1 is now the most recent: flow 2 is the oldest
  send(ep(4), dns, 'd', t0 + 5);
  assert.deepEqual(flows.map((f) => f.ended), ['', `evicted@${t0 + 2}`, '', '']);
  assert.deepEqual([counters.flowsEvicted, counters.currentFlows, table.size], [1, 3, 3]);
  // Flow 2's tuple comes back as a new flow (evicting flow 3, now the oldest).
  send(dns, ep(2), 'b back', t0 + 6);
  assert.deepEqual(flows.map((f) => f.ended), ['', `evicted@${t0 + 2}`, `evicted@${t0 + 3}`, '', '']);
  assert.deepEqual(flows[4].got, [`0:b back@${t0 + 6}`]);
  assert.equal(counters.flowsEvicted, 2);
});

test('memory stays bounded: 10x the cap of distinct flows leaves the cap alive, the rest evicted', () => {
  const cap = 100;
  const { table, flows, send, counters } = setup({ maxFlows: cap });
  for (let i = 0; i < 10 * cap; i++) {
    const src: Ep = i % 2 === 0 ? { ip: `10.2.${i >> 8}.${i & 255}`, port: 30000 + i } : { ip: `fd00::${i.toString(16)}`, port: 30000 + i };
    send(src, i % 2 === 0 ? dns : { ip: 'fd00::35', port: 53 }, 'x', t0 + i);
    assert.ok(table.size <= cap);
  }
  assert.equal(table.size, cap);
  assert.equal(counters.currentFlows, cap);
  assert.equal(counters.flowsEvicted, 9 * cap);
  const ended = flows.filter((f) => f.ended !== '');
  assert.equal(ended.length, 9 * cap);
  assert.ok(ended.every((f) => f.ended.startsWith('evicted@')));
  // The survivors are the last `cap` flows opened.
  assert.deepEqual(flows.flatMap((f, i) => (f.ended === '' ? [i] : [])), Array.from({ length: cap }, (_, i) => 9 * cap + i));
});

test('closeAll ends every flow with the reason given, and the table starts empty again', () => {
  const { table, flows, send, counters } = setup();
  send(client, dns, 'a', t0);
  send({ ip: 'fd00::1', port: 1 }, { ip: 'fd00::2', port: 2 }, 'b', t0 + 1);
  send({ ...client, port: 40001 }, dns, 'c', t0 + 2);
  table.closeAll('shutdown', t0 + 5);
  assert.deepEqual(flows.map((f) => f.ended), [`shutdown@${t0 + 5}`, `shutdown@${t0 + 5}`, `shutdown@${t0 + 5}`]);
  assert.deepEqual([table.size, counters.currentFlows, counters.flowsTimedOut, counters.flowsEvicted], [0, 0, 0, 0]);
  table.tick(t0 + 100e6); // nothing left to time out
  assert.equal(counters.flowsTimedOut, 0);
  send(client, dns, 'again', t0 + 6);
  assert.equal(flows.length, 4);
  assert.equal(flows[3].ended, '');
});
