/**
 * Benchmark: `tapline import` of a Redis capture of ≥ 100k commands against `tshark -T fields` on
 * the same file (issue 20's goal: ≥ 10x less CPU).
 *
 *   node --import tsx bench/capture-offline-redis.ts [--requests 20000] [--keep FILE] [--file FILE --port N]
 *
 * Builds the capture from real traffic: redis-benchmark -P 16 (4 clients; SET, GET, INCR, LPUSH,
 * RPOP, HSET, PING inline and multibulk: `--requests` each) against redis-server on 127.0.0.1,
 * captured by tcpdump on lo. Then, one after the other on that file: the import pipeline into a
 * counting sink, and tshark's RESP fields. Prints CPU time, commands per CPU-second and the ratio.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { importThenTshark, printComparison } from './import-support.js';
import { freePort, Tcpdump } from '../backend/test/agent/traffic.js';
import { RedisServer } from '../backend/test/protocols/redis-support.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    keep: { type: 'string' },
    file: { type: 'string' },
    port: { type: 'string' },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-redis-'));
const file = values.file ?? join(dir, 'redis.pcap');

async function record(): Promise<number> {
  const port = await freePort();
  const server = await RedisServer.start(port);
  const dump = await Tcpdump.start('lo', `tcp port ${port}`, file, [], false);
  try {
    const child = spawn(
      'redis-benchmark',
      ['-h', '127.0.0.1', '-p', String(port), '-P', '16', '-c', '4', '-n', values.requests!, '-t', 'ping,set,get,incr,lpush,rpop,hset', '-q'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const [code] = await once(child, 'exit');
    if (code !== 0) throw new Error(`redis-benchmark exited ${code}: ${out}`);
    console.log(out.split(/[\r\n]+/).filter((l) => /requests per second/.test(l)).map((l) => `redis-benchmark: ${l.trim()}`).join('\n'));
  } finally {
    await dump.stop();
    await server.stop();
  }
  console.log(`tcpdump: ${dump.droppedByKernel()} packets dropped by the kernel`);
  if (values.keep) copyFileSync(file, values.keep);
  return port;
}

try {
  const port = values.file ? Number(values.port) : await record();
  if (!port) throw new Error('--file needs --port (the Redis server port in the capture)');
  const { sink, imp, tshark } = await importThenTshark(
    file,
    ['-n', '-d', `tcp.port==${port},resp`, '-Y', 'resp', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', '-e', 'frame.number', '-e', 'tcp.dstport',
        '-e', 'resp.array.length', '-e', 'resp.bulk_string.value', '-e', 'resp.string', '-e', 'resp.error', '-e', 'resp.integer'],
    (stdout) => {
      // Commands: the top-level arrays clients send (redis-benchmark's commands are flat arrays).
      let commands = 0;
      for (const line of stdout.split('\n')) {
        const [, dport, arrays] = line.split('\t');
        if (Number(dport) === port && arrays) commands += arrays.split('|').length;
      }
      return commands;
    },
  );
  const packets = imp.value.counters.packets;
  printComparison('commands', `${packets} packets, tshark: ${tshark.value} multibulk commands (inline PINGs it does not decode)`, imp, sink, tshark, tshark.value);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
