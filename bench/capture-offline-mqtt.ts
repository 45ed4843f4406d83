/**
 * Benchmark: `tapline import` of an MQTT capture of ≥ 100k publishes against `tshark -T fields`
 * on the same file (goal: ≥ 10x less CPU).
 *
 *   node --import tsx bench/capture-offline-mqtt.ts [--publishes 100000] [--keep FILE] [--file FILE --port N]
 *
 * Builds the capture from real traffic: mosquitto on 127.0.0.1 and eight `mqtt` npm clients
 * publishing at QoS 1, each PUBLISH after the PUBACK of the one before (`mosquitto_pub -l` loses
 * what it has not sent when its input ends), captured by tcpdump on lo. Then, one
 * after the other on that file: the import pipeline into a counting sink, and tshark's MQTT
 * fields. Prints CPU time (the machine is shared: CPU, not wall time), publishes per CPU-second
 * and the ratio.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import mqtt from 'mqtt';
import { importCaptureFile } from '../backend/src/agent/import-file.js';
import { CountingSink, timed } from './import-support.js';
import { freePort, Tcpdump } from '../backend/test/agent/traffic.js';
import { Mosquitto } from '../backend/test/protocols/mqtt-support.js';

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
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-mqtt-'));
const file = values.file ?? join(dir, 'mqtt.pcap');

async function record(): Promise<number> {
  const port = await freePort();
  const broker = await Mosquitto.start(port);
  const dump = await Tcpdump.start('lo', `host 127.0.0.1 and tcp port ${port}`, file, [], false);
  try {
    // Eight clients, each waiting for its PUBACK before the next PUBLISH (a sensor's pace, one
    // packet a message): mqtt.js would otherwise pack dozens of messages into each segment.
    const CLIENTS = 8;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `bench-${c}`, reconnectPeriod: 0 });
        for (let j = c; j < PUBLISHES; j += CLIENTS) await client.publishAsync(`bench/sensor-${c}`, `{"seq":${j},"value":${(j * 7) % 1000}}`, { qos: 1 });
        await client.endAsync();
      }),
    );
  } finally {
    await dump.stop();
    await broker.stop();
  }
  console.log(`tcpdump: ${dump.droppedByKernel()} packets dropped by the kernel`);
  if (values.keep) copyFileSync(file, values.keep);
  return port;
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
      ['-r', file, '-n', '-d', `tcp.port==${port},mqtt`, '-Y', 'mqtt', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,',
        '-e', 'frame.number', '-e', 'mqtt.msgtype', '-e', 'mqtt.topic', '-e', 'mqtt.msgid', '-e', 'mqtt.qos'],
      { maxBuffer: 1 << 30 },
    );
    let publishes = 0;
    for (const line of stdout.split('\n')) for (const t of (line.split('\t')[1] ?? '').split(',')) if (t === '3') publishes++;
    return { publishes };
  });
  const rate = (n: number, ms: number) => `${((n * 1000) / ms / 1000).toFixed(0)}k`;
  const row = (name: string, t: { ms: number; cpuMs: number }, what: string) =>
    console.log(`${name.padEnd(34)} ${t.ms.toFixed(0).padStart(6)} ms wall ${t.cpuMs.toFixed(0).padStart(6)} ms CPU  ${what}`);
  console.log(`machine: ${cpus().length} × ${cpus()[0].model}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  console.log(`capture: ${packets} packets, tshark: ${tshark.value.publishes} PUBLISH packets`);
  row('import pipeline (counting sink)', imp, `${rate(sink.count, imp.cpuMs)} entries per CPU-s (${sink.count} entries, ${sink.answered} answered)`);
  row('tshark -T fields', tshark, `${rate(tshark.value.publishes, tshark.cpuMs)} publishes per CPU-s`);
  console.log(`ratio (CPU): import is ${(tshark.cpuMs / imp.cpuMs).toFixed(1)}x cheaper than tshark (goal ≥ 10x)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
