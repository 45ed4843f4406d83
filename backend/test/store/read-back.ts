/** Test support: entries read back from the store by id, in id order, through the store's own row mapping. */
import type { Entry } from '../../src/entries/entry.js';
import { ENTRY_SELECT, rowToEntry, type EntryRow, type Store } from '../../src/store/index.js';

export async function readBack(store: Store, ids: string[]): Promise<Entry[]> {
  const rs = await store.client.query({
    query: `SELECT ${ENTRY_SELECT} FROM ${store.database}.entries WHERE id IN {ids:Array(String)} ORDER BY id`,
    query_params: { ids },
    format: 'JSONEachRow',
  });
  return (await rs.json<EntryRow>()).map(rowToEntry);
}
