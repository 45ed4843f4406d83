/** Entry ids: RFC 9562 UUIDv7 text, time-ordered, unique. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uuidv7 } from '../../src/agent/ids.js';

test('uuidv7: version 7, RFC variant, the given millisecond in the first 48 bits, unique and sorted by time', () => {
  const start = Date.UTC(2026, 10, 26, 12, 0, 0, 123);
  const ids: string[] = [];
  for (let i = 0; i < 5000; i++) ids.push(uuidv7(start + Math.floor(i / 7) + 0.9));
  for (const [i, id] of ids.entries()) {
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), start + Math.floor(i / 7));
  }
  assert.equal(new Set(ids).size, ids.length);
  for (let i = 1; i < ids.length; i++) if (Math.floor(i / 7) !== Math.floor((i - 1) / 7)) assert.ok(ids[i - 1] < ids[i]);
  assert.equal(uuidv7(0).slice(0, 13), '00000000-0000');
  assert.equal(uuidv7(2 ** 48 - 1).slice(0, 13), 'ffffffff-ffff');
});
