/**
 * An agent whose store does not answer when it starts (issue 17): it opens its sink anyway,
 * spools what it captures, and when the store answers migrates the schema and replays the spool:
 * every entry lands, none twice. The store is a ClickHouse-over-HTTP endpoint (chDB behind
 * test/support/clickhouse-http.ts) stopped before the agent starts and started later.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSink } from '../../src/agent/sinks.js';
import { syntheticEntries } from '../../src/entries/synthetic.js';
import { startClickHouseHttp } from '../../../test/support/clickhouse-http.js';
import { waitFor } from '../../../test/support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'tapline-store-down-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the store down at start: entries spool, the schema is migrated when it answers, all of them land once', async () => {
  const http = await startClickHouseHttp(join(dir, 'engine'));
  await http.stop();
  const opened = await openSink({ json: false, store: http.url, spoolDir: join(dir, 'spool') });
  const list = [...syntheticEntries({ count: 500, seed: 3, startUs: Date.now() * 1000 - 60e6, spanUs: 50e6 })];
  try {
    for (const e of list) opened.sink.push(e);
    await waitFor('the entries in the spool', () => (opened.sink as unknown as { counters: { spooled: number } }).counters.spooled === 500, 30_000);
    await http.start();
    const count = async () => {
      const res = await fetch(`${http.url}/?query=${encodeURIComponent('SELECT count() FROM tapline.entries FORMAT TSV')}`);
      return res.ok ? Number((await res.text()).trim()) : -1;
    };
    await waitFor('the spooled entries in the store', async () => (await count()) === 500, 60_000);
    const ids = await fetch(`${http.url}/?query=${encodeURIComponent('SELECT uniqExact(id) FROM tapline.entries FORMAT TSV')}`).then((r) => r.text());
    assert.equal(Number(ids.trim()), 500);
  } finally {
    await opened.close();
    await http.close();
  }
});

test('without a spool to write to, a store down at start is still an error at start, with its reason', async () => {
  await assert.rejects(openSink({ json: false, store: 'http://127.0.0.1:9', spoolDir: undefined }), /ECONNREFUSED|connect/);
});
