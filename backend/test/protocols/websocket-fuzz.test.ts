/**
 * Garbage in, for WebSocket: random bytes and mutated real frame streams (masked, fragmented,
 * compressed, control frames) on both directions of a handed-off connection, in random chunks.
 * Never a throw; every body kept within the limit; and a valid stream gives the same messages
 * however TCP cut it into segments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HeaderList } from '../../src/entries/entry.js';
import { defaultDissectorLimits, newProtocolCounters, type DissectorContext, type Exchange } from '../../src/protocols/dissector.js';
import { websocketDissector } from '../../src/protocols/websocket/dissector.js';
import type { Direction } from '../../src/net/stream.js';
import { client, closePayload, deflateMessages, frame } from './websocket-wire.js';

const limits = { ...defaultDissectorLimits, maxBodyBytes: 256, maxPendingRequests: 8 };

/** A connection handed to the WebSocket dissector (client in direction 0), collecting what it emits. */
function open(deflate: boolean) {
  const exchanges: Exchange[] = [];
  const counters = newProtocolCounters();
  const ctx: DissectorContext = {
    conn: { id: 1, transport: 'tcp', ip: ['127.0.0.1', '127.0.0.2'], port: [50000, 80], clientDir: 0, midStream: false },
    limits,
    counters,
    handshake: {
      entryId: 'handshake-id',
      target: '/ws',
      host: 'h',
      requestHeaders: HeaderList.of([]),
      responseHeaders: HeaderList.of(deflate ? [['Sec-WebSocket-Extensions', 'permessage-deflate; server_max_window_bits=12']] : []),
    },
    emit: (x) => {
      exchanges.push(x);
      return String(exchanges.length);
    },
    handOff: () => null,
    inner: () => {
      throw new Error('no stream is carried inside these connections');
    },
    emitAs: () => false,
  };
  return { consumer: websocketDissector.stream!.open(ctx, 0), exchanges, counters };
}

/** Valid streams of both directions: what the mutations start from. */
async function seeds(): Promise<Array<[Buffer, Buffer]>> {
  const [c1, c2] = await deflateMessages(['{"op":"sub","ch":"a"}', '{"op":"sub","ch":"a"}'], true);
  const [s1] = await deflateMessages(['x'.repeat(1000)], true);
  return [
    [
      Buffer.concat([client(1, 'hello'), client(2, Buffer.alloc(300, 3)), client(1, 'fr', { fin: false }), client(9, 'p'), client(0, 'ag'), client(8, closePayload(1000, 'bye'))]),
      Buffer.concat([frame(1, 'hi'), frame(10, 'p'), frame(9, ''), frame(8, closePayload(1000))]),
    ],
    [
      Buffer.concat([client(1, c1, { rsv1: true }), client(1, c2, { rsv1: true }), client(1, 'plain')]),
      Buffer.concat([frame(1, s1, { rsv1: true }), frame(2, Buffer.alloc(70_000, 1)), frame(8, closePayload(1011, 'x'))]),
    ],
  ];
}

type Mutation = { kind: 'set'; at: number; value: number } | { kind: 'cut'; at: number } | { kind: 'insert'; at: number; bytes: Uint8Array };

function mutate(b0: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(b0);
  for (const m of ms) {
    if (m.kind === 'set') {
      if (b.length > 0) b[m.at % b.length] = m.value;
    } else if (m.kind === 'cut') b = b.subarray(0, m.at % (b.length + 1));
    else {
      const at = m.at % (b.length + 1);
      b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    }
  }
  return b;
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
);

/**
 * Feeds both directions, each cut at `cuts` (positions modulo its length): interleaved, or the
 * client's whole before the server's (then the order between them does not depend on the cuts).
 */
function feed(consumer: ReturnType<typeof open>['consumer'], streams: [Buffer, Buffer], cuts: number[], interleave = true): void {
  const pieces: Array<[Direction, Buffer]> = [];
  for (const dir of [0, 1] as Direction[]) {
    const b = streams[dir];
    const at = [...new Set(cuts.map((c) => (b.length === 0 ? 0 : c % b.length)))].sort((x, y) => x - y);
    let from = 0;
    for (const p of [...at, b.length]) {
      if (p > from) pieces.push([dir, b.subarray(from, p)]);
      from = Math.max(from, p);
    }
  }
  // Interleave: alternately from each direction, keeping each direction's order.
  const byDir = interleave ? [pieces.filter(([d]) => d === 0), pieces.filter(([d]) => d === 1)] : [pieces];
  let t = 1_700_000_000_000_000;
  while (byDir.some((list) => list.length > 0)) {
    for (const list of byDir) {
      const next = list.shift();
      if (!next) continue;
      // A copy each time: the dissector must not keep the caller's buffer.
      const chunk = Buffer.from(next[1]);
      consumer.data(next[0], chunk, 0, chunk.length, (t += 10));
      chunk.fill(0xee);
    }
  }
  consumer.end('fin', t + 10);
}

function checkBounded(exchanges: Exchange[]): void {
  for (const x of exchanges) {
    for (const body of [x.requestBody, x.responseBody]) {
      assert.ok(body.bytes.length <= limits.maxBodyBytes, `${body.bytes.length} bytes kept`);
      assert.ok(body.bytes.length <= body.size || body.encoding !== '', 'kept more than its size');
    }
  }
}

test('property: random bytes and mutated real frame streams never throw, and keep bodies within the limit', async () => {
  const base = await seeds();
  const stream = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.nat({ max: base.length - 1 }), fc.nat({ max: 1 }), fc.array(mutation, { minLength: 1, maxLength: 5 })).map(([i, d, ms]) => mutate(base[i][d], ms)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)) },
  );
  let errors = 0;
  let messages = 0;
  fc.assert(
    fc.property(stream, stream, fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), (a, b, deflate, cuts) => {
      const c = open(deflate);
      feed(c.consumer, [a, b], cuts);
      checkBounded(c.exchanges);
      errors += c.counters.parseErrors;
      messages += c.exchanges.length;
      assert.equal(c.counters.exchanges, c.exchanges.length);
    }),
    { numRuns: 600, seed: 2323 },
  );
  // The runs did meet both: protocol errors counted and messages read.
  assert.ok(errors > 100, `${errors} parse errors`);
  assert.ok(messages > 300, `${messages} messages`);
});

test('property: a valid stream gives the same messages however it is cut into segments', async () => {
  const base = await seeds();
  const view = (xs: Exchange[]) => xs.map((x) => [x.operation, x.fields['websocket.direction'], x.status, x.statusText, x.requestBody.bytes.toString('hex'), x.requestBody.size, x.unanswered, x.incomplete]);
  const whole = base.map((s, i) => {
    const c = open(i === 1);
    feed(c.consumer, s, [], false);
    assert.equal(c.counters.parseErrors, 0);
    return view(c.exchanges);
  });
  // The client's stream whole, then the server's: its pong answers the client's ping, its close the
  // client's; its own ping is never answered.
  assert.deepEqual(whole[0].map((r) => r[0]), ['text', 'binary', 'text', 'text', 'ping', 'close', 'ping']);
  fc.assert(
    fc.property(fc.nat({ max: base.length - 1 }), fc.array(fc.nat(), { minLength: 1, maxLength: 40 }), (i, cuts) => {
      const c = open(i === 1);
      feed(c.consumer, base[i], cuts, false);
      assert.deepEqual(view(c.exchanges), whole[i]);
    }),
    { numRuns: 300, seed: 4242 },
  );
});
