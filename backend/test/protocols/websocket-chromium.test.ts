/**
 * WebSocket from a browser: headless Chromium (Debian's, driven by playwright-core) opens a
 * WebSocket to the `ws` server on loopback, offering permessage-deflate as browsers do, sends text
 * and binary messages, reads the echoes, and closes with a code. Captured by tcpdump; the entries
 * must be tshark's messages, and what the page sent and received.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { WebSocketServer, type RawData } from 'ws';
import { Outcome } from '../../src/entries/entry.js';
import { analyse } from '../agent/compare.js';
import { tempFile } from '../agent/run.js';
import { freePort, Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { bySender, entryMessages, tsharkMessages } from './websocket-support.js';

let server: WebSocketServer;
let port: number;
let browser: BrowserContext;
let profile: string;
let extensions = '';

/**
 * What the page runs (plain JavaScript as text: the test runner's transform would add helpers the
 * page does not have): four messages, their echoes, then a close with a code.
 */
const PAGE_SCRIPT = `async (url) => {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const echoes = [];
  const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  const sent = ['hello from the browser', 'hello from the browser', new Uint8Array([9, 8, 7, 0, 255]).buffer, 'é ünïcödé ✓'];
  const all = new Promise((resolve) => {
    ws.onmessage = (m) => {
      echoes.push(typeof m.data === 'string' ? m.data : hex(m.data));
      if (echoes.length === sent.length) resolve();
    };
  });
  for (const m of sent) ws.send(m);
  await all;
  const closed = new Promise((resolve) => (ws.onclose = resolve));
  ws.close(1000, 'browser done');
  const c = await closed;
  return { echoes, code: c.code, reason: c.reason };
}`;

before(async () => {
  await tsharkAvailable();
  port = await freePort();
  server = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: { threshold: 0 } });
  server.on('headers', (headers) => (extensions = headers.find((h) => /^sec-websocket-extensions:/i.test(h)) ?? ''));
  server.on('connection', (socket) => {
    socket.on('message', (data: RawData, binary: boolean) => socket.send(data as Buffer, { binary }));
  });
  await once(server, 'listening');
  profile = mkdtempSync(join(tmpdir(), 'tapline-ws-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  for (const c of server?.clients ?? []) c.terminate();
  server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('Chromium\'s WebSocket (permessage-deflate as browsers offer it): the entries are tshark\'s messages and the page\'s', async () => {
  const file = tempFile('ws-chromium.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${port}`, file);
  let page: { echoes: string[]; code: number; reason: string };
  try {
    const tab = browser.pages()[0] ?? (await browser.newPage());
    page = (await tab.evaluate(`(${PAGE_SCRIPT})(${JSON.stringify(`ws://127.0.0.1:${port}/live`)})`)) as typeof page;
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  assert.match(extensions, /permessage-deflate/);
  assert.deepEqual(page.echoes, ['hello from the browser', 'hello from the browser', '09080700ff', 'é ünïcödé ✓']);
  assert.deepEqual([page.code, page.reason], [1000, 'browser done']);
  const { entries } = await analyse(file, [port]);
  const theirs = bySender(await tsharkMessages(file, port));
  assert.equal(theirs.length, 10, theirs.join('\n'));
  assert.deepEqual(bySender(entryMessages(entries)), theirs);
  const messages = entries.filter((e) => e.protocol === 'websocket' && e.operation !== 'close');
  assert.deepEqual(messages.map((e) => e.fields['websocket.compressed']), Array(8).fill(1));
  const fromPage = messages.filter((e) => e.fields['websocket.direction'] === 'client').map((e) => (e.operation === 'text' ? e.requestBody.bytes.toString('utf8') : e.requestBody.bytes.toString('hex')));
  assert.deepEqual(fromPage, page.echoes);
  const close = entries.find((e) => e.operation === 'close')!;
  assert.deepEqual([close.fields['websocket.direction'], close.status, close.statusText, close.outcome, close.unanswered], ['client', 1000, 'browser done', Outcome.ok, false]);
});
