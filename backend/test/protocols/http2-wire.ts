/** Test support: HTTP/2 frames and HPACK fields built by hand (raw literals, no Huffman), and a connection to feed them to. */
import type { ConnectionInfo, Direction, StreamConsumer } from '../../src/net/stream.js';
import type { DissectorLimits, Exchange } from '../../src/protocols/dissector.js';
import { grpcDissector } from '../../src/protocols/grpc/dissector.js';
import { http2Dissector } from '../../src/protocols/http2/dissector.js';
import { Dissectors } from '../../src/protocols/registry.js';
import { defaultDissectorLimits } from '../../src/protocols/dissector.js';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export function frame(type: number, flags: number, stream: number, payload: Buffer | string): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  const h = Buffer.alloc(9);
  h.writeUIntBE(p.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, p]);
}

/** An HPACK integer with an n-bit prefix, the prefix's other bits from `first`. */
export function integer(value: number, prefix: number, first = 0): Buffer {
  const max = (1 << prefix) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

function str(s: string): Buffer {
  return Buffer.concat([integer(s.length, 7), Buffer.from(s, 'latin1')]);
}

/** A literal field: `indexed` adds it to the dynamic table; `nameIndex` takes the name from an index. */
export function literal(name: string | number, value: string, indexed = false): Buffer {
  const prefix = indexed ? 6 : 4;
  const first = indexed ? 0x40 : 0x00;
  return typeof name === 'number' ? Buffer.concat([integer(name, prefix, first), str(value)]) : Buffer.concat([Buffer.from([first]), str(name), str(value)]);
}

/** An indexed field (static 1–61, dynamic from 62). */
export function indexed(index: number): Buffer {
  return integer(index, 7, 0x80);
}

export function sizeUpdate(size: number): Buffer {
  return integer(size, 5, 0x20);
}

/** A request's header block: :method, :scheme http, :path, :authority as raw literals. */
export function requestBlock(method: string, path: string, extra: Buffer[] = []): Buffer {
  return Buffer.concat([literal(2, method), indexed(6), literal(4, path), literal(1, 'h2.test'), ...extra]);
}

export const HEADERS = 1;
export const DATA = 0;
export const END_STREAM = 1;
export const END_HEADERS = 4;

/** An HTTP/2 connection through the real registry: direction 0 is the client; exchanges collected. */
export function connection(limits: DissectorLimits = defaultDissectorLimits): {
  consumer: StreamConsumer;
  exchanges: Array<Exchange & { protocol: string }>;
  counters: Dissectors['protocolCounters'];
  send(dir: Direction, bytes: Buffer): void;
} {
  const exchanges: Array<Exchange & { protocol: string }> = [];
  const d = new Dissectors((x, _conn, dissector) => String(exchanges.push({ ...x, protocol: dissector.protocol })), limits, [http2Dissector, grpcDissector]);
  const conn: ConnectionInfo = { id: 1, transport: 'tcp', ip: ['127.0.0.1', '127.0.0.2'], port: [40000, 80], clientDir: 0, midStream: false };
  const consumer = d.claimStream(http2Dissector, conn, 0);
  let ts = 1_700_000_000_000_000;
  return { consumer, exchanges, counters: d.protocolCounters, send: (dir, bytes) => consumer.data(dir, bytes, 0, bytes.length, (ts += 1000)) };
}
