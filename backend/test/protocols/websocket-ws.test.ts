/**
 * WebSocket with real peers: the `ws` library's server and client on loopback (text, binary, a
 * fragmented message, pings both ways, closes with codes from either side, permessage-deflate off,
 * on with context takeover, and on without it with a 10-bit server window), captured by tcpdump,
 * imported like any capture. The messages must be tshark's (its `websocket` dissector behind the
 * HTTP upgrade): the same senders, opcodes, frames, payloads and close codes, in the same order.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Entry } from '../../src/entries/entry.js';
import { Outcome } from '../../src/entries/entry.js';
import { analyse } from '../agent/compare.js';
import { tempFile } from '../agent/run.js';
import { freePort, Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { waitFor } from '../../../test/support/wait.js';
import { bySender, entryMessages, tsharkMessages } from './websocket-support.js';

/** Context takeover (ws's default), and without it with a small server window. */
let takeover: WebSocketServer;
let independent: WebSocketServer;
let takeoverPort: number;
let independentPort: number;
/** What the servers received, by the client's port: the peer's own account of each message. */
const received = new Map<number, string[]>();

function serve(server: WebSocketServer): void {
  server.on('connection', (socket, req) => {
    const port = req.socket.remotePort!;
    socket.on('message', (data: RawData, binary: boolean) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
      received.set(port, [...(received.get(port) ?? []), binary ? buf.toString('hex') : buf.toString('utf8')]);
      if (!binary && buf.toString() === 'fail me') socket.close(1011, 'internal trouble');
      else socket.send(buf, { binary });
    });
    socket.ping(Buffer.from('srv'));
  });
}

before(async () => {
  await tsharkAvailable();
  takeoverPort = await freePort();
  independentPort = await freePort();
  takeover = new WebSocketServer({ host: '127.0.0.1', port: takeoverPort, perMessageDeflate: { threshold: 0 } });
  independent = new WebSocketServer({
    host: '127.0.0.1',
    port: independentPort,
    perMessageDeflate: { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10 },
  });
  serve(takeover);
  serve(independent);
  await Promise.all([once(takeover, 'listening'), once(independent, 'listening')]);
  await traffic();
});

after(async () => {
  for (const s of [takeover, independent]) {
    for (const c of s?.clients ?? []) c.terminate();
    s?.close();
  }
});

/** A client that counts what comes back, so the test waits on it rather than on time. */
class Client {
  readonly socket: WebSocket;
  messages = 0;
  pongs = 0;
  pings = 0;
  constructor(port: number, deflate: boolean) {
    this.socket = new WebSocket(`ws://127.0.0.1:${port}/feed?v=1`, { perMessageDeflate: deflate ? { threshold: 0 } : false });
    this.socket.on('message', () => this.messages++);
    this.socket.on('pong', () => this.pongs++);
    this.socket.on('ping', () => this.pings++);
  }
  async open(): Promise<this> {
    await once(this.socket, 'open');
    await waitFor('the server\'s ping', () => this.pings === 1);
    return this;
  }
  get port(): number {
    return (this.socket as unknown as { _socket: { localPort: number } })._socket.localPort;
  }
  async echoed(n: number): Promise<void> {
    await waitFor(`${n} echoes`, () => this.messages >= n);
  }
  async close(code?: number, reason?: string): Promise<void> {
    const closed = once(this.socket, 'close');
    this.socket.close(code, reason);
    await closed;
  }
}

let entries: Entry[] = [];
let file = '';
const ports: Record<'plain' | 'context' | 'fragmentedDeflate' | 'independent' | 'serverClose', number> = {
  plain: 0, context: 0, fragmentedDeflate: 0, independent: 0, serverClose: 0,
};

/** The conversations, captured; then imported. */
async function traffic(): Promise<void> {
  file = tempFile('ws.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${takeoverPort} or tcp port ${independentPort}`, file);
  try {
    // permessage-deflate off: text, binary, a fragmented text, a ping, close 4000.
    const plain = await new Client(takeoverPort, false).open();
    ports.plain = plain.port;
    plain.socket.send('hello server');
    plain.socket.send(Buffer.from([0, 1, 2, 254, 255]));
    plain.socket.send('frag-', { fin: false });
    plain.socket.send('ment', { fin: false });
    plain.socket.send('-ed', { fin: true });
    plain.socket.ping(Buffer.from('are you there'));
    await plain.echoed(3);
    await waitFor('the pong', () => plain.pongs === 1);
    await plain.close(4000, 'done');
    // On, with context takeover: the same text again and again (later ones are back-references).
    const context = await new Client(takeoverPort, true).open();
    ports.context = context.port;
    const quote = JSON.stringify({ symbol: 'ACME', price: 101.25, volume: 1200 });
    for (let i = 0; i < 4; i++) context.socket.send(quote);
    context.socket.send(Buffer.from('binary, compressed too'));
    context.socket.send('x'.repeat(5000));
    context.socket.ping();
    await context.echoed(6);
    await waitFor('the pong', () => context.pongs === 1);
    await context.close(1000, 'bye');
    // On, a fragmented compressed message (RSV1 on its first frame only).
    const fragmented = await new Client(takeoverPort, true).open();
    ports.fragmentedDeflate = fragmented.port;
    fragmented.socket.send('compressed and ', { fin: false });
    fragmented.socket.send('fragmented', { fin: true });
    fragmented.socket.send('compressed and fragmented');
    await fragmented.echoed(2);
    await fragmented.close(1001, 'going away');
    // On without context takeover, a 10-bit server window.
    const alone = await new Client(independentPort, true).open();
    ports.independent = alone.port;
    for (let i = 0; i < 3; i++) alone.socket.send(quote);
    await alone.echoed(3);
    await alone.close();
    // The server closes with 1011.
    const failing = await new Client(independentPort, true).open();
    ports.serverClose = failing.port;
    const closed = once(failing.socket, 'close');
    failing.socket.send('fail me');
    const [code] = (await closed) as [number, Buffer];
    assert.equal(code, 1011);
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  entries = (await analyse(file, [takeoverPort, independentPort])).entries;
}

const on = (port: number) => entries.filter((e) => e.src.port === port);

test('every message is tshark\'s: sender, opcode, frames, payload and close code, in order (deflate off, and on)', async () => {
  for (const serverPort of [takeoverPort, independentPort]) {
    // tshark 4.0 cannot decompress a fragmented compressed message, and loses the context after it.
    const ours = bySender(entryMessages(entries.filter((e) => e.dst.port === serverPort && e.src.port !== ports.fragmentedDeflate)));
    const theirs = bySender((await tsharkMessages(file, serverPort)).filter((m) => m.clientPort !== ports.fragmentedDeflate));
    assert.ok(theirs.length >= 10, `${theirs.length} tshark messages`);
    assert.deepEqual(ours, theirs);
  }
});

test('the fragmented compressed message is what the server received; its frames are tshark\'s', async () => {
  const ours = entryMessages(on(ports.fragmentedDeflate));
  const clientSent = ours.filter((m) => m.from === 'client' && m.opcode === 1).map((m) => m.payload);
  assert.deepEqual(clientSent, received.get(ports.fragmentedDeflate));
  assert.deepEqual(clientSent, ['compressed and fragmented', 'compressed and fragmented']);
  const theirs = (await tsharkMessages(file, takeoverPort)).filter((m) => m.clientPort === ports.fragmentedDeflate);
  const structure = (lines: string[]) => lines.map((l) => l.split(' ').slice(0, 5).join(' '));
  assert.deepEqual(structure(bySender(ours)), structure(bySender(theirs)));
});

test('the messages point to their handshake, compressed ones say so, outcomes follow the close codes', () => {
  for (const port of Object.values(ports)) {
    const [handshake, ...messages] = on(port);
    assert.deepEqual([handshake.protocol, handshake.status, handshake.target], ['http', 101, '/feed']);
    assert.ok(messages.length > 0);
    for (const m of messages) {
      assert.equal(m.protocol, 'websocket');
      assert.equal(m.fields['websocket.handshake'], handshake.id);
      assert.equal(m.target, '/feed');
    }
  }
  const compressed = (port: number) => on(port).filter((e) => e.fields['websocket.opcode'] === 1).map((e) => e.fields['websocket.compressed']);
  assert.deepEqual(compressed(ports.plain), [0, 0, 0, 0]);
  assert.deepEqual(compressed(ports.context), Array(10).fill(1));
  const close = (port: number) => on(port).filter((e) => e.operation === 'close').map((e) => [e.fields['websocket.direction'], e.status, e.statusText, e.outcome, e.unanswered]);
  assert.deepEqual(close(ports.plain), [['client', 4000, 'done', Outcome.ok, false]]);
  assert.deepEqual(close(ports.context), [['client', 1000, 'bye', Outcome.ok, false]]);
  assert.deepEqual(close(ports.fragmentedDeflate), [['client', 1001, 'going away', Outcome.ok, false]]);
  assert.deepEqual(close(ports.serverClose), [['server', 1011, 'internal trouble', Outcome.serverError, false]]);
  const pings = on(ports.plain).filter((e) => e.operation === 'ping').map((e) => [e.fields['websocket.direction'], e.requestBody.bytes.toString(), e.outcome]);
  assert.deepEqual(pings, [['server', 'srv', Outcome.ok], ['client', 'are you there', Outcome.ok]]);
});
