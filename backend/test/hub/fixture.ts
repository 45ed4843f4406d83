/**
 * One embedded store filled with synthetic entries and a hub over it, shared by a test file
 * (chDB binds one data directory per process). `sql()` runs independent reference queries.
 */
import { syntheticEntries } from '../../src/entries/synthetic.js';
import type { Entry } from '../../src/entries/entry.js';
import { EntryWriter } from '../../src/store/writer.js';
import type { Store } from '../../src/store/index.js';
import { createHub, type Hub, type HubOptions } from '../../src/hub/server.js';
import { tempStore, type TempStore } from '../../../test/support/temp-store.js';

export interface Fixture {
  temp: TempStore;
  entries: Map<string, Entry>;
  hubs: Hub[];
  /** Start a hub over the fixture's store (port 0); returns its base URL. */
  hub(options?: Partial<HubOptions>): Promise<string>;
  sql<T = Record<string, unknown>>(query: string): Promise<T[]>;
  /** Writes entries through the real writer and waits until they are in. */
  write(entries: Entry[]): Promise<void>;
  dispose(): Promise<void>;
}

export async function fixture(count: number, options: { spanUs?: number; startUs?: number } = {}): Promise<Fixture> {
  const temp = await tempStore();
  const entries = new Map<string, Entry>();
  const hubs: Hub[] = [];
  const f: Fixture = {
    temp,
    entries,
    hubs,
    async hub(opts = {}) {
      const h = await createHub({ store: temp.store, port: 0, ...opts });
      hubs.push(h);
      return h.listen();
    },
    async sql<T>(query: string) {
      const rs = await temp.store.client.query({ query, format: 'JSONEachRow' });
      return rs.json<T>();
    },
    async write(list) {
      const w = await EntryWriter.create(temp.store, { flushIntervalMs: 20 });
      for (const e of list) if (!w.push(e)) await w.drained();
      await w.close();
    },
    async dispose() {
      for (const h of hubs) await h.close();
      await temp.dispose();
    },
  };
  const list = [...syntheticEntries({ count, seed: 7, ...options })];
  for (const e of list) entries.set(e.id, e);
  await f.write(list);
  return f;
}

// Answers of many shapes, checked field by field by the tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export const q = (params: Record<string, string | number | undefined>): string =>
  new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)])).toString();

/**
 * The same store, with every SQL text its client queries reported to `onQuery` first (a spy: the
 * queries still run), for tests that count what the hub asks the store.
 */
export function spiedStore(store: Store, onQuery: (sql: string) => void): Store {
  const client = new Proxy(store.client, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver);
      return (params: { query: string }) => {
        onQuery(params.query);
        return target.query(params as Parameters<typeof target.query>[0]);
      };
    },
  });
  return { ...store, client };
}
