/**
 * Garbage in, for UDP: random bytes and mutated real UDP/IP packets through decodeIp and the flow
 * table. Never a throw; a datagram's payload always lies inside the captured bytes; the flow
 * table stays within its cap and closeAll leaves it empty.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readCaptureFile } from '../../src/capture/pcap-file.js';
import { decodeLink, ETHERTYPE_IPV4, ETHERTYPE_IPV6, LINKTYPE_ETHERNET, type L3Position } from '../../src/capture/link.js';
import { newNetCounters } from '../../src/net/counters.js';
import { FlowTable } from '../../src/net/flows.js';
import { decodeIp, IpResult, newSegment } from '../../src/net/ip.js';
import type { DatagramConsumer } from '../../src/protocols/dissector.js';
import { ethernet, ipPacket, ipUdp } from '../capture/frames.js';

/** Ethernet frames of real and built UDP datagrams: the seeds the mutations start from. */
async function seeds(): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await readCaptureFile(new URL('./fixtures/dns-lo.pcap', import.meta.url).pathname, (p) => {
    out.push(Buffer.from(p.buf.subarray(p.offset, p.offset + p.caplen)));
  });
  assert.equal(out.length, 4);
  const hop = Buffer.from([17, 0, 1, 4, 0, 0, 0, 0]);
  out.push(
    ethernet(ipUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 5353, dport: 53, payload: 'a'.repeat(40) })),
    ethernet(ipPacket('fd00::1', 'fd00::2', 0, Buffer.concat([hop, ipUdp({ src: 'fd00::1', dst: 'fd00::2', sport: 546, dport: 547, payload: 'dhcp' }).subarray(40)]))),
  );
  return out;
}

type Mutation = { kind: 'set'; at: number; value: number } | { kind: 'cut'; at: number } | { kind: 'grow'; bytes: Uint8Array };

function mutate(frame: Buffer, mutations: Mutation[]): Buffer {
  let b = Buffer.from(frame);
  for (const m of mutations) {
    if (m.kind === 'set') {
      if (b.length > 0) b[m.at % b.length] = m.value;
    } else if (m.kind === 'cut') b = b.subarray(0, m.at % (b.length + 1));
    else b = Buffer.concat([b, m.bytes]);
  }
  return b;
}

/** Checks what a consumer is given: payload bounds inside the buffer, nothing after the end. */
class Checker implements DatagramConsumer {
  ended = false;
  datagram(dir: number, buf: Buffer, start: number, end: number): void {
    assert.ok(!this.ended);
    assert.ok(dir === 0 || dir === 1);
    assert.ok(start <= end && end <= buf.length, `payload [${start}, ${end}) of ${buf.length}`);
  }
  end(): void {
    assert.ok(!this.ended);
    this.ended = true;
  }
  tick(): void {}
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // Mostly bytes in the headers (Ethernet 14 + IPv6 40 + extension 8 + UDP 8), some anywhere.
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat({ max: 70 }), value: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('grow' as const), bytes: fc.uint8Array({ maxLength: 40 }) }) },
);

test('property: mutated real UDP packets and random bytes never throw, payloads stay in bounds, the table stays under its cap', async () => {
  const base = await seeds();
  const frame = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.nat({ max: base.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 6 })).map(([i, ms]) => mutate(base[i], ms)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
  );
  let udp = 0;
  let malformed = 0;
  let evicted = 0;
  let timedOut = 0;
  await fc.assert(
    fc.property(fc.array(fc.tuple(frame, fc.nat({ max: 100 }), fc.nat({ max: 5e6 })), { minLength: 1, maxLength: 40 }), (packets) => {
      const counters = newNetCounters();
      const consumers: Checker[] = [];
      const cap = 4;
      const table = new FlowTable(() => {
        const k = new Checker();
        consumers.push(k);
        return k;
      }, counters, { maxFlows: cap, idleTimeoutUs: 10e6 });
      const seg = newSegment();
      const l3: L3Position = { etherType: 0, offset: 0, vlanTags: 0 };
      let ts = 1_700_000_000_000_000;
      for (const [data, cutAt, step] of packets) {
        ts += step;
        // Sometimes the snap length cut the frame: captured < wire length.
        const end = cutAt < 20 ? Math.min(data.length, cutAt * 4) : data.length;
        if (decodeLink(LINKTYPE_ETHERNET, data, 0, end, l3)) {
          const r = decodeIp(l3.etherType, data, l3.offset, end, data.length, seg);
          if (r === IpResult.Malformed) malformed++;
          if (r === IpResult.Udp) {
            udp++;
            assert.ok(seg.payloadStart >= l3.offset + (seg.v6 ? 48 : 28));
            assert.ok(seg.payloadStart <= seg.payloadEnd && seg.payloadEnd <= end);
            assert.ok(seg.payloadEnd - seg.payloadStart <= seg.segLen);
            assert.ok(seg.srcPort >= 0 && seg.srcPort <= 65535 && seg.dstPort >= 0 && seg.dstPort <= 65535);
            table.datagram(seg, ts);
            assert.ok(table.size <= cap);
          }
        }
        // Random raw IP too, of either version, wherever the link layer would put it.
        decodeIp(data.length > 0 && data[0] >> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, data, 0, end, data.length, seg);
        if (step > 4e6) table.tick(ts);
      }
      evicted += counters.flowsEvicted;
      timedOut += counters.flowsTimedOut;
      table.closeAll('shutdown', ts);
      assert.equal(table.size, 0);
      assert.equal(counters.currentFlows, 0);
      assert.ok(consumers.every((k) => k.ended));
      assert.equal(consumers.length, counters.flows);
    }),
    { numRuns: 500, seed: 1717 },
  );
  // The mutations must exercise both sides (datagrams decoded, headers refused) and the table's limits.
  assert.ok(udp > 1000, `${udp} datagrams decoded`);
  assert.ok(malformed > 100, `${malformed} malformed`);
  assert.ok(evicted > 10 && timedOut > 10, `${evicted} evicted, ${timedOut} timed out`);
});
