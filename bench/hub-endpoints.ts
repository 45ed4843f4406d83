/**
 * Benchmark: latency of each hub endpoint under concurrent clients, on as many synthetic entries
 * as the seeding budget allows.
 *
 *   node --import tsx bench/hub-endpoints.ts [--seed-seconds 120] [--seconds 6] [--clients 1,20] [--data DIR] [--distinct]
 *
 * 1. Seeds a fresh embedded store in this process (synthetic entries over the last 6 h, chunks of
 *    200k through the real writer) until --seed-seconds have passed (skipped with --data DIR).
 * 2. Starts `tapline hub --data DIR` as its own process (so the load generator does not share its
 *    event loop) and waits until it answers.
 * 3. For each client count and endpoint, that many workers send requests back to back
 *    (keep-alive) for --seconds; prints requests/s and p50/p95/p99 latency (ms) as Markdown.
 *    One client shows a query's own cost; 20 show the queueing too (chDB runs one query at a time).
 *    Identical requests in flight share one store query (hub/run.ts); with --distinct each worker
 *    shifts its time range by a second per worker, so no two workers ask the same.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { syntheticEntries } from '../backend/src/entries/synthetic.js';
import { createLogger } from '../backend/src/log.js';
import { EntryWriter, migrate, openStore } from '../backend/src/store/index.js';

const { values } = parseArgs({
  options: {
    'seed-seconds': { type: 'string', default: '120' },
    seconds: { type: 'string', default: '6' },
    clients: { type: 'string', default: '1,20' },
    data: { type: 'string' },
    distinct: { type: 'boolean', default: false },
  },
});
const SEED_MS = Number(values['seed-seconds']) * 1000;
const RUN_MS = Number(values.seconds) * 1000;
const CLIENT_COUNTS = values.clients.split(',').map(Number);
const SPAN_US = 6 * 3600e6;
const CHUNK = 200_000;

const dir = values.data ?? mkdtempSync(join(tmpdir(), 'tapline-bench-hub-'));
const dataDir = values.data ?? join(dir, 'data');

async function seed(): Promise<number> {
  const store = openStore({ kind: 'embedded', dataDir });
  try {
    await migrate(store);
    const writer = await EntryWriter.create(store, { batchSize: 20_000, logger: createLogger('bench', 'warn') });
    const started = performance.now();
    const startUs = Date.now() * 1000 - SPAN_US;
    let chunk = 0;
    while (performance.now() - started < SEED_MS) {
      await writer.pushAll(syntheticEntries({ count: CHUNK, seed: 100 + chunk, startUs, spanUs: SPAN_US }));
      chunk++;
      process.stderr.write(`seeded ${chunk * CHUNK} entries, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    }
    await writer.close();
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write(`seeding: ${writer.counters.written} entries in ${seconds.toFixed(0)} s (${Math.round(writer.counters.written / seconds)}/s)\n`);
    // Let merges settle a little, as a store that has been running would be.
    await store.client.command({ query: `OPTIMIZE TABLE ${store.database}.entries_1m FINAL` });
  } finally {
    await store.close();
  }
  const store2 = openStore({ kind: 'embedded', dataDir });
  const rs = await store2.client.query({ query: 'SELECT count() AS n FROM tapline.entries', format: 'JSONEachRow' });
  const [{ n }] = await rs.json<{ n: number | string }>();
  await store2.close();
  return Number(n);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function load(name: string, clients: number, next: (worker: number) => string, onBody?: (worker: number, body: string) => void): Promise<string> {
  const times: number[] = [];
  let errors = 0;
  let firstError = '';
  const until = performance.now() + RUN_MS;
  await Promise.all(
    Array.from({ length: clients }, async (_, worker) => {
      while (performance.now() < until) {
        const t = performance.now();
        const res = await fetch(next(worker));
        const body = await res.text();
        times.push(performance.now() - t);
        if (res.ok) onBody?.(worker, body);
        if (!res.ok) {
          errors++;
          firstError ||= `${res.status} ${body.slice(0, 200)}`;
        }
      }
    }),
  );
  times.sort((a, b) => a - b);
  const row = `| ${name} | ${clients} | ${times.length} | ${(times.length / (RUN_MS / 1000)).toFixed(0)} | ${percentile(times, 50).toFixed(1)} | ${percentile(times, 95).toFixed(1)} | ${percentile(times, 99).toFixed(1)} | ${errors} |`;
  if (firstError) process.stderr.write(`${name}: first error: ${firstError}\n`);
  process.stderr.write(row + '\n');
  return row;
}

const entries = values.data ? -1 : await seed();
const port = 18000 + Math.floor(Math.random() * 1000);
const hub = spawn(process.execPath, ['--import', 'tsx', 'backend/src/cli/main.ts', 'hub', '--data', dataDir, '--listen', `127.0.0.1:${port}`], {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, TAPLINE_LOG_LEVEL: 'warn' },
});
const base = `http://127.0.0.1:${port}/api/v1`;
try {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${base}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('the hub did not come up');
    await new Promise((r) => setTimeout(r, 200));
  }
  const total = entries >= 0 ? entries : ((await (await fetch(`${base}/health`)).json()) as { store: { entries: number } }).store.entries;
  const to = Date.now();
  const from = to - SPAN_US / 1000;
  const rangeOf = (worker: number) => (values.distinct ? `from=${from - worker * 1000}&to=${to - worker * 1000}` : `from=${from}&to=${to}`);
  const enc = encodeURIComponent;
  // Ids to fetch one by one, spread over the range.
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const t = from + ((to - from) * i) / 20;
    const page = (await (await fetch(`${base}/entries?from=${from}&to=${Math.round(t + 60_000)}&limit=10`)).json()) as { entries: Array<{ id: string }> };
    ids.push(...page.entries.map((e) => e.id));
  }
  let k = 0;
  const rows: string[] = [];
  // Stream clients pass back the cursor each answer gives them, as real ones do.
  const cursors: string[] = [];
  const head = ((await (await fetch(`${base}/stream?wait=0`)).json()) as { cursor: string }).cursor;
  const nextCursor = (worker: number, body: string) => (cursors[worker] = (JSON.parse(body) as { cursor: string }).cursor);
  const cases: Array<[string, (worker: number) => string, ((worker: number, body: string) => void)?]> = [
    ['entries, newest 100', (w) => `${base}/entries?${rangeOf(w)}&limit=100`],
    ['entries, filter `dst.service == "nginx" and status == 404`', (w) => `${base}/entries?${rangeOf(w)}&limit=100&filter=${enc('dst.service == "nginx" and status == 404')}`],
    ['entries, filter `latency > 200ms` (scan)', (w) => `${base}/entries?${rangeOf(w)}&limit=100&filter=${enc('latency > 200ms')}`],
    ['one entry by id', () => `${base}/entries/${ids[k++ % ids.length]}`],
    ['stream poll (no new entries, wait=0)', (w) => `${base}/stream?cursor=${cursors[w] ?? head}&wait=0`, nextCursor],
    ['stats by status class, 6 h (rollup)', (w) => `${base}/stats?${rangeOf(w)}&groupBy=statusClass`],
    ['stats latency p50/95/99 by service, 6 h (rollup)', (w) => `${base}/stats?${rangeOf(w)}&metric=latency&groupBy=service`],
    ['stats by status class, filter `dst.service == "nginx"` (rollup)', (w) => `${base}/stats?${rangeOf(w)}&groupBy=statusClass&filter=${enc('dst.service == "nginx"')}`],
    ['service map, 6 h (rollup)', (w) => `${base}/servicemap?${rangeOf(w)}`],
    ['service map, filter `method == "GET"` (raw)', (w) => `${base}/servicemap?${rangeOf(w)}&filter=${enc('method == "GET"')}`],
    ['catalog, 6 h (rollup)', (w) => `${base}/catalog?${rangeOf(w)}`],
    ['label values: service, 6 h', (w) => `${base}/labels/service?${rangeOf(w)}`],
    ['filter completions (values of dst.service)', () => `${base}/filter/completions?prefix=${enc('dst.service == ')}`],
  ];
  for (const clients of CLIENT_COUNTS) for (const [name, next, onBody] of cases) rows.push(await load(name, clients, next, onBody));
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  console.log(
    `\n${date} UTC, ${cpus().length} × ${cpus()[0].model}, load average ${loadavg()[0].toFixed(1)} at the end; ` +
      `${total.toLocaleString('en')} synthetic entries over 6 h; ${CLIENT_COUNTS.join(' and ')} concurrent clients, ${RUN_MS / 1000} s per endpoint` +
      `${values.distinct ? ', each client its own time range' : ', all clients the same requests'}; ` +
      `hub = \`tapline hub --data\` (embedded chDB) in its own process.\n`,
  );
  console.log('| endpoint | clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|---|');
  console.log(rows.join('\n'));
} finally {
  hub.kill('SIGINT');
  await new Promise((r) => hub.once('exit', r));
  if (!values.data) rmSync(dir, { recursive: true, force: true });
}
