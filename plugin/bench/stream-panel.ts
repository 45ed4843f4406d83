/**
 * Stream panel benchmark in headless Chromium: 10,000 rows kept, hundreds of new rows a second.
 *   node --import tsx plugin/bench/stream-panel.ts [--rate 500] [--rows 10000] [--seconds 10]
 * Prints frame times, update render times and long tasks. Figures: bench/RESULTS.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import { bundlePage } from '../test/browser/build-harness';

const HERE = fileURLToPath(new URL('.', import.meta.url));

const { values: a } = parseArgs({ options: { rate: { type: 'string', default: '500' }, rows: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '10' } } });

async function main() {
  const js = await bundlePage(join(HERE, 'stream-panel-page.tsx'), join(HERE, '..'));
  const profile = mkdtempSync(join(tmpdir(), `tapline-bench-chromium-${process.pid}-`));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1200, height: 720 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    await page.route('http://bench.local/**', (r) =>
      r.request().url().endsWith('/bench.js')
        ? r.fulfill({ contentType: 'text/javascript', body: js })
        : r.fulfill({ contentType: 'text/html', body: '<!doctype html><body style="margin:0"><div id="root"></div><script src="/bench.js"></script></body>' }),
    );
    await page.goto(`http://bench.local/?${new URLSearchParams({ rate: a.rate!, rows: a.rows!, seconds: a.seconds! })}`);
    await page.waitForFunction(() => window.benchResult !== undefined, undefined, { timeout: (Number(a.seconds) + 60) * 1000 });
    const r = (await page.evaluate(() => window.benchResult)) as Record<string, number>;
    const f = (x: number) => x.toFixed(1);
    console.log(`stream panel, ${r.rows} rows kept, ${r.rate} new rows/s for ${r.seconds} s (${r.entriesAdded} added in ${r.updates} updates)`);
    console.log(`  frames: ${f(r.fps)} fps; interval p50 ${f(r.frameP50)} ms, p95 ${f(r.frameP95)} ms, max ${f(r.frameMax)} ms`);
    console.log(`  update render (data → committed): p50 ${f(r.renderP50)} ms, p95 ${f(r.renderP95)} ms`);
    console.log(`  long tasks (> 50 ms): ${r.longTasks}, longest ${f(r.longestTask)} ms; rows in the DOM: ${r.domRows}`);
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
