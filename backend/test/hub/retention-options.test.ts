// The retention options of `tapline up` and `tapline hub` as processes: the start line says what is
// kept, the store's TTL follows --retention-days, env variables work as flags, bad values are refused;
// and the --listen forms both take.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.js';
import { freePort, stop, tapline, taplineRun, type Running } from './processes.js';
import { waitFor } from '../../../test/support/wait.js';

let dir: string;
let running: Running | undefined;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapline-retention-cli-'));
});
after(async () => {
  if (running) await stop(running);
  rmSync(dir, { recursive: true, force: true });
});

async function startAndStop(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const port = await freePort();
  running = tapline([...args, '--listen', `127.0.0.1:${port}`], env);
  const r = running;
  await waitFor(
    `${args[0]} to answer`,
    async () => {
      if (r.child.exitCode !== null) throw new Error(`exited early: ${r.stderr()}`);
      return (await fetch(`http://127.0.0.1:${port}/api/v1/health`).catch(() => undefined))?.ok === true;
    },
    60_000,
  );
  assert.equal(await stop(r), 0, r.stderr());
  running = undefined;
  return r.stdout();
}

test('tapline up says how much it keeps and sets the entries TTL to --retention-days', async () => {
  const data = join(dir, 'up');
  const out = await startAndStop(['up', '--no-capture', '--data', data, '--retention-max-size', '1GiB', '--retention-days', '3']);
  assert.match(out, /^Keeping up to 1 GiB of traffic for up to 3 days; the oldest is cleared once the limit is reached\.$/m);

  const store = openStore({ kind: 'embedded', dataDir: data });
  try {
    const rs = await store.client.query({
      query: "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = 'entries'",
      query_params: { db: store.database },
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ engine_full: string }>();
    assert.match(row.engine_full, /TTL toDateTime\(start_time\) \+ toIntervalDay\(3\)/);
  } finally {
    await store.close();
  }
});

test('tapline hub takes the limits from TAPLINE_RETENTION_*; the defaults are 200 MB and 7 days', async () => {
  const fromEnv = await startAndStop(['hub', '--store', join(dir, 'hub')], { TAPLINE_RETENTION_MAX_SIZE: '500MB', TAPLINE_RETENTION_DAYS: '2' });
  assert.match(fromEnv, /^Keeping up to 500 MB of traffic for up to 2 days;/m);
  const defaults = await startAndStop(['hub', '--store', join(dir, 'hub')]);
  assert.match(defaults, /^Keeping up to 200 MB of traffic for up to 7 days;/m);
});

test('bad retention values are refused with the option, the value and what is expected', async () => {
  const size = await taplineRun(['up', '--no-capture', '--data', join(dir, 'bad'), '--retention-max-size', '2XB']);
  assert.notEqual(size.code, 0);
  assert.match(size.stderr, /--retention-max-size <size>' argument '2XB' is invalid\. expected a size above zero like 200MB or 1GiB/);

  const days = tapline(['hub', '--store', join(dir, 'bad')], { TAPLINE_RETENTION_DAYS: '1.5' });
  assert.notEqual(await days.exited, 0);
  assert.match(days.stderr(), /--retention-days <days>' value '1\.5' from env 'TAPLINE_RETENTION_DAYS' is invalid\. expected a whole number of days/);
});

test('--listen takes HOST:PORT, [IPv6]:PORT, :PORT and a bare PORT; anything else is refused with the form', async () => {
  const { parseListen } = await import('../../src/cli/hub.js');
  assert.deepEqual(parseListen('19171'), { host: '127.0.0.1', port: 19171 });
  assert.deepEqual(parseListen(':8787'), { host: '127.0.0.1', port: 8787 });
  assert.deepEqual(parseListen('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
  assert.deepEqual(parseListen('[::1]:9000'), { host: '::1', port: 9000 });
  for (const bad of ['1917x', 'host:', 'host:70000', '[::1]9000', '']) assert.throws(() => parseListen(bad), /expected HOST:PORT like 127\.0\.0\.1:8787 \(or a port\)/, bad);
});
