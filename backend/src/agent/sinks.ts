/** Where the CLI sends entries: JSON lines on stdout, or the store (embedded data dir or a server URL). */
import type { EntrySink } from '../entries/entry.js';
import { createLogger } from '../log.js';
import { JsonLinesSink } from './json-sink.js';

export interface OpenedSink {
  sink: EntrySink;
  /** Flushes and closes (the store's writer and connection). */
  close(): Promise<void>;
  describe: string;
}

export interface SinkChoice {
  json: boolean;
  /** A data directory (embedded chDB) or an http(s):// URL of a ClickHouse server. */
  store: string;
  /** Directory for the writer's spool (entries survive a store outage there). */
  spoolDir?: string;
}

export async function openSink(choice: SinkChoice): Promise<OpenedSink> {
  if (choice.json) {
    const sink = new JsonLinesSink(process.stdout);
    return { sink, describe: 'stdout (JSON lines)', close: () => sink.close() };
  }
  // Loaded only when used: the store pulls in the ClickHouse engine.
  const { openStore, migrate, EntryWriter } = await import('../store/index.js');
  const remote = /^https?:\/\//.test(choice.store);
  const url = remote ? new URL(choice.store) : undefined;
  const store = url
    ? openStore({
        kind: 'server',
        url: `${url.protocol}//${url.host}`,
        username: decodeURIComponent(url.username) || undefined,
        password: decodeURIComponent(url.password) || undefined,
      })
    : openStore({ kind: 'embedded', dataDir: choice.store });
  let prepare: (() => Promise<void>) | undefined;
  try {
    await migrate(store);
  } catch (err) {
    // A server that does not answer at start, with a spool to write to: capture and spool now,
    // migrate when it answers (the writer runs the migration before its first insert).
    const down = remote && choice.spoolDir !== undefined && !(await store.client.ping().then((p) => p.success, () => false));
    if (!down) {
      await store.close();
      throw err;
    }
    createLogger('store').warn({ err: (err as Error).message, spool: choice.spoolDir },
      'the store does not answer: spooling entries until it does, then migrating its schema and replaying them');
    prepare = async () => {
      await migrate(store);
    };
  }
  const writer = await EntryWriter.create(store, { spoolDir: choice.spoolDir, prepare });
  return {
    sink: writer,
    describe: url ? `ClickHouse at ${url.host}` : `the embedded store in ${choice.store}`,
    close: async () => {
      await writer.close();
      await store.close();
    },
  };
}
