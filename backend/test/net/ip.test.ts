/**
 * IP/TCP/UDP header decoding (decodeIp): UDP from a real loopback capture and from frames built
 * byte by byte, UDP length checks, and the reuse of one Segment across packets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCaptureFile } from '../../src/capture/pcap-file.js';
import { decodeLink, ETHERTYPE_IPV4, ETHERTYPE_IPV6, LINKTYPE_ETHERNET, type L3Position } from '../../src/capture/link.js';
import { decodeIp, ipv4Text, ipv6Text, IpResult, newSegment, type Segment } from '../../src/net/ip.js';
import { ethernet, ipPacket, ipTcp, ipUdp } from '../capture/frames.js';

/** Decodes an IP packet (no link layer); `captured` cuts it as a snap length would. */
function decode(ip: Buffer, seg: Segment = newSegment(), captured = ip.length): IpResult {
  return decodeIp(ip[0] >> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, ip, 0, captured, ip.length, seg);
}

function payload(seg: Segment): string {
  return seg.buf.toString('latin1', seg.payloadStart, seg.payloadEnd);
}

test('UDP over IPv4 and IPv6 from a real loopback capture (DNS queries and answers)', async () => {
  // fixtures/dns-lo.pcap: tcpdump -i lo of a DNS query and answer over 127.0.0.1, then over ::1.
  // Expected values from `tshark -T fields -e udp.srcport -e udp.dstport -e udp.length -e dns.id`.
  const expected = [
    { v6: false, src: '127.0.0.1', sport: 47734, dport: 15353, udpLength: 37, dnsId: 0x1234 },
    { v6: false, src: '127.0.0.1', sport: 15353, dport: 47734, udpLength: 53, dnsId: 0x1234 },
    { v6: true, src: '::1', sport: 60316, dport: 15353, udpLength: 37, dnsId: 0x5678 },
    { v6: true, src: '::1', sport: 15353, dport: 60316, udpLength: 65, dnsId: 0x5678 },
  ];
  const seen: typeof expected = [];
  const l3: L3Position = { etherType: 0, offset: 0, vlanTags: 0 };
  const seg = newSegment();
  const n = await readCaptureFile(new URL('./fixtures/dns-lo.pcap', import.meta.url).pathname, (p) => {
    const end = p.offset + p.caplen;
    assert.equal(p.linkType, LINKTYPE_ETHERNET);
    assert.ok(decodeLink(p.linkType, p.buf, p.offset, end, l3));
    assert.equal(decodeIp(l3.etherType, p.buf, l3.offset, end, p.offset + p.wireLen, seg), IpResult.Udp);
    // The whole datagram was captured: payload = UDP length - 8, ending where the frame ends.
    assert.equal(seg.payloadEnd - seg.payloadStart, seg.segLen);
    assert.equal(seg.payloadEnd, end);
    seen.push({
      v6: seg.v6,
      src: seg.v6 ? ipv6Text(seg.buf, seg.src6) : ipv4Text(seg.src4),
      sport: seg.srcPort,
      dport: seg.dstPort,
      udpLength: seg.segLen + 8,
      dnsId: seg.buf.readUInt16BE(seg.payloadStart),
    });
  });
  assert.equal(n, 4);
  assert.deepEqual(seen, expected);
});

test('built UDP datagrams over IPv4 and IPv6: ports, addresses, payload; Ethernet padding is not payload', () => {
  const l3: L3Position = { etherType: 0, offset: 0, vlanTags: 0 };
  const seg = newSegment();
  for (const [src, dst] of [['10.9.8.7', '10.9.8.6'], ['fd00::a:1', '2001:db8::53']]) {
    const frame = ethernet(ipUdp({ src, dst, sport: 5353, dport: 53, payload: 'abc' }));
    if (!src.includes(':')) assert.equal(frame.length, 60); // padded: 15 trailing zeros after the IPv4 packet
    assert.ok(decodeLink(LINKTYPE_ETHERNET, frame, 0, frame.length, l3));
    assert.equal(decodeIp(l3.etherType, frame, l3.offset, frame.length, frame.length, seg), IpResult.Udp);
    assert.equal(payload(seg), 'abc');
    assert.equal(seg.segLen, 3);
    assert.equal(seg.srcPort, 5353);
    assert.equal(seg.dstPort, 53);
    assert.equal(seg.v6, src.includes(':'));
    assert.deepEqual(seg.v6 ? [ipv6Text(frame, seg.src6), ipv6Text(frame, seg.dst6)] : [ipv4Text(seg.src4), ipv4Text(seg.dst4)], [src, dst]);
  }
});

test('one Segment reused: a UDP datagram after a TCP segment carries no TCP fields', () => {
  const seg = newSegment();
  assert.equal(decode(ipTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1000, dport: 80, seq: 77, ack: 99, flags: 'PA', payload: 'tcp!' }), seg), IpResult.Tcp);
  assert.deepEqual([seg.seq, seg.ack, seg.flags, payload(seg)], [77, 99, 0x18, 'tcp!']);
  assert.equal(decode(ipUdp({ src: '10.0.0.1', dst: '10.0.0.3', sport: 2000, dport: 53, payload: 'udp' }), seg), IpResult.Udp);
  assert.deepEqual([seg.seq, seg.ack, seg.flags, payload(seg), seg.srcPort, seg.dstPort], [0, 0, 0, 'udp', 2000, 53]);
});

test('a UDP length shorter than the IP payload ends the datagram there', () => {
  for (const src of ['10.0.0.1', 'fd00::1']) {
    const seg = newSegment();
    const ip = ipUdp({ src, dst: src.replace('1', '2'), sport: 1, dport: 2, payload: 'hello-trailer', udpLength: 8 + 5 });
    assert.equal(decode(ip, seg), IpResult.Udp);
    assert.equal(payload(seg), 'hello');
    assert.equal(seg.segLen, 5);
  }
});

test('bad UDP lengths are malformed, and the next datagram decodes whole through the same Segment', () => {
  for (const src of ['10.0.0.1', 'fd00::1']) {
    const dst = src.replace('1', '2');
    const seg = newSegment();
    const bad = [
      ipUdp({ src, dst, sport: 1, dport: 2, payload: 'xyz', udpLength: 0 }),
      ipUdp({ src, dst, sport: 1, dport: 2, payload: 'xyz', udpLength: 7 }), // shorter than the header
      ipUdp({ src, dst, sport: 1, dport: 2, payload: 'xyz', udpLength: 8 + 4 }), // one byte past the IP payload
      ipUdp({ src, dst, sport: 1, dport: 2, payload: 'xyz', udpLength: 65535 }),
      // An IP payload too short for the UDP header itself (IP lengths say 4 bytes of UDP).
      ipPacket(src, dst, 17, Buffer.from([0, 1, 0, 2])),
    ];
    for (const ip of bad) assert.equal(decode(ip, seg), IpResult.Malformed, ip.toString('hex'));
    // The exact fit is fine (UDP length = IP payload, and the empty datagram).
    assert.equal(decode(ipUdp({ src, dst, sport: 1, dport: 2, payload: 'xyz', udpLength: 8 + 3 }), seg), IpResult.Udp);
    assert.equal(payload(seg), 'xyz');
    assert.equal(decode(ipUdp({ src, dst, sport: 3, dport: 4 }), seg), IpResult.Udp);
    assert.deepEqual([seg.srcPort, seg.dstPort, seg.segLen, seg.payloadEnd - seg.payloadStart], [3, 4, 0, 0]);
  }
});

test('a datagram the snap length cut: segLen from the UDP header, payload as captured; a cut header is malformed', () => {
  const ip = ipUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: 'x'.repeat(100) });
  const seg = newSegment();
  assert.equal(decode(ip, seg, 20 + 8 + 10), IpResult.Udp);
  assert.equal(seg.segLen, 100);
  assert.equal(payload(seg), 'x'.repeat(10));
  assert.equal(decode(ip, seg, 20 + 7), IpResult.Malformed);
});

test('IPv4 with a total length of 0 (TSO/GSO on the capturing host): the frame length bounds the datagram', () => {
  const ip = ipUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: 'gso' });
  ip.writeUInt16BE(0, 2);
  const seg = newSegment();
  assert.equal(decode(ip, seg), IpResult.Udp);
  assert.equal(payload(seg), 'gso');
  const long = ipUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: 'gso', udpLength: 12 });
  long.writeUInt16BE(0, 2);
  assert.equal(decode(long, seg), IpResult.Malformed);
});

test('IPv6: UDP after a hop-by-hop options header', () => {
  const udp = ipUdp({ src: 'fd00::1', dst: 'fd00::2', sport: 546, dport: 547, payload: 'dhcp6' }).subarray(40);
  const hop = Buffer.from([17, 0, 1, 4, 0, 0, 0, 0]); // next header UDP, length 0 (8 bytes), PadN
  const ip = ipPacket('fd00::1', 'fd00::2', 0, Buffer.concat([hop, udp]));
  const seg = newSegment();
  assert.equal(decode(ip, seg), IpResult.Udp);
  assert.deepEqual([seg.srcPort, seg.dstPort, payload(seg)], [546, 547, 'dhcp6']);
});

test('other transports are NotTcpUdp; fragments stay Fragment', () => {
  const seg = newSegment();
  assert.equal(decode(ipPacket('10.0.0.1', '10.0.0.2', 1, Buffer.from('0800f7ff00000000', 'hex')), seg), IpResult.NotTcpUdp); // ICMP echo
  assert.equal(decode(ipPacket('fd00::1', 'fd00::2', 58, Buffer.from('8000000000000000', 'hex')), seg), IpResult.NotTcpUdp); // ICMPv6
  assert.equal(decode(ipPacket('10.0.0.1', '10.0.0.2', 132, Buffer.alloc(12)), seg), IpResult.NotTcpUdp); // SCTP
  const frag = ipUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: 'frag' });
  frag.writeUInt16BE(0x2000, 6); // more fragments
  assert.equal(decode(frag, seg), IpResult.Fragment);
});
