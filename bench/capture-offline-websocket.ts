/**
 * Benchmark: `tapline import` of a WebSocket capture of ≥ 100k messages against `tshark -T fields`
 * (its websocket dissector behind the HTTP upgrade) on the same file (goal: ≥ 10x less CPU).
 *
 *   node --import tsx bench/capture-offline-websocket.ts [--messages 100000] [--clients 4] [--keep FILE] [--file FILE --port N]
 *
 * Builds the capture from real traffic: `ws` clients sending text (JSON) and binary messages to a
 * `ws` server on 127.0.0.1 that echoes each (permessage-deflate off, as ws defaults), captured by
 * tcpdump on lo: `--messages` client messages, as many echoes.
 * Then, one after the other on that file: the import pipeline into a counting sink, and tshark's
 * WebSocket fields. Prints CPU time (the machine is shared: wall time says little), messages per
 * CPU-second and the ratio.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';
import { importCaptureFile } from '../backend/src/agent/import-file.js';
import { CountingSink, timed } from './import-support.js';
import { freePort, Tcpdump } from '../backend/test/agent/traffic.js';
import { waitFor } from '../test/support/wait.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    clients: { type: 'string', default: '4' },
    keep: { type: 'string' },
    file: { type: 'string' },
    port: { type: 'string' },
  },
});
const MESSAGES = Number(values.messages);
const CLIENTS = Number(values.clients);
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-ws-'));
const file = values.file ?? join(dir, 'ws.pcap');

async function client(port: number, n: number, id: number): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ticks`, { perMessageDeflate: false });
  await once(ws, 'open');
  const binary = Buffer.alloc(48, id);
  // Request and reply, one at a time (as an RPC or chat client does): a message a segment, not
  // thousands coalesced into 64 kB loopback segments (which tshark 4.0 fails on: too deep a tree).
  for (let sent = 0; sent < n; sent++) {
    const echoed = once(ws, 'message');
    if (sent % 5 === 4) ws.send(binary, { binary: true });
    else ws.send(JSON.stringify({ client: id, seq: sent, symbol: 'ACME', price: 100 + (sent % 100) / 8 }));
    await echoed;
  }
  const closed = once(ws, 'close');
  ws.close(1000, 'done');
  await closed;
}

async function record(): Promise<number> {
  const port = await freePort();
  const server = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
  await once(server, 'listening');
  let received = 0;
  server.on('connection', (s) =>
    s.on('message', (data, binary) => {
      received++;
      s.send(data as Buffer, { binary });
    }),
  );
  // Immediate mode: at these rates tcpdump keeps up, and nothing waits in a ring block at the end.
  const dump = await Tcpdump.start('lo', `tcp port ${port}`, file);
  try {
    const each = Math.ceil(MESSAGES / CLIENTS);
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(port, each, i)));
    await waitFor('the server to receive every message', () => received >= each * CLIENTS, 60_000);
    console.log(`ws: ${received} messages received by the server`);
  } finally {
    await dump.stop();
    server.close();
  }
  console.log(`tcpdump: ${dump.droppedByKernel()} packets dropped by the kernel`);
  if (values.keep) copyFileSync(file, values.keep);
  return port;
}

try {
  const port = values.file ? Number(values.port) : await record();
  if (!port) throw new Error('--file needs --port (the WebSocket server port in the capture)');
  const sink = new CountingSink();
  const imp = await timed(() => importCaptureFile(file, sink));
  const packets = imp.value.counters.packets;
  const ws = imp.value.counters.protocols.websocket;
  const tshark = await timed(async () => {
    const { stdout } = await run(
      'tshark',
      ['-r', file, '-n', '-d', `tcp.port==${port},http`, '-Y', 'websocket', '-T', 'fields', '-E', 'occurrence=a', '-e', 'frame.number', '-e', 'websocket.opcode', '-e', 'websocket.fin',
        '-e', 'websocket.payload_length', '-e', 'websocket.payload.text', '-e', 'websocket.payload.close.status_code'],
      { maxBuffer: 1 << 30 },
    );
    // Several frames a segment: their opcodes are comma-separated in one line.
    let frames = 0;
    for (const line of stdout.split('\n')) if (line !== '') frames += line.split('\t')[1].split(',').length;
    return { frames };
  });
  const rate = (n: number, ms: number) => `${((n * 1000) / ms / 1000).toFixed(0)}k`;
  const row = (name: string, t: { ms: number; cpuMs: number }, what: string) =>
    console.log(`${name.padEnd(34)} ${t.ms.toFixed(0).padStart(6)} ms wall ${t.cpuMs.toFixed(0).padStart(6)} ms CPU  ${what}`);
  console.log(`machine: ${cpus().length} × ${cpus()[0].model}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  console.log(`capture: ${packets} packets; tshark: ${tshark.value.frames} WebSocket frames`);
  row('import pipeline (counting sink)', imp, `${rate(ws.exchanges, imp.cpuMs)} messages per CPU-s (${sink.count} entries, ${ws.exchanges} WebSocket, ${ws.parseErrors} parse errors)`);
  row('tshark -T fields', tshark, `${rate(tshark.value.frames, tshark.cpuMs)} frames per CPU-s`);
  console.log(`ratio (CPU): import is ${(tshark.cpuMs / imp.cpuMs).toFixed(1)}x cheaper than tshark (goal ≥ 10x)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
