/**
 * Test support for Kafka: librdkafka's mock cluster (in kcat) as the broker, kcat and kafkajs as
 * clients, and tshark's reading of a capture (the reference the entries are compared with).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { waitFor } from '../../../test/support/wait.js';

const run = promisify(execFile);

/**
 * librdkafka's mock cluster lives inside a client process: a kcat producer that reads an stdin
 * nobody writes holds it (idle) while other clients reach it on the port it prints.
 */
export class MockCluster {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<MockCluster> {
    const child = spawn('kcat', ['-X', 'test.mock.num.brokers=1', '-b', 'localhost:1', '-P', '-t', 'tapline-hold'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d) => (log += d));
    const port = () => Number(/replaced with 127\.0\.0\.1:(\d+)/.exec(log)?.[1] ?? 0);
    try {
      await waitFor(() => `the mock cluster to start: ${log}`, () => port() > 0 || child.exitCode !== null, 10_000);
      if (child.exitCode !== null) throw new Error(`kcat failed: ${log}`);
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    return new MockCluster(child, port());
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    // A kcat producer blocked reading stdin notices SIGTERM once its stdin ends.
    this.child.stdin!.end();
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** Runs kcat against the cluster with `input` on stdin; resolves with its stdout once it exits 0. */
export function kcat(cluster: MockCluster, args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', ['-b', cluster.bootstrap, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`kcat ${args.join(' ')} exited ${code}: ${err}`))));
    child.stdin!.end(input);
  });
}

/** One Kafka PDU as tshark reads it. */
export interface TsharkKafka {
  frame: number;
  srcPort: number;
  dstPort: number;
  request: boolean;
  /** Request PDUs only (tshark puts its pairing's key on responses as response_key). */
  key: number;
  version: number;
  correlationId: number;
  /** A Produce request's required acks (NaN for other PDUs). */
  acks: number;
  topics: string[];
  errors: number[];
  /** Records counted in the PDU's batches (kafka.batch_size). */
  records: number;
  keys: string[];
  values: string[];
}

/** Every value of `name` under `node`, in document order (tshark's JSON nests fields in subtrees; repeated keys are arrays). */
function collect(node: unknown, name: string, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) collect(n, name, out);
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === name) for (const x of Array.isArray(v) ? v : [v]) out.push(String(x));
      else collect(v, name, out);
    }
  }
  return out;
}

const hexText = (h: string) => (h === '' ? '' : Buffer.from(h.replace(/:/g, ''), 'hex').toString('utf8'));

/** Every Kafka PDU tshark finds in `file`, decoding `port` as Kafka (several in one frame apart). */
export async function tsharkKafka(file: string, port: number): Promise<TsharkKafka[]> {
  const args = ['-r', file, '-n', '-o', 'tcp.reassemble_out_of_order:TRUE', '-d', `tcp.port==${port},kafka`, '-Y', 'kafka', '-T', 'json', '-J', 'frame tcp kafka', '--no-duplicate-keys'];
  const { stdout } = await run('tshark', args, { maxBuffer: 1 << 30 });
  const out: TsharkKafka[] = [];
  for (const packet of JSON.parse(stdout) as Array<{ _source: { layers: Record<string, unknown> } }>) {
    const layers = packet._source.layers;
    const frame = Number(collect(layers.frame, 'frame.number')[0]);
    const srcPort = Number(collect(layers.tcp, 'tcp.srcport')[0]);
    const dstPort = Number(collect(layers.tcp, 'tcp.dstport')[0]);
    const pdus = Array.isArray(layers.kafka) ? layers.kafka : [layers.kafka];
    for (const pdu of pdus) {
      const request = collect(pdu, 'kafka.request_key').length > 0;
      out.push({
        frame,
        srcPort,
        dstPort,
        request,
        key: Number(collect(pdu, request ? 'kafka.request_key' : 'kafka.response_key')[0] ?? -1),
        version: Number(collect(pdu, request ? 'kafka.request.version' : 'kafka.response.version')[0] ?? -1),
        correlationId: Number(collect(pdu, 'kafka.correlation_id')[0]),
        acks: Number(collect(pdu, 'kafka.required_acks')[0]),
        topics: [...new Set(collect(pdu, 'kafka.topic_name'))],
        errors: collect(pdu, 'kafka.error').map(Number),
        records: collect(pdu, 'kafka.batch_size').reduce((n, x) => n + Number(x), 0),
        keys: collect(pdu, 'kafka.message_key').map(hexText),
        values: collect(pdu, 'kafka.message_value').map(hexText),
      });
    }
  }
  return out;
}

/** Client ports whose connection began inside the capture (tshark saw the SYN). */
export async function tsharkClientPorts(file: string, port: number): Promise<Set<number>> {
  const { stdout } = await run('tshark', ['-r', file, '-n', '-Y', `tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.dstport==${port}`, '-T', 'fields', '-e', 'tcp.srcport']);
  return new Set(stdout.split('\n').filter(Boolean).map(Number));
}
