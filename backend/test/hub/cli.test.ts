// `tapline hub` and `tapline query` as processes over a store filled by `tapline seed`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stop, tapline, taplineRun, type Running } from './processes.js';
import { waitFor } from '../../../test/support/wait.js';

let dir: string;
let hub: Running | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tapline-cli-'));
  const seeded = await taplineRun(['seed', '--rows', '600', '--span', '30m', '--data', join(dir, 'data'), '--no-progress']);
  assert.equal(seeded.code, 0, seeded.stderr);
});
after(async () => {
  if (hub) await stop(hub);
  rmSync(dir, { recursive: true, force: true });
});

type Summary = { id: string; status: number; dst: { service: string }; startUs: number };

test('tapline query prints matching entries newest first (JSON lines and a table)', async () => {
  const json = await taplineRun(['query', '--data', join(dir, 'data'), '--since', '2h', '--limit', '1000', '--json', 'status >= 400 and dst.service == "nginx"']);
  assert.equal(json.code, 0, json.stderr);
  const entries = json.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Summary);
  assert.ok(entries.length > 0, 'the seed has nginx 404s');
  for (const e of entries) {
    assert.ok(e.status >= 400);
    assert.equal(e.dst.service, 'nginx');
  }
  assert.deepEqual(entries.map((e) => e.startUs), [...entries.map((e) => e.startUs)].sort((a, b) => b - a));

  const table = await taplineRun(['query', '--data', join(dir, 'data'), '--since', '2h', '--limit', '3', 'status == 404']);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^TIME \(UTC\)\s+PROTO\s+OPERATION\s+STATUS\s+LATENCY\s+SOURCE\s+DESTINATION\s+TARGET$/);
  assert.equal(lines.length, 4);
  for (const l of lines.slice(1)) assert.match(l, /\bhttp\s+\w+\s+404\s/);
});

test('tapline query --entry prints one entry in full: its sections, headers and body', async () => {
  const listed = await taplineRun(['query', '--data', join(dir, 'data'), '--since', '2h', '--limit', '1', '--json', 'status == 404 and dst.service == "nginx"']);
  assert.equal(listed.code, 0, listed.stderr);
  const { id } = JSON.parse(listed.stdout.trim()) as Summary;
  const json = await taplineRun(['query', '--data', join(dir, 'data'), '--entry', id, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const detail = JSON.parse(json.stdout) as { id: string; target: string; responseHeaders: Array<[string, string]>; responseBody: { text?: string } };
  assert.equal(detail.id, id);
  const text = await taplineRun(['query', '--data', join(dir, 'data'), '--entry', id]);
  assert.equal(text.code, 0, text.stderr);
  const out = text.stdout;
  assert.match(out.split('\n')[0], new RegExp(`^http GET ${detail.target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} → 404 Not Found \\(`));
  assert.match(out, /\nRequest\n-------\nMethod +GET\n/);
  assert.match(out, /\nResponse headers\n-{16}\n/);
  for (const [name, value] of detail.responseHeaders) assert.ok(out.includes(`${name}`) && out.includes(value), `${name}: ${value}`);
  if (detail.responseBody.text) assert.ok(out.includes(detail.responseBody.text.slice(0, 40)));
  const missing = await taplineRun(['query', '--data', join(dir, 'data'), '--entry', '0190f5c2-4aa5-7254-8feb-ad9e95f07916']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no entry with id "0190f5c2-4aa5-7254-8feb-ad9e95f07916"/);
});

test('tapline query reports a bad filter with its column and exits non-zero', async () => {
  const r = await taplineRun(['query', '--data', join(dir, 'data'), 'status = 404']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /use '==' to compare, not '=' at column 8/);
});

test('tapline hub serves the store; tapline query --hub reads through it', async () => {
  const port = await freePort();
  hub = tapline(['hub', '--store', join(dir, 'data'), '--listen', `127.0.0.1:${port}`, '--token', 't0ken']);
  const base = `http://127.0.0.1:${port}`;
  await waitFor('the hub to answer', async () => (await fetch(`${base}/api/v1/health`).catch(() => undefined))?.ok === true, 30_000);
  assert.equal((await fetch(`${base}/api/v1/entries`)).status, 401);
  const r = await taplineRun(['query', '--hub', base, '--token', 't0ken', '--since', '2h', '--limit', '1000', '--json', 'status >= 400 and dst.service == "nginx"']);
  assert.equal(r.code, 0, r.stderr);
  const viaHub = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as Summary).id);
  const direct = await fetch(`${base}/api/v1/entries?${new URLSearchParams({ filter: 'status >= 400 and dst.service == "nginx"', from: String(Date.now() - 7_200_000), limit: '1000' })}`, {
    headers: { authorization: 'Bearer t0ken' },
  });
  const body = (await direct.json()) as { entries: Summary[] };
  assert.deepEqual(viaHub, body.entries.map((e) => e.id));
  assert.equal(await stop(hub), 0);
  hub = undefined;
});

test('tapline hub refuses to listen beyond loopback without a token', async () => {
  const r = await taplineRun(['hub', '--store', join(dir, 'data'), '--listen', '0.0.0.0:0']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without a token/);
});
