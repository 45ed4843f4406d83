/**
 * Test support for MQTT: mosquitto on 127.0.0.1 with its configuration (and password file) in a
 * temp dir, the mosquitto clients, and tshark's reading of a capture (the reference).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../../../test/support/wait.js';

const run = promisify(execFile);

export class Mosquitto {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly port: number,
    readonly log: () => string,
  ) {}

  /**
   * Starts mosquitto in the foreground on 127.0.0.1:`port`; with `users`, a password file made by
   * mosquitto_passwd and no anonymous access. Resolves once it listens.
   */
  static async start(port: number, users: Record<string, string> = {}): Promise<Mosquitto> {
    const dir = mkdtempSync(join(tmpdir(), 'tapline-mosquitto-'));
    // As root, mosquitto would switch to its own user, which cannot read the temp dir.
    const conf = [`listener ${port} 127.0.0.1`, 'user root', 'persistence false', 'log_dest stderr', 'log_type all'];
    const names = Object.keys(users);
    if (names.length === 0) conf.push('allow_anonymous true');
    else {
      const file = join(dir, 'passwd');
      writeFileSync(file, '');
      for (const name of names) await run('mosquitto_passwd', ['-b', file, name, users[name]]);
      conf.push('allow_anonymous false', `password_file ${file}`);
    }
    writeFileSync(join(dir, 'mosquitto.conf'), conf.join('\n') + '\n');
    const child = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const m = new Mosquitto(child, dir, port, () => log);
    try {
      await waitFor(() => `mosquitto to start: ${log}`, () => / running/.test(log) || child.exitCode !== null, 10_000);
      if (child.exitCode !== null) throw new Error(`mosquitto failed: ${log}`);
    } catch (e) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return m;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs a mosquitto client (mosquitto_pub, mosquitto_sub) against 127.0.0.1:`port`; its output. */
export async function mosquittoClient(tool: 'mosquitto_pub' | 'mosquitto_sub', port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(tool, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 20_000 });
  return stdout;
}

/** A long-running mosquitto_sub: resolves once the broker has acknowledged its subscription. */
export class Subscriber {
  output = '';
  private constructor(private readonly child: ChildProcess) {}

  static async start(port: number, broker: Mosquitto, clientId: string, ...args: string[]): Promise<Subscriber> {
    const child = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-i', clientId, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const s = new Subscriber(child);
    child.stdout!.on('data', (d) => (s.output += d));
    // mosquitto logs "Sending SUBACK to <id>" once the subscription is in place.
    await waitFor(() => `${clientId}'s SUBACK: ${broker.log()}`, () => broker.log().includes(`Sending SUBACK to ${clientId}`) || child.exitCode !== null);
    return s;
  }

  /** Waits for the process to exit by itself (-C count reached) and returns its output. */
  async done(): Promise<string> {
    if (this.child.exitCode === null) await once(this.child, 'exit');
    return this.output;
  }
}

/** One MQTT control packet as tshark reads it. */
export interface TsharkMqtt {
  frame: number;
  srcPort: number;
  dstPort: number;
  type: number;
  qos: number;
  id: number;
  topic: string;
  clientId: string;
  /** CONNACK (3.1.1 return code or 5.0 reason), PUBACK/PUBREC/PUBCOMP/DISCONNECT reason, SUBACK's highest code. */
  reason: number | null;
}

const REASON_FIELDS = [
  'mqtt.conack.val', 'mqtt.connack.reason_code', 'mqtt.puback.reason_code', 'mqtt.pubrec.reason_code', 'mqtt.pubcomp.reason_code',
  'mqtt.disconnect.reason_code', 'mqtt.suback.qos', 'mqtt.suback.reason_code', 'mqtt.unsuback.reason_code',
];

/** Every MQTT packet tshark finds in `file` (port `port` decoded as MQTT), several in one frame apart. */
export async function tsharkMqtt(file: string, port: number): Promise<TsharkMqtt[]> {
  const { stdout } = await run(
    'tshark',
    ['-r', file, '-n', '-o', 'tcp.reassemble_out_of_order:TRUE', '-d', `tcp.port==${port},mqtt`, '-Y', 'mqtt', '-T', 'json', '-J', 'frame tcp mqtt', '--no-duplicate-keys'],
    { maxBuffer: 1 << 30 },
  );
  const out: TsharkMqtt[] = [];
  const num = (v: unknown) => (v === undefined ? undefined : Number(v));
  for (const pkt of JSON.parse(stdout) as Array<{ _source: { layers: Record<string, unknown> } }>) {
    const l = pkt._source.layers;
    const frame = l.frame as Record<string, string>;
    const tcp = l.tcp as Record<string, string>;
    const layers = (Array.isArray(l.mqtt) ? l.mqtt : [l.mqtt]) as Array<Record<string, unknown>>;
    for (const m of layers) {
      const flat: Record<string, unknown> = {};
      const walk = (o: Record<string, unknown>) => {
        for (const [k, v] of Object.entries(o)) {
          if (v !== null && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>);
          if (!(k in flat)) flat[k] = v;
        }
      };
      walk(m);
      const codes = REASON_FIELDS.flatMap((f) => (flat[f] === undefined ? [] : [flat[f]].flat().map(Number)));
      out.push({
        frame: Number(frame['frame.number']),
        srcPort: Number(tcp['tcp.srcport']),
        dstPort: Number(tcp['tcp.dstport']),
        type: num(flat['mqtt.msgtype']) ?? 0,
        qos: num(flat['mqtt.qos']) ?? 0,
        id: num(flat['mqtt.msgid']) ?? 0,
        topic: String(flat['mqtt.topic'] ?? ''),
        clientId: String(flat['mqtt.clientid'] ?? ''),
        reason: codes.length === 0 ? null : Math.max(...codes),
      });
    }
  }
  return out;
}
