/**
 * HeaderList (entries/headers.ts): lists built from pairs and lists the HTTP parser builds over
 * captured heads (offsets into the head's text), read back as the strings the test wrote; the name
 * comparison is checked against the engine's own String#toLowerCase.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { equalsLowercaseAt, HeaderList, REDACTED } from '../../src/entries/headers.js';
import { Conversation } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';

const noRedaction = { redaction: { enabled: false, headers: [], queryParams: [] } };

test('equalsLowercaseAt agrees with toLowerCase for ASCII, latin1 and other names', () => {
  const names = ['Authorization', 'AUTHORIZATION', 'authorization', 'Authorizatio', 'Authorizations', 'X-Api-Key', 'x-api-kez',
    'Ünïcode', 'ÜNÏCODE', '×Mult', 'ßharp', 'ÞORN', 'İstanbul', 'KELVIN', 'K', ''];
  const lowers = ['authorization', 'x-api-key', 'ünïcode', '×mult', 'ßharp', 'þorn', 'i̇stanbul', 'kelvin', 'k', ''];
  for (const name of names) {
    for (const lower of lowers) {
      assert.equal(equalsLowercaseAt(name, 0, name.length, lower), name.toLowerCase() === lower, `${name} vs ${lower}`);
      // The same name inside a line: only its own characters count.
      const line = `Ab${name}:Zz`;
      assert.equal(equalsLowercaseAt(line, 2, 2 + name.length, lower), name.toLowerCase() === lower, `${line} vs ${lower}`);
    }
  }
});

test('a list of pairs reads back as the pairs: order, repeats, empty and non-latin1 strings', () => {
  const pairs: Array<[string, string]> = [['Host', 'a'], ['X-Rep', '1'], ['x-rep', ''], ['', 'empty name'], ['Emoji', '✓ 𝄞 ü'], ['X-Lone', '\ud800x']];
  const h = HeaderList.of(pairs);
  assert.equal(h.count, pairs.length);
  assert.deepEqual(h.toPairs(), pairs);
  assert.deepEqual([...h], pairs);
  assert.deepEqual(pairs.map((_, i) => [h.name(i), h.value(i), h.nameLength(i)]), pairs.map(([n, v]) => [n, v, n.length]));
  assert.equal(JSON.stringify({ h }), JSON.stringify({ h: pairs }));
  assert.equal(h.get('x-rep'), '1');
  assert.equal(h.get('emoji'), '✓ 𝄞 ü');
  assert.equal(h.get('missing'), undefined);
  assert.equal(HeaderList.of([]).count, 0);
  assert.deepEqual(HeaderList.of([]).toPairs(), []);
});

test('redaction marks a value: every reader sees REDACTED, the name and other values stay', () => {
  const h = HeaderList.of([['Cookie', 'a=1'], ['Accept', '*/*'], ['Cookie', 'b=2']]);
  assert.equal(h.isRedacted(0), false);
  h.redact(0);
  h.redact(2);
  assert.equal(REDACTED, '[REDACTED]');
  assert.deepEqual(h.toPairs(), [['Cookie', '[REDACTED]'], ['Accept', '*/*'], ['Cookie', '[REDACTED]']]);
  assert.equal(JSON.stringify(h), '[["Cookie","[REDACTED]"],["Accept","*/*"],["Cookie","[REDACTED]"]]');
  assert.equal(h.get('cookie'), '[REDACTED]');
  // A trailer appended later keeps the marks where they were.
  h.append('X-Trailer', 't');
  assert.deepEqual(h.toPairs(), [['Cookie', '[REDACTED]'], ['Accept', '*/*'], ['Cookie', '[REDACTED]'], ['X-Trailer', 't']]);
});

test('captured heads: offsets into the head, bytes 0x80-0xFF as latin1, folds, trailers, many heads in a row', async () => {
  const c = new Conversation({ ip: '10.9.0.1', port: 40001 }, { ip: '10.9.0.2', port: 8080 }).handshake();
  const odd = Buffer.concat([
    Buffer.from('GET /odd HTTP/1.1\r\nHost: h\r\nX-Latin1: caf', 'latin1'), Buffer.from([0xe9, 0x20, 0xff, 0x00, 0x7f]),
    Buffer.from('\r\nX-Folded: one\r\n \t two  \r\n\tthree\r\nNo colon here\r\nX-Empty:\r\n\xc4rger: \xa0v\xa0\r\n\r\n', 'latin1'),
  ]);
  c.send(odd);
  c.reply('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n1\r\nz\r\n0\r\nX-Trailer: t1\r\nX-Trailer-2:  t2 \r\n\r\n');
  // Heads of growing length, one after the other: each list must keep its own ranges.
  for (let i = 0; i < 40; i++) {
    c.send(`GET /${i} HTTP/1.1\r\nHost: h${i}\r\nX-Pad: ${'p'.repeat(i * 37)}\r\n\r\n`);
    c.reply(`HTTP/1.1 204 No Content\r\nX-N: ${i}\r\n\r\n`);
  }
  c.close();
  const { entries } = await importFrames(c.frames, noRedaction);
  assert.equal(entries.length, 41);
  const [first] = entries;
  assert.deepEqual(first.requestHeaders.toPairs(), [
    ['Host', 'h'],
    ['X-Latin1', 'caf\u00e9 \u00ff\u0000\u007f'],
    ['X-Folded', 'one two three'],
    ['X-Empty', ''],
    ['\u00c4rger', 'v'],
  ]);
  assert.equal(first.requestHeaders.get('\u00e4rger'), 'v');
  // Trailers are kept after the head's headers, under their prefix (TRAILER_PREFIX).
  assert.deepEqual(first.responseHeaders.toPairs(), [['Transfer-Encoding', 'chunked'], ['X-A', '1'], ['trailer X-Trailer', 't1'], ['trailer X-Trailer-2', 't2']]);
  for (let i = 0; i < 40; i++) {
    const e = entries[i + 1];
    assert.deepEqual(e.requestHeaders.toPairs(), [['Host', `h${i}`], ['X-Pad', 'p'.repeat(i * 37)]], `request ${i}`);
    assert.deepEqual(e.responseHeaders.toPairs(), [['X-N', String(i)]], `response ${i}`);
  }
});

test('redaction of captured heads marks the secret headers only, in any case', async () => {
  const c = new Conversation({ ip: '10.9.0.1', port: 40002 }, { ip: '10.9.0.2', port: 8080 }).handshake();
  c.send('GET / HTTP/1.1\r\nAUTHORIZATION: Basic x\r\nAuthorizationX: keep\r\nx-vault-token: v\r\nX-Mine: m\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nset-COOKIE: s\r\nContent-Length: 0\r\n\r\n');
  c.close();
  const { entries } = await importFrames(c.frames, { redaction: { enabled: true, headers: ['x-MINE'], queryParams: [] } });
  const [e] = entries;
  assert.deepEqual(e.requestHeaders.toPairs(), [['AUTHORIZATION', REDACTED], ['AuthorizationX', 'keep'], ['x-vault-token', REDACTED], ['X-Mine', REDACTED]]);
  assert.deepEqual([0, 1, 2, 3].map((i) => e.requestHeaders.isRedacted(i)), [true, false, true, true]);
  assert.deepEqual(e.responseHeaders.toPairs(), [['set-COOKIE', REDACTED], ['Content-Length', '0']]);
});
