/**
 * Encapsulated traffic (issue 16): the HTTP inside a tunnel is dissected, with the inner
 * endpoints as the entry's and the outer ones in its `tunnel` field. VXLAN for real: two
 * network-namespace hosts with vxlan devices, curl to a Node server through the tunnel, tcpdump on
 * the underlay bridge. This kernel has no geneve, gre, gretap, erspan, ipip, sit, gtp or MPLS
 * routing (`ip link add … type geneve` says "Unknown device type"), so those are built byte by
 * byte as their RFCs lay them out; every one is compared with tshark, which decodes them all.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { LINKTYPE_ETHERNET } from '../../src/capture/link.js';
import { Conversation, ipPacket, ipUdp, pcapFile, type Frame } from '../capture/frames.js';
import { analyse, assertSameAsTshark } from '../agent/compare.js';
import { importFrames, tempFile } from '../agent/run.js';
import { freePort, Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { NetnsLab } from '../../../test/support/netns.js';

const run = promisify(execFile);
const inner = { client: { ip: '192.168.42.1', port: 40200 }, server: { ip: '192.168.42.2', port: 8080 } };
const outerA = '10.77.0.2';
const outerB = '10.77.0.3';
const MAC = Buffer.from('020000000002020000000001', 'hex');

const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
const etherTypeOf = (ip: Buffer) => (ip[0] >> 4 === 6 ? 0x86dd : 0x0800);
/** An Ethernet frame without padding (inner frames: the outer length says where they end). */
const eth = (ip: Buffer, type = etherTypeOf(ip)) => Buffer.concat([MAC, u16(type), ip]);
const outerEth = (ip: Buffer) => {
  const f = eth(ip);
  return f.length < 60 ? Buffer.concat([f, Buffer.alloc(60 - f.length)]) : f;
};
/** Which outer direction a packet of the inner conversation takes (client → server is A → B). */
const outerOf = (ip: Buffer): [string, string] => (ip.subarray(12, 16).equals(Buffer.from([192, 168, 42, 1])) ? [outerA, outerB] : [outerB, outerA]);

/** The same two HTTP exchanges inside each encapsulation; the frame builder wraps each inner IP packet. */
function httpThrough(wrap: (ip: Buffer) => Buffer): Frame[] {
  const c = new Conversation(inner.client, inner.server, 1_700_000_000_000_000, wrap).handshake();
  c.send('GET /inside HTTP/1.1\r\nHost: svc\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ninside');
  c.send('POST /again HTTP/1.1\r\nHost: svc\r\nContent-Length: 2\r\n\r\nhi');
  c.reply('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  c.close();
  return c.frames;
}

const udpTunnel = (dport: number, header: (ip: Buffer) => Buffer) => (ip: Buffer) => {
  const [src, dst] = outerOf(ip);
  return outerEth(ipUdp({ src, dst, sport: 50000, dport, payload: header(ip) }));
};
const ipTunnel = (proto: number, header: (ip: Buffer) => Buffer) => (ip: Buffer) => {
  const [src, dst] = outerOf(ip);
  return outerEth(ipPacket(src, dst, proto, header(ip)));
};
const gre = (flags: number, type: number, extra: Buffer[], payload: Buffer) => Buffer.concat([Buffer.from([flags, 0]), u16(type), ...extra, payload]);

const CASES: Array<{ name: string; wrap: (ip: Buffer) => Buffer; tunnel: string; decodeAs?: string }> = [
  // RFC 8926: version 0, no options / 2 words of options, protocol type 0x6558 (Ethernet), VNI 7.
  { name: 'Geneve', wrap: udpTunnel(6081, (ip) => Buffer.concat([Buffer.from([0x00, 0x00]), u16(0x6558), Buffer.from([0, 0, 7, 0]), eth(ip)])), tunnel: 'geneve 10.77.0.2 > 10.77.0.3 id 7' },
  { name: 'Geneve with options, IP inside', wrap: udpTunnel(6081, (ip) => Buffer.concat([Buffer.from([0x02, 0x00]), u16(0x0800), Buffer.from([0, 0, 9, 0]), Buffer.alloc(8, 0x11), ip])), tunnel: 'geneve 10.77.0.2 > 10.77.0.3 id 9' },
  // 3GPP TS 29.281: version 1, PT 1, E flag with a PDU session container extension (type 0x85).
  { name: 'GTP-U', wrap: udpTunnel(2152, (ip) => Buffer.concat([Buffer.from([0x34, 0xff]), u16(ip.length + 8), u32(0x1234), Buffer.from([0, 0, 0, 0x85]), Buffer.from([1, 0x10, 0x09, 0]), ip])), tunnel: 'gtp-u 10.77.0.2 > 10.77.0.3 id 4660' },
  // RFC 2784/2890: key present (K), IPv4 inside.
  { name: 'GRE with a key', wrap: ipTunnel(47, (ip) => gre(0x20, 0x0800, [u32(5)], ip)), tunnel: 'gre 10.77.0.2 > 10.77.0.3 id 5' },
  { name: 'GRE with checksum and sequence, Ethernet inside (gretap)', wrap: ipTunnel(47, (ip) => gre(0x90, 0x6558, [u32(0), u32(1)], eth(ip))), tunnel: 'gre 10.77.0.2 > 10.77.0.3' },
  // ERSPAN type II (draft-foschiano-erspan): GRE with sequence, 8-byte header version 1, session 123.
  { name: 'ERSPAN type II', wrap: ipTunnel(47, (ip) => gre(0x10, 0x88be, [u32(1)], Buffer.concat([Buffer.from([0x10, 0x00, 0x00, 0x7b, 0, 0, 0, 0]), eth(ip)]))), tunnel: 'erspan 10.77.0.2 > 10.77.0.3 id 123' },
  // ERSPAN type III: 12-byte header version 2, no platform subheader.
  { name: 'ERSPAN type III', wrap: ipTunnel(47, (ip) => gre(0x10, 0x22eb, [u32(1)], Buffer.concat([Buffer.from([0x20, 0x00, 0x00, 0x2a]), Buffer.alloc(8), eth(ip)]))), tunnel: 'erspan 10.77.0.2 > 10.77.0.3 id 42' },
  { name: 'IP-in-IP', wrap: ipTunnel(4, (ip) => ip), tunnel: 'ipip 10.77.0.2 > 10.77.0.3' },
  // 802.3 frame with LLC/SNAP (AA AA 03, OUI 0, EtherType): a link-layer matter, no tunnel.
  { name: '802.2 SNAP', wrap: (ip) => Buffer.concat([MAC, u16(8 + ip.length), Buffer.from([0xaa, 0xaa, 0x03, 0, 0, 0]), u16(0x0800), ip]), tunnel: '' },
  // MPLS (RFC 3032): two labels, the second the bottom of the stack, then IPv4.
  { name: 'MPLS', wrap: (ip) => Buffer.concat([MAC, u16(0x8847), Buffer.from([0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40]), ip]), tunnel: '' },
  // An Ethernet pseudowire (RFC 4448): one label, a zero control word, the customer's frame.
  // tshark needs to be told the label carries a pseudowire with a control word (label 16).
  { name: 'MPLS Ethernet pseudowire', wrap: (ip) => Buffer.concat([MAC, u16(0x8847), Buffer.from([0x00, 0x01, 0x01, 0x40]), Buffer.alloc(4), eth(ip)]), tunnel: '', decodeAs: 'mpls.label==16,pwethcw' },
];

for (const { name, wrap, tunnel, decodeAs } of CASES) {
  test(`${name}: the HTTP inside is dissected, inner endpoints, the tunnel named; as tshark says`, async () => {
    const frames = httpThrough(wrap);
    const { entries, result } = await importFrames(frames);
    assert.deepEqual(entries.map((e) => [e.operation, e.target, e.status, e.src.ip, e.dst.ip, e.dst.port, e.fields['tunnel'] ?? '']), [
      ['GET', '/inside', 200, inner.client.ip, inner.server.ip, 8080, tunnel],
      ['POST', '/again', 404, inner.client.ip, inner.server.ip, 8080, tunnel],
    ]);
    assert.equal(result.counters.tunneled, tunnel === '' ? 0 : frames.length);
    const f = tempFile(`${name.replace(/\W+/g, '-')}.pcap`);
    writeFileSync(f, pcapFile(LINKTYPE_ETHERNET, frames));
    if (!decodeAs) {
      assertSameAsTshark(await analyse(f, [8080]), 2);
      return;
    }
    const { stdout } = await run('tshark', ['-r', f, '-n', '-d', decodeAs, '-d', 'tcp.port==8080,http', '-Y', 'http', '-T', 'fields', '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.response.code']);
    assert.deepEqual(stdout.trim().split('\n').map((l) => l.split('\t').filter(Boolean).join(' ')), ['GET /inside', '200', 'POST /again', '404']);
  });
}

test('IPv6 in IPv4 (6in4, protocol 41): the inner IPv6 endpoints are the entry\'s', async () => {
  const v6 = { client: { ip: 'fd00::1', port: 40300 }, server: { ip: 'fd00::2', port: 8080 } };
  const c = new Conversation(v6.client, v6.server, 1_700_000_000_000_000, (ip) => outerEth(ipPacket(ip.subarray(8, 24).equals(Buffer.from('fd000000000000000000000000000001', 'hex')) ? outerA : outerB, outerA, 41, ip))).handshake();
  c.send('GET /six HTTP/1.1\r\nHost: v6\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  c.close();
  const { entries } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => [e.target, e.src.ip, e.dst.ip, String(e.fields['tunnel']).split(' ')[0]]), [['/six', 'fd00::1', 'fd00::2', 'ipip']]);
  const f = tempFile('6in4.pcap');
  writeFileSync(f, pcapFile(LINKTYPE_ETHERNET, c.frames));
  assertSameAsTshark(await analyse(f, [8080]), 1);
});

test('what only looks like a tunnel stays what it is: UDP to 4789 that is not VXLAN, a GRE header cut short, PPTP GRE', async () => {
  const frames: Frame[] = [
    { tsUs: 1, data: outerEth(ipUdp({ src: outerA, dst: outerB, sport: 1, dport: 4789, payload: Buffer.from('not vxlan at all') })) },
    { tsUs: 2, data: outerEth(ipPacket(outerA, outerB, 47, Buffer.from([0x20, 0x00, 0x08]))) },
    { tsUs: 3, data: outerEth(ipPacket(outerA, outerB, 47, Buffer.concat([Buffer.from([0x30, 0x81]), u16(0x880b), Buffer.alloc(12)]))) },
    // VXLAN inside VXLAN inside VXLAN…: unwrapped to the depth limit, never further.
    { tsUs: 4, data: outerEth(Array.from({ length: 8 }).reduce<Buffer>((ip) => ipUdp({ src: outerA, dst: outerB, sport: 1, dport: 4789, payload: Buffer.concat([Buffer.from([8, 0, 0, 0, 0, 0, 1, 0]), eth(ip)]) }), ipUdp({ src: outerA, dst: outerB, sport: 1, dport: 9, payload: 'x' }))) },
  ];
  const { entries, result } = await importFrames(frames);
  assert.equal(entries.length, 0);
  assert.equal(result.counters.udpDatagrams, 2, 'the non-VXLAN datagram and the innermost reached are plain UDP');
  assert.equal(result.counters.nonTcpUdp, 2, 'the cut GRE and PPTP GRE are IP of another protocol');
  assert.equal(result.counters.tunneled, 1);
});

test('fuzz: tunnel frames with bytes changed in their headers, and random payloads on tunnel ports and protocols, never throw', async () => {
  const real = CASES.flatMap((c) => httpThrough(c.wrap).slice(3, 5).map((f) => f.data));
  const mutated = fc.tuple(fc.constantFrom(...real), fc.array(fc.tuple(fc.nat({ max: 120 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 })).map(([frame, edits]) => {
    const b = Buffer.from(frame);
    for (const [at, v] of edits) if (at < b.length) b[at] = v;
    return b;
  });
  const random = fc.tuple(fc.constantFrom(4789, 8472, 6081, 2152, 47, 4, 41), fc.uint8Array({ maxLength: 200 })).map(([where, bytes]) =>
    where > 100 ? outerEth(ipUdp({ src: outerA, dst: outerB, sport: 1, dport: where, payload: Buffer.from(bytes) })) : outerEth(ipPacket(outerA, outerB, where, Buffer.from(bytes))),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(fc.oneof(mutated, random), { minLength: 1, maxLength: 30 }), async (datas) => {
      const { result } = await importFrames(datas.map((data, i) => ({ tsUs: 1_700_000_000_000_000 + i, data })));
      assert.equal(result.counters.packets, datas.length);
    }),
    { numRuns: 80, seed: 16 },
  );
});

let lab: NetnsLab | undefined;
let server: ChildProcess | undefined;

before(async () => {
  await tsharkAvailable();
});

after(() => {
  if (server?.pid) process.kill(server.pid);
  lab?.destroy();
});

test('VXLAN for real: curl through a vxlan device between two namespace hosts, captured on the underlay', async () => {
  const tag = String(process.pid % 100000);
  lab = new NetnsLab(`tvx${tag}`, '10.78.0.1');
  lab.up();
  const a = lab.addHost(`tvxa${tag}`, '10.78.0.2', `tvxa${tag}`);
  const b = lab.addHost(`tvxb${tag}`, '10.78.0.3', `tvxb${tag}`);
  for (const [h, peer, addr] of [[a, b, '192.168.43.1'], [b, a, '192.168.43.2']] as const) {
    lab.ip('-n', h.ns, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'remote', peer.ip, 'dstport', '4789', 'dev', 'eth0');
    lab.ip('-n', h.ns, 'addr', 'add', `${addr}/24`, 'dev', 'vx0');
    lab.ip('-n', h.ns, 'link', 'set', 'vx0', 'up');
  }
  const port = await freePort();
  server = spawn('ip', ['netns', 'exec', b.ns, process.execPath, '-e', `require('http').createServer((q, s) => s.end('via vxlan ' + q.url)).listen(${port}, '192.168.43.2', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(server.stdout!, 'data');
  const file = tempFile('vxlan.pcap');
  const dump = await Tcpdump.start(lab.bridge, 'udp port 4789', file);
  try {
    lab.exec(a.ns, 'curl', ['-s', '--max-time', '5', `http://192.168.43.2:${port}/one`, `http://192.168.43.2:${port}/two`]);
  } finally {
    await dump.stop();
  }
  const c = await analyse(file, [port]);
  assert.deepEqual(c.entries.map((e) => [e.target, e.status, e.src.ip, e.dst.ip, e.fields['tunnel']]), [
    ['/one', 200, '192.168.43.1', '192.168.43.2', 'vxlan 10.78.0.2 > 10.78.0.3 id 42'],
    ['/two', 200, '192.168.43.1', '192.168.43.2', 'vxlan 10.78.0.2 > 10.78.0.3 id 42'],
  ]);
  assertSameAsTshark(c, 2);
});
