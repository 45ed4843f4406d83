/** Live-stream clients for the hub tests: they record the ids served, in order. */
import assert from 'node:assert/strict';
import { getJson, q } from './fixture.js';
import { readSse } from './sse.js';

/** Long-polls `/api/v1/stream` with `limit` per answer until `stop()` says so. */
export function longPollClient(url: string, o: { filter?: string; cursor: string; limit: number; stop: () => boolean }) {
  const ids: string[] = [];
  let polls = 0;
  const done = (async () => {
    let c = o.cursor;
    while (!o.stop()) {
      const { status, body } = await getJson(`${url}/api/v1/stream?${q({ filter: o.filter ?? '', cursor: c, wait: 300, limit: o.limit })}`);
      assert.equal(status, 200, JSON.stringify(body));
      polls++;
      ids.push(...body.entries.map((e: { id: string }) => e.id));
      c = body.cursor;
    }
  })();
  return { ids, done, polls: () => polls };
}

/** Follows `/api/v1/stream` as server-sent events until `stop()`. */
export function sseClient(url: string, o: { filter?: string; cursor: string }) {
  const ids: string[] = [];
  const abort = new AbortController();
  const done = (async () => {
    const res = await fetch(`${url}/api/v1/stream?${q({ filter: o.filter ?? '', cursor: o.cursor, limit: 50 })}`, {
      headers: { accept: 'text/event-stream' },
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    await readSse(res, (event, data) => {
      if (event === 'entries') ids.push(...(data as { entries: Array<{ id: string }> }).entries.map((e) => e.id));
    });
  })();
  return { ids, done, stop: () => abort.abort() };
}
