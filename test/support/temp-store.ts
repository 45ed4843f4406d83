/**
 * A fresh embedded store in a temporary directory, for tests. chDB binds ONE data directory per
 * process, so a test file opens one with `tempStore()` in `before` and shares it; `dispose()`
 * closes it and removes the directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, migrate, type Store } from '../../backend/src/store/index.js';

export interface TempStore {
  store: Store;
  dataDir: string;
  dispose(): Promise<void>;
}

/** Opens (and by default migrates) an embedded store in a new temp directory. */
export async function tempStore(options: { migrate?: boolean; database?: string } = {}): Promise<TempStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tapline-store-'));
  const store = openStore({ kind: 'embedded', dataDir, database: options.database });
  if (options.migrate !== false) await migrate(store);
  return {
    store,
    dataDir,
    async dispose() {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
