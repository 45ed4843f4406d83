import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCaptureFile } from '../../src/capture/pcap-file.js';
import { CaptureError } from '../../src/capture/errors.js';
import { decodeLink, type L3Position, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL, LINKTYPE_RAW } from '../../src/capture/link.js';
import { decodeIp, IpResult, newSegment } from '../../src/net/ip.js';
import { bsdNull, ethernet, ipTcp, pcapFile, pcapngFile, sll, sll2, type Frame } from './frames.js';

const dir = mkdtempSync(join(tmpdir(), 'tapline-capture-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

interface Seen {
  tsUs: number;
  caplen: number;
  wireLen: number;
  linkType: number;
  src: string;
  sport: number;
  payload: string;
  vlans: number;
}

async function readAll(path: string): Promise<Seen[]> {
  const out: Seen[] = [];
  const l3: L3Position = { etherType: 0, offset: 0, vlanTags: 0 };
  const seg = newSegment();
  await readCaptureFile(path, (p) => {
    assert.ok(decodeLink(p.linkType, p.buf, p.offset, p.offset + p.caplen, l3), 'link decode');
    assert.equal(decodeIp(l3.etherType, p.buf, l3.offset, p.offset + p.caplen, p.offset + p.wireLen, seg), IpResult.Tcp);
    const src = seg.v6 ? p.buf.subarray(seg.src6, seg.src6 + 16).toString('hex') : String(seg.src4 >>> 0);
    out.push({
      tsUs: p.tsUs,
      caplen: p.caplen,
      wireLen: p.wireLen,
      linkType: p.linkType,
      src,
      sport: seg.srcPort,
      payload: p.buf.toString('latin1', seg.payloadStart, seg.payloadEnd),
      vlans: l3.vlanTags,
    });
  });
  return out;
}

const pkt4 = ipTcp({ src: '10.1.2.3', dst: '10.1.2.4', sport: 40000, dport: 80, seq: 1, flags: 'PA', payload: 'hello' });
const pkt6 = ipTcp({ src: 'fd00::1', dst: 'fd00::2', sport: 40001, dport: 8080, seq: 1, flags: 'PA', payload: 'six' });
const t0 = 1_700_000_000_123_456;

for (const [name, linkType, wrap] of [
  ['Ethernet', LINKTYPE_ETHERNET, (ip: Buffer) => ethernet(ip)],
  ['Ethernet with two VLAN tags', LINKTYPE_ETHERNET, (ip: Buffer) => ethernet(ip, [10, 20])],
  ['Linux SLL', LINKTYPE_LINUX_SLL, sll],
  ['Linux SLL2', LINKTYPE_LINUX_SLL2, sll2],
  ['raw IP', LINKTYPE_RAW, (ip: Buffer) => ip],
  ['BSD null', LINKTYPE_NULL, bsdNull],
] as const) {
  test(`decodes IPv4 and IPv6 TCP over ${name}, pcap and pcapng`, async () => {
    const frames: Frame[] = [
      { tsUs: t0, data: wrap(pkt4) },
      { tsUs: t0 + 1, data: wrap(pkt6) },
    ];
    for (const [kind, bytes] of [
      ['pcap', pcapFile(linkType, frames)],
      ['pcap-be-nano', pcapFile(linkType, frames, { bigEndian: true, nano: true })],
      ['pcapng', pcapngFile(linkType, frames)],
    ] as const) {
      const f = join(dir, `${name}-${kind}`.replace(/\W/g, '_'));
      writeFileSync(f, bytes);
      const seen = await readAll(f);
      assert.equal(seen.length, 2, kind);
      assert.equal(seen[0].tsUs, t0, kind);
      assert.equal(seen[1].tsUs, t0 + 1, kind);
      assert.equal(seen[0].src, String((10 << 24) + (1 << 16) + (2 << 8) + 3), kind);
      assert.equal(seen[0].sport, 40000);
      // Ethernet padding (short frames are padded to 60 bytes) must not leak into the payload.
      assert.equal(seen[0].payload, 'hello', kind);
      assert.equal(seen[1].src, 'fd000000000000000000000000000001', kind);
      assert.equal(seen[1].payload, 'six', kind);
      assert.equal(seen[0].vlans, name.includes('VLAN') ? 2 : 0);
      assert.equal(seen[0].linkType, linkType);
    }
  });
}

test('a snap length shorter than the frame keeps the wire length', async () => {
  const big = ipTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, seq: 1, payload: 'x'.repeat(1000) });
  const f = join(dir, 'snap.pcap');
  writeFileSync(f, pcapFile(LINKTYPE_RAW, [{ tsUs: t0, data: big, caplen: 100 }]));
  const seen = await readAll(f);
  assert.equal(seen[0].caplen, 100);
  assert.equal(seen[0].wireLen, big.length);
  assert.equal(seen[0].payload.length, 100 - 40);
});

test('a file that is not a capture is refused with the magic number', async () => {
  const f = join(dir, 'bad.pcap');
  writeFileSync(f, Buffer.from('this is not a capture file at all, sorry'));
  await assert.rejects(readCaptureFile(f, () => {}), (e: unknown) => {
    assert.ok(e instanceof CaptureError);
    assert.equal(e.code, 'BAD_FILE_HEADER');
    assert.match(e.message, /neither pcap nor pcapng \(magic number 0x74686973\)/);
    return true;
  });
});

test('a missing file is a FILE_OPEN error naming it', async () => {
  await assert.rejects(readCaptureFile(join(dir, 'nope.pcap'), () => {}), /cannot open .*nope\.pcap/);
});

test('a truncated file hands over every whole packet, then says where it ends', async () => {
  const frames: Frame[] = Array.from({ length: 5 }, (_, i) => ({ tsUs: t0 + i, data: ethernet(pkt4) }));
  for (const [kind, whole] of [
    ['pcap', pcapFile(LINKTYPE_ETHERNET, frames)],
    ['pcapng', pcapngFile(LINKTYPE_ETHERNET, frames)],
  ] as const) {
    const f = join(dir, `trunc.${kind}`);
    writeFileSync(f, whole.subarray(0, whole.length - 10));
    let n = 0;
    await assert.rejects(
      readCaptureFile(f, () => n++),
      (e: unknown) => e instanceof CaptureError && e.code === 'TRUNCATED' && /ends inside a record/.test(e.message),
    );
    assert.equal(n, 4, kind);
  }
});

test('a record claiming an impossible length is a BAD_RECORD error with its offset', async () => {
  const whole = pcapFile(LINKTYPE_ETHERNET, [{ tsUs: t0, data: ethernet(pkt4) }, { tsUs: t0, data: ethernet(pkt4) }]);
  const second = 24 + 16 + 60;
  whole.writeUInt32LE(0x7fffffff, second + 8);
  const f = join(dir, 'badrec.pcap');
  writeFileSync(f, whole);
  await assert.rejects(readCaptureFile(f, () => {}), (e: unknown) => e instanceof CaptureError && e.code === 'BAD_RECORD' && e.offset === second);
});

test('files larger than one read chunk are read whole, with progress and pauses honoured', async () => {
  const frame = ethernet(ipTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, seq: 1, payload: Buffer.alloc(9000, 7) }));
  const frames: Frame[] = Array.from({ length: 1200 }, (_, i) => ({ tsUs: t0 + i, data: frame }));
  const f = join(dir, 'big.pcap');
  const bytes = pcapFile(LINKTYPE_ETHERNET, frames);
  writeFileSync(f, bytes);
  let n = 0;
  let pauses = 0;
  let lastProgress = 0;
  const count = await readCaptureFile(f, (p) => {
    assert.equal(p.caplen, frame.length);
    assert.equal(p.tsUs, t0 + n);
    n++;
  }, {
    pause: () => {
      pauses++;
      return new Promise((r) => setTimeout(r, 1));
    },
    progress: (p) => (lastProgress = p.bytesRead),
  });
  assert.equal(count, 1200);
  assert.equal(n, 1200);
  assert.ok(pauses >= 2, `expected a pause per chunk, got ${pauses}`);
  assert.ok(lastProgress > bytes.length / 2);
});
