/**
 * HTTP/1.x semantics on hand-built conversations (frames written byte by byte, see
 * test/capture/frames.ts), run through the whole pipeline. Expected values come from the
 * messages the test wrote, never from the code under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { defaultDissectorLimits } from '../../src/protocols/dissector.js';
import { Conversation } from '../capture/frames.js';
import { hdr, importFrames, text } from '../agent/run.js';

const client = { ip: '192.168.7.10', port: 51000 };
const server = { ip: '192.168.7.20', port: 8080 };

function conv(): Conversation {
  return new Conversation(client, server).handshake();
}

test('keep-alive: three exchanges on one connection, in order, with methods, paths, queries, statuses', async () => {
  const c = conv();
  c.send('GET /a?x=1&y=2 HTTP/1.1\r\nHost: svc\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc');
  c.send('POST /b HTTP/1.1\r\nHost: svc\r\nContent-Length: 5\r\n\r\nhello');
  c.reply('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
  c.send('DELETE /c HTTP/1.0\r\n\r\n');
  c.reply('HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\n\r\nno');
  c.close();
  const { entries } = await importFrames(c.frames);
  assert.deepEqual(
    entries.map((e) => [e.operation, e.target, e.query, e.status, e.statusText, e.protocolVersion, text(e.requestBody), text(e.responseBody)]),
    [
      ['GET', '/a', 'x=1&y=2', 200, 'OK', '1.1', '', 'abc'],
      ['POST', '/b', '', 201, 'Created', '1.1', 'hello', ''],
      ['DELETE', '/c', '', 404, 'Not Found', '1.0', '', 'no'],
    ],
  );
  const e = entries[0];
  assert.equal(e.src.ip, client.ip);
  assert.equal(e.src.port, client.port);
  assert.equal(e.dst.ip, server.ip);
  assert.equal(e.dst.port, server.port);
  assert.equal(e.host, 'svc');
  // Frame times: each frame is 100 µs after the previous (frames.ts). Request = frame 4, response = frame 5.
  assert.equal(e.startUs, c.frames[3].tsUs);
  assert.equal(e.endUs, c.frames[4].tsUs);
  assert.equal(e.durationUs, 100);
  assert.match(e.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(e.unanswered, false);
  assert.equal(e.incomplete, false);
});

test('pipelining: requests in one segment, responses in one segment, paired in order', async () => {
  const c = conv();
  c.send('GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /3 HTTP/1.1\r\nHost: h\r\n\r\n');
  c.reply(
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1' +
      'HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\n2' +
      'HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n' + // HEAD: no body despite the length
      'garbage-after',
  );
  const { entries } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => [e.operation, e.target, e.status, text(e.responseBody)]), [
    ['GET', '/1', 200, '1'],
    ['GET', '/2', 500, '2'],
    ['HEAD', '/3', 200, ''],
  ]);
});

test('a request or response split into many tiny segments parses the same', async () => {
  const c = conv();
  c.send('PUT /split?q=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789', 3);
  c.reply('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n2;ext=1\r\nef\r\n0\r\nX-Trailer: t\r\n\r\n', 2);
  const { entries } = await importFrames(c.frames);
  assert.equal(entries.length, 1);
  assert.equal(text(entries[0].requestBody), '0123456789');
  assert.equal(text(entries[0].responseBody), 'abcdef');
  // A trailer is kept apart from the head's headers, under its prefix.
  assert.equal(hdr(entries[0].responseHeaders, 'x-trailer'), undefined);
  assert.equal(hdr(entries[0].responseHeaders, 'trailer x-trailer'), 't');
  assert.equal(entries[0].responseBody.size, 6);
  assert.equal(entries[0].responseBody.wireSize, '4\r\nabcd\r\n2;ext=1\r\nef\r\n0\r\nX-Trailer: t\r\n\r\n'.length);
});

test('gzip, deflate (zlib and raw) and chunked gzip bodies are decoded, with wire and decoded sizes', async () => {
  const plain = 'the quick brown fox '.repeat(50);
  const gz = gzipSync(plain);
  const c = conv();
  for (const [enc, bytes] of [['gzip', gz], ['deflate', deflateSync(plain)], ['deflate', deflateRawSync(plain)]] as const) {
    c.send('GET /z HTTP/1.1\r\n\r\n');
    c.reply(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: ${enc}\r\nContent-Length: ${bytes.length}\r\n\r\n`), bytes]));
  }
  const half = gz.length >> 1;
  c.send('GET /zc HTTP/1.1\r\n\r\n');
  c.reply(Buffer.concat([
    Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n${half.toString(16)}\r\n`),
    gz.subarray(0, half),
    Buffer.from(`\r\n${(gz.length - half).toString(16)}\r\n`),
    gz.subarray(half),
    Buffer.from('\r\n0\r\n\r\n'),
  ]));
  const { entries } = await importFrames(c.frames);
  assert.equal(entries.length, 4);
  for (const e of entries) {
    assert.equal(text(e.responseBody), plain);
    assert.equal(e.responseBody.size, plain.length);
    assert.equal(e.responseBody.truncated, false);
  }
  assert.deepEqual(entries.map((e) => e.responseBody.encoding), ['gzip', 'deflate', 'deflate', 'gzip']);
  assert.equal(entries[0].responseBody.wireSize, gz.length);
});

test('bodies beyond the limit are cut with sizes kept; a gzip bomb stays bounded', async () => {
  const big = 'x'.repeat(10_000);
  const bomb = gzipSync(Buffer.alloc(50 << 20)); // 50 MiB of zeros, ~50 KiB compressed
  const c = conv();
  c.send(`POST /up HTTP/1.1\r\nContent-Length: ${big.length}\r\n\r\n${big}`);
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  c.send('GET /bomb HTTP/1.1\r\n\r\n');
  c.reply(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${bomb.length}\r\n\r\n`), bomb]));
  const limits = { ...defaultDissectorLimits, maxBodyBytes: 1000 };
  const { entries } = await importFrames(c.frames, { dissectors: limits });
  const [up, b] = entries;
  assert.equal(up.requestBody.bytes.length, 1000);
  assert.equal(up.requestBody.size, 10_000);
  assert.equal(up.requestBody.wireSize, 10_000);
  assert.equal(up.requestBody.truncated, true);
  assert.equal(b.responseBody.bytes.length, 1000);
  assert.ok(b.responseBody.bytes.every((x) => x === 0));
  assert.equal(b.responseBody.truncated, true);
  assert.equal(b.responseBody.wireSize, bomb.length);
  assert.ok(b.responseBody.size <= 16 * 1000, `decoding stopped near the cap, not at ${b.responseBody.size}`);
});

test('interim 100 Continue is skipped; 204 and 304 have no body; HTTP/1.0 body ends with the connection', async () => {
  const c = conv();
  c.send('POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n');
  c.reply('HTTP/1.1 100 Continue\r\n\r\n');
  c.send('data');
  c.reply('HTTP/1.1 204 No Content\r\n\r\n');
  c.send('GET /cached HTTP/1.1\r\nIf-None-Match: "x"\r\n\r\n');
  c.reply('HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n');
  c.send('GET /old HTTP/1.0\r\n\r\n');
  c.reply('HTTP/1.0 200 OK\r\n\r\nuntil the very end');
  c.close();
  const { entries, result } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => [e.target, e.status, text(e.requestBody), text(e.responseBody), e.incomplete]), [
    ['/e', 204, 'data', '', false],
    ['/cached', 304, '', '', false],
    ['/old', 200, '', 'until the very end', false],
  ]);
  assert.equal(result.counters.protocols.http.parseErrors, 0);
});

test('101 Switching Protocols ends HTTP on the connection: the frames after it are WebSocket\'s, not HTTP\'s', async () => {
  const c = conv();
  c.send('GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  c.reply('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  c.send(Buffer.from([0x81, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  c.reply(Buffer.from([0x81, 0x02, 0x68, 0x69]));
  c.close();
  const { entries, result } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => [e.protocol, e.target, e.status]), [['http', '/ws', 101], ['websocket', '/ws', 0], ['websocket', '/ws', 0]]);
  assert.equal(result.counters.protocols.http.parseErrors, 0);
});

test('a refused upgrade leaves the connection speaking HTTP', async () => {
  const c = conv();
  c.send('GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n');
  c.reply('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
  c.send('GET /next HTTP/1.1\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const { entries } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => [e.target, e.status]), [['/ws', 400], ['/next', 200]]);
});

test('requests without responses: at connection end, and after the unanswered timeout', async () => {
  const c = conv();
  c.send('GET /never HTTP/1.1\r\n\r\n');
  c.close();
  const a = await importFrames(c.frames);
  assert.deepEqual(a.entries.map((e) => [e.target, e.unanswered, e.status, e.durationUs]), [['/never', true, 0, 0]]);
  assert.equal(a.entries[0].endUs, c.frames[3].tsUs);

  const d = conv();
  d.send('GET /slow HTTP/1.1\r\n\r\n');
  // Another connection keeps the clock going 90 s later: the request times out (limit 60 s).
  const other = new Conversation({ ip: '192.168.7.11', port: 52000 }, server, d.frames[3].tsUs + 90e6).handshake();
  const b = await importFrames([...d.frames, ...other.frames]);
  assert.equal(b.entries.length, 1);
  assert.equal(b.entries[0].unanswered, true);
  assert.equal(b.result.counters.protocols.http.unanswered, 1);
});

test('folded, odd and oversized headers are tolerated; the head limit cuts and marks', async () => {
  const c = conv();
  c.send('GET /h HTTP/1.1\r\nX-Folded: one\r\n  two\r\nno colon line\r\nX-Spaces :  padded  \r\n\r\n');
  c.reply(`HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(5000)}\r\nContent-Length: 2\r\n\r\nok`);
  const limits = { ...defaultDissectorLimits, maxHeaderBytes: 1024 };
  const { entries } = await importFrames(c.frames, { dissectors: limits });
  const e = entries[0];
  assert.equal(hdr(e.requestHeaders, 'x-folded'), 'one two');
  assert.equal(hdr(e.requestHeaders, 'x-spaces'), 'padded');
  assert.equal(e.requestHeaders.count, 2);
  assert.equal(e.status, 200);
  // The cut head lost Content-Length: the body is then read until close, and the entry is marked.
  assert.equal(e.incomplete, true);
});

test('secrets are redacted by default: credential headers, cookies, tokens in the query, extra names', async () => {
  const c = conv();
  c.send('GET /r?user=bob&access_token=abc123&Token=zz HTTP/1.1\r\nAuthorization: Bearer s3cret\r\nCookie: sid=1\r\nX-Api-Key: k\r\nX-Custom-Secret: c\r\nAccept: */*\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nSet-Cookie: sid=2\r\nContent-Length: 0\r\n\r\n');
  const frames = c.frames;
  const on = await importFrames(frames, { redaction: { enabled: true, headers: ['X-Custom-Secret'], queryParams: [] } });
  const e = on.entries[0];
  for (const h of ['authorization', 'cookie', 'x-api-key', 'x-custom-secret']) assert.equal(hdr(e.requestHeaders, h), '[REDACTED]', h);
  assert.equal(hdr(e.responseHeaders, 'set-cookie'), '[REDACTED]');
  assert.equal(hdr(e.requestHeaders, 'accept'), '*/*');
  assert.equal(e.query, 'user=bob&access_token=[REDACTED]&Token=[REDACTED]');
  const off = await importFrames(frames, { redaction: { enabled: false, headers: [], queryParams: [] } });
  assert.equal(hdr(off.entries[0].requestHeaders, 'authorization'), 'Bearer s3cret');
});

test('HTTP on any port is found by content; a non-HTTP connection is counted as unknown', async () => {
  const c = new Conversation(client, { ip: server.ip, port: 5432 }).handshake();
  c.send('OPTIONS * HTTP/1.1\r\n\r\n');
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const other = new Conversation({ ip: client.ip, port: 51001 }, { ip: server.ip, port: 80 }).handshake();
  for (let i = 0; i < 40; i++) other.send(Buffer.from([0, 1, 2, 3, i]));
  const { entries, result } = await importFrames([...c.frames, ...other.frames]);
  assert.deepEqual(entries.map((e) => [e.operation, e.target]), [['OPTIONS', '*']]);
  assert.equal(result.counters.unknownConnections, 1);
});

test('heads: names and values trimmed as sent, bare LF line ends, framing headers in any case, reason phrases', async () => {
  const c = conv();
  // Tabs, spaces and a no-break space (latin1 0xA0) around values; a space before a colon.
  c.send('GET /t HTTP/1.1\r\nHost:\tsvc \r\nX-Pad:\xa0 v a l \t\r\nX-Empty:\r\nX-Name \t: n\r\n\r\n');
  c.reply('HTTP/1.1 200 \r\nCONTENT-length: 2\r\n\r\nok');
  // Bare LF line ends throughout, and a status line without a reason phrase.
  c.send('GET /lf HTTP/1.0\nhost: lf\n\n');
  c.reply('HTTP/1.0 204\ncontent-LENGTH: 0\n\n');
  c.send('GET /reason HTTP/1.1\r\nHost: svc\r\n\r\n');
  c.reply('HTTP/1.1 404 Not  Found here\r\nTransfer-ENCODING: gzip, Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
  c.close();
  const { entries, result } = await importFrames(c.frames, { redaction: { enabled: false, headers: [], queryParams: [] } });
  assert.deepEqual(entries[0].requestHeaders.toPairs(), [['Host', 'svc'], ['X-Pad', 'v a l'], ['X-Empty', ''], ['X-Name', 'n']]);
  assert.equal(entries[0].host, 'svc');
  assert.deepEqual([entries[0].status, entries[0].statusText, text(entries[0].responseBody)], [200, '', 'ok']);
  assert.deepEqual([entries[1].target, entries[1].host, entries[1].protocolVersion], ['/lf', 'lf', '1.0']);
  assert.deepEqual([entries[1].status, entries[1].statusText], [204, '']);
  assert.deepEqual([entries[2].status, entries[2].statusText, text(entries[2].responseBody)], [404, 'Not  Found here', 'abc']);
  assert.equal(entries.length, 3);
  assert.equal(result.counters.protocols.http.parseErrors, 0);
});

test('heads: malformed request and status lines are parse errors, and the next good message still parses', async () => {
  for (const [bad, requests] of [
    ['G@T /x HTTP/1.1', true],
    ['GET /x HTTP/1.2', true],
    ['GET HTTP/1.1', true],
    ['HTTP/1.1 20 OK', false],
    ['HTTP/1.1 200OK', false],
    ['HTTP/1.3 200 OK', false],
    ['HTTP/1.1 2x0 OK', false],
    ['HTTP/1.1 200 O\rK', false],
  ] as const) {
    const c = conv();
    if (requests) {
      // The bad line still starts like a request (GET…/G…), so detection hands it to the parser.
      c.send(`GET /first HTTP/1.1\r\n\r\n${bad}\r\nHost: h\r\n\r\nGET /ok HTTP/1.1\r\n\r\n`);
      c.reply('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    } else {
      c.send('GET /ok HTTP/1.1\r\n\r\n');
      c.reply(`HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n${bad}\r\nContent-Length: 0\r\n\r\n`);
    }
    c.close();
    const { entries, result } = await importFrames(c.frames);
    assert.ok(result.counters.protocols.http.parseErrors >= 1, `${bad}: a parse error`);
    const paths = entries.map((e) => `${e.target} ${e.status}`);
    assert.deepEqual(paths, requests ? ['/first 200', '/ok 200'] : ['/ok 200'], bad);
  }
});

test('heads of very different sizes on one connection, each whole in one segment or spread over several', async () => {
  const c = conv();
  const big = 'v'.repeat(3000);
  c.send('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n', 9000);
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na', 9000);
  c.send(`GET /2 HTTP/1.1\r\nHost: b\r\nX-Big: ${big}\r\nX-After: 1\r\n\r\n`, 9000);
  c.reply(`HTTP/1.1 200 OK\r\nX-Big: ${big}\r\nContent-Length: 2\r\n\r\nbb`, 9000);
  c.send(`GET /3 HTTP/1.1\r\nHost: c\r\nX-Big: ${big}\r\n\r\n`, 1000);
  c.reply('HTTP/1.1 204 No Content\r\n\r\n', 9000);
  c.send('GET /4 HTTP/1.1\r\nHost: d\r\n\r\n', 9000);
  c.reply('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nd', 9000);
  const { entries } = await importFrames(c.frames);
  assert.deepEqual(entries.map((e) => [e.target, e.host, e.status, text(e.responseBody)]), [
    ['/1', 'a', 200, 'a'],
    ['/2', 'b', 200, 'bb'],
    ['/3', 'c', 204, ''],
    ['/4', 'd', 200, 'd'],
  ]);
  assert.equal(hdr(entries[1].requestHeaders, 'x-big'), big);
  assert.equal(hdr(entries[1].requestHeaders, 'x-after'), '1');
  assert.equal(hdr(entries[1].responseHeaders, 'x-big'), big);
  assert.equal(hdr(entries[2].requestHeaders, 'x-big'), big);
  assert.ok(entries.every((e) => !e.incomplete));
});

test('an accepted Upgrade hands the connection to the protocol it names; a refused one stays HTTP', async () => {
  // `tline` (a protocol of the tests' own) as the upgrade target, registered for this pipeline only.
  const { tlineDissector } = await import('../../../test/support/line-protocols.js');
  const { protocols } = await import('../../src/protocols/registry.js');
  const c = conv();
  c.send('GET /switch HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: tline\r\n\r\n');
  // The client speaks the new protocol before the 101 arrives: held, then handed over.
  c.send('REQ GET early\r\n');
  c.reply('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: tline\r\n\r\nRES 200 first\r\n');
  c.send('REQ GET later\r\n');
  c.reply('RES 404 none\r\n');
  c.close();
  const refused = new Conversation({ ip: client.ip, port: client.port + 1 }, server).handshake();
  refused.send('GET /no HTTP/1.1\r\nHost: h\r\nUpgrade: tline\r\n\r\n');
  refused.reply('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  refused.send('GET /next HTTP/1.1\r\nHost: h\r\n\r\n');
  refused.reply('HTTP/1.1 204 No Content\r\n\r\n');
  refused.close();
  const { entries } = await importFrames([...c.frames, ...refused.frames], { protocols: [...protocols.all(), tlineDissector] });
  assert.deepEqual(
    entries.map((e) => [e.protocol, e.operation, e.target, e.status]),
    [
      ['http', 'GET', '/switch', 101],
      ['tline', 'GET', 'early', 200],
      ['tline', 'GET', 'later', 404],
      ['http', 'GET', '/no', 200],
      ['http', 'GET', '/next', 204],
    ],
  );
  assert.ok(entries.filter((e) => e.protocol === 'tline').every((e) => e.src.ip === client.ip && e.dst.port === server.port));
});
