// The protocol registry: what a descriptor must be to be registered, detection that tries port
// hints first but never needs them, and one protocol over TCP and UDP at once (as DNS is).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Detection, type Dissector } from '../../src/protocols/dissector.js';
import { ProtocolRegistry, ProtocolRegistryError, protocols } from '../../src/protocols/registry.js';
import { lookupField } from '../../src/query/fields.js';
import { tlineDissector, tqueryDissector } from '../../../test/support/line-protocols.js';
import { Conversation, ethernet, ipUdp, type Frame } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';

const base: Dissector = { ...tlineDissector, protocol: 'probe', fields: [] };

test('a descriptor is refused with the reason when its name, fields or halves are wrong', () => {
  const registry = new ProtocolRegistry([]);
  const refused = (d: Dissector, reason: RegExp) => assert.throws(() => registry.register(d), (e: unknown) => e instanceof ProtocolRegistryError && reason.test(e.message));
  refused({ ...base, protocol: 'Probe' }, /not a lowercase keyword/);
  refused({ ...base, protocol: 'a b' }, /not a lowercase keyword/);
  refused({ ...base, stream: undefined, datagram: undefined }, /neither a stream nor a datagram dissector/);
  refused({ ...base, fields: [{ name: 'other.x', type: 'int', doc: '' }] }, /must start with "probe\."/);
  refused({ ...base, fields: [{ name: 'probe.x', type: 'int', doc: '', sql: 'status' }] }, /give both sql and get/);
  registry.register(base);
  refused(base, /registered already/);
  assert.deepEqual(registry.all().map((d) => d.protocol), ['probe']);
  registry.unregister('probe');
  assert.equal(registry.has('probe'), false);
});

test('registering a protocol adds its keyword and fields to the filter language; unregistering takes them away', () => {
  assert.equal(lookupField('tquery.rcode'), undefined);
  protocols.register(tqueryDissector);
  try {
    assert.equal(lookupField('tquery.rcode')?.type, 'int');
    assert.equal(lookupField('tquery.rcode')?.sql, "fields_number['tquery.rcode']");
    assert.equal(lookupField('tquery.cached')?.sql, "fields_number['tquery.cached'] != 0");
    assert.equal(lookupField('tquery.name')?.values, "fields_text['tquery.name']");
  } finally {
    protocols.unregister('tquery');
  }
  assert.equal(lookupField('tquery.rcode'), undefined);
});

const client = { ip: '10.1.0.1', port: 40001 };
const server = { ip: '10.1.0.2', port: 9999 };

test('detection by content: no port hint needed; a hinted protocol is asked first', async () => {
  // Both claim any first line starting with 'REQ ': the one whose port matches wins.
  const asked: string[] = [];
  const spy = (name: string, ports: number[]): Dissector => ({
    ...tlineDissector,
    protocol: name,
    ports,
    fields: [],
    stream: {
      detect: (buf, s, e, conn) => {
        asked.push(name);
        return tlineDissector.stream!.detect(buf, s, e, conn);
      },
      open: tlineDissector.stream!.open,
    },
  });
  const c = new Conversation(client, server).handshake();
  c.send('REQ GET k\r\n');
  c.reply('RES 200 v\r\n');
  c.close();
  const unhinted = await importFrames(c.frames, { protocols: [spy('first', []), spy('second', [])] });
  assert.deepEqual(unhinted.entries.map((e) => [e.protocol, e.operation, e.target, e.status]), [['first', 'GET', 'k', 200]]);
  asked.length = 0;
  const hinted = await importFrames(c.frames, { protocols: [spy('first', []), spy('second', [server.port])] });
  assert.deepEqual(hinted.entries.map((e) => e.protocol), ['second']);
  assert.equal(asked[0], 'second');
});

test('one protocol over TCP and UDP at once: each transport reaches its half, entries say which', async () => {
  const both: Dissector = { ...tlineDissector, protocol: 'both', fields: [], datagram: tqueryDissector.datagram };
  assert.equal(Detection.FromClient, both.datagram!.detect(Buffer.from('Q 1 x'), 0, 5, { id: 0, transport: 'udp', ip: ['', ''], port: [0, 0], clientDir: undefined, midStream: false }));
  const c = new Conversation(client, server).handshake();
  c.send('REQ GET over-tcp\r\n');
  c.reply('RES 200 ok\r\n');
  c.close();
  const t0 = c.frames.at(-1)!.tsUs;
  const udp = (from: typeof client, to: typeof client, payload: string, dt: number): Frame => ({
    tsUs: t0 + dt,
    data: ethernet(ipUdp({ src: from.ip, dst: to.ip, sport: from.port, dport: to.port, payload })),
  });
  const dns = { ip: server.ip, port: 5353 };
  const frames = [...c.frames, udp(client, dns, 'Q 7 over-udp', 100), udp(dns, client, 'A 7 3', 350)];
  const { entries } = await importFrames(frames, { protocols: [both] });
  assert.deepEqual(
    entries.map((e) => [e.protocol, e.transport, e.target, e.status, e.durationUs]).sort(),
    [
      ['both', 'tcp', 'over-tcp', 200, c.frames[4].tsUs - c.frames[3].tsUs],
      ['both', 'udp', 'over-udp', 3, 250],
    ].sort(),
  );
  const viaUdp = entries.find((e) => e.transport === 'udp')!;
  assert.deepEqual([viaUdp.src.ip, viaUdp.src.port, viaUdp.dst.ip, viaUdp.dst.port], [client.ip, client.port, dns.ip, dns.port]);
});

test('a carried protocol (no stream of its own) takes the carrier\'s exchanges it recognises; the rest stay the carrier\'s', async () => {
  const inner: Dissector = {
    ...base,
    protocol: 'tinner',
    stream: undefined,
    datagram: undefined,
    fields: [{ name: 'tinner.key', type: 'string', doc: '' }],
    carried: {
      carriers: ['tline'],
      transports: ['tcp'],
      recognise: (x) => (x.target.startsWith('inner-') ? { ...x, target: x.target.slice(6), fields: { 'tinner.key': x.target } } : null),
    },
  };
  assert.equal(new ProtocolRegistry([inner]).has('tinner'), true);
  const c = new Conversation({ ip: '10.3.0.1', port: 40001 }, { ip: '10.3.0.2', port: 7379 }).handshake();
  c.send('REQ GET inner-a\r\n');
  c.reply('RES 200 yes\r\n');
  c.send('REQ GET plain\r\n');
  c.reply('RES 404 no\r\n');
  c.close();
  const { entries, result } = await importFrames(c.frames, { protocols: [tlineDissector, inner] });
  assert.deepEqual(entries.map((e) => [e.protocol, e.target, e.status, e.fields['tinner.key']]), [['tinner', 'a', 200, 'inner-a'], ['tline', 'plain', 404, undefined]]);
  assert.equal(result.counters.protocols.tinner.exchanges, 1);
});
