/**
 * UDP through the agent's pipeline: datagrams reach the datagram dissectors through the flow
 * table, bad UDP lengths are counted and dropped without touching the flow, idle flows end on the
 * pipeline's tick, `finish` ends the rest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pipeline } from '../../src/agent/pipeline.js';
import { LINKTYPE_ETHERNET } from '../../src/capture/link.js';
import { Outcome, type Entry, type EntrySink } from '../../src/entries/entry.js';
import { Detection, type Dissector } from '../../src/protocols/dissector.js';
import { ethernet, ipPacket, ipTcp, ipUdp, type UdpSpec } from '../capture/frames.js';

class NullSink implements EntrySink {
  push(_e: Entry): boolean {
    return true;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
}

/** A datagram protocol for the test: a datagram starting "Q:" is a client's; it logs what it is given. */
function probe(log: string[]): Dissector {
  return {
    protocol: 'udpprobe',
    longName: 'UDP probe (test)',
    abbr: 'PROBE',
    color: '#000000',
    ports: [53],
    fields: [],
    outcomes: {},
    secrets: [],
    datagram: {
      detect(buf, start, end, flow) {
        log.push(`detect ${flow.transport} ${flow.ip[0]}:${flow.port[0]}>${flow.ip[1]}:${flow.port[1]} ${buf.toString('latin1', start, end)}`);
        return buf.toString('latin1', start, Math.min(end, start + 2)) === 'Q:' ? Detection.FromClient : Detection.No;
      },
      open: (ctx, clientDir) => {
        log.push(`open client=${clientDir}`);
        return {
          datagram: (dir, buf, start, end, tsUs) => log.push(`${dir} ${buf.toString('latin1', start, end)} @${tsUs - t0}`),
          end: (reason, tsUs) => log.push(`end ${reason} @${tsUs - t0}`),
          tick: () => {},
        };
      },
    },
    outcome: () => Outcome.ok,
    represent: () => [],
  };
}

const t0 = 1_700_000_000_000_000;
const c = { ip: '10.3.0.1', port: 41000 };
const s = { ip: '10.3.0.53', port: 53 };

function packet(ip: Buffer, tsUs: number) {
  const buf = ethernet(ip);
  return { buf, offset: 0, caplen: buf.length, wireLen: buf.length, tsUs, linkType: LINKTYPE_ETHERNET };
}

function udp(from: typeof c, to: typeof c, payload: string, extra: Partial<UdpSpec> = {}): Buffer {
  return ipUdp({ src: from.ip, dst: to.ip, sport: from.port, dport: to.port, payload, ...extra });
}

test('UDP datagrams reach the datagram dissector through the flow table; bad lengths are counted and skipped', async () => {
  const log: string[] = [];
  const pipeline = new Pipeline(new NullSink(), { protocols: [probe(log)], flows: { maxFlows: 10, idleTimeoutUs: 30e6 } });
  pipeline.packet(packet(udp(c, s, 'hello?'), t0)); // not recognised: detection goes on
  pipeline.packet(packet(udp(c, s, 'Q:1'), t0 + 1));
  pipeline.packet(packet(udp(s, c, 'A:1 but lying', { udpLength: 7 }), t0 + 2)); // shorter than the header
  pipeline.packet(packet(udp(s, c, 'A:1 too long', { udpLength: 8 + 13 }), t0 + 3)); // past the IP payload
  pipeline.packet(packet(udp(s, c, 'A:1'), t0 + 4));
  pipeline.packet(packet(ipPacket(c.ip, s.ip, 1, Buffer.from('0800f7ff00000000', 'hex')), t0 + 5)); // ICMP
  pipeline.packet(packet(ipTcp({ src: c.ip, dst: s.ip, sport: c.port, dport: 80, seq: 1, flags: 'S' }), t0 + 6));
  assert.deepEqual(log, [
    'detect udp 10.3.0.1:41000>10.3.0.53:53 hello?',
    'detect udp 10.3.0.1:41000>10.3.0.53:53 Q:1',
    'open client=0',
    '0 Q:1 @1',
    '1 A:1 @4',
  ]);
  let n = pipeline.counters();
  assert.deepEqual(
    [n.udpDatagrams, n.udpBytes, n.malformed, n.flows, n.currentFlows, n.nonTcpUdp, n.connections, n.protocols.udpprobe.connections],
    [3, 6 + 3 + 3, 2, 1, 1, 1, 1, 1],
  );
  // Idle past 30 s (capture time): the pipeline's tick ends the flow.
  pipeline.tick(t0 + 4 + 30e6 + 1);
  assert.equal(log.at(-1), `end timeout @${4 + 30e6 + 1}`);
  n = pipeline.counters();
  assert.deepEqual([n.flowsTimedOut, n.currentFlows], [1, 0]);
  // A new flow, left open, ends with the pipeline.
  pipeline.packet(packet(udp({ ...c, port: 41001 }, s, 'Q:2'), t0 + 40e6));
  await pipeline.finish();
  assert.deepEqual(log.slice(-4), ['detect udp 10.3.0.1:41001>10.3.0.53:53 Q:2', 'open client=0', `0 Q:2 @${40e6}`, `end shutdown @${40e6}`]);
  n = pipeline.counters();
  assert.deepEqual([n.flows, n.currentFlows, n.flowsEvicted], [2, 0, 0]);
});
