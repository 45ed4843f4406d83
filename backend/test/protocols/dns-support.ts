/**
 * Test support for DNS: dnsmasq serving a local zone on 127.0.0.1, dig as the client, and tshark's
 * reading of a capture (the reference the entries are compared with).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { waitFor } from '../../../test/support/wait.js';

const run = promisify(execFile);

export class Dnsmasq {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly log: () => string,
  ) {}

  /** Starts dnsmasq in the foreground on 127.0.0.1:`port` (UDP and TCP) with `options`; resolves once it answers. */
  static async start(port: number, options: string[]): Promise<Dnsmasq> {
    const args = [
      '--no-daemon', '--conf-file=/dev/null', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
      '--no-resolv', '--no-hosts', '--user=root', '--log-facility=-', ...options,
    ];
    const child = spawn('dnsmasq', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const d = new Dnsmasq(child, port, () => log);
    try {
      await waitFor(() => `dnsmasq to start: ${log}`, () => /started, version/.test(log) || child.exitCode !== null, 10_000);
      if (child.exitCode !== null) throw new Error(`dnsmasq failed: ${log}`);
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    return d;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** `dig @127.0.0.1 -p port args…`; its output (dig exits 9 when no server answered: not an error here). */
export async function dig(port: number, ...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), ...args]);
    return stdout;
  } catch (e) {
    const err = e as { code?: number; stdout?: string };
    if (err.code === 9 && err.stdout !== undefined) return err.stdout;
    throw e;
  }
}

/** One DNS message as tshark reads it. */
export interface TsharkDns {
  frame: number;
  transport: 'udp' | 'tcp';
  clientPort: number;
  id: number;
  name: string;
  type: number;
  response: boolean;
  rcode: number;
  truncated: boolean;
  /** A response's time since its query (µs), from tshark's dns.time; 0 for queries. */
  timeUs: number;
}

/** Every DNS message tshark finds in `file`, decoding `port` (UDP and TCP) as DNS; several in one frame apart. */
export async function tsharkDns(file: string, port: number): Promise<TsharkDns[]> {
  const args = ['-r', file, '-n', '-o', 'tcp.reassemble_out_of_order:TRUE', '-d', `udp.port==${port},dns`, '-d', `tcp.port==${port},dns`, '-Y', 'dns'];
  args.push(
    '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=|',
    '-e', 'frame.number', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'tcp.srcport', '-e', 'tcp.dstport',
    '-e', 'dns.id', '-e', 'dns.qry.name', '-e', 'dns.qry.type', '-e', 'dns.flags.response', '-e', 'dns.flags.rcode', '-e', 'dns.flags.truncated', '-e', 'dns.time',
  );
  const { stdout } = await run('tshark', args, { maxBuffer: 256 << 20 });
  const out: TsharkDns[] = [];
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [frame, us, ud, ts, td, ids, names, types, responses, rcodes, tcs, times] = line.split('\t');
    const transport = us ? 'udp' : 'tcp';
    const sport = Number(us || ts);
    const dport = Number(ud || td);
    const list = (s: string) => (s ? s.split('|') : []);
    const [idL, nameL, typeL, respL, rcodeL, tcL, timeL] = [ids, names, types, responses, rcodes, tcs, times].map(list);
    idL.forEach((id, i) => {
      const response = respL[i] === '1' || respL[i] === 'True';
      out.push({
        frame: Number(frame),
        transport,
        clientPort: response ? dport : sport,
        id: Number(id),
        name: nameL[i] ?? '',
        type: Number(typeL[i] ?? 0),
        response,
        rcode: Number(rcodeL[i] ?? 0),
        truncated: tcL[i] === '1' || tcL[i] === 'True',
        timeUs: Math.round(Number(timeL[i] ?? 0) * 1e6),
      });
    });
  }
  return out;
}

/** tshark's messages as exchanges: each query (the first of its id while unanswered) with the next response of that id. */
export interface DnsExchange {
  /** `transport client-port id`. */
  key: string;
  name: string;
  type: number;
  /** null when unanswered. */
  rcode: number | null;
  truncated: boolean;
  /** The response's time since the query (µs), null when unanswered. */
  latencyUs: number | null;
}

export function tsharkExchanges(messages: TsharkDns[]): DnsExchange[] {
  const waiting = new Map<string, DnsExchange>();
  const all: DnsExchange[] = [];
  for (const m of messages) {
    const key = `${m.transport} ${m.clientPort} ${m.id}`;
    if (!m.response) {
      if (waiting.has(key)) continue; // a retransmission
      const x: DnsExchange = { key, name: m.name, type: m.type, rcode: null, truncated: false, latencyUs: null };
      waiting.set(key, x);
      all.push(x);
    } else {
      const x = waiting.get(key);
      if (!x) continue;
      waiting.delete(key);
      x.rcode = m.rcode;
      x.truncated = m.truncated;
      x.latencyUs = m.timeUs;
    }
  }
  return all;
}
