/**
 * Test support: real traffic on loopback, captured by real tcpdump, read by real tshark.
 * Only 127.0.0.1 and ports the test itself opened are used.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { promisify } from 'node:util';
import { waitFor } from '../../../test/support/wait.js';

const run = promisify(execFile);

export { freePort } from '../../../test/support/ports.js';

export class Tcpdump {
  private constructor(
    private readonly child: ChildProcess,
    readonly stderr: () => string,
    private readonly file: string,
  ) {}

  /**
   * Starts tcpdump writing `file`; resolves once it says it is listening. `immediate` (tests):
   * every packet is written as it comes, not when a ring block times out; off for bulk captures,
   * where per-packet writes would make tcpdump drop packets.
   */
  static async start(iface: string, filter: string, file: string, extra: string[] = [], immediate = true): Promise<Tcpdump> {
    const args = ['-i', iface, '-n', '-B', '65536', ...(immediate ? ['-U', '--immediate-mode'] : []), '-s', '0', '-w', file, ...extra, filter];
    const child = spawn('tcpdump', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const t = new Tcpdump(child, () => err, file);
    try {
      await waitFor('tcpdump to listen', () => /listening on/.test(err) || child.exitCode !== null, 10_000);
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    if (child.exitCode !== null) throw new Error(`tcpdump failed: ${err}`);
    return t;
  }

  /**
   * Waits until the file has stopped growing (tcpdump has written what the kernel handed it),
   * then stops with SIGINT (tcpdump flushes the file) and waits for the exit.
   */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    let last = -1;
    let stableSince = Date.now();
    await waitFor('the capture file to stop growing', () => {
      const size = statSync(this.file, { throwIfNoEntry: false })?.size ?? 0;
      if (size !== last) {
        last = size;
        stableSince = Date.now();
      }
      return Date.now() - stableSince >= 150;
    });
    const exited = once(this.child, 'exit');
    this.child.kill('SIGINT');
    await exited;
  }

  /** Packets the kernel dropped before tcpdump read them (from tcpdump's summary; after stop()). */
  droppedByKernel(): number {
    return Number(/(\d+) packets? dropped by kernel/.exec(this.stderr())?.[1] ?? NaN);
  }
}

/** One HTTP transaction as tshark sees it. */
export interface TsharkTransaction {
  requestFrame: number;
  responseFrame: number;
  stream: number;
  clientPort: number;
  method: string;
  uri: string;
  status: number;
}

/**
 * HTTP transactions by tshark (requests with their paired responses, via http.request_in),
 * decoding `ports` as HTTP. tshark pairs responses to requests by itself: that pairing is the reference.
 */
export async function tsharkTransactions(file: string, ports: number[]): Promise<TsharkTransaction[]> {
  // Out-of-order reassembly is off by default in Wireshark 4.0; the agent does it, so the reference must.
  const args = ['-r', file, '-n', '-o', 'tcp.reassemble_out_of_order:TRUE'];
  for (const p of ports) args.push('-d', `tcp.port==${p},http`);
  args.push(
    '-Y', 'http.request || http.response',
    '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=|',
    '-e', 'frame.number', '-e', 'tcp.stream', '-e', 'tcp.srcport',
    '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.response.code', '-e', 'http.request_in',
  );
  const { stdout } = await run('tshark', args, { maxBuffer: 256 << 20 });
  const requests = new Map<number, TsharkTransaction>();
  const responses: Array<{ frame: number; stream: number; codes: string[]; requestIn: string[] }> = [];
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [frame, stream, sport, methods, uris, codes, requestIn] = line.split('\t');
    const f = Number(frame);
    // One frame may carry several pipelined requests or responses.
    const ms = methods ? methods.split('|') : [];
    const us = uris ? uris.split('|') : [];
    ms.forEach((m, i) => {
      // Several requests in one frame share its number: number them apart with a fraction.
      const key = f + i / 100;
      requests.set(key, { requestFrame: key, responseFrame: 0, stream: Number(stream), clientPort: Number(sport), method: m, uri: us[i] ?? '', status: 0 });
    });
    if (codes) responses.push({ frame: f, stream: Number(stream), codes: codes.split('|'), requestIn: requestIn ? requestIn.split('|') : [] });
  }
  // tshark gives http.request_in only for the first of several requests sharing a frame
  // (pipelining): a response without it answers the oldest unanswered request of its stream,
  // which is how tshark's HTTP dissector itself pairs them.
  const all = [...requests.values()].sort((a, b) => a.requestFrame - b.requestFrame);
  for (const r of responses) {
    r.codes.forEach((code, i) => {
      const status = Number(code);
      if (status < 200 && status !== 101) return; // interim response: the real one follows
      const reqFrame = r.requestIn[i] ? Number(r.requestIn[i]) : undefined;
      const t = all.find(
        (x) => x.status === 0 && x.stream === r.stream && (reqFrame === undefined || Math.floor(x.requestFrame) === reqFrame) && x.requestFrame < r.frame,
      );
      if (t) {
        t.status = status;
        t.responseFrame = r.frame;
      }
    });
  }
  return [...requests.values()].sort((a, b) => a.requestFrame - b.requestFrame);
}

export async function tsharkAvailable(): Promise<void> {
  await run('tshark', ['-v']);
}
