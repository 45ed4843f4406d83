import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeLink, LINKTYPE_ETHERNET, type L3Position } from '../../src/capture/link.js';
import { ConnectionTable, defaultConnectionLimits, type ConnectionLimits } from '../../src/net/connections.js';
import { newNetCounters } from '../../src/net/counters.js';
import { decodeIp, IpResult, newSegment } from '../../src/net/ip.js';
import type { ConnectionInfo, Direction, StreamConsumer } from '../../src/net/stream.js';
import { Conversation, ethernet, ipTcp, type Frame } from '../capture/frames.js';

/** Records what a consumer is told, as text: data as-is, gaps as ⟨gap N⟩, ends as ⟨end reason⟩. */
class Recorder implements StreamConsumer {
  readonly text: [string, string] = ['', ''];
  ended = '';
  fins: Direction[] = [];
  constructor(readonly info: ConnectionInfo) {}
  data(dir: Direction, buf: Buffer, start: number, end: number): void {
    this.text[dir] += buf.toString('latin1', start, end);
  }
  gap(dir: Direction, bytes: number): void {
    this.text[dir] += `⟨gap ${bytes}⟩`;
  }
  fin(dir: Direction): void {
    this.fins.push(dir);
  }
  end(reason: string): void {
    this.ended = reason;
  }
  tick(): void {}
}

function run(frames: Frame[], limits: Partial<ConnectionLimits> = {}) {
  const counters = newNetCounters();
  const conns: Recorder[] = [];
  const table = new ConnectionTable((info) => {
    const r = new Recorder(info);
    conns.push(r);
    return r;
  }, counters, { ...defaultConnectionLimits, ...limits });
  const l3: L3Position = { etherType: 0, offset: 0, vlanTags: 0 };
  const seg = newSegment();
  for (const f of frames) {
    const end = f.caplen ?? f.data.length;
    assert.ok(decodeLink(LINKTYPE_ETHERNET, f.data, 0, end, l3));
    assert.equal(decodeIp(l3.etherType, f.data, l3.offset, end, f.data.length, seg), IpResult.Tcp);
    table.segment(seg, f.tsUs);
  }
  return { table, counters, conns };
}

const client = { ip: '10.0.0.1', port: 50000 };
const server = { ip: '10.0.0.2', port: 80 };

test('in-order conversation: both directions, client from the handshake, FIN closes', () => {
  const c = new Conversation(client, server).handshake();
  c.send('hello ');
  c.send('world');
  c.reply('answer');
  c.close();
  const { conns, counters } = run(c.frames);
  assert.equal(conns.length, 1);
  assert.deepEqual(conns[0].text, ['hello world', 'answer']);
  assert.equal(conns[0].info.clientDir, 0);
  assert.equal(conns[0].ended, 'fin');
  assert.deepEqual(conns[0].fins, [0, 1]);
  assert.equal(counters.closedFin, 1);
  assert.equal(counters.currentBufferedBytes, 0);
});

test('out of order, duplicated and overlapping segments come out once, in order', () => {
  const c = new Conversation(client, server).handshake();
  const segs = c.send('0123456789abcdefghij', 5); // 4 segments of 5 bytes
  c.close();
  const [hs1, hs2, hs3] = c.frames;
  const fin = c.frames.slice(-3);
  // An overlapping retransmission: bytes 3..12 as one segment (seq of byte 3).
  const ov: Frame = { tsUs: segs[3].tsUs, data: ethernet(ipTcp({ src: client.ip, dst: server.ip, sport: client.port, dport: server.port, seq: 1001 + 3, ack: 5001, flags: 'PA', payload: '3456789abc' })) };
  const order = [hs1, hs2, hs3, segs[2], segs[0], segs[0], ov, segs[3], segs[1], segs[2], ...fin];
  const { conns, counters } = run(order);
  assert.deepEqual(conns[0].text, ['0123456789abcdefghij', '']);
  assert.equal(counters.outOfOrder, 1);
  assert.ok(counters.duplicateBytes >= 5 + 5, `duplicates counted: ${counters.duplicateBytes}`);
  assert.equal(counters.gaps, 0);
  assert.equal(conns[0].ended, 'fin');
});

test('a lost segment becomes a gap when the peer acknowledges past it', () => {
  const c = new Conversation(client, server).handshake();
  const segs = c.send('aaaaabbbbbccccc', 5);
  c.reply('ok'); // acknowledges all 15 bytes
  c.close();
  const frames = c.frames.filter((f) => f !== segs[1]);
  const { conns, counters } = run(frames);
  assert.deepEqual(conns[0].text, ['aaaaa⟨gap 5⟩ccccc', 'ok']);
  assert.equal(counters.gaps, 1);
  assert.equal(counters.gapBytes, 5);
});

test('a lost segment with no later ACK is given up at the end, as a gap', () => {
  const c = new Conversation(client, server).handshake();
  const segs = c.send('aaaaabbbbbccccc', 5);
  const frames = c.frames.filter((f) => f !== segs[1]);
  const { conns, table } = run(frames);
  assert.equal(conns[0].text[0], 'aaaaa');
  table.closeAll('shutdown', 0);
  assert.equal(conns[0].text[0], 'aaaaa⟨gap 5⟩ccccc');
  assert.equal(conns[0].ended, 'shutdown');
});

test('a connection picked up mid-stream starts at the first byte seen; client unknown', () => {
  const c = new Conversation(client, server).handshake();
  c.send('first');
  c.reply('second');
  const { conns, counters } = run(c.frames.slice(4));
  assert.deepEqual(conns[0].text, ['second', '']);
  assert.equal(conns[0].info.clientDir, undefined);
  assert.equal(conns[0].info.midStream, true);
  assert.equal(conns[0].info.ip[0], server.ip); // direction 0 is whoever spoke first
  assert.equal(counters.midStream, 1);
});

test('a snap length that cuts a segment turns the missing bytes into a gap', () => {
  const c = new Conversation(client, server).handshake();
  const [s] = c.send('x'.repeat(100));
  c.send('tail');
  s.caplen = 14 + 40 + 30; // 30 of 100 payload bytes kept
  const { conns, counters } = run(c.frames);
  assert.equal(conns[0].text[0], `${'x'.repeat(30)}⟨gap 70⟩tail`);
  assert.equal(counters.gapBytes, 70);
});

test('RST ends the connection; late packets of a closed connection start nothing', () => {
  const c = new Conversation(client, server).handshake();
  c.send('req');
  c.reset(false);
  const late = c.send('late data');
  const { conns, counters } = run([...c.frames, ...late]);
  assert.equal(conns.length, 1);
  assert.equal(conns[0].ended, 'rst');
  assert.equal(conns[0].text[0], 'req');
  assert.equal(counters.closedRst, 1);
});

test('stray ACKs of unknown connections are counted, not tracked', () => {
  const c = new Conversation(client, server).handshake();
  const { conns, counters } = run(c.frames.slice(2)); // only the final ACK of the handshake
  assert.equal(conns.length, 0);
  assert.equal(counters.strays, 1);
});

test('out-of-order data beyond the per-direction budget is flushed with a gap', () => {
  const c = new Conversation(client, server).handshake();
  const segs = c.send(Buffer.alloc(10 * 1000, 'z'), 1000);
  const frames = c.frames.filter((f) => f !== segs[0]);
  const { conns, counters } = run(frames, { maxBufferedPerDirection: 4000 });
  assert.ok(counters.forcedFlushes >= 1);
  assert.ok(counters.peakBufferedBytes <= 5000, `peak ${counters.peakBufferedBytes}`);
  assert.equal(conns[0].text[0], `⟨gap 1000⟩${'z'.repeat(9000)}`);
});

test('the global buffer cap flushes least recently used connections first', () => {
  const frames: Frame[] = [];
  for (let i = 0; i < 10; i++) {
    const c = new Conversation({ ip: '10.0.0.1', port: 40000 + i }, server).handshake();
    const segs = c.send(Buffer.alloc(3000, 'q'), 1000);
    frames.push(...c.frames.filter((f) => f !== segs[0]));
  }
  const { counters } = run(frames, { maxBufferedBytes: 8000 });
  assert.ok(counters.peakBufferedBytes <= 8000 + 1000, `peak ${counters.peakBufferedBytes}`);
  assert.ok(counters.currentBufferedBytes <= 8000);
  assert.ok(counters.forcedFlushes >= 1);
});

test('maxConnections evicts the least recently used connection', () => {
  const frames: Frame[] = [];
  for (let i = 0; i < 5; i++) {
    const c = new Conversation({ ip: '10.0.0.1', port: 40000 + i }, server).handshake();
    c.send(`conn ${i}`);
    frames.push(...c.frames);
  }
  const { conns, counters } = run(frames, { maxConnections: 3 });
  assert.equal(counters.evicted, 2);
  assert.deepEqual(conns.map((c) => c.ended), ['evicted', 'evicted', '', '', '']);
  assert.equal(counters.currentConnections, 3);
});

test('idle connections time out on the capture clock', () => {
  const c = new Conversation(client, server).handshake();
  c.send('x');
  const { conns, table, counters } = run(c.frames, { idleTimeoutUs: 1e6 });
  const last = c.frames[c.frames.length - 1].tsUs;
  table.tick(last + 500_000);
  assert.equal(conns[0].ended, '');
  table.tick(last + 1_500_000);
  assert.equal(conns[0].ended, 'timeout');
  assert.equal(counters.timedOut, 1);
  assert.equal(counters.currentConnections, 0);
});

test('sequence numbers wrapping past 2^32 reassemble', () => {
  const c = new Conversation(client, server);
  // Start the client's sequence just below the wrap point.
  (c as unknown as { cseq: number }).cseq = 0xfffffff0;
  c.handshake();
  const segs = c.send('0123456789ABCDEFGHIJ', 10);
  const { conns } = run([...c.frames.slice(0, 3), segs[1], segs[0]]);
  assert.equal(conns[0].text[0], '0123456789ABCDEFGHIJ');
});
