/**
 * Benchmark: capture-to-stream latency in `tapline up` — how long after the last response byte
 * was captured an SSE client receives the entry — while HTTP clients load a loopback server.
 *
 *   node --import tsx bench/hub-stream-latency.ts [--seconds 15] [--clients 16] [--rate 5000] [--filter TEXT] [--wrk]
 *
 * Starts a Node HTTP server and `tapline up` (its own process, capturing `lo` for the server's
 * port), opens an SSE stream (filtered to that port by default; --filter '' for none, or any
 * filter: one on headers or bodies makes the hub read the store), then runs keep-alive GET loops paced to at
 * most --rate requests/s for --seconds. With --wrk the server is nginx and the load `wrk -t1 -c CLIENTS`,
 * unpaced: as fast as the machine allows, leaving this process's event loop to the SSE client. Latency = arrival time at the SSE client minus the
 * entry's endUs (libpcap's time of the last response byte; same machine, same clock).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, Agent } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Nginx } from '../backend/test/agent/nginx.js';
import { readSse } from '../backend/test/hub/sse.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '15' }, clients: { type: 'string', default: '16' }, rate: { type: 'string', default: '5000' }, filter: { type: 'string' }, wrk: { type: 'boolean', default: false } },
});
const RUN_MS = Number(values.seconds) * 1000;
const CLIENTS = Number(values.clients);
const RATE = Number(values.rate);

/** Runs wrk against the server for the run time; returns the requests it completed. */
function runWrk(): Promise<number> {
  return new Promise((resolve, reject) => {
    const wrk = spawn('wrk', ['-t1', `-c${CLIENTS}`, `-d${RUN_MS / 1000}s`, `http://127.0.0.1:${peerPort}/index.html`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    wrk.stdout.on('data', (d: Buffer) => (out += d.toString()));
    wrk.on('error', reject);
    wrk.on('exit', () => {
      const m = /(\d+) requests in/.exec(out);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`wrk printed no request count:\n${out}`));
    });
  });
}

const nginx = values.wrk ? await Nginx.start({ 'index.html': 'ok\n' }) : undefined;
const server = createServer((req, res) => {
  res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'text/plain' });
  res.end('ok\n');
});
if (!nginx) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const peerPort = nginx ? nginx.port : (server.address() as { port: number }).port;
const hubPort = 18000 + Math.floor(Math.random() * 1000);
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-stream-'));
const up = spawn(
  process.execPath,
  ['--import', 'tsx', 'backend/src/cli/main.ts', 'up', '--data', join(dir, 'data'), '--listen', `127.0.0.1:${hubPort}`, '--bpf', `tcp port ${peerPort}`],
  { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, TAPLINE_LOG_LEVEL: 'warn' } },
);
const base = `http://127.0.0.1:${hubPort}/api/v1`;
try {
  for (const deadline = Date.now() + 60_000; ; ) {
    const ok = await fetch(`${base}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('tapline up did not come up');
    await new Promise((r) => setTimeout(r, 200));
  }
  const latencies: number[] = [];
  const abort = new AbortController();
  const filter = values.filter ?? `dst.port == ${peerPort}`;
  const res = await fetch(`${base}/stream?filter=${encodeURIComponent(filter)}&limit=1000`, {
    headers: { accept: 'text/event-stream' },
    signal: abort.signal,
  });
  const reading = readSse(res, (event, data) => {
    if (event !== 'entries') return;
    const now = Date.now();
    for (const e of (data as { entries: Array<{ startUs: number; durationUs: number }> }).entries) {
      latencies.push(now - (e.startUs + e.durationUs) / 1000);
    }
  });

  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const get = () =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: peerPort, path: '/index.html', agent }, (r) => {
        r.resume();
        r.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
  let sent = 0;
  const started = performance.now();
  if (values.wrk) sent = await runWrk();
  else {
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (performance.now() - started < RUN_MS) {
          // Pace to RATE overall: wait when ahead of schedule.
          const due = started + (sent / RATE) * 1000;
          if (performance.now() < due) await new Promise((r) => setTimeout(r, due - performance.now()));
          sent++;
          await get();
        }
      }),
    );
  }
  const sendSeconds = (performance.now() - started) / 1000;
  for (const deadline = Date.now() + 20_000; latencies.length < sent && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
  abort.abort();
  await reading;
  agent.destroy();
  const health = (await (await fetch(`${base}/health`)).json()) as { agent: { packets: number; entries: number; drops: number } };
  latencies.sort((a, b) => a - b);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]?.toFixed(0);
  console.log(
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} × ${cpus()[0].model}, load average ${loadavg()[0].toFixed(1)}: ` +
      `${sent} requests in ${sendSeconds.toFixed(1)} s (${Math.round(sent / sendSeconds)}/s, ${CLIENTS} keep-alive clients${values.wrk ? ' (wrk, unpaced)' : ''}, goal ${RATE}/s); ` +
      `${latencies.length} entries on the stream (filter ${JSON.stringify(filter)}; agent: ${health.agent.entries} entries, ${health.agent.drops} drops); ` +
      `capture-to-stream latency p50 ${p(0.5)} ms, p95 ${p(0.95)} ms, p99 ${p(0.99)} ms, max ${latencies.at(-1)?.toFixed(0)} ms`,
  );
} finally {
  up.kill('SIGINT');
  await new Promise((r) => up.once('exit', r));
  if (nginx) await nginx.stop();
  else server.close();
  rmSync(dir, { recursive: true, force: true });
}
