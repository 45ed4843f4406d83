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
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { captureBenchArgs, importVsTshark } from './import-support.js';
import { freePort, Tcpdump } from '../backend/test/agent/traffic.js';
import { Mosquitto } from '../backend/test/protocols/mqtt-support.js';

const args = captureBenchArgs('publishes');
const PUBLISHES = args.count;
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-mqtt-'));
const file = args.file ?? join(dir, 'mqtt.pcap');

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
  if (args.keep) copyFileSync(file, args.keep);
  return port;
}

try {
  const port = args.file ? args.port : await record();
  if (!port) throw new Error('--file needs --port (the broker port in the capture)');
  await importVsTshark(
    file,
    ['-d', `tcp.port==${port},mqtt`, '-Y', 'mqtt', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'frame.number', '-e', 'mqtt.msgtype', '-e', 'mqtt.topic', '-e', 'mqtt.msgid', '-e', 'mqtt.qos'],
    (stdout) => stdout.split('\n').reduce((n, line) => n + (line.split('\t')[1] ?? '').split(',').filter((t) => t === '3').length, 0),
    'PUBLISH packets',
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
