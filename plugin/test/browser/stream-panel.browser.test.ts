/**
 * @jest-environment node
 */
/**
 * The stream panel in headless Chromium (Debian chromium + playwright-core), with the real panel
 * and DataSource code bundled into a page, against a real hub: `tapline up` captures real HTTP
 * requests on loopback. The page's server plays Grafana's data source proxy (the `hub` route).
 * Rows arrive live, pause holds the view while the counter grows, resume shows them, a "+" click
 * narrows the stream, and the drawer shows the 404's sections (from the hub) and body. Screenshots of the live, paused and
 * detail states go to $TAPLINE_SCREENSHOT_DIR (the README's are made with `npm run screenshots`).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { bundlePage } from './build-harness';
import { freePort, stopProcess, tapline, waitHealthy, type TaplineProcess } from '../support/tapline-process';

jest.setTimeout(120_000);

const PROXY_PREFIX = '/api/datasources/proxy/uid/tapline/hub';
const PAGES: Record<string, string> = { '/index.html': '<h1>Welcome to nginx!</h1>\n', '/50x.html': '<h1>An error occurred.</h1>\n' };

let dir: string;
let up: TaplineProcess | undefined;
let peer: Server;
let peerPort: number;
let page: Page;
let browser: BrowserContext | undefined;
let site: Server;
let siteUrl: string;
const shots = process.env.TAPLINE_SCREENSHOT_DIR;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

const curl = async (path: string) => (await fetch(`http://127.0.0.1:${peerPort}${path}`)).text();
const rowPaths = () => page.$$eval('[data-entry-id]', (rows) => rows.map((r) => r.querySelectorAll('[role="cell"]')[3]?.textContent?.replace(/[+−]/g, '') ?? ''));
const rowIds = () => page.$$eval('[data-entry-id]', (rows) => rows.map((r) => r.getAttribute('data-entry-id')));

async function until(cond: () => Promise<boolean>, what: string, ms = 30_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) {
      const body = await page.textContent('body').catch(() => '');
      throw new Error(`timed out after ${ms} ms waiting for ${what}; the page shows: ${body?.slice(0, 600)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), `tapline-panel-browser-${process.pid}-`));
  peer = createServer((req, res) => {
    const body = PAGES[req.url ?? ''];
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/html' });
    res.end(body ?? `<h1>404 Not Found: ${req.url}</h1>\n`);
  });
  peerPort = await listen(peer);
  const hubPort = await freePort();
  up = tapline(['up', '--data', join(dir, 'data'), '--listen', `127.0.0.1:${hubPort}`, '--bpf', `tcp port ${peerPort}`]);
  const [js] = await Promise.all([bundlePage(join(__dirname, 'harness.tsx'), join(__dirname, '../..')), waitHealthy(up, `http://127.0.0.1:${hubPort}`, 90_000, (h) => h.agent?.running === true)]);

  // The page and, like Grafana's data source proxy, the `hub` route to the hub.
  site = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith(`${PROXY_PREFIX}/`)) {
      const upstream = httpRequest(
        { host: '127.0.0.1', port: hubPort, path: url.slice(PROXY_PREFIX.length), method: req.method, headers: { 'content-type': req.headers['content-type'] ?? 'application/json' } },
        (r) => {
          res.writeHead(r.statusCode ?? 502, { 'content-type': r.headers['content-type'] ?? 'application/json' });
          r.pipe(res);
        },
      );
      upstream.on('error', () => res.destroyed || (res.writeHead(502), res.end('{"message":"bad gateway"}')));
      res.on('close', () => upstream.destroy()); // the browser gave up the long-poll: so does the proxy
      req.pipe(upstream);
      return;
    }
    if (url === '/harness.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(js);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><html><head><meta charset="utf-8"><title>Tapline stream panel</title></head><body style="margin:0;background:#111217;color:#ccccdc;font-family:Inter,Helvetica,Arial,sans-serif"><div id="root"></div><script src="/harness.js"></script></body></html>');
  });
  siteUrl = `http://127.0.0.1:${await listen(site)}`;

  browser = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1200, height: 720 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${siteUrl}/?${new URLSearchParams({ filter: `http and dst.port == ${peerPort}` })}`);
  await until(async () => (await page.textContent('body'))?.includes('● Live') ?? false, `the panel to go live (page errors: ${errors.join('; ')})`, 60_000);
  if (shots) mkdirSync(shots, { recursive: true });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await stopProcess(up);
  await Promise.all([peer, site].map((s) => new Promise((resolve) => (s ? s.close(resolve) : resolve(undefined)))));
  rmSync(dir, { recursive: true, force: true });
});

test('live rows, pause with a counter, resume, "+" narrowing the stream, the 404 in the drawer', async () => {
  for (const p of ['/index.html', '/50x.html', '/error.html']) await curl(p);
  await until(async () => (await rowIds()).length >= 3, 'three live rows');
  expect(await rowPaths()).toEqual(['/error.html', '/50x.html', '/index.html']);
  // The 404's status in the client-error colour (the 4xx orange), the protocol's badge in HTTP's registry colour.
  expect(await page.getAttribute('[data-entry-id] [data-outcome]', 'data-outcome')).toBe('client error');
  expect(await page.$eval('[data-entry-id] [data-protocol]', (e) => [e.textContent, getComputedStyle(e).backgroundColor])).toEqual(['HTTP', 'rgb(32, 92, 192)']);
  if (shots) await page.screenshot({ path: join(shots, 'stream-live.png') });

  await page.click('button:has-text("Pause")');
  const frozen = await rowIds();
  await curl('/index.html');
  await curl('/index.html');
  await until(async () => (await page.textContent('[aria-label="new while paused"]')) === '2 new', 'the counter to say 2 new');
  expect(await rowIds()).toEqual(frozen);
  expect(await page.textContent('[aria-label="stream state"]')).toContain('Paused');
  if (shots) await page.screenshot({ path: join(shots, 'stream-paused.png') });

  await page.click('button:has-text("Resume")');
  await until(async () => (await rowIds()).length === 5, 'the two new rows after resuming');
  expect((await rowPaths()).slice(0, 2)).toEqual(['/index.html', '/index.html']);

  await page.click('[aria-label="Filter target == /error.html"]');
  await until(async () => (await page.textContent('[data-testid="filter"]'))?.includes('and target == "/error.html"') ?? false, 'the filter variable to change');
  await until(async () => {
    const paths = await rowPaths();
    return paths.length > 0 && paths.every((p) => p === '/error.html');
  }, 'the stream to show only /error.html');
  await curl('/index.html');
  await curl('/error.html');
  await until(async () => (await rowIds()).length === 2, 'the new /error.html row');
  expect(await rowPaths()).toEqual(['/error.html', '/error.html']);

  await page.click('[data-entry-id] [role="cell"]:nth-child(4)');
  await until(async () => (await page.textContent('body'))?.includes('404 Not Found: /error.html') ?? false, 'the drawer with the 404 body');
  expect(await page.textContent('body')).toContain('GET /error.html → 404 Not Found');
  expect(await page.textContent('section[aria-label="Response"]')).toContain('404 Not Found');
  expect(await page.textContent('section[aria-label="Request"]')).toContain('HTTP/1.1');
  if (shots) await page.screenshot({ path: join(shots, 'stream-detail.png') });
});
