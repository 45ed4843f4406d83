// `tapline up` as a process: it captures loopback traffic between a real HTTP client and server,
// and the entries show up in the live stream (SSE) and through the API, bodies included.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stop, tapline, type Running } from './processes.js';
import { waitFor } from '../../../test/support/wait.js';
import { readSse } from './sse.js';

let dir: string;
let up: Running | undefined;
let peer: Server;
let peerPort: number;
let base: string;

const PAGES: Record<string, string> = { '/index.html': '<h1>Welcome to nginx!</h1>\n' };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tapline-up-'));
  peer = createServer((req, res) => {
    const page = PAGES[req.url ?? ''];
    res.writeHead(page ? 200 : 404, { 'content-type': 'text/html' });
    res.end(page ?? `<h1>404 Not Found: ${req.url}</h1>\n`);
  });
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
  peerPort = (peer.address() as { port: number }).port;
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  up = tapline(['up', '--data', join(dir, 'data'), '--listen', `127.0.0.1:${port}`, '--bpf', `tcp port ${peerPort}`]);
  await waitFor(
    'tapline up to be healthy',
    async () => {
      if (up!.child.exitCode !== null) throw new Error(`tapline up exited: ${up!.stderr()}`);
      const res = await fetch(`${base}/api/v1/health`).catch(() => undefined);
      return res?.ok === true && ((await res.json()) as { agent?: { running: boolean } }).agent?.running === true;
    },
    60_000,
  );
});

after(async () => {
  if (up) await stop(up);
  await new Promise((resolve) => peer?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

test('captured requests reach the live stream and the API', async () => {
  const filter = `http and dst.port == ${peerPort}`;
  const abort = new AbortController();
  const res = await fetch(`${base}/api/v1/stream?${new URLSearchParams({ filter })}`, {
    headers: { accept: 'text/event-stream' },
    signal: abort.signal,
  });
  assert.equal(res.status, 200);
  const seen: Array<{ id: string; operation: string; target: string; status: number }> = [];
  let started!: () => void;
  const ready = new Promise<void>((r) => (started = r));
  const loop = readSse(res, (event, data) => {
    if (event === 'ping') started();
    if (event === 'entries') seen.push(...(data as { entries: typeof seen }).entries);
  });
  await ready; // the stream's starting position is fixed before the requests

  for (const path of ['/index.html', '/error.html']) {
    const r = await fetch(`http://127.0.0.1:${peerPort}${path}`);
    await r.text();
  }
  await waitFor(() => `two entries on the stream (have ${seen.length})`, () => seen.length >= 2, 20_000);
  abort.abort();
  await loop;
  assert.deepEqual(
    seen.map((e) => [e.operation, e.target, e.status]),
    [
      ['GET', '/index.html', 200],
      ['GET', '/error.html', 404],
    ],
  );

  // The stream shows entries as the writer takes them; opening one right away waits for the store.
  const full = (await (await fetch(`${base}/api/v1/entries/${seen[1].id}`)).json()) as {
    responseBody: { text: string };
    responseHeaders: Array<[string, string]>;
  };
  assert.equal(full.responseBody.text, '<h1>404 Not Found: /error.html</h1>\n');
  assert.ok(full.responseHeaders.some(([n, v]) => n.toLowerCase() === 'content-type' && v === 'text/html'));
  // Lists read the store, which has them within the writer's flush interval.
  let listed: string[] = [];
  await waitFor(
    () => `both entries in the list (have ${listed.length})`,
    async () => {
      const list = (await (await fetch(`${base}/api/v1/entries?${new URLSearchParams({ filter })}`)).json()) as { entries: typeof seen };
      listed = list.entries.map((e) => e.id);
      return listed.length >= 2;
    },
    10_000,
  );
  assert.deepEqual(listed, seen.map((e) => e.id).reverse());

  const health = (await (await fetch(`${base}/api/v1/health`)).json()) as { status: string; agent: { packets: number; entries: number } };
  assert.equal(health.status, 'ok');
  assert.ok(health.agent.packets > 0 && health.agent.entries >= 2);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /tapline_entries_ingested_total [1-9]/);

  assert.equal(await stop(up!), 0, up!.stderr());
  up = undefined;
});
