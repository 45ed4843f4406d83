/**
 * Garbage in: random bytes on an HTTP connection, random frames, damaged files. Never a crash
 * or a hang; a clear error or counted parse errors; memory within the caps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { LINKTYPE_ETHERNET } from '../../src/capture/link.js';
import { Conversation, ethernet, pcapFile, type Frame } from '../capture/frames.js';
import { importFrames, tempFile } from './run.js';

const run = promisify(execFile);
const cli = new URL('./cli.ts', import.meta.url).pathname;
const client = { ip: '10.2.0.1', port: 41000 };
const server = { ip: '10.2.0.2', port: 80 };

test('random bytes on an HTTP connection, then a real exchange on another: one entry, errors counted', async () => {
  const junk = new Conversation(client, server).handshake();
  junk.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); // looks like HTTP at first...
  junk.send(randomBytes(20_000), 1400); // ...then is not
  junk.reply(randomBytes(20_000), 1400);
  const good = new Conversation({ ip: client.ip, port: 41001 }, server).handshake();
  good.send('GET /ok HTTP/1.1\r\n\r\n');
  good.reply('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  const { entries, result } = await importFrames([...junk.frames, ...good.frames]);
  const ok = entries.filter((e) => e.target === '/ok');
  assert.equal(ok.length, 1);
  assert.equal(ok[0].status, 200);
  // The junk connection's request is real and never answered by an HTTP response.
  assert.ok(entries.every((e) => e.target === '/ok' || e.status === 0));
  assert.ok(result.counters.protocols.http.parseErrors > 0);
});

test('property: any bytes in any segmentation never throw, and buffers stay within the caps', async () => {
  const chunk = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.constantFrom(
      'GET / HTTP/1.1\r\n', 'HTTP/1.1 200 OK\r\n', 'Content-Length: 5\r\n', 'Transfer-Encoding: chunked\r\n',
      '\r\n', '5\r\nhello\r\n', '0\r\n\r\n', 'Content-Encoding: gzip\r\n', 'HTTP/1.1 101 Switching\r\n', 'Upgrade: x\r\n',
      'ffffffffffff\r\n', 'Content-Length: 99999999999\r\n', 'HEAD /x HTTP/1.0\r\n',
    ).map((s) => Buffer.from(s)),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.boolean(), chunk, fc.integer({ min: 1, max: 64 })), { maxLength: 40 }),
      fc.array(fc.nat({ max: 200 }), { maxLength: 5 }),
      async (steps, drops) => {
        const c = new Conversation(client, server).handshake();
        for (const [fromClient, bytes, mss] of steps) {
          if (bytes.length === 0) continue;
          if (fromClient) c.send(bytes, mss);
          else c.reply(bytes, mss);
        }
        c.close();
        // Lose some frames (gaps) and duplicate one.
        const frames = c.frames.filter((_, i) => !drops.includes(i));
        if (frames.length > 5) frames.push(frames[4]);
        const { entries, result } = await importFrames(frames, {
          connections: { maxConnections: 10, maxBufferedPerDirection: 2000, maxBufferedBytes: 4000, idleTimeoutUs: 60e6, closedLingerUs: 1e6 },
        });
        assert.ok(result.counters.peakBufferedBytes <= 4000 + 2000);
        for (const e of entries) {
          assert.equal(typeof e.operation, 'string');
          assert.ok(e.responseBody.bytes.length <= 64 * 1024);
          assert.ok(e.durationUs >= 0);
        }
      },
    ),
    { numRuns: 60, seed: 42 },
  );
});

test('random frames of every size are counted as not IP / malformed, never thrown', async () => {
  const frames: Frame[] = [];
  for (let i = 0; i < 300; i++) frames.push({ tsUs: 1e15 + i, data: randomBytes(1 + (i % 120)) });
  // Ethernet frames that say IPv4 but carry junk.
  for (let i = 0; i < 100; i++) frames.push({ tsUs: 1e15 + 400 + i, data: ethernet(Buffer.concat([Buffer.from([0x45]), randomBytes(i)])) });
  const { entries, result } = await importFrames(frames, {}, LINKTYPE_ETHERNET);
  assert.equal(entries.length, 0);
  const c = result.counters;
  assert.equal(c.packets, 400);
  assert.equal(c.nonIp + c.malformed + c.nonTcpUdp + c.fragments + c.strays + c.connections + c.udpDatagrams > 0, true);
});

test('tapline import: a file that is not a capture fails with a clear message and exit code 1', async () => {
  const f = tempFile('bad.pcap');
  writeFileSync(f, 'hello, I am a text file\n');
  const r = await run(process.execPath, ['--import', 'tsx', cli, 'import', f, '--json']).then(
    () => assert.fail('should fail'),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /neither pcap nor pcapng \(magic number 0x68656c6c\) \(at byte 0\)/);
});

test('tapline import: a truncated file imports what is whole, says where it ends, exit code 2', async () => {
  const c = new Conversation(client, server).handshake();
  c.send('GET /whole HTTP/1.1\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  c.send('GET /cut HTTP/1.1\r\n\r\n');
  const bytes = pcapFile(LINKTYPE_ETHERNET, c.frames);
  const f = tempFile('trunc.pcap');
  writeFileSync(f, bytes.subarray(0, bytes.length - 20));
  const r = await run(process.execPath, ['--import', 'tsx', cli, 'import', f, '--json']).then(
    () => assert.fail('should fail'),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  assert.equal(r.code, 2);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((e) => [e.target, e.status]), [['/whole', 200]]);
  assert.equal(lines[0].responseBody.text, 'ok');
  assert.match(r.stderr, /ends inside a record \(\d+ of \d+ bytes present\) \(at byte \d+\); the entries before it were imported/);
  assert.match(r.stderr, /entries\s+1\n/);
});
