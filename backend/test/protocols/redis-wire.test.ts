/**
 * Redis on hand-built frames and bytes: a message split at every byte, lengths that lie, an array
 * claiming 2^31 elements, nesting past the cap, more pipelined commands than the pending limit
 * (later replies still pair with their own commands), a lost segment, a mid-stream pickup, RESP3
 * attributes, redaction on and off, and fast-check over random and mutated real bytes (the reader
 * gives the same messages however the stream is cut, and never throws, whatever it is fed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { REDACTED, type Entry } from '../../src/entries/entry.js';
import { RespReader, splitArgs, type RespMessage } from '../../src/protocols/redis/resp.js';
import { redisDissector } from '../../src/protocols/redis/dissector.js';
import { Conversation } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';
import { lookupField } from '../../src/query/fields.js';
import { protocols } from '../../src/protocols/registry.js';

const client = { ip: '10.9.2.5', port: 41000 };
const server = { ip: '10.9.2.6', port: 6379 };
const cmd = (...args: string[]) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const text = (b: { bytes: Buffer }) => b.bytes.toString('latin1');
const row = (e: Entry) => `${text(e.requestBody)} → ${e.unanswered ? 'unanswered' : text(e.responseBody)}`;
const noRedaction = { redaction: { enabled: false, headers: [], queryParams: [] } };

function conversation(port = client.port): Conversation {
  return new Conversation({ ...client, port }, server).handshake();
}

test('Redis is a built-in protocol with its filter fields', () => {
  assert.equal(protocols.get('redis'), redisDissector);
  assert.deepEqual(['redis.command', 'redis.key', 'redis.error', 'redis.args', 'redis.db', 'redis.push'].map((n) => lookupField(n)?.type), ['string', 'string', 'string', 'int', 'int', 'bool']);
  assert.equal(lookupField('redis.error')?.sql, "fields_text['redis.error']");
});

test('a pipeline split at every byte: each command with its reply', async () => {
  const c = conversation();
  c.send(cmd('SET', 'a', 'x\r\ny') + cmd('GET', 'a') + cmd('HGETALL', 'h'), 1);
  c.reply(`+OK\r\n${bulk('x\r\ny')}*4\r\n${bulk('f')}${bulk('v')}${bulk('g')}$-1\r\n`, 1);
  c.close();
  const { entries, result } = await importFrames(c.frames);
  assert.deepEqual(entries.map(row), ['"SET" "a" "x\\r\\ny" → OK', '"GET" "a" → "x\\r\\ny"', '"HGETALL" "h" → 1) "f"\n2) "v"\n3) "g"\n4) (nil)']);
  assert.deepEqual(entries.map((e) => [e.operation, e.target, e.fields['redis.args']]), [['SET', 'a', 2], ['GET', 'a', 1], ['HGETALL', 'h', 1]]);
  assert.equal(result.counters.protocols.redis.parseErrors, 0);
});

test('lengths that lie, 2^31 elements, nesting past the cap: parse errors, and the next segment that starts a message resumes', async () => {
  const c = conversation();
  c.send(cmd('GET', 'before'));
  c.reply(bulk('1'));
  c.send('*2147483648\r\n$3\r\nGET\r\n'); // beyond an int: an error at once
  c.send(cmd('GET', 'after-huge'));
  c.reply(bulk('2'));
  c.send('*2\r\n$3\r\nGET\r\n$2\r\nabcdef\r\n'); // a bulk shorter than its bytes: no CRLF where it ends
  c.send(cmd('GET', 'after-lie'));
  c.reply(bulk('3'));
  c.reply(`${'*1\r\n'.repeat(40)}:1\r\n`); // 40 deep
  c.send(cmd('GET', 'after-deep'));
  c.reply(bulk('4'));
  c.close();
  const { entries, result } = await importFrames(c.frames);
  assert.deepEqual(entries.map(row), ['"GET" "before" → "1"', '"GET" "after-huge" → "2"', '"GET" "after-lie" → "3"', '"GET" "after-deep" → "4"']);
  assert.equal(result.counters.protocols.redis.parseErrors, 3);
});

test('an array claiming 2^31−1 elements is bounded: memory does not grow with the claim, nothing crashes', async () => {
  const c = conversation();
  c.send('*2147483647\r\n');
  for (let i = 0; i < 200; i++) c.send(bulk('x'.repeat(1000)));
  c.close();
  const { entries, result } = await importFrames(c.frames, { dissectors: { maxHeaderBytes: 65536, maxBodyBytes: 4096, maxPendingRequests: 128, unansweredTimeoutUs: 60e6 } });
  assert.deepEqual(entries, [], 'the command never ends');
  assert.equal(result.counters.protocols.redis.connections, 1);
});

test('more pipelined commands than the pending limit: the oldest are given up, the rest still get their own replies', async () => {
  const c = conversation();
  c.send(Array.from({ length: 10 }, (_, i) => cmd('GET', `k${i}`)).join(''));
  c.reply(Array.from({ length: 10 }, (_, i) => bulk(`v${i}`)).join(''));
  c.close();
  const limits = { maxHeaderBytes: 65536, maxBodyBytes: 65536, maxPendingRequests: 4, unansweredTimeoutUs: 60e6 };
  const { entries, result } = await importFrames(c.frames, { dissectors: limits });
  assert.deepEqual(entries.map(row), [
    ...Array.from({ length: 6 }, (_, i) => `"GET" "k${i}" → unanswered`),
    ...Array.from({ length: 4 }, (_, i) => `"GET" "k${i + 6}" → "v${i + 6}"`),
  ]);
  assert.equal(result.counters.protocols.redis.unanswered, 6);
});

test('a lost segment: what waits is given up as unanswered and incomplete; later commands pair again', async () => {
  const c = conversation();
  c.send(cmd('GET', 'a') + cmd('GET', 'b'));
  const lost = c.reply(bulk('x'.repeat(3000)), 1000);
  c.reply(bulk('b'));
  c.send(cmd('GET', 'c'));
  c.reply(bulk('c'));
  c.close();
  const { entries, result } = await importFrames(c.frames.filter((f) => f !== lost[1]));
  assert.deepEqual(entries.map((e) => `${row(e)} ${e.incomplete}`), ['"GET" "a" → unanswered true', '"GET" "b" → unanswered true', '"GET" "c" → "c" false']);
  assert.ok(result.counters.protocols.redis.parseErrors + result.counters.protocols.redis.orphanResponses >= 1);
});

test('picked up mid-stream: a reply first is an orphan, then commands pair; no database is claimed', async () => {
  const c = new Conversation(client, { ...server, port: 7777 });
  c.reply('+OK\r\n');
  c.send(cmd('INCR', 'n'));
  c.reply(':5\r\n');
  const { entries, result } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => [row(e), e.fields['redis.db'], e.protocolVersion, e.src.port]), [['"INCR" "n" → (integer) 5', undefined, '', client.port]]);
  assert.equal(result.counters.protocols.redis.orphanResponses, 1);
});

test('RESP3: an attribute before a reply is read and left out; maps, sets, doubles, big numbers, booleans, verbatim, bulk errors', async () => {
  const c = conversation();
  c.send(cmd('HELLO', '3') + cmd('GET', 'k') + cmd('X', '1') + cmd('X', '2') + cmd('X', '3') + cmd('X', '4') + cmd('X', '5') + cmd('X', '6'));
  c.reply(`%1\r\n+proto\r\n:3\r\n|1\r\n+ttl\r\n:100\r\n${bulk('v')}~2\r\n+a\r\n,1.5\r\n(12345678901234567890\r\n#t\r\n=7\r\ntxt:hey\r\n!9\r\nERR oops!\r\n_\r\n`);
  c.close();
  const { entries } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => text(e.responseBody)), ['1# proto => (integer) 3', '"v"', '1~ a\n2~ (double) 1.5', '(big number) 12345678901234567890', '(true)', '"hey"', '(error) ERR oops!', '(nil)']);
  assert.deepEqual(entries.map((e) => e.fields['redis.reply']), ['map', 'bulk', 'set', 'bignum', 'boolean', 'verbatim', 'error', 'null']);
  assert.deepEqual([entries[6].fields['redis.error'], entries[1].protocolVersion], ['ERR', '3']);
});

test('secrets: redacted by default (and by extra names), kept when redaction is off', async () => {
  const c = conversation();
  c.send(cmd('AUTH', 'pw1') + cmd('AUTH', 'bob', 'pw2') + cmd('HELLO', '3', 'AUTH', 'bob', 'pw3', 'SETNAME', 'app'));
  c.reply('+OK\r\n+OK\r\n%0\r\n');
  c.send(cmd('CONFIG', 'SET', 'requirepass', 'pw4', 'maxmemory', '1mb', 'custom-token', 'pw5'));
  c.reply('+OK\r\n');
  c.send(cmd('CONFIG', 'GET', '*'));
  c.reply(`*6\r\n${bulk('masterauth')}${bulk('pw6')}${bulk('maxmemory')}${bulk('1048576')}${bulk('tls-key-file-pass')}${bulk('pw7')}`);
  c.send(cmd('ACL', 'SETUSER', 'bob', 'on', '>pw8', '#0123abcd', '~*', '+@all'));
  c.reply('+OK\r\n');
  c.send(cmd('MIGRATE', 'h', '1', '', '0', '10', 'COPY', 'AUTH', 'pw9', 'KEYS', 'a', 'AUTH'));
  c.reply('+NOKEY\r\n');
  c.send('AUTH pw10\r\n');
  c.reply('+OK\r\n');
  c.close();
  const on = await importFrames(c.frames, { redaction: { enabled: true, headers: ['custom-token'], queryParams: [] } });
  assert.deepEqual(on.entries.map((e) => text(e.requestBody)), [
    `"AUTH" ${REDACTED}`,
    `"AUTH" "bob" ${REDACTED}`,
    `"HELLO" "3" "AUTH" "bob" ${REDACTED} "SETNAME" "app"`,
    `"CONFIG" "SET" "requirepass" ${REDACTED} "maxmemory" "1mb" "custom-token" ${REDACTED}`,
    '"CONFIG" "GET" "*"',
    `"ACL" "SETUSER" "bob" "on" ${REDACTED} ${REDACTED} "~*" "+@all"`,
    `"MIGRATE" "h" "1" "" "0" "10" "COPY" "AUTH" ${REDACTED} "KEYS" "a" "AUTH"`,
    `"AUTH" ${REDACTED}`,
  ]);
  assert.equal(text(on.entries[4].responseBody), `1) "masterauth"\n2) ${REDACTED}\n3) "maxmemory"\n4) "1048576"\n5) "tls-key-file-pass"\n6) ${REDACTED}`);
  const off = await importFrames(c.frames, noRedaction);
  const all = off.entries.map((e) => text(e.requestBody) + text(e.responseBody)).join(' ');
  for (let i = 1; i <= 10; i++) assert.ok(all.includes(`pw${i}`), `pw${i} kept without redaction`);
  const redacted = on.entries.map((e) => text(e.requestBody) + text(e.responseBody) + JSON.stringify(e)).join(' ');
  for (let i = 1; i <= 10; i++) assert.ok(!redacted.includes(`pw${i}`), `pw${i} redacted`);
});

test('inline commands are split as Redis splits them', () => {
  const split = (s: string) => splitArgs(Buffer.from(s, 'latin1'), 0, s.length)?.map((b) => b.toString('latin1'));
  assert.deepEqual(split('SET k "a b\\x41\\n" \'it\\\'s\''), ['SET', 'k', 'a bA\n', "it's"]);
  assert.deepEqual(split('  PING  '), ['PING']);
  assert.equal(split('SET k "open'), undefined);
  assert.equal(split('SET k "a"b'), undefined);
});

/** The messages a reader gives for `bytes` cut into the chunks `cuts` says. */
function read(client: boolean, bytes: Buffer, cuts: number[], max = 256): { msgs: string[]; errors: number } {
  const msgs: string[] = [];
  let errors = 0;
  const r = new RespReader(client, max, (m: RespMessage) => msgs.push(`${m.type} ${m.count} ${m.itemCount} ${m.items.join('|')} ${m.rendering.toString('latin1')} ${m.truncated} ${m.wireBytes}`), () => errors++);
  let at = 0;
  for (const n of [...cuts, bytes.length]) {
    const end = Math.min(bytes.length, at + n);
    if (end > at) r.data(bytes, at, end, 0);
    at = end;
    if (at >= bytes.length) break;
  }
  return { msgs, errors };
}

const replies = Buffer.from(
  `+OK\r\n-ERR x\r\n:42\r\n${bulk('hello')}$-1\r\n*-1\r\n*0\r\n*2\r\n*2\r\n:1\r\n:2\r\n${bulk('z'.repeat(300))}%1\r\n+k\r\n~1\r\n#f\r\n>3\r\n${bulk('message')}${bulk('ch')}${bulk('payload')}|1\r\n+a\r\n+b\r\n,3.14\r\n_\r\n`,
  'latin1',
);
const commands = Buffer.from(cmd('SET', 'k', 'v') + 'PING\r\n' + cmd('HSET', 'h', 'f', 'x'.repeat(400)) + '\r\n' + cmd('GET', 'k'), 'latin1');

test('fast-check: however the stream is cut, the reader gives the same messages (replies and commands)', () => {
  for (const [client, bytes, count] of [[false, replies, 12], [true, commands, 4]] as const) {
    const whole = read(client, bytes, []);
    assert.equal(whole.errors, 0);
    assert.equal(whole.msgs.length, count);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 200 }), (cuts) => {
        assert.deepEqual(read(client, bytes, cuts), whole);
      }),
      { numRuns: 300 },
    );
  }
});

test('fast-check: random and mutated bytes never throw, and what is kept stays within the limit', () => {
  const mutated = (base: Buffer) =>
    fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 50 })).map(([edits, cuts]) => {
      const b = Buffer.from(base);
      for (const [at, v] of edits) b[at % b.length] = v;
      return { b, cuts };
    });
  const random = fc.tuple(fc.uint8Array({ maxLength: 600 }), fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 50 })).map(([b, cuts]) => ({ b: Buffer.from(b), cuts }));
  for (const client of [true, false]) {
    for (const input of [random, mutated(replies), mutated(commands)]) {
      fc.assert(
        fc.property(input, ({ b, cuts }) => {
          const r = new RespReader(client, 128, (m) => {
            assert.ok(m.rendering.length <= 128);
            assert.ok(m.items.length <= 16 + 1);
          }, () => {});
          let at = 0;
          for (const n of cuts) {
            if (at >= b.length) break;
            r.data(b, at, Math.min(b.length, at + n), 0);
            at += n;
          }
          if (at < b.length) r.data(b, at, b.length, 0);
          r.gap();
        }),
        { numRuns: 400 },
      );
    }
  }
});

test('fast-check through the pipeline: random and mutated segments to port 6379 never throw; counters add up', async () => {
  const frames = [];
  const samples = fc.sample(fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(commands.length - 1), fc.nat(replies.length - 1)), { numRuns: 400, seed: 42 });
  const conns = Array.from({ length: 8 }, (_, i) => conversation(42000 + i));
  samples.forEach(([toServer, junk, ci, ri], i) => {
    const c = conns[i % conns.length];
    const base = toServer ? Buffer.from(commands) : Buffer.from(replies);
    if (i % 3 === 0) base[(toServer ? ci : ri) % base.length] = junk[0];
    const payload = i % 3 === 1 ? Buffer.from(junk) : base;
    if (toServer) c.send(payload, 97);
    else c.reply(payload, 97);
  });
  for (const c of conns) frames.push(...c.close().frames);
  frames.sort((a, b) => a.tsUs - b.tsUs);
  const { entries, result } = await importFrames(frames);
  const r = result.counters.protocols.redis;
  assert.equal(r.connections, 8);
  assert.equal(r.exchanges, entries.length);
  assert.ok(r.parseErrors > 0, 'the junk was counted');
  for (const e of entries) assert.ok(e.requestBody.bytes.length <= 65536 && e.responseBody.bytes.length <= 65536);
});

test('replies shaped like pub/sub arrays answer their commands when the client subscribed to nothing', async () => {
  const c = conversation();
  c.send(cmd('LRANGE', 'l', '0', '-1') + cmd('LRANGE', 'm', '0', '-1'));
  c.reply(`*3\r\n${bulk('subscribe')}${bulk('x')}${bulk('y')}*3\r\n${bulk('message')}${bulk('ch')}${bulk('z')}`);
  c.close();
  const { entries } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => `${e.operation} ${e.fields['redis.push'] ?? 0} ${e.unanswered}`), ['LRANGE 0 false', 'LRANGE 0 false']);
  assert.equal(text(entries[1].responseBody), '1) "message"\n2) "ch"\n3) "z"');
});
