/** Where the CLI sends entries: JSON lines on stdout, or the store (embedded data dir or a server URL). */
import type { EntrySink } from '../entries/entry.js';
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
  try {
    await migrate(store);
  } catch (err) {
    await store.close();
    throw err;
  }
  const writer = await EntryWriter.create(store, { spoolDir: choice.spoolDir });
  return {
    sink: writer,
    describe: url ? `ClickHouse at ${url.host}` : `the embedded store in ${choice.store}`,
    close: async () => {
      await writer.close();
      await store.close();
    },
  };
}
