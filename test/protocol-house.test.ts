// A protocol is a descriptor and nothing else (issue "Many protocols, one house"): two protocols
// defined only in the tests (support/line-protocols.ts), one over TCP and one over UDP, registered
// at run time, go through real capture (libpcap on loopback, real sockets), the store, the hub's
// API, the filter language (SQL and in-memory), the live stream, completions, label values,
// stats, the service map, the catalog, redaction and the entry's sections, without a line of
// theirs in src/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startLineProtocolsUp, TLINE_SECRET, type LineProtocolsUp } from './support/line-protocols-up.js';
import { formatDetail, formatTable } from '../backend/src/cli/query.js';
import type { EntryDetail, EntrySummary, ProtocolsJson } from '../backend/src/hub/shapes.js';

let up: LineProtocolsUp;
/** The stream's position before any traffic. */
let startCursor: string;
/** Entries the live stream delivered for `tquery or tline.code >= 500`, in memory (hand-off). */
const streamed: EntrySummary[] = [];

async function get<T>(path: string): Promise<T> {
  const res = await fetch(`${up.url}${path}`);
  const body = await res.json();
  assert.equal(res.status, 200, `${path}: ${JSON.stringify(body)}`);
  return body as T;
}

const q = (params: Record<string, string | number>) => new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();

async function entries(filter: string): Promise<EntrySummary[]> {
  const body = await get<{ entries: EntrySummary[] }>(`/api/v1/entries?${q({ filter, from: Date.now() - 3_600_000, to: Date.now() + 60_000 })}`);
  return body.entries;
}

before(async () => {
  up = await startLineProtocolsUp();
  startCursor = (await get<{ cursor: string }>('/api/v1/stream?wait=0')).cursor;
  // A long-poll client follows the stream while the traffic runs.
  let stop = false;
  const follower = (async () => {
    let cursor = startCursor;
    while (!stop) {
      const body = await get<{ entries: EntrySummary[]; cursor: string }>(`/api/v1/stream?${q({ filter: 'tquery or tline.code >= 500', cursor, wait: 200 })}`);
      streamed.push(...body.entries);
      cursor = body.cursor;
    }
  })();
  try {
    await up.traffic();
    // 5 tline requests (one unanswered), 4 tquery queries (one unanswered).
    await up.settle(9);
    const deadline = Date.now() + 10_000;
    while (streamed.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  } finally {
    stop = true;
    await follower;
  }
});

after(async () => {
  await up?.stop();
});

describe('a protocol registered at run time', () => {
  it('is captured by content (no port hint matched), over TCP and over UDP, into entries', () => {
    const byProtocol = (p: string) => up.captured.filter((e) => e.protocol === p);
    assert.equal(byProtocol('tline').length, 5);
    assert.equal(byProtocol('tquery').length, 4);
    assert.ok(byProtocol('tline').every((e) => e.transport === 'tcp'));
    assert.ok(byProtocol('tquery').every((e) => e.transport === 'udp'));
    assert.equal(up.captured.length, 9, 'nothing else on these ports');
  });

  it('is listed by /api/v1/protocols with its colour, transports and fields', async () => {
    const body = await get<ProtocolsJson>('/api/v1/protocols');
    const tline = body.protocols.find((p) => p.name === 'tline');
    const tquery = body.protocols.find((p) => p.name === 'tquery');
    assert.ok(tline && tquery, JSON.stringify(body.protocols.map((p) => p.name)));
    assert.equal(tline.color, '#8e44ad');
    assert.deepEqual(tline.transports, ['tcp']);
    assert.deepEqual(tquery.transports, ['udp']);
    assert.deepEqual(tline.fields.map((f) => [f.name, f.type]), [['tline.key', 'string'], ['tline.args', 'int'], ['tline.code', 'int']]);
    assert.deepEqual(tquery.fields.map((f) => f.name), ['tquery.name', 'tquery.rcode', 'tquery.cached']);
    assert.equal(tline.outcomes.serverError, 'RES 500 and above');
    assert.ok(body.protocols.some((p) => p.name === 'http'), 'the built-in protocols stay');
    assert.deepEqual(body.outcomes, ['no response', 'ok', 'client error', 'server error', 'one-way']);
  });

  it('answers the filter language: its keyword, its typed fields and the generic summary', async () => {
    const targets = async (filter: string) => (await entries(filter)).map((e) => e.target).sort();
    assert.deepEqual(await targets('tline'), ['[REDACTED]', 'cart', 'forever', 'nokey', 'user:1']);
    assert.deepEqual(await targets('tline.code >= 400'), ['cart', 'nokey']);
    assert.deepEqual(await targets('tline and outcome == "server error"'), ['cart']);
    assert.deepEqual(await targets('tline and unanswered'), ['forever']);
    assert.deepEqual(await targets('tline.key.startsWith("user")'), ['user:1']);
    assert.deepEqual(await targets('operation == "SET" and status == 5xx'), ['cart']);
    assert.deepEqual(await targets('transport == "udp"'), ['a.example', 'lost.example', 'nope.example', 'slow.example']);
    assert.deepEqual(await targets('tquery.rcode == 3 or tquery.cached'), ['nope.example', 'slow.example']);
    assert.deepEqual(await targets('tquery and outcome == "no response"'), ['lost.example']);
    assert.deepEqual(await targets('tquery.name =~ "^(a|nope)\\\\."'), ['a.example', 'nope.example']);
  });

  it('a filter with a typo in a protocol field names it and suggests the right one', async () => {
    const res = await fetch(`${up.url}/api/v1/entries?${q({ filter: 'tline.cod >= 400' })}`);
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { message: string } };
    assert.match(body.error.message, /unknown field 'tline\.cod'.*did you mean 'tline\.code'/);
  });

  it('reaches live-stream clients as it is captured, filtered in memory on its fields', () => {
    const names = streamed.map((e) => e.target).sort();
    assert.deepEqual(names, ['a.example', 'cart', 'lost.example', 'nope.example', 'slow.example']);
    const nope = streamed.find((e) => e.target === 'nope.example')!;
    assert.equal(nope.fields['tquery.rcode'], 3);
    assert.equal(nope.outcome, 2);
  });

  it('shows each entry as its descriptor represents it, and keeps its secret out of the store', async () => {
    const [auth] = await entries('tline and operation == "AUTH"');
    const detail = await get<EntryDetail>(`/api/v1/entries/${auth.id}`);
    const tables = Object.fromEntries(detail.sections.filter((s) => s.kind === 'table').map((s) => [s.title, s.kind === 'table' ? s.rows : []]));
    assert.deepEqual(tables.Request, [['Verb', 'AUTH'], ['Key', '[REDACTED]']]);
    assert.deepEqual(tables.Reply, [['Code', '200'], ['Text', 'welcome']]);
    assert.deepEqual(tables.Fields, [['tline.key', '[REDACTED]'], ['tline.args', '0'], ['tline.code', '200']]);
    // `tapline query --entry` renders the same sections as text.
    const text = formatDetail(detail);
    assert.match(text, /^tline AUTH \[REDACTED\] → 200 welcome \(/);
    assert.match(text, /\nRequest\n-------\nVerb +AUTH\nKey +\[REDACTED\]\n/);
    assert.match(text, /\nReply\n-----\nCode +200\nText +welcome\n/);
    const [user] = await entries('tline.key == "user:1"');
    const userDetail = await get<EntryDetail>(`/api/v1/entries/${user.id}`);
    assert.deepEqual(userDetail.sections.map((s) => s.title), ['Request', 'Reply', 'Fields']);
    // Everything the store holds, every column of every row, as text.
    const rs = await up.temp.store.client.query({ query: `SELECT * FROM ${up.temp.store.database}.entries`, format: 'TabSeparated' });
    const dump = await rs.text();
    assert.ok(dump.includes('user:1'), 'the dump holds the entries');
    assert.ok(!dump.includes(TLINE_SECRET), 'the AUTH password reached the store');
  });

  it('completions and label values offer its fields and their values', async () => {
    const fields = await get<{ fields: Array<{ name: string }> }>(`/api/v1/filter/completions?${q({ prefix: 'tline.' })}`);
    assert.deepEqual(fields.fields.map((f) => f.name), ['tline.key', 'tline.args', 'tline.code']);
    const values = await get<{ values: string[] }>(`/api/v1/filter/completions?${q({ prefix: 'tquery.name == ' })}`);
    assert.deepEqual(values.values.sort(), ['"a.example"', '"lost.example"', '"nope.example"', '"slow.example"']);
    const labels = await get<{ values: string[] }>(`/api/v1/labels/protocol?${q({ from: Date.now() - 3_600_000, to: Date.now() + 60_000 })}`);
    assert.deepEqual(labels.values, ['tline', 'tquery']);
  });

  it('counts in stats, the service map and the catalog by its own outcomes', async () => {
    const range = { from: Date.now() - 3_600_000, to: Date.now() + 60_000 };
    const stats = await get<{ series: Array<{ name: string; points: Array<[number, number]> }> }>(
      `/api/v1/stats?${q({ ...range, groupBy: 'protocol', metric: 'errors' })}`,
    );
    const total = (name: string) => stats.series.find((s) => s.name === name)!.points.reduce((n, [, v]) => n + v, 0);
    // Errors are server errors and no response: tline 507 and the unanswered DEL; tquery rcode 2 and the lost query.
    assert.equal(total('tline'), 2);
    assert.equal(total('tquery'), 2);
    const catalog = await get<{ services: Array<{ service: string; requests: number; failed: number; protocols: string[] }> }>(`/api/v1/catalog?${q(range)}`);
    assert.equal(catalog.services.length, 1, JSON.stringify(catalog));
    // Both servers are 127.0.0.1: one node, 9 calls, 6 failed (2 server errors, 2 unanswered, and the
    // 404 and rcode 3, the clients' failures).
    assert.deepEqual(catalog.services[0], { ...catalog.services[0], service: '127.0.0.1', requests: 9, failed: 6, protocols: ['tline', 'tquery'] });
    const map = await get<{ edges: Array<{ requests: number; protocols: string[]; errorRate: number }> }>(`/api/v1/servicemap?${q(range)}`);
    assert.equal(map.edges.length, 1);
    assert.equal(map.edges[0].requests, 9);
    assert.deepEqual(map.edges[0].protocols, ['tline', 'tquery']);
    assert.equal(map.edges[0].errorRate, Number((4 / 9).toFixed(4)));
  });

  it('is listed by `tapline query` with its operation and target', async () => {
    const table = formatTable(await entries('tquery.rcode == 3'));
    const [, row] = table.split('\n');
    assert.match(row, /\btquery\s+Q\s+3\s/);
    assert.match(row, /nope\.example$/);
  });
});
