/**
 * Test support for AMQP: a RabbitMQ node of its own (a non-default node name, free ports, its
 * data, logs, config, Erlang cookie and its own epmd in a temp dir: nothing shared with a system
 * broker), amqp-tools, and tshark's reading of a capture (the reference).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../../test/support/ports.js';
import { waitFor } from '../../../test/support/wait.js';

const run = promisify(execFile);

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Whether the process group led by `pid` still has a member. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class RabbitMq {
  private constructor(
    private readonly epmd: ChildProcess,
    private readonly server: ChildProcess,
    private readonly dir: string,
    readonly port: number,
    readonly user: string,
    readonly password: string,
    readonly log: () => string,
  ) {}

  get url(): string {
    return `amqp://${this.user}:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}`;
  }

  /**
   * Starts epmd on a free port and a RabbitMQ node registered with it (the default user
   * `user`/`password`); resolves once the node says it has started (it takes seconds).
   */
  static async start(user: string, password: string): Promise<RabbitMq> {
    const dir = mkdtempSync(join(tmpdir(), 'tapline-rabbitmq-'));
    const [epmdPort, port, distPort] = [await freePort(), await freePort(), await freePort()];
    const epmd = spawn('epmd', ['-port', String(epmdPort), '-address', '127.0.0.1'], { stdio: 'ignore' });
    let server: ChildProcess | undefined;
    let log = '';
    try {
      await waitFor('epmd to listen', () => listening(epmdPort));
      for (const d of ['mnesia', 'log', 'home']) mkdirSync(join(dir, d));
      writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
      writeFileSync(join(dir, 'rabbitmq.conf'), [`listeners.tcp.default = 127.0.0.1:${port}`, `default_user = ${user}`, `default_pass = ${password}`, ''].join('\n'));
      const env = {
        PATH: process.env.PATH,
        HOME: join(dir, 'home'), // the Erlang cookie goes there
        ERL_EPMD_PORT: String(epmdPort),
        RABBITMQ_NODENAME: `tapline-${process.pid}-${port}@localhost`,
        RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
        RABBITMQ_NODE_PORT: String(port),
        RABBITMQ_DIST_PORT: String(distPort),
        RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
        RABBITMQ_LOG_BASE: join(dir, 'log'),
        RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
        RABBITMQ_LOGS: '-',
      };
      // Its own process group: the script, the Erlang VM and its helpers are stopped together.
      server = spawn('/usr/lib/rabbitmq/bin/rabbitmq-server', [], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      server.stdout!.on('data', (d) => (log += d));
      server.stderr!.on('data', (d) => (log += d));
      await waitFor(() => `RabbitMQ to start: ${log.slice(-2000)}`, () => /Server startup complete/.test(log) || server!.exitCode !== null, 90_000, 100);
      if (server.exitCode !== null) throw new Error(`rabbitmq-server exited: ${log}`);
    } catch (e) {
      if (server?.pid !== undefined && groupAlive(server.pid)) process.kill(-server.pid, 'SIGKILL');
      epmd.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return new RabbitMq(epmd, server, dir, port, user, password, () => log);
  }

  /** Stops the node's process group, then its epmd, and removes its files. */
  async stop(): Promise<void> {
    const pid = this.server.pid!;
    if (groupAlive(pid)) {
      process.kill(-pid, 'SIGTERM');
      await waitFor('RabbitMQ to stop', () => !groupAlive(pid), 30_000, 50);
    }
    if (this.epmd.exitCode === null) {
      const exited = once(this.epmd, 'exit');
      this.epmd.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs an amqp-tools command (amqp-publish, amqp-consume, amqp-declare-queue) against `url`; its output. */
export async function amqpTool(tool: string, url: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(tool, ['--url', url, ...args], { timeout: 20_000 });
  return stdout;
}

/** One AMQP method frame as tshark reads it. */
export interface TsharkMethod {
  frame: number;
  srcPort: number;
  dstPort: number;
  channel: number;
  classId: number;
  methodId: number;
  args: Record<string, string>;
}

/** Every method frame tshark finds in `file` (port `port` decoded as AMQP), in order. */
export async function tsharkAmqp(file: string, port: number): Promise<TsharkMethod[]> {
  const { stdout } = await run(
    'tshark',
    ['-r', file, '-n', '-o', 'tcp.reassemble_out_of_order:TRUE', '-d', `tcp.port==${port},amqp`, '-Y', 'amqp', '-T', 'json', '-J', 'frame tcp amqp', '--no-duplicate-keys'],
    { maxBuffer: 1 << 30 },
  );
  const out: TsharkMethod[] = [];
  for (const pkt of JSON.parse(stdout) as Array<{ _source: { layers: Record<string, unknown> } }>) {
    const l = pkt._source.layers;
    const frame = l.frame as Record<string, string>;
    const tcp = l.tcp as Record<string, string>;
    for (const a of [l.amqp].flat() as Array<Record<string, unknown>>) {
      if (a['amqp.type'] !== '1') continue;
      const raw = (a['amqp.method.arguments'] ?? {}) as Record<string, unknown>;
      const args: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') args[k.replace('amqp.method.arguments.', '')] = v;
      out.push({
        frame: Number(frame['frame.number']),
        srcPort: Number(tcp['tcp.srcport']),
        dstPort: Number(tcp['tcp.dstport']),
        channel: Number(a['amqp.channel']),
        classId: Number(a['amqp.method.class']),
        methodId: Number(a['amqp.method.method']),
        args,
      });
    }
  }
  return out;
}
