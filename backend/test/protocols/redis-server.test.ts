/**
 * Redis with real peers: redis-server (the Debian package) on 127.0.0.1, redis-cli (one command,
 * a script on stdin, `--pipe`, `-3`), a raw socket sending inline commands, ioredis (pipelines,
 * MULTI/EXEC, pub/sub over RESP2 and RESP3) and redis-benchmark -P 16, captured by tcpdump on lo
 * and imported like any capture. The reference is tshark's `resp` dissector on the same file: the
 * same commands, in the same order, with the same replies (rendered as redis-cli prints them), and
 * the same pushed messages. RESP3-only types are beyond tshark 4.0 (it shows them as fragments):
 * there, tshark gives the commands and redis-cli's own output the replies.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { redisDissector } from '../../src/protocols/redis/dissector.js';
import { captureTraffic, type Captured } from '../agent/compare.js';
import { freePort, tsharkAvailable } from '../agent/traffic.js';
import { waitFor } from '../../../test/support/wait.js';
import { cliFormat, entryRows, redisCli, RedisServer, tsharkResp, tsharkRows } from './redis-support.js';

let server: RedisServer;
let port: number;

before(async () => {
  await tsharkAvailable();
  port = await freePort();
  server = await RedisServer.start(port);
});

after(() => server?.stop());

const outcome = (e: Entry) => redisDissector.outcome({ ...e, clientDir: 0 });
const text = (b: { bytes: Buffer }) => b.bytes.toString('latin1');

/**
 * Every client port's commands and pushes are tshark's, row for row; returns the client ports.
 * tshark decodes nothing on a connection that starts with an inline command: those are `skip`ped.
 */
async function assertSameAsTshark(c: Captured, skip: number[] = []): Promise<number[]> {
  const theirs = await tsharkResp(c.file, port);
  const ports = [...new Set([...theirs.map((m) => m.clientPort), ...c.entries.map((e) => e.src.port)])];
  for (const p of ports) {
    if (skip.includes(p)) continue;
    const ours = entryRows(c.entries, p);
    const ref = tsharkRows(theirs, p);
    // A reply cut at the body limit is compared as far as it was kept. One tshark shows only part of
    // (redis-cli's COMMAND DOCS: 200 KiB nested six deep, beyond its tree's limits, and what it
    // leaves out varies) is compared in its first 4 KiB.
    const mine = c.entries.filter((e) => e.src.port === p && e.fields['redis.push'] !== 1).sort((a, b) => a.startUs - b.startUs);
    const keep = (i: number) => {
      const t = ref.commands[i];
      if (t === undefined || mine[i] === undefined) return Infinity;
      if (ref.partial.has(i)) return 4096;
      return mine[i].responseBody.truncated ? ours.commands[i].length : Infinity;
    };
    const actual = ours.commands.map((row, i) => row.slice(0, keep(i)));
    const expected = ref.commands.map((row, i) => row.slice(0, keep(i)));
    assert.deepEqual(actual, expected, `client port ${p}: commands and replies differ from tshark`);
    assert.deepEqual(ours.pushes, ref.pushes, `client port ${p}: pushed messages differ from tshark`);
  }
  return ports;
}

function inline(lines: string[], replies: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let got = '';
    sock.on('data', (d) => {
      got += d;
      if (got.split('\r\n').length - 1 >= replies) sock.end();
    });
    sock.on('close', () => resolve(got));
    sock.on('error', reject);
    sock.write(lines.map((l) => `${l}\r\n`).join(''));
  });
}

test('redis-cli, inline commands and --pipe: every command and reply is tshark\'s; operations, keys, errors, outcomes', async () => {
  const outputs: string[] = [];
  const c = await captureTraffic('redis-cli', [port], async () => {
    const cli = async (...args: string[]) => outputs.push(await redisCli(port, ['--no-raw', ...args]));
    await cli('SET', 'user:1', 'ada');
    await cli('GET', 'user:1');
    await cli('GET', 'missing');
    await cli('INCR', 'user:1'); // ERR value is not an integer
    await cli('LPUSH', 'user:1', 'x'); // WRONGTYPE
    await cli('RPUSH', 'list', 'a', 'b', 'c');
    await cli('LRANGE', 'list', '0', '-1');
    await cli('HSET', 'h', 'f1', 'v1', 'f2', 'bin\x01"q"');
    await cli('HGETALL', 'h');
    await cli('NOSUCHCOMMAND', 'k');
    await cli('CLIENT', 'SETNAME', 'tapline-test');
    await cli('CONFIG', 'GET', 'maxmemory');
    await cli('-n', '3', 'SET', 'in3', 'x'); // SELECT 3 first
    await cli('EVAL', 'return redis.call("GET", KEYS[1])', '1', 'user:1');
    await cli('XADD', 'stream', '*', 'f', 'v');
    await cli('XREAD', 'COUNT', '5', 'STREAMS', 'stream', '0');
    await cli('OBJECT', 'ENCODING', 'list');
    await cli('ZADD', 'z', '1', 'a', '2', 'b');
    await cli('ZUNION', '1', 'z', 'WITHSCORES');
    // MULTI/EXEC in one session: queued commands, then EXEC's array with an error inside.
    outputs.push(await redisCli(port, ['--no-raw'], 'MULTI\nSET t1 1\nINCR t1\nLPUSH t1 x\nEXEC\n'));
    outputs.push(await inline(['PING', 'SET inl "v 1"', 'GET inl', 'EXISTS inl nope'], 4));
    const pipe = ['*3\r\n$3\r\nSET\r\n$1\r\np\r\n$1\r\n1\r\n', '*2\r\n$4\r\nINCR\r\n$1\r\np\r\n', '*2\r\n$3\r\nGET\r\n$1\r\np\r\n'].join('').repeat(20);
    outputs.push(await redisCli(port, ['--pipe'], pipe));
  });
  const e = [...c.entries].sort((a, b) => a.startUs - b.startUs);
  const inl = e.filter((x) => x.fields['redis.inline'] === 1);
  const ports = await assertSameAsTshark(c, [inl[0].src.port]);
  assert.equal(ports.length, 22, 'one connection per redis-cli run, the raw socket and --pipe');
  const find = (op: string, key?: string) => {
    const x = e.find((y) => y.operation === op && (key === undefined || y.target === key));
    assert.ok(x, `${op} ${key ?? ''}: ${e.map((y) => y.operation).join(' ')}`);
    return x;
  };
  const get = find('GET', 'user:1');
  assert.deepEqual([get.target, get.fields['redis.key'], text(get.responseBody), outcome(get), get.fields['redis.reply']], ['user:1', 'user:1', '"ada"', Outcome.ok, 'bulk']);
  assert.equal(text(find('GET', 'missing').responseBody), '(nil)');
  const incr = find('INCR', 'user:1');
  assert.deepEqual([incr.fields['redis.error'], incr.statusText, outcome(incr)], ['ERR', 'ERR value is not an integer or out of range', Outcome.clientError]);
  const wrong = find('LPUSH', 'user:1');
  assert.deepEqual([wrong.fields['redis.error'], outcome(wrong)], ['WRONGTYPE', Outcome.clientError]);
  assert.equal(find('NOSUCHCOMMAND').fields['redis.error'], 'ERR');
  assert.deepEqual([find('CLIENT SETNAME').target, find('CONFIG GET').target, find('CONFIG GET').fields['redis.args']], ['', '', 2]);
  assert.deepEqual([find('EVAL').target, find('XREAD').target, find('OBJECT ENCODING').target, find('ZUNION').target], ['user:1', 'stream', 'list', 'z']);
  const lrange = find('LRANGE');
  assert.deepEqual([text(lrange.responseBody), lrange.fields['redis.elements'], lrange.fields['redis.args']], ['1) "a"\n2) "b"\n3) "c"', 3, 3]);
  assert.equal(text(find('HSET').requestBody), '"HSET" "h" "f1" "v1" "f2" "bin\\x01\\"q\\""');
  // redis-cli prints the replies as the entries render them.
  assert.equal(outputs[1].trimEnd(), text(get.responseBody));
  assert.equal(outputs[6].trimEnd(), text(lrange.responseBody));
  assert.equal(outputs[8].trimEnd(), text(find('HGETALL').responseBody));
  assert.equal(outputs[15].trimEnd(), text(find('XREAD').responseBody), 'XREAD: nested arrays');
  const in3 = find('SET', 'in3');
  assert.deepEqual([find('SELECT').fields['redis.db'], in3.fields['redis.db'], get.fields['redis.db']], [3, 3, 0]);
  // MULTI/EXEC.
  const queued = e.filter((x) => x.fields['redis.queued'] === 1);
  assert.deepEqual(queued.map((x) => `${x.operation} ${text(x.responseBody)}`), ['SET QUEUED', 'INCR QUEUED', 'LPUSH QUEUED']);
  const exec = find('EXEC');
  assert.deepEqual(exec.requestHeaders.toPairs(), [['1', 'SET t1'], ['2', 'INCR t1'], ['3', 'LPUSH t1']]);
  assert.equal(text(exec.responseBody), '1) OK\n2) (integer) 2\n3) (error) WRONGTYPE Operation against a key holding the wrong kind of value');
  assert.deepEqual([exec.fields['redis.error'], outcome(exec), exec.fields['redis.elements']], ['WRONGTYPE', Outcome.clientError, 3]);
  // Inline commands (split as Redis splits them: quotes keep "v 1" one word); the socket got these replies.
  assert.equal(outputs[20], '+PONG\r\n+OK\r\n$3\r\nv 1\r\n:1\r\n');
  assert.deepEqual(inl.map((x) => `${text(x.requestBody)} → ${text(x.responseBody)}`), ['"PING" → PONG', '"SET" "inl" "v 1" → OK', '"GET" "inl" → "v 1"', '"EXISTS" "inl" "nope" → (integer) 1']);
  assert.deepEqual(inl.map((x) => `${x.operation} ${x.target}`), ['PING ', 'SET inl', 'GET inl', 'EXISTS inl']);
  // --pipe: 60 commands pipelined, then redis-cli's ECHO marker.
  const piped = e.filter((x) => x.target === 'p');
  assert.equal(piped.length, 60);
  assert.deepEqual(piped.slice(0, 3).map((x) => `${x.operation} ${text(x.responseBody)}`), ['SET OK', 'INCR (integer) 2', 'GET "2"']);
  for (const x of e) {
    assert.equal(x.dst.port, port);
    assert.equal(x.protocol, 'redis');
    assert.equal(x.protocolVersion, '2');
    // Loopback replies take microseconds; the bound only allows for a machine loaded by other suites.
    if (!x.unanswered) assert.ok(x.durationUs >= 0 && x.durationUs < 20e6 && x.endUs === x.startUs + x.durationUs, `${x.operation}: ${x.durationUs} µs`);
  }
  assert.ok(e.every((x) => !x.unanswered));
});

test('ioredis over RESP2: a pipeline, MULTI/EXEC, pub/sub (confirmations answer SUBSCRIBE, messages are one-way) — tshark\'s rows', async () => {
  const got: string[] = [];
  const c = await captureTraffic('redis-ioredis', [port], async () => {
    const r = new Redis({ port, host: '127.0.0.1', protocol: 2, lazyConnect: true });
    const sub = new Redis({ port, host: '127.0.0.1', protocol: 2, lazyConnect: true });
    await r.connect();
    await sub.connect();
    const results = await r.pipeline().set('io:1', 'a').get('io:1').incr('io:n').hset('io:h', 'f', 'v').del('io:1').exec();
    assert.deepEqual(results?.map(([err]) => err), [null, null, null, null, null]);
    assert.deepEqual(await r.multi().set('io:t', '1').incr('io:t').exec(), [[null, 'OK'], [null, 2]]);
    sub.on('message', (ch, msg) => got.push(`${ch} ${msg}`));
    sub.on('pmessage', (pat, ch, msg) => got.push(`${pat} ${ch} ${msg}`));
    await sub.subscribe('news', 'sport');
    await sub.psubscribe('n*');
    await r.publish('news', 'hello');
    await r.publish('sport', 'goal');
    await waitFor('the messages to arrive', () => got.length === 3, 30_000);
    // Patterns first: ioredis 6 waits forever on an argument-less UNSUBSCRIBE while patterns remain.
    await sub.punsubscribe('n*');
    await sub.unsubscribe();
    await r.quit();
    await sub.quit();
  });
  await assertSameAsTshark(c);
  const e = [...c.entries].sort((a, b) => a.startUs - b.startUs);
  const sub = e.find((x) => x.operation === 'SUBSCRIBE')!;
  assert.deepEqual([sub.target, sub.fields['redis.channel'], sub.fields['redis.args'], outcome(sub), sub.unanswered], ['news', 'news', 2, Outcome.ok, false]);
  assert.equal(text(sub.responseBody), '1) "subscribe"\n2) "news"\n3) (integer) 1\n1) "subscribe"\n2) "sport"\n3) (integer) 2');
  const pushes = e.filter((x) => x.fields['redis.push'] === 1);
  assert.deepEqual(
    pushes.map((x) => `${x.operation} ${x.target} ${x.fields['redis.pattern'] ?? ''} ${outcome(x)}`),
    // Redis delivers to a channel's subscribers, then to the patterns'.
    [`MESSAGE news  ${Outcome.oneWay}`, `PMESSAGE news n* ${Outcome.oneWay}`, `MESSAGE sport  ${Outcome.oneWay}`],
  );
  const unsub = e.find((x) => x.operation === 'UNSUBSCRIBE')!;
  assert.equal(text(unsub.responseBody).split('\n').filter((l) => l.startsWith('1) ')).length, 2, 'UNSUBSCRIBE without arguments: one confirmation per channel');
  assert.ok(e.every((x) => !x.unanswered), e.filter((x) => x.unanswered).map((x) => x.operation).join());
  const exec = e.find((x) => x.operation === 'EXEC')!;
  assert.deepEqual([exec.requestHeaders.toPairs(), text(exec.responseBody), outcome(exec)], [[['1', 'SET io:t'], ['2', 'INCR io:t']], '1) OK\n2) (integer) 2', Outcome.ok]);
  assert.equal(e.filter((x) => x.operation === 'PUBLISH').map((x) => text(x.responseBody)).join(), '(integer) 2,(integer) 1');
});

test('RESP3: HELLO 3, maps, sets, doubles, nulls and push frames; commands are tshark\'s, replies are redis-cli -3\'s', async () => {
  let pushed = '';
  const outputs: string[] = [];
  const c = await captureTraffic('redis-resp3', [port], async () => {
    const cli = async (...args: string[]) => outputs.push(await redisCli(port, ['-3', '--no-raw', ...args]));
    await cli('HSET', 'r3:h', 'a', '1', 'b', '2');
    await cli('HGETALL', 'r3:h');
    await cli('SADD', 'r3:s', 'x');
    await cli('SMEMBERS', 'r3:s');
    await cli('ZADD', 'r3:z', '1.5', 'm');
    await cli('ZSCORE', 'r3:z', 'm');
    await cli('GET', 'r3:none');
    // ioredis (RESP3 by default): pub/sub messages arrive as push frames.
    const sub = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
    const pub = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
    await sub.connect();
    await pub.connect();
    sub.on('message', (ch, msg) => (pushed = `${ch} ${msg}`));
    await sub.subscribe('r3');
    await pub.publish('r3', 'over resp3');
    await waitFor('the push', () => pushed !== '', 30_000);
    assert.equal(await sub.ping(), 'PONG');
    await sub.quit();
    await pub.quit();
  });
  const theirs = await tsharkResp(c.file, port);
  const e = [...c.entries].sort((a, b) => a.startUs - b.startUs);
  // The commands: tshark's, in order, on every connection.
  for (const p of new Set(e.map((x) => x.src.port))) {
    const ours = entryRows(e, p).commands.map((r) => r.split(' → ', 1)[0]);
    assert.deepEqual(ours, tsharkRows(theirs, p).commands.map((r) => r.split(' → ', 1)[0]), `client port ${p}`);
  }
  const reply = (op: string) => text(e.find((x) => x.operation === op && x.fields['redis.push'] !== 1)!.responseBody);
  assert.equal(reply('HGETALL'), outputs[1].trimEnd());
  assert.equal(reply('SMEMBERS'), outputs[3].trimEnd());
  assert.equal(reply('ZSCORE'), outputs[5].trimEnd());
  assert.equal(reply('GET'), outputs[6].trimEnd());
  assert.deepEqual([reply('HGETALL'), reply('SMEMBERS'), reply('ZSCORE'), reply('GET')], ['1# "a" => "1"\n2# "b" => "2"', '1~ "x"', '(double) 1.5', '(nil)']);
  const hget = e.find((x) => x.operation === 'HGETALL')!;
  assert.deepEqual([hget.protocolVersion, hget.fields['redis.reply'], hget.fields['redis.elements']], ['3', 'map', 2]);
  const hello = e.filter((x) => x.operation === 'HELLO');
  assert.ok(hello.length >= 9, 'redis-cli -3 and ioredis say HELLO 3');
  const sub = e.find((x) => x.operation === 'SUBSCRIBE')!;
  assert.deepEqual([sub.unanswered, sub.fields['redis.reply'], text(sub.responseBody)], [false, 'push', '1) "subscribe"\n2) "r3"\n3) (integer) 1']);
  const push = e.find((x) => x.fields['redis.push'] === 1)!;
  assert.deepEqual([push.operation, push.target, text(push.responseBody), outcome(push), push.fields['redis.reply']], ['MESSAGE', 'r3', '1) "message"\n2) "r3"\n3) "over resp3"', Outcome.oneWay, 'push']);
  const ping = e.find((x) => x.operation === 'PING')!;
  assert.equal(text(ping.responseBody), 'PONG', 'a subscribed RESP3 client gets a plain PONG, paired with its PING');
  assert.ok(e.every((x) => !x.unanswered));
});

test('redis-benchmark -P 16: one entry per command, every one answered, as tshark counts them', async () => {
  const c = await captureTraffic('redis-benchmark', [port], async () => {
    const child = spawn('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-P', '16', '-n', '2000', '-c', '4', '-t', 'ping,set,get,lpush,lrange_100', '-q'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  });
  const theirs = await tsharkResp(c.file, port);
  const commands = theirs.filter((m) => m.fromClient).length;
  assert.ok(commands >= 5 * 2000, `${commands} commands`);
  const ours = c.entries.filter((x) => x.fields['redis.push'] !== 1);
  // tshark does not decode inline commands (PING_INLINE), only their replies: there the replies are compared.
  const inlinePorts = new Set(ours.filter((x) => x.fields['redis.inline'] === 1).map((x) => x.src.port));
  for (const p of inlinePorts) {
    const replies = theirs.filter((m) => m.clientPort === p);
    assert.ok(replies.every((m) => !m.fromClient));
    assert.deepEqual(ours.filter((x) => x.src.port === p).map((x) => text(x.responseBody)), replies.map((m) => cliFormat(m.value)), `client port ${p}`);
  }
  assert.equal(ours.length, commands + 2000, 'an entry per command tshark sees, and the inline ones');
  assert.equal(ours.filter((x) => x.unanswered).length, 0);
  const byOp = (op: string) => ours.filter((x) => x.operation === op).length;
  assert.deepEqual([byOp('SET'), byOp('GET'), byOp('LRANGE')], [2000, 2000, 2000]);
  assert.ok(byOp('PING') >= 4000, 'PING_INLINE and PING_MBULK');
  assert.equal(ours.filter((x) => x.fields['redis.inline'] === 1).length, 2000, 'PING_INLINE sends inline PINGs');
  for (const p of new Set(ours.map((x) => x.src.port))) {
    if (inlinePorts.has(p)) continue;
    assert.deepEqual(entryRows(ours, p).commands, tsharkRows(theirs, p).commands, `client port ${p}`);
  }
});
