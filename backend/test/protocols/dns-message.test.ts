/**
 * The DNS message reader on hand-built bytes: every record type it renders, compression pointers
 * (good ones, loops, pointers past the end), counts that lie, zero-length names, EDNS0, and
 * random or mutated messages that must never make it throw or grow without bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { looksLikeDns, MAX_RECORDS_KEPT, parseMessage, readName, recordText, ROOT_NAME, typeCode, typeName } from '../../src/protocols/dns/message.js';
import { a, message, name, query, response, u16, u32, type Rr } from './dns-wire.js';

const parse = (b: Buffer) => parseMessage(b, 0, b.length)!;

test('every rendered type: A, AAAA, CNAME, NS, PTR, MX, TXT, SRV, SOA; others as type number and length', () => {
  const ip6 = Buffer.from('20010db8000000000000000000000001', 'hex');
  const records: Rr[] = [
    a('x.test', '10.1.2.3'),
    { name: 'x.test', type: 28, rdata: ip6 },
    { name: 'x.test', type: 28, rdata: Buffer.from('fd000000000100000000000000000000', 'hex') },
    { name: 'c.test', type: 5, rdata: name('x.test') },
    { name: 'test', type: 2, rdata: name('ns1.test') },
    { name: '3.2.1.10.in-addr.arpa', type: 12, rdata: name('x.test') },
    { name: 'test', type: 15, rdata: Buffer.concat([u16(10), name('mail.test')]) },
    { name: 'x.test', type: 16, rdata: Buffer.from('\x05hello\x03a"b', 'latin1') },
    { name: '_s._tcp.test', type: 33, rdata: Buffer.concat([u16(1), u16(2), u16(8443), name('x.test')]) },
    { name: 'test', type: 6, rdata: Buffer.concat([name('ns1.test'), name('admin.test'), u32(2026), u32(3600), u32(600), u32(86400), u32(60)]) },
    { name: 'x.test', type: 257, rdata: Buffer.from('0005697373756561', 'hex') },
    { name: 'x.test', type: 4242, rclass: 3, rdata: Buffer.alloc(3) },
  ];
  const m = parse(message({ id: 7, flags: 0x8180, questions: [['x.test', 255]], answers: records }));
  assert.equal(m.cut, false);
  assert.equal(m.trailing, 0);
  assert.deepEqual(m.answers.map(recordText), [
    'A 60 10.1.2.3',
    'AAAA 300 2001:db8::1',
    'AAAA 300 fd00:0:1::',
    'CNAME 300 x.test',
    'NS 300 ns1.test',
    'PTR 300 x.test',
    'MX 300 10 mail.test',
    'TXT 300 "hello" "a\\034b"',
    'SRV 300 1 2 8443 x.test',
    'SOA 300 ns1.test admin.test 2026 3600 600 86400 60',
    'CAA 300 \\# 8',
    'TYPE4242 CH 300 \\# 3',
  ]);
  assert.deepEqual([m.questions[0].name, typeName(m.questions[0].type)], ['x.test', 'ANY']);
  assert.deepEqual([typeCode('SRV'), typeCode('TYPE4242'), typeCode('NOPE')], [33, 4242, undefined]);
});

test('compression pointers are followed; loops and pointers past the end are refused, never followed forever', () => {
  // Header, then the question "www.example.test" at 12; the answer's owner points at it (0xc00c).
  const q = query(1, 'www.example.test');
  const owner = Buffer.from([0xc0, 12]);
  const cname = Buffer.concat([Buffer.from([3]), Buffer.from('web'), Buffer.from([0xc0, 12 + 4])]); // web + "example.test"
  const m = parse(Buffer.concat([message({ id: 1, flags: 0x8180, questions: [['www.example.test', 1]], counts: [1, 1, 0, 0] }), Buffer.concat([owner, u16(5), u16(1), u32(60), u16(cname.length), cname])]));
  assert.deepEqual(m.answers.map((r) => [r.name, recordText(r)]), [['www.example.test', 'CNAME 60 web.example.test']]);
  assert.equal(q.length > 12, true);

  // A pointer to itself, two pointers to each other, a pointer past the end, a pointer cut in half.
  const header = (qname: Buffer) => Buffer.concat([u16(2), u16(0x0100), u16(1), u16(0), u16(0), u16(0), qname, u16(1), u16(1)]);
  assert.equal(readName(header(Buffer.from([0xc0, 12])), 0, 18, 12), null);
  const mutual = Buffer.concat([u16(2), u16(0x0100), u16(1), u16(0), u16(0), u16(0), Buffer.from([0xc0, 14, 0xc0, 12])]);
  assert.equal(readName(mutual, 0, mutual.length, 12), null);
  const past = header(Buffer.from([1, 0x61, 0xc0, 200]));
  assert.equal(readName(past, 0, past.length, 12), null);
  assert.equal(readName(Buffer.from([1, 0x61, 0xc0]), 0, 3, 0), null);
  // A label running past the end; reserved label kinds 0x40 and 0x80.
  assert.equal(readName(Buffer.from([5, 0x61, 0x62]), 0, 3, 0), null);
  assert.equal(readName(Buffer.from([0x41, 0]), 0, 2, 0), null);
  assert.equal(readName(Buffer.from([0x81, 0]), 0, 2, 0), null);
  // A name longer than 255 octets, built from pointers to a 63-byte label chain (no loop, just long).
  const label = Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)]);
  const long = Buffer.concat([label, label, label, label, Buffer.from([0])]);
  assert.equal(readName(long, 0, long.length, 0), null);
  for (const bad of [header(Buffer.from([0xc0, 12])), mutual, past]) {
    const p = parseMessage(bad, 0, bad.length)!;
    assert.deepEqual([p.questions.length, p.cut], [0, true]);
    assert.equal(looksLikeDns(bad, 0, bad.length, true, false), null);
  }
});

test('zero-length names are the root; bytes outside printable ASCII are escaped as tshark and dig do', () => {
  const m = parse(message({ id: 3, flags: 0x8180, questions: [['', 2]], answers: [{ name: '', type: 2, rdata: name('a.root-servers.net') }] }));
  assert.deepEqual([m.questions[0].name, m.answers[0].name, m.answers[0].data], [ROOT_NAME, ROOT_NAME, 'a.root-servers.net']);
  const odd = Buffer.concat([u16(4), u16(0x0100), u16(1), u16(0), u16(0), u16(0), Buffer.from([3, 0x61, 0x2e, 0x00, 2, 0x20, 0xff, 0]), u16(1), u16(1)]);
  assert.equal(parse(odd).questions[0].name, 'a\\046\\000.\\032\\255');
  assert.equal(looksLikeDns(query(9, ''), 0, 17, true, false), 'query');
});

test('counts that lie: what parsed is kept and the message is marked cut; a 64 KiB message of pointers stays small', () => {
  const liar = message({ id: 5, flags: 0x8180, questions: [['x.test', 1]], answers: [a('x.test', '10.0.0.1')], counts: [1, 65535, 65535, 65535] });
  const m = parse(liar);
  assert.deepEqual([m.questions.length, m.answers.length, m.answersRead, m.cut, m.ancount], [1, 1, 1, true, 65535]);
  assert.equal(looksLikeDns(liar, 0, liar.length, true, false), null, 'a datagram whose counts lie is not taken for DNS');
  const manyQuestions = message({ id: 5, questions: [['x.test', 1]], counts: [9, 0, 0, 0] });
  assert.deepEqual([parse(manyQuestions).questions.length, parse(manyQuestions).cut], [1, true]);
  // Fewer records declared than sent: the rest are trailing bytes.
  const under = message({ id: 5, flags: 0x8180, questions: [['x.test', 1]], answers: [a('x.test', '10.0.0.1'), a('x.test', '10.0.0.2')], counts: [1, 1, 0, 0] });
  assert.deepEqual([parse(under).answers.length, parse(under).trailing, parse(under).cut], [1, 22, false]);
  // A bad rdata length (A with 5 bytes), and one running past the end.
  assert.equal(parse(message({ id: 5, flags: 0x8180, questions: [['x.test', 1]], answers: [{ name: 'x.test', type: 1, rdata: Buffer.alloc(5) }] })).cut, true);
  const past = message({ id: 5, flags: 0x8180, questions: [['x.test', 1]], answers: [a('x.test', '10.0.0.1')] });
  past.writeUInt16BE(400, past.length - 6);
  assert.equal(parse(past).cut, true);

  // 5000 answers whose owner is a pointer to a 250-octet name: only MAX_RECORDS_KEPT are rendered.
  const longName = Array.from({ length: 5 }, () => 'b'.repeat(48)).join('.');
  const head = message({ id: 6, flags: 0x8180, questions: [[longName, 1]], counts: [1, 5000, 0, 0] });
  const one = Buffer.concat([Buffer.from([0xc0, 12]), u16(1), u16(1), u32(1), u16(4), Buffer.from([10, 0, 0, 1])]);
  const big = Buffer.concat([head, ...Array.from({ length: 5000 }, () => one)]);
  const b = parse(big);
  assert.deepEqual([b.answersRead, b.answers.length, b.cut], [5000, MAX_RECORDS_KEPT, false]);
  assert.equal(b.answers[0].name, longName);
});

test('EDNS0: the OPT record gives the UDP size, the DO bit, the options and the extended RCODE', () => {
  const opt = (ttl: number, rdata = Buffer.alloc(0)): Rr => ({ name: '', type: 41, rclass: 1232, ttl, rdata });
  const cookie = Buffer.concat([u16(10), u16(8), Buffer.alloc(8)]);
  const q = parse(message({ id: 8, questions: [['x.test', 1]], additional: [opt(0x00008000, cookie)] }));
  assert.deepEqual(q.edns, { udpSize: 1232, version: 0, extendedRcode: 0, dnssecOk: true, options: [10] });
  assert.equal(recordText(q.additional[0]), 'OPT version 0, udp 1232, do, options COOKIE');
  // BADVERS: RCODE 16 = extended 1 << 4 | header 0.
  const r = parse(message({ id: 8, flags: 0x8180, questions: [['x.test', 1]], additional: [opt(0x01000000)] }));
  assert.equal(r.rcode, 16);
  assert.equal(looksLikeDns(message({ id: 8, questions: [['x.test', 1]], additional: [opt(0)] }), 0, 35, true, false), 'query');
});

test('detection: a plausible header and a question that parses; garbage, HTTP and odd headers are not DNS', () => {
  const q = query(0x1234, 'svc.test', 28);
  const r = response(0x1234, 'svc.test', 28, 3);
  assert.equal(looksLikeDns(q, 0, q.length, true, false), 'query');
  assert.equal(looksLikeDns(r, 0, r.length, true, false), 'response');
  const not = (b: Buffer, why: string) => assert.equal(looksLikeDns(b, 0, b.length, true, false), null, why);
  not(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'HTTP');
  not(Buffer.from('Q 1 name'), 'a tquery datagram');
  not(q.subarray(0, 11), 'shorter than a header');
  not(message({ id: 1, flags: 0x1900, questions: [['x', 1]] }), 'opcode 3');
  not(message({ id: 1, flags: 0x0140, questions: [['x', 1]] }), 'Z set');
  not(message({ id: 1, questions: [['x', 1], ['y', 1]] }), 'two questions');
  not(message({ id: 1, questions: [] }), 'no question');
  not(message({ id: 1, questions: [['x', 1, 77]] }), 'class 77');
  not(message({ id: 1, flags: 0x0103, questions: [['x', 1]] }), 'a query with an RCODE');
  not(Buffer.concat([q, Buffer.from([0])]), 'trailing bytes');
  // mDNS (port 5353): answers without a question.
  const announce = message({ id: 0, flags: 0x8400, answers: [a('printer.local', '10.0.0.9')] });
  assert.equal(looksLikeDns(announce, 0, announce.length, true, false), null);
  assert.equal(looksLikeDns(announce, 0, announce.length, true, true), 'response');
  // The start of a TCP stream: the question is enough, fewer bytes ask for more.
  assert.equal(looksLikeDns(r, 0, 20, false, false), 'more');
  const withAnswer = response(0x1234, 'svc.test', 1, 0, [a('svc.test', '10.0.0.7')]);
  assert.equal(looksLikeDns(withAnswer, 0, withAnswer.length - 5, false, false), 'response', 'the answer need not be there yet');
  assert.equal(looksLikeDns(r, 0, 8, false, false), 'more');
});

/** A deterministic generator (xorshift32), so a failure names its seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

test('fuzz: random bytes and mutated real messages never throw, and the records kept stay bounded', () => {
  const seeds = [
    response(1, 'web.zone.test', 1, 0, [a('web.zone.test', '10.0.0.8'), { name: Buffer.from([0xc0, 12]), type: 5, rdata: Buffer.from([3, 0x77, 0x77, 0x77, 0xc0, 12]) }]),
    message({ id: 2, flags: 0x8180, questions: [['_http._tcp.zone.test', 33]], answers: [{ name: '_http._tcp.zone.test', type: 33, rdata: Buffer.concat([u16(0), u16(5), u16(8080), Buffer.from([0xc0, 12])]) }], additional: [{ name: '', type: 41, rclass: 1232, ttl: 0, rdata: Buffer.alloc(0) }] }),
    query(3, 'x.test', 16),
  ];
  const next = rng(0x5eed);
  let parsed = 0;
  for (let i = 0; i < 20_000; i++) {
    let b: Buffer;
    if (i % 4 === 0) {
      b = Buffer.alloc(Math.floor(next() * 600));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(next() * 256);
    } else {
      b = Buffer.from(seeds[i % seeds.length]);
      const flips = 1 + Math.floor(next() * 6);
      for (let k = 0; k < flips; k++) {
        const at = Math.floor(next() * b.length);
        // Pointers and lengths are where readers break: write those often.
        b[at] = next() < 0.3 ? 0xc0 | Math.floor(next() * 4) : Math.floor(next() * 256);
      }
      if (next() < 0.2) b = b.subarray(0, Math.floor(next() * b.length));
    }
    const m = parseMessage(b, 0, b.length);
    looksLikeDns(b, 0, b.length, true, i % 2 === 0);
    looksLikeDns(b, 0, b.length, false, false);
    if (m === null) continue;
    parsed++;
    assert.ok(m.questions.length <= MAX_RECORDS_KEPT && m.answers.length <= MAX_RECORDS_KEPT && m.additional.length <= MAX_RECORDS_KEPT);
    for (const r of [...m.answers, ...m.authority, ...m.additional]) {
      assert.ok(r.name.length <= 4 * 255 && r.data.length < 8192, `seed step ${i}: record text bounded`);
      recordText(r);
    }
  }
  assert.ok(parsed > 10_000, `${parsed} messages read at least a header`);
});
