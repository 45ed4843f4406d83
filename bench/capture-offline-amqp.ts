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
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import amqplib from 'amqplib';
import { importCaptureFile } from '../backend/src/agent/import-file.js';
import { CountingSink, timed } from './import-support.js';
import { Tcpdump } from '../backend/test/agent/traffic.js';
import { RabbitMq } from '../backend/test/protocols/amqp-support.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    publishes: { type: 'string', default: '100000' },
    keep: { type: 'string' },
    file: { type: 'string' },
    port: { type: 'string' },
  },
});
const PUBLISHES = Number(values.publishes);
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-amqp-'));
const file = values.file ?? join(dir, 'amqp.pcap');

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
  if (values.keep) copyFileSync(file, values.keep);
  return rabbit.port;
}

try {
  const port = values.file ? Number(values.port) : await record();
  if (!port) throw new Error('--file needs --port (the broker port in the capture)');
  const sink = new CountingSink();
  const imp = await timed(() => importCaptureFile(file, sink));
  const packets = imp.value.counters.packets;
  const tshark = await timed(async () => {
    const { stdout } = await run(
      'tshark',
      ['-r', file, '-n', '-d', `tcp.port==${port},amqp`, '-Y', 'amqp', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,',
        '-e', 'frame.number', '-e', 'amqp.channel', '-e', 'amqp.method.class', '-e', 'amqp.method.method', '-e', 'amqp.method.arguments.routing_key', '-e', 'amqp.method.arguments.delivery_tag'],
      { maxBuffer: 1 << 30 },
    );
    let publishes = 0;
    for (const line of stdout.split('\n')) {
      const [, , classes = '', methods = ''] = line.split('\t');
      const m = methods.split(',');
      classes.split(',').forEach((c, i) => {
        if (c === '60' && m[i] === '40') publishes++;
      });
    }
    return { publishes };
  });
  const rate = (n: number, ms: number) => `${((n * 1000) / ms / 1000).toFixed(0)}k`;
  const row = (name: string, t: { ms: number; cpuMs: number }, what: string) =>
    console.log(`${name.padEnd(34)} ${t.ms.toFixed(0).padStart(6)} ms wall ${t.cpuMs.toFixed(0).padStart(6)} ms CPU  ${what}`);
  console.log(`machine: ${cpus().length} × ${cpus()[0].model}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  console.log(`capture: ${packets} packets, tshark: ${tshark.value.publishes} Basic.Publish methods`);
  row('import pipeline (counting sink)', imp, `${rate(sink.count, imp.cpuMs)} entries per CPU-s (${sink.count} entries, ${sink.answered} answered)`);
  row('tshark -T fields', tshark, `${rate(tshark.value.publishes, tshark.cpuMs)} publishes per CPU-s`);
  console.log(`ratio (CPU): import is ${(tshark.cpuMs / imp.cpuMs).toFixed(1)}x cheaper than tshark (goal ≥ 10x)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
