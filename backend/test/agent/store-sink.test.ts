/**
 * `tapline import --store DIR` writes through the store's EntryWriter into the embedded store
 * (real chDB): the entries can be read back, whole, after the command exits.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LINKTYPE_ETHERNET } from '../../src/capture/link.js';
import { ENTRY_SELECT, openStore, rowToEntry, type EntryRow } from '../../src/store/index.js';
import { Conversation, pcapFile } from '../capture/frames.js';

const run = promisify(execFile);
const cli = new URL('./cli.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tapline-store-sink-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('import into the embedded store: entries read back with their fields, secrets redacted', async () => {
  // Recent times: the store keeps entries for its retention (7 days) only.
  const c = new Conversation({ ip: '10.3.0.1', port: 43000 }, { ip: '10.3.0.2', port: 80 }, Date.now() * 1000 - 60e6).handshake();
  c.send('GET /index.html?x=1 HTTP/1.1\r\nHost: nginx.default\r\nAuthorization: Bearer t0ken\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
  c.send('GET /error.html HTTP/1.1\r\nHost: nginx.default\r\n\r\n');
  c.reply('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found');
  c.close();
  const file = join(dir, 'two.pcap');
  writeFileSync(file, pcapFile(LINKTYPE_ETHERNET, c.frames));
  const data = join(dir, 'data');
  const { stderr } = await run(process.execPath, ['--import', 'tsx', cli, 'import', file, '--store', data, '--agent-name', 'importer']);
  assert.match(stderr, /2 entries from 10 packets .* into the embedded store/);

  const store = openStore({ kind: 'embedded', dataDir: data });
  try {
    const rs = await store.client.query({ query: `SELECT ${ENTRY_SELECT} FROM ${store.database}.entries ORDER BY start_time`, format: 'JSONEachRow' });
    const entries = (await rs.json<EntryRow>()).map(rowToEntry);
    assert.deepEqual(entries.map((e) => [e.operation, e.target, e.query, e.status, e.host, e.agent]), [
      ['GET', '/index.html', 'x=1', 200, 'nginx.default', 'importer'],
      ['GET', '/error.html', '', 404, 'nginx.default', 'importer'],
    ]);
    assert.equal(entries[1].responseBody.bytes.toString(), 'not found');
    assert.deepEqual(entries[0].requestHeaders.toPairs().find(([n]) => n === 'Authorization'), ['Authorization', '[REDACTED]']);
    assert.equal(entries[0].src.ip, '10.3.0.1');
    assert.equal(entries[0].startUs, c.frames[3].tsUs);
  } finally {
    await store.close();
  }
});
