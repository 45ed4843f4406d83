/**
 * Benchmark: `tapline import` of an AMQP 0-9-1 capture of ≥ 100k publishes against
 * `tshark -T fields` on the same file (goal: ≥ 10x less CPU).
 *
 *   node --import tsx bench/capture-offline-amqp.ts [--publishes 100000] [--keep FILE] [--file FILE --port N]
 *
 * Builds the capture from real traffic: a RabbitMQ node of its own on 127.0.0.1 and eight amqplib
 * connections on confirm channels, each Basic.Publish (method, content header and body frames)
 * after the broker's Basic.Ack of the one before, captured by tcpdump on lo. Then, one after the
 * other on that file: the import pipeline into a counting sink, and tshark's AMQP fields. Prints
 * CPU time (the machine is shared: CPU, not wall time), publishes per CPU-second and the ratio.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { captureBenchArgs, importVsTshark } from './import-support.js';
import { Tcpdump } from '../backend/test/agent/traffic.js';
import { RabbitMq } from '../backend/test/protocols/amqp-support.js';

const args = captureBenchArgs('publishes');
const PUBLISHES = args.count;
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-amqp-'));
const file = args.file ?? join(dir, 'amqp.pcap');

async function record(): Promise<number> {
  const rabbit = await RabbitMq.start('bench', 'bench-password');
  const dump = await Tcpdump.start('lo', `host 127.0.0.1 and tcp port ${rabbit.port}`, file, [], false);
  try {
    const CLIENTS = 8;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const conn = await amqplib.connect(rabbit.url);
        const ch = await conn.createConfirmChannel();
        // A bounded queue: the broker drops the oldest instead of holding 100k messages.
        await ch.assertQueue(`bench.${c}`, { durable: false, arguments: { 'x-max-length': 1000 } });
        for (let j = c; j < PUBLISHES; j += CLIENTS) {
          await new Promise<void>((resolve, reject) =>
            ch.publish('', `bench.${c}`, Buffer.from(`{"seq":${j},"value":${(j * 7) % 1000}}`), { contentType: 'application/json' }, (err) => (err ? reject(err) : resolve())),
          );
        }
        await ch.close();
        await conn.close();
      }),
    );
  } finally {
    await dump.stop();
    await rabbit.stop();
  }
  console.log(`tcpdump: ${dump.droppedByKernel()} packets dropped by the kernel`);
  if (args.keep) copyFileSync(file, args.keep);
  return rabbit.port;
}

try {
  const port = args.file ? args.port : await record();
  if (!port) throw new Error('--file needs --port (the broker port in the capture)');
  await importVsTshark(
    file,
    ['-d', `tcp.port==${port},amqp`, '-Y', 'amqp', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'frame.number', '-e', 'amqp.channel',
      '-e', 'amqp.method.class', '-e', 'amqp.method.method', '-e', 'amqp.method.arguments.routing_key', '-e', 'amqp.method.arguments.delivery_tag'],
    (stdout) =>
      stdout.split('\n').reduce((n, line) => {
        const [, , classes = '', methods = ''] = line.split('\t');
        const m = methods.split(',');
        return n + classes.split(',').filter((c, i) => c === '60' && m[i] === '40').length;
      }, 0),
    'Basic.Publish methods',
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
