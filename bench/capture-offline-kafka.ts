/**
 * Benchmark: `tapline import` of a Kafka capture of ≥ 100k Produce requests against `tshark -T
 * fields` on the same file (issue 21's goal: ≥ 10x less CPU).
 *
 *   node --import tsx bench/capture-offline-kafka.ts [--requests 100000] [--in-flight N] [--keep FILE] [--file FILE --port N]
 *
 * Builds the capture from real traffic: kcat (librdkafka) producing one record a request
 * (batch.num.messages=1, linger.ms=0, acks=all) to librdkafka's mock cluster on 127.0.0.1,
 * captured by tcpdump on lo. `--in-flight` is librdkafka's max.in.flight: its default (a million)
 * pipelines, several requests to a segment; 1 waits for each answer, a request and a response a
 * segment each. Then, one after the other on that file: the import pipeline into a
 * counting sink, and tshark's Kafka fields. Prints CPU time, requests per CPU-second and the ratio.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { importThenTshark } from './import-support.js';
import { Tcpdump } from '../backend/test/agent/traffic.js';
import { kcat, MockCluster } from '../backend/test/protocols/kafka-support.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    'in-flight': { type: 'string', default: '1000000' },
    keep: { type: 'string' },
    file: { type: 'string' },
    port: { type: 'string' },
  },
});
const REQUESTS = Number(values.requests);
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-kafka-'));
const file = values.file ?? join(dir, 'kafka.pcap');

async function record(): Promise<number> {
  const cluster = await MockCluster.start();
  const dump = await Tcpdump.start('lo', `tcp port ${cluster.port}`, file, [], false);
  try {
    const lines = Array.from({ length: REQUESTS }, (_, i) => `key-${i}:value-${i} ${'x'.repeat(i % 64)}`).join('\n');
    await kcat(cluster, ['-P', '-t', 'bench', '-K:', '-p', '0', '-X', 'batch.num.messages=1', '-X', 'linger.ms=0', '-X', `queue.buffering.max.messages=${REQUESTS * 2}`, '-X', `max.in.flight=${values['in-flight']}`], `${lines}\n`);
  } finally {
    await dump.stop();
    await cluster.stop();
  }
  console.log(`tcpdump: ${dump.droppedByKernel()} packets dropped by the kernel`);
  if (values.keep) copyFileSync(file, values.keep);
  return cluster.port;
}

try {
  const port = values.file ? Number(values.port) : await record();
  if (!port) throw new Error('--file needs --port (the broker port in the capture)');
  const { sink, imp, tshark } = await importThenTshark(
    file,
    ['-n', '-d', `tcp.port==${port},kafka`, '-Y', 'kafka', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', '-e', 'frame.number',
        '-e', 'kafka.correlation_id', '-e', 'kafka.request_key', '-e', 'kafka.api_version', '-e', 'kafka.topic_name', '-e', 'kafka.error'],
    (stdout) => {
      let produce = 0;
      for (const line of stdout.split('\n')) {
        const keys = line.split('\t')[2];
        if (keys) produce += keys.split('|').filter((k) => k === '0').length;
      }
      return { produce };
    },
  );
  const packets = imp.value.counters.packets;
  const rate = (n: number, ms: number) => `${((n * 1000) / ms / 1000).toFixed(0)}k`;
  const row = (name: string, t: { ms: number; cpuMs: number }, what: string) =>
    console.log(`${name.padEnd(34)} ${t.ms.toFixed(0).padStart(6)} ms wall ${t.cpuMs.toFixed(0).padStart(6)} ms CPU  ${what}`);
  const kafka = imp.value.counters.protocols.kafka;
  console.log(`machine: ${cpus().length} × ${cpus()[0].model}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  console.log(`capture: ${packets} packets, tshark: ${tshark.value.produce} Produce requests`);
  row('import pipeline (counting sink)', imp, `${rate(sink.count, imp.cpuMs)} requests per CPU-s (${sink.count} entries, ${sink.answered} answered, ${kafka.parseErrors} parse errors)`);
  row('tshark -T fields', tshark, `${rate(tshark.value.produce, tshark.cpuMs)} Produce requests per CPU-s`);
  console.log(`ratio (CPU): import is ${(tshark.cpuMs / imp.cpuMs).toFixed(1)}x cheaper than tshark (goal ≥ 10x)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
