import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';

const child = fileURLToPath(new URL('./fixtures/open-store.ts', import.meta.url));

async function openInOtherProcess(dataDir: string): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child, dataDir], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop() as string);
}

describe('embedded store lock', () => {
  let t: TempStore;
  before(async () => {
    t = await tempStore({ migrate: false });
  });
  after(() => t?.dispose());

  it('gives a second process a clear StoreLockedError naming the directory and the holder', async () => {
    const r = await openInOtherProcess(t.dataDir);
    assert.equal(r.opened, false);
    assert.equal(r.locked, true, JSON.stringify(r));
    assert.equal(r.code, 'STORE_LOCKED');
    assert.equal(r.pid, process.pid);
    assert.equal(r.message, `the data directory ${t.dataDir} is in use by another process (pid ${process.pid}); stop it or use another --data directory`);
  });

  it('lets the other process open it once this one has closed it', async () => {
    await t.store.close();
    assert.deepEqual(await openInOtherProcess(t.dataDir), { opened: true });
  });
});
