// The shared pairing helpers: in order and by key, with the pending bound, the unanswered timeout
// (capture time) and the end of a connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InOrderPairing, KeyedPairing } from '../../src/protocols/pairing.js';

const limits = { maxPendingRequests: 3, unansweredTimeoutUs: 1000 };
type Req = { name: string; endUs: number };

function collect() {
  const settled: Array<[string, string | null]> = [];
  return { settled, settle: (req: Req, res: string | null) => settled.push([req.name, res]) };
}

test('in order: each response answers the oldest request; orphans are refused', () => {
  const c = collect();
  const p = new InOrderPairing<Req, string>(limits, c.settle);
  p.request({ name: 'a', endUs: 0 });
  p.request({ name: 'b', endUs: 0 });
  assert.equal(p.response('A'), true);
  assert.equal(p.response('B'), true);
  assert.equal(p.response('C'), false);
  assert.deepEqual(c.settled, [['a', 'A'], ['b', 'B']]);
  assert.equal(p.waiting, 0);
});

test('in order: past the pending bound the oldest is unanswered; the timeout and the end settle the rest', () => {
  const c = collect();
  const p = new InOrderPairing<Req, string>(limits, c.settle);
  for (const [i, name] of ['a', 'b', 'c', 'd'].entries()) p.request({ name, endUs: i * 600 });
  assert.deepEqual(c.settled, [['a', null]]);
  // At 1700 µs, b (600) is older than the 1000 µs timeout, c (1200) is not.
  p.tick(1700);
  assert.deepEqual(c.settled, [['a', null], ['b', null]]);
  p.end();
  assert.deepEqual(c.settled, [['a', null], ['b', null], ['c', null], ['d', null]]);
  assert.equal(p.waiting, 0);
});

test('by key: responses find their request in any order; a repeated key is a retransmission', () => {
  const c = collect();
  const p = new KeyedPairing<number, Req, string>(limits, c.settle);
  assert.equal(p.request(1, { name: 'one', endUs: 0 }), true);
  assert.equal(p.request(2, { name: 'two', endUs: 0 }), true);
  assert.equal(p.request(1, { name: 'one again', endUs: 5 }), false);
  assert.equal(p.response(2, 'TWO'), true);
  assert.equal(p.response(2, 'TWO again'), false);
  assert.equal(p.response(1, 'ONE'), true);
  assert.deepEqual(c.settled, [['two', 'TWO'], ['one', 'ONE']]);
});

test('by key: the bound gives up the oldest, the timeout only the old ones, the end all', () => {
  const c = collect();
  const p = new KeyedPairing<string, Req, string>(limits, c.settle);
  p.request('x', { name: 'x', endUs: 0 });
  p.request('y', { name: 'y', endUs: 2000 });
  p.request('z', { name: 'z', endUs: 100 });
  p.request('w', { name: 'w', endUs: 2500 });
  assert.deepEqual(c.settled, [['x', null]]);
  p.tick(2050);
  assert.deepEqual(c.settled, [['x', null], ['z', null]]);
  assert.equal(p.response('y', 'Y'), true);
  p.end();
  assert.deepEqual(c.settled, [['x', null], ['z', null], ['y', 'Y'], ['w', null]]);
  assert.equal(p.waiting, 0);
});
