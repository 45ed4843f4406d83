// Identical requests in flight at the same time share one store query; different ones do not.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, getJson, spiedStore, type Fixture } from './fixture.js';

let f: Fixture;
let url: string;
/** Store queries the hub ran, by SQL text (a spy: the queries still run). */
const ran: string[] = [];

before(async () => {
  f = await fixture(2000);
  url = await f.hub({ store: spiedStore(f.temp.store, (sql) => ran.push(sql)) });
});
after(async () => {
  await f?.dispose();
});

test('concurrent identical requests get the same answer from fewer store queries', async () => {
  const now = Date.now();
  const range = `from=${now - 2 * 3600_000}&to=${now}`;
  const ask = (path: string) => getJson(`${url}/api/v1/${path}?${range}`);
  for (const path of ['catalog', 'servicemap', 'stats']) {
    ran.length = 0;
    const answers = await Promise.all(Array.from({ length: 12 }, () => ask(path)));
    for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.ok(answers[0].body && JSON.stringify(answers[0].body).length > 20, `${path}: an empty answer proves nothing`);
    for (const a of answers) assert.deepEqual(a.body, answers[0].body, path);
    assert.ok(ran.length > 0 && ran.length < 12, `${path}: 12 requests ran ${ran.length} store queries`);

    // The same answer as one request on its own.
    assert.deepEqual((await ask(path)).body, answers[0].body, path);
  }
});

test('different requests are not shared', async () => {
  const now = Date.now();
  ran.length = 0;
  const answers = await Promise.all(
    Array.from({ length: 6 }, (_, i) => getJson(`${url}/api/v1/catalog?from=${now - (i + 1) * 600_000}&to=${now}`)),
  );
  for (const a of answers) assert.equal(a.status, 200);
  assert.ok(ran.length >= 6, `6 different requests ran only ${ran.length} store queries`);
  // Wider ranges hold at least as many requests.
  const totals = answers.map((a) => (a.body.services as Array<{ requests: number }>).reduce((s, x) => s + x.requests, 0));
  for (let i = 1; i < totals.length; i++) assert.ok(totals[i] >= totals[i - 1], `totals ${totals.join(', ')}`);
});

test('lookups of different entries at the same time go to the store together', async () => {
  const ids = [...f.entries.keys()].slice(0, 12);
  ran.length = 0;
  const answers = await Promise.all([...ids, '0190f5c2-4aa5-7254-8feb-ad9e95f07916'].map((id) => getJson(`${url}/api/v1/entries/${id}`)));
  assert.equal(answers[12].status, 404);
  for (const [i, id] of ids.entries()) {
    assert.equal(answers[i].status, 200, JSON.stringify(answers[i].body));
    const e = f.entries.get(id)!;
    assert.deepEqual([answers[i].body.id, answers[i].body.target, answers[i].body.status, answers[i].body.requestHeaders], [e.id, e.target, e.status, e.requestHeaders.toPairs()]);
  }
  const lookups = ran.filter((q) => q.includes('LIMIT 1 BY id')).length;
  assert.ok(lookups > 0 && lookups < 12, `13 lookups ran ${lookups} store queries`);
});
