/**
 * Test support: real TLS sessions without a network. Node's TLS client and server (OpenSSL) talk
 * over an in-memory pipe; every chunk each side writes is recorded in order, with the key log the
 * client's `keylog` event gives. The chunks then become TCP frames (any segmentation) or are fed
 * to the dissectors directly.
 */
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { Dissectors } from '../../src/protocols/registry.js';
import { defaultDissectorLimits, type Dissector, type Exchange } from '../../src/protocols/dissector.js';
import type { ConnectionInfo } from '../../src/net/stream.js';
import { Conversation, type Frame } from '../capture/frames.js';

export interface Chunk {
  fromClient: boolean;
  bytes: Buffer;
}

export interface Session {
  chunks: Chunk[];
  keylog: string;
}

/** One end of an in-memory pipe: what it writes is recorded, then read by the other end. */
class End extends Duplex {
  peer!: End;
  constructor(
    private readonly fromClient: boolean,
    private readonly log: Chunk[],
  ) {
    super();
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.log.push({ fromClient: this.fromClient, bytes: Buffer.from(chunk) });
    this.peer.push(chunk);
    done();
  }
  override _final(done: () => void): void {
    this.peer.push(null);
    done();
  }
}

/**
 * A client sends each of `requests` (HTTP/1.1 text) over TLS and waits for the server's answer,
 * which is `HTTP/1.1 200 OK` with the request line as its body.
 */
export async function recordSession(cert: { cert: Buffer; key: Buffer }, options: tls.ConnectionOptions, requests: string[]): Promise<Session> {
  const chunks: Chunk[] = [];
  const c = new End(true, chunks);
  const s = new End(false, chunks);
  c.peer = s;
  s.peer = c;
  let keylog = '';
  const server = new tls.TLSSocket(s, { isServer: true, secureContext: tls.createSecureContext({ cert: cert.cert, key: cert.key }) });
  server.on('data', (d: Buffer) => {
    const line = d.toString('latin1').split('\r\n')[0];
    server.write(`HTTP/1.1 200 OK\r\nContent-Length: ${line.length}\r\n\r\n${line}`);
  });
  const client = tls.connect({ socket: c, rejectUnauthorized: false, servername: 'wire.tapline.test', ...options });
  client.on('keylog', (line: Buffer) => (keylog += line.toString('latin1')));
  await once(client, 'secureConnect');
  for (const r of requests) {
    client.write(r);
    await once(client, 'data');
  }
  client.end();
  await once(server, 'end');
  server.end();
  await once(client, 'close');
  return { chunks, keylog };
}

/** The session as TCP frames between two test addresses, each chunk cut into segments of `mss`. */
export function sessionFrames(session: Chunk[], mss = 1460, serverPort = 443, clientPort = 40500): Frame[] {
  const conv = new Conversation({ ip: '10.3.0.1', port: clientPort }, { ip: '10.3.0.2', port: serverPort }).handshake();
  for (const ch of session) {
    if (ch.fromClient) conv.send(ch.bytes, mss);
    else conv.reply(ch.bytes, mss);
  }
  conv.close();
  return conv.frames;
}

/**
 * Feeds chunks straight into the registry's detection and dissectors (no capture file): their
 * exchanges. `beforeEnd` runs after the last chunk, before the connection ends.
 */
export function dissect(
  chunks: Chunk[],
  dissectors: readonly Dissector[],
  beforeEnd?: () => void,
): { exchanges: Array<{ x: Exchange; protocol: string }>; registry: Dissectors } {
  const exchanges: Array<{ x: Exchange; protocol: string }> = [];
  const registry = new Dissectors((x, _c, d) => String(exchanges.push({ x, protocol: d.protocol })), defaultDissectorLimits, dissectors);
  const conn: ConnectionInfo = { id: 1, transport: 'tcp', ip: ['10.3.0.1', '10.3.0.2'], port: [40500, 443], clientDir: 0, midStream: false };
  const consumer = registry.open(conn);
  let t = 1_700_000_000_000_000;
  for (const ch of chunks) consumer.data(ch.fromClient ? 0 : 1, ch.bytes, 0, ch.bytes.length, (t += 100));
  beforeEnd?.();
  consumer.end('fin', t + 100);
  return { exchanges, registry };
}
