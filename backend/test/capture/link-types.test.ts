/**
 * Link types beyond Ethernet and the Linux cooked ones (issue 16): NFLOG (`tcpdump -i nflog:N`),
 * 802.11 with and without radiotap (monitor-mode captures), each built byte by byte as
 * tcpdump.org/linktypes.html and the radiotap and 802.11 specifications lay them out (no NFLOG
 * rule nor monitor interface exists here) and compared with tshark. A file whose every packet is
 * of a link type not read fails with the type's name and exit code 1, not "0 entries".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { LINKTYPE_IEEE802_11, LINKTYPE_IEEE802_11_RADIOTAP, LINKTYPE_NFLOG } from '../../src/capture/link.js';
import { Conversation, pcapFile, type Frame } from './frames.js';
import { analyse, assertSameAsTshark } from '../agent/compare.js';
import { importFrames, tempFile } from '../agent/run.js';

const run = promisify(execFile);
const cli = new URL('../agent/cli.ts', import.meta.url).pathname;
const client = { ip: '10.3.0.1', port: 42000 };
const server = { ip: '10.3.0.2', port: 8080 };

const le16 = (n: number) => Buffer.from([n & 255, n >> 8]);
const pad4 = (b: Buffer) => (b.length % 4 === 0 ? b : Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]));
/** An NFLOG TLV (length and type little-endian, as an x86 host writes them), padded to 4 bytes. */
const tlv = (type: number, value: Buffer) => pad4(Buffer.concat([le16(4 + value.length), le16(type), value]));
/** NFLOG: AF_INET, version 0, resource id 5; a prefix TLV (10), a hardware-protocol TLV (1), the payload (9). */
const nflog = (ip: Buffer) => Buffer.concat([Buffer.from([2, 0, 0, 5]), tlv(10, Buffer.from('tapline\0')), tlv(1, Buffer.from([0x08, 0x00, 1, 0])), tlv(9, ip)]);
/** 802.11 QoS data frame from the station to the AP (ToDS), LLC/SNAP, the IP packet. */
const wifi = (ip: Buffer) =>
  Buffer.concat([
    Buffer.from([0x88, 0x01]), Buffer.from([0x2c, 0x00]), // QoS data, ToDS; duration
    Buffer.from('020000000001020000000002020000000003', 'hex'), Buffer.from([0x10, 0x00]), // 3 addresses, sequence
    Buffer.from([0x00, 0x00]), // QoS control
    Buffer.from([0xaa, 0xaa, 0x03, 0, 0, 0, ip[0] >> 4 === 6 ? 0x86 : 0x08, ip[0] >> 4 === 6 ? 0xdd : 0x00]),
    ip,
  ]);
/** A minimal radiotap header: version 0, length 12, present = flags and rate, then their bytes (and padding). */
const radiotap = (ip: Buffer) => Buffer.concat([Buffer.from([0, 0, 12, 0, 0x06, 0, 0, 0, 0x00, 0x0c, 0, 0]), wifi(ip)]);

function http(wrap: (ip: Buffer) => Buffer): Frame[] {
  const c = new Conversation(client, server, 1_700_000_000_000_000, wrap).handshake();
  c.send('GET /linked HTTP/1.1\r\nHost: h\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  c.close();
  return c.frames;
}

for (const [name, linkType, wrap] of [
  ['NFLOG', LINKTYPE_NFLOG, nflog],
  ['802.11 with radiotap', LINKTYPE_IEEE802_11_RADIOTAP, radiotap],
  ['802.11', LINKTYPE_IEEE802_11, wifi],
] as const) {
  test(`${name}: the HTTP it carries is an entry, as tshark says`, async () => {
    const frames = http(wrap);
    const { entries, result } = await importFrames(frames, {}, linkType);
    assert.deepEqual(entries.map((e) => [e.target, e.status, e.src.ip, e.dst.ip]), [['/linked', 200, client.ip, server.ip]]);
    assert.equal(result.counters.unknownLinkType, 0);
    const f = tempFile(`${name.replace(/\W+/g, '-')}.pcap`);
    writeFileSync(f, pcapFile(linkType, frames));
    assertSameAsTshark(await analyse(f, [server.port]), 1);
  });
}

test('802.11 frames that carry no IP (management, protected, null data) are not IP, not errors', async () => {
  const beacon = Buffer.concat([Buffer.from([0x80, 0x00, 0, 0]), Buffer.alloc(30)]);
  const protectedData = Buffer.concat([Buffer.from([0x08, 0x41, 0, 0]), Buffer.alloc(40)]);
  const nullData = Buffer.concat([Buffer.from([0x48, 0x01, 0, 0]), Buffer.alloc(20)]);
  const frames = [beacon, protectedData, nullData].map((data, i) => ({ tsUs: 1_700_000_000_000_000 + i, data }));
  const { entries, result } = await importFrames(frames, {}, LINKTYPE_IEEE802_11);
  assert.equal(entries.length, 0);
  assert.equal(result.counters.nonIp, 3);
});

test('a file of a link type not read fails with its name and the ones read, exit code 1', async () => {
  const f = tempFile('can.pcap');
  writeFileSync(f, pcapFile(227, [{ tsUs: 1_700_000_000_000_000, data: Buffer.alloc(16) }]));
  const r = await run(process.execPath, ['--import', 'tsx', cli, 'import', f, '--json']).then(
    () => assert.fail('should fail'),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /its packets are of link type CAN_SOCKETCAN \(227\), which Tapline does not read \(it reads NULL, EN10MB, .*NFLOG, LINUX_SLL2\)/);
});

test('fuzz: random and mutated NFLOG, radiotap and 802.11 frames never throw; every packet is counted once', async () => {
  const { default: fc } = await import('fast-check');
  const real = ([[LINKTYPE_NFLOG, nflog], [LINKTYPE_IEEE802_11_RADIOTAP, radiotap], [LINKTYPE_IEEE802_11, wifi]] as const).map(([t, wrap]) => [t, http(wrap)[3].data] as const);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...real),
      fc.array(fc.tuple(fc.nat({ max: 80 }), fc.nat({ max: 255 })), { maxLength: 6 }),
      fc.uint8Array({ maxLength: 120 }),
      async ([linkType, frame], edits, noise) => {
        const mutated = Buffer.from(frame);
        for (const [at, v] of edits) if (at < mutated.length) mutated[at] = v;
        const frames = [mutated, Buffer.from(noise)].map((data, i) => ({ tsUs: 1_700_000_000_000_000 + i, data }));
        const { result } = await importFrames(frames, {}, linkType);
        const c = result.counters;
        assert.equal(c.packets, 2);
        assert.equal(c.unknownLinkType, 0);
      },
    ),
    { numRuns: 60, seed: 239 },
  );
});
