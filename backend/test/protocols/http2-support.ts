/**
 * Test support for HTTP/2: a Node h2c server that also accepts the HTTP/1.1 Upgrade (Node's
 * http2 has no h2c upgrade: the server answers 101, then Node's session takes the connection
 * and stream 1's response is written as frames of its own), nghttpd, and tshark's reading of a
 * capture: per stream, the request's method and path, the response's status and grpc-status.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http2 from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { waitFor } from '../../../test/support/wait.js';
import type { Entry } from '../../src/entries/entry.js';

const run = promisify(execFile);

/** What the test's server answers the upgraded request (stream 1) with. */
export const UPGRADED_BODY = 'upgraded\n';

/** Stream 1's response to an upgrade, as frames: HEADERS (:status 200, content-type text/plain), DATA with END_STREAM. */
function upgradeResponse(): Buffer {
  const block = Buffer.concat([Buffer.from([0x88, 0x0f, 0x10, 10]), Buffer.from('text/plain')]);
  const frame = (type: number, flags: number, payload: Buffer) => {
    const h = Buffer.alloc(9);
    h.writeUIntBE(payload.length, 0, 3);
    h[3] = type;
    h[4] = flags;
    h.writeUInt32BE(1, 5);
    return Buffer.concat([h, payload]);
  };
  return Buffer.concat([frame(1, 0x4, block), frame(0, 0x1, Buffer.from(UPGRADED_BODY))]);
}

/** Node's http2 server in cleartext, reachable with prior knowledge or by Upgrade: h2c. */
export class H2cServer {
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly tcp: Server,
    readonly h2: http2.Http2Server,
    readonly port: number,
  ) {}

  static async start(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void): Promise<H2cServer> {
    const h2 = http2.createServer();
    h2.on('stream', (stream, headers) => {
      stream.on('error', () => undefined); // resets the test provokes
      onStream(stream, headers);
    });
    h2.on('session', (session) => session.on('error', () => undefined));
    const tcp = createServer((socket) => {
      server.sockets.add(socket);
      socket.on('close', () => server.sockets.delete(socket));
      let head = Buffer.alloc(0);
      const first = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        if (head.subarray(0, 3).toString() === 'PRI') {
          socket.off('data', first);
          socket.pause();
          socket.unshift(head);
          h2.emit('connection', socket);
          return;
        }
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', first);
        socket.pause();
        if (!/^upgrade:\s*h2c\s*$/im.test(head.subarray(0, end).toString('latin1'))) {
          socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
          return;
        }
        socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n');
        socket.unshift(head.subarray(end + 4));
        h2.emit('connection', socket);
        // After Node's SETTINGS (the server preface), which the session writes first.
        setImmediate(() => socket.write(upgradeResponse()));
      };
      socket.on('data', first);
    });
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    const server: H2cServer = new H2cServer(tcp, h2, (tcp.address() as { port: number }).port);
    return server;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.tcp.close();
    await once(this.tcp, 'close');
  }
}

/** nghttpd (nghttp2-server) serving `dir` in cleartext on `address`:`port` (inside network namespace `netns` when given). */
export class Nghttpd {
  private constructor(private readonly child: ChildProcess) {}

  static async start(port: number, dir: string, address = '127.0.0.1', netns?: string): Promise<Nghttpd> {
    const inNs = (cmd: string, args: string[]): [string, string[]] => (netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, args]);
    const child = spawn(...inNs('nghttpd', ['--no-tls', '-a', address, '-d', dir, String(port)]), { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const d = new Nghttpd(child);
    await waitFor('nghttpd to answer', async () => {
      if (child.exitCode !== null) throw new Error(`nghttpd exited: ${log}`);
      return await run(...inNs('nghttp', ['-n', `http://${address}:${port}/`])).then(() => true, () => false);
    }, 10_000);
    return d;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** One stream as tshark decodes it. */
export interface TsharkStream {
  /** `client-port/stream-id`. */
  key: string;
  method: string;
  path: string;
  /** The final response's :status, 0 when none. */
  status: number;
  /** grpc-status from the trailers (or a trailers-only response), -1 when none. */
  grpcStatus: number;
}

interface TsharkFrame {
  'http2.type'?: string;
  'http2.streamid'?: string;
  'http2.header'?: Array<Record<string, string>> | Record<string, string>;
}

/** tshark's streams on `port` (decoded as HTTP/2), each with its request and status. */
export async function tsharkStreams(file: string, port: number): Promise<TsharkStream[]> {
  const args = ['-r', file, '-d', `tcp.port==${port},http2`, '-Y', 'http2.type == 1', '-T', 'json', '-J', 'tcp http2', '--no-duplicate-keys'];
  const { stdout } = await run('tshark', args, { maxBuffer: 1 << 30 });
  const packets = JSON.parse(stdout) as Array<{ _source: { layers: Record<string, unknown> } }>;
  const streams = new Map<string, TsharkStream>();
  for (const p of packets) {
    const layers = p._source.layers;
    const tcp = layers.tcp as Record<string, string>;
    // tshark follows Upgrade: h2c on other ports by itself: only `port`'s connections count.
    if (Number(tcp['tcp.dstport']) !== port && Number(tcp['tcp.srcport']) !== port) continue;
    const fromClient = Number(tcp['tcp.dstport']) === port;
    const clientPort = Number(fromClient ? tcp['tcp.srcport'] : tcp['tcp.dstport']);
    const h2 = ([] as unknown[]).concat(layers.http2 ?? []) as Array<{ 'http2.stream'?: TsharkFrame | TsharkFrame[] }>;
    for (const layer of h2) {
      for (const f of ([] as TsharkFrame[]).concat(layer['http2.stream'] ?? [])) {
        if (f['http2.type'] !== '1') continue;
        const key = `${clientPort}/${f['http2.streamid']}`;
        const headers = ([] as Array<Record<string, string>>).concat(f['http2.header'] ?? []);
        const value = (name: string) => headers.find((h) => h['http2.header.name'] === name)?.['http2.header.value'];
        let s = streams.get(key);
        if (fromClient) {
          if (!s) streams.set(key, { key, method: value(':method') ?? '', path: value(':path') ?? '', status: 0, grpcStatus: -1 });
          continue;
        }
        if (!s) streams.set(key, (s = { key, method: '', path: '', status: 0, grpcStatus: -1 }));
        const status = Number(value(':status') ?? 0);
        if (s.status === 0 && status >= 200) s.status = status;
        const grpc = value('grpc-status');
        if (grpc !== undefined) s.grpcStatus = Number(grpc);
      }
    }
  }
  return [...streams.values()];
}

/** Our entries (HTTP/2 and gRPC) as tshark's streams, to compare one to one. */
export function entryStreams(entries: readonly Entry[]): TsharkStream[] {
  return entries.map((e) => {
    if (e.protocol === 'grpc') {
      return {
        key: `${e.src.port}/${e.fields['grpc.stream_id']}`,
        method: 'POST',
        path: `/${e.fields['grpc.service']}/${e.fields['grpc.method']}`,
        status: Number(e.fields['grpc.http_status'] ?? 0),
        grpcStatus: typeof e.fields['grpc.status'] === 'number' ? e.fields['grpc.status'] : -1,
      };
    }
    return {
      key: `${e.src.port}/${e.fields['http2.stream_id']}`,
      method: e.operation,
      path: e.query === '' ? e.target : `${e.target}?${e.query}`,
      status: e.status,
      grpcStatus: -1,
    };
  });
}

/** Streams as sorted lines (`port/id method path status grpc-status`): differences read at a glance. */
export function byKey(xs: readonly TsharkStream[]): string[] {
  return [...xs]
    .sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }))
    .map((s) => `${s.key} ${s.method} ${s.path} ${s.status} ${s.grpcStatus}`);
}
