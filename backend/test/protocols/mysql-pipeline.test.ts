/**
 * MySQL through the agent's pipeline on hand-built frames: what real clients cannot be made to
 * send on demand (auth switches, EOF with and without CLIENT_DEPRECATE_EOF, binary rows of every
 * width, FIELD_LIST, a cursor, TLS, zstd frames, a pickup mid-connection, gaps), the outcome of
 * error numbers, the statement table's bound, and bad input: lengths that lie, sequence ids out
 * of order, a compressed frame that inflates past what it declares, random bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { MAX_STATEMENTS, mysqlDissector, redactStatement } from '../../src/protocols/mysql/dissector.js';
import { PacketFramer } from '../../src/protocols/mysql/packet.js';
import { newProtocolCounters } from '../../src/protocols/dissector.js';
import { protocols } from '../../src/protocols/registry.js';
import { lookupField } from '../../src/query/fields.js';
import { Conversation, type Frame } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';
import { BASE_CAPS, CAP, column, command, compressedFrame, eof, err, greeting, login, ok, packet, str, textRow, u16, u32 } from './mysql-wire.js';

const t0 = 1_700_000_000_000_000;
let port = 41000;
const outcome = (e: Entry) => mysqlDissector.outcome({ ...e, clientDir: 0 });
const summary = (e: Entry) => `${e.operation} ${e.target} ${e.unanswered ? 'unanswered' : `${e.status} ${e.statusText}`}`;

/** A connection through the login: greeting, handshake response, then OK (or what `authReplies` says). */
function session(caps = BASE_CAPS, authReplies: Buffer[] = [packet(2, ok())]): Conversation {
  const c = new Conversation({ ip: '10.7.0.1', port: port++ }, { ip: '10.7.0.2', port: 3306 }, t0 + port * 1e7).handshake();
  c.reply(packet(0, greeting(caps)));
  c.send(packet(1, login(caps, 'app', 'shop', Buffer.alloc(20, 0xaa))));
  for (const r of authReplies) c.reply(r);
  return c;
}

async function run(...convs: Conversation[]) {
  const frames: Frame[] = [];
  for (const c of convs) frames.push(...c.close().frames);
  const { entries, result } = await importFrames(frames, { redaction: { enabled: true, headers: [], queryParams: [] } });
  return { entries: entries.sort((a, b) => a.startUs - b.startUs), counters: result.counters.protocols.mysql };
}

test('MySQL is a built-in protocol with the sql family fields and its own', () => {
  assert.equal(protocols.get('mysql'), mysqlDissector);
  assert.deepEqual(
    ['sql.statement', 'sql.error', 'sql.rows', 'mysql.errno', 'mysql.command', 'mysql.statement_id', 'mysql.tls'].map((n) => lookupField(n)?.type),
    ['string', 'string', 'int', 'int', 'string', 'int', 'bool'],
  );
  assert.ok(lookupField('sql.error')?.protocols?.includes('mysql'));
  assert.equal(lookupField('mysql.errno')?.sql, "fields_number['mysql.errno']");
});

test('a session: auth switch, EOF-framed result sets, prepared statements with binary rows, FIELD_LIST, INIT_DB, errors', async () => {
  const c = session(BASE_CAPS, [
    packet(2, Buffer.concat([Buffer.from([0xfe]), Buffer.from('caching_sha2_password\0'), Buffer.alloc(20, 1)])),
  ]);
  c.send(packet(3, Buffer.alloc(32, 0xbb))); // the switched auth response
  c.reply(packet(4, Buffer.from([0x01, 0x03]))); // AuthMoreData: fast auth ok
  c.reply(packet(5, ok()));
  c.send(packet(0, command(3, 'SELECT a, b FROM t')));
  c.reply(Buffer.concat([packet(1, Buffer.from([2])), packet(2, column('a', 3)), packet(3, column('b', 253)), packet(4, eof()),
    packet(5, textRow(['1', 'x'])), packet(6, textRow([null, 'tab\there'])), packet(7, eof())]));
  c.send(packet(0, command(0x16, 'SELECT * FROM t WHERE a > ? AND b = ?')));
  c.reply(Buffer.concat([packet(1, Buffer.concat([Buffer.from([0]), u32(7), u16(5), u16(2), Buffer.from([0]), u16(0)])),
    packet(2, column('?', 253)), packet(3, column('?', 253)), packet(4, eof()),
    packet(5, column('i', 1)), packet(6, column('u', 8, 0x20)), packet(7, column('d', 5)), packet(8, column('when', 12)), packet(9, column('s', 253)), packet(10, eof())]));
  const exec = Buffer.concat([u32(7), Buffer.from([0]), u32(1), Buffer.from([0b10]), Buffer.from([1]), u16(8), u16(253), Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]);
  c.send(packet(0, command(0x17, exec)));
  const dt = Buffer.from([7, 0xea, 0x07, 12, 2, 10, 30, 5]);
  const binary = Buffer.concat([Buffer.from([0, 0]), Buffer.from([0xff]), Buffer.alloc(8, 0xff), Buffer.from([0, 0, 0, 0, 0, 0, 0xf8, 0x3f]), dt, str('hi')]);
  c.reply(Buffer.concat([packet(1, Buffer.from([5])), ...['i', 'u', 'd', 'when', 's'].map((n, i) => packet(2 + i, column(n, [1, 8, 5, 12, 253][i], i === 1 ? 0x20 : 0))),
    packet(7, eof()), packet(8, binary), packet(9, eof())]));
  c.send(packet(0, command(0x1a, u32(7))));
  c.reply(packet(1, ok()));
  c.send(packet(0, command(0x19, u32(7))));
  c.send(packet(0, command(0x04, 't\0')));
  c.reply(Buffer.concat([packet(1, column('a', 3)), packet(2, column('b', 253)), packet(3, eof())]));
  c.send(packet(0, command(0x02, 'other')));
  c.reply(packet(1, ok()));
  c.send(packet(0, command(3, 'UPDATE accounts SET x = 1')));
  c.reply(packet(1, err(1205, 'HY000', 'Lock wait timeout exceeded')));
  c.send(packet(0, command(3, 'INSERT INTO t VALUES (1)')));
  c.reply(packet(1, err(1366, 'HY000', 'Incorrect integer value')));
  c.send(packet(0, command(3, 'UPDATE t SET a = 2')));
  c.reply(packet(1, err(1213, '40001', 'Deadlock found')));
  c.send(packet(0, command(3, 'DELETE FROM t WHERE a = 1')));
  c.reply(packet(1, ok(3, 0, 2, 1)));
  c.send(packet(0, command(0x0e)));
  c.reply(packet(1, ok()));
  c.send(packet(0, command(1)));
  const { entries, counters } = await run(c);
  assert.deepEqual([counters.parseErrors, counters.orphanResponses, counters.unanswered], [0, 0, 0]);
  assert.deepEqual(entries.map(summary), [
    'LOGIN shop 0 OK', 'SELECT t 0 OK', 'STMT_PREPARE t 0 OK', 'SELECT t 0 OK', 'STMT_RESET t 0 OK', 'STMT_CLOSE t 0 ',
    'FIELD_LIST t 0 OK', 'INIT_DB other 0 OK', 'UPDATE accounts 1205 HY000', 'INSERT t 1366 HY000', 'UPDATE t 1213 40001', 'DELETE t 0 OK', 'PING  0 OK', 'QUIT  0 ',
  ]);
  const [loginEntry, select, prepare, execute, , close, fieldList, , lock, incorrect, deadlock, del, , quit] = entries;
  assert.equal(loginEntry.fields['mysql.auth_plugin'], 'caching_sha2_password');
  assert.deepEqual([loginEntry.fields['mysql.server_version'], loginEntry.fields['mysql.connection_id'], loginEntry.fields['sql.user']], ['8.0.36', 42, 'app']);
  assert.equal(select.responseBody.bytes.toString(), 'a\tb\n1\tx\nNULL\ttab\\there\n');
  assert.deepEqual([select.fields['sql.rows'], select.fields['mysql.columns']], [2, 2]);
  assert.deepEqual([prepare.fields['mysql.statement_id'], prepare.fields['sql.statement']], [7, 'SELECT * FROM t WHERE a > ? AND b = ?']);
  assert.deepEqual(execute.requestHeaders.toPairs(), [['param 1', '-2'], ['param 2', 'NULL']]);
  assert.equal(execute.fields['sql.statement'], 'SELECT * FROM t WHERE a > ? AND b = ?');
  assert.equal(execute.responseBody.bytes.toString(), 'i\tu\td\twhen\ts\n-1\t18446744073709551615\t1.5\t2026-12-02 10:30:05\thi\n');
  assert.deepEqual([outcome(close), close.fields['mysql.one_way'], outcome(quit)], [Outcome.oneWay, 1, Outcome.oneWay]);
  assert.equal(fieldList.fields['mysql.columns'], 2);
  assert.deepEqual(entries.slice(8).map((e) => e.fields['sql.database']), ['other', 'other', 'other', 'other', 'other', 'other']);
  // HY000 says nothing: the error number decides; SQLSTATE class 40 is the server's.
  assert.deepEqual([outcome(lock), outcome(incorrect), outcome(deadlock), outcome(del)], [Outcome.serverError, Outcome.clientError, Outcome.serverError, Outcome.ok]);
  assert.deepEqual([del.fields['sql.rows'], del.fields['mysql.warnings']], [3, 1]);
  // The auth responses (0xaa…, 0xbb…) are nowhere in the entries.
  for (const e of entries) assert.ok(!JSON.stringify(e).includes('aaaa') && !JSON.stringify(e).includes('bbbb'), e.operation);
  const sections = mysqlDissector.represent(execute);
  assert.deepEqual(sections.map((s) => s.title), ['Command', 'Parameters', 'Statement', 'Result', 'Rows', 'Fields']);
});

test('CLIENT_DEPRECATE_EOF: rows end with an 0xfe OK, an empty result is not mistaken; multi-results; a cursor; LOCAL INFILE refused', async () => {
  const caps = BASE_CAPS | CAP.deprecateEof;
  const c = session(caps);
  c.send(packet(0, command(3, 'SELECT a FROM t WHERE 0')));
  c.reply(Buffer.concat([packet(1, Buffer.from([1])), packet(2, column('a', 3)), packet(3, ok(0, 0, 2, 0, 0xfe))]));
  c.send(packet(0, command(3, 'CALL p()')));
  c.reply(Buffer.concat([packet(1, Buffer.from([1])), packet(2, column('a', 3)), packet(3, textRow(['1'])), packet(4, ok(0, 0, 0x0a, 0, 0xfe)),
    packet(5, Buffer.from([1])), packet(6, column('b', 3)), packet(7, textRow(['2'])), packet(8, textRow(['3'])), packet(9, ok(0, 0, 0x0a, 0, 0xfe)), packet(10, ok(0, 0, 2))]));
  c.send(packet(0, command(0x16, 'SELECT a FROM t')));
  c.reply(Buffer.concat([packet(1, Buffer.concat([Buffer.from([0]), u32(1), u16(1), u16(0), Buffer.from([0]), u16(0)])), packet(2, column('a', 3))]));
  c.send(packet(0, command(0x17, Buffer.concat([u32(1), Buffer.from([1]), u32(1)]))));
  c.reply(Buffer.concat([packet(1, Buffer.from([1])), packet(2, column('a', 3)), packet(3, eof(0x42))])); // cursor opened
  c.send(packet(0, command(0x1c, Buffer.concat([u32(1), u32(10)]))));
  c.reply(Buffer.concat([packet(1, Buffer.from([0, 0, 5, 0, 0, 0])), packet(2, ok(0, 0, 0x82, 0, 0xfe))]));
  c.send(packet(0, command(3, "LOAD DATA LOCAL INFILE '/etc/x' INTO TABLE t")));
  c.reply(packet(1, Buffer.from("\xfb/etc/x", 'latin1')));
  c.send(Buffer.concat([packet(2, Buffer.from('1\n2\n')), packet(3, Buffer.alloc(0))]));
  c.reply(packet(4, err(1148, '42000', 'The used command is not allowed')));
  const { entries, counters } = await run(c);
  assert.deepEqual([counters.parseErrors, counters.orphanResponses], [0, 0]);
  assert.deepEqual(entries.map(summary), ['LOGIN shop 0 OK', 'SELECT t 0 OK', 'CALL  0 OK', 'STMT_PREPARE t 0 OK', 'SELECT t 0 OK', 'STMT_FETCH t 0 OK', 'LOAD t 1148 42000']);
  const [, empty, call, , cursor, fetch, infile] = entries;
  assert.deepEqual([empty.fields['sql.rows'], empty.responseBody.bytes.toString()], [0, 'a\n']);
  assert.deepEqual([call.fields['mysql.results'], call.fields['sql.rows'], call.responseBody.bytes.toString()], [3, 3, 'a\n1\nb\n2\n3\n']);
  assert.deepEqual([cursor.fields['sql.rows'], fetch.fields['sql.rows'], fetch.responseBody.bytes.toString()], [0, 1, '5\n']);
  assert.deepEqual([infile.fields['mysql.infile'], infile.fields['mysql.infile_bytes'], outcome(infile)], ['/etc/x', 4, Outcome.clientError]);
});

test('payloads past 16 MiB: continued packets joined (a statement, a row, an exact multiple), kept to the body limit', async () => {
  const c = session();
  const text = `SELECT '${'q'.repeat(0xffffff + 100)}'`;
  c.send(packet(0, command(3, text)), 60_000);
  const row = textRow(['r'.repeat(0xffffff * 2)]);
  // The statement took two packets (0, 1): the reply starts at 2; the row takes three (5, 6, 7).
  c.reply(Buffer.concat([packet(2, Buffer.from([1])), packet(3, column('big', 251)), packet(4, eof()), packet(5, row), packet(8, eof())]), 60_000);
  const exact = Buffer.alloc(0xffffff - 1, 0x61);
  c.send(packet(0, command(3, exact.toString())), 60_000); // 16 MiB - 1 exactly, then an empty packet
  c.reply(packet(2, err(1064, '42000', 'syntax')));
  const { entries, counters } = await run(c);
  assert.deepEqual([counters.parseErrors, counters.orphanResponses], [0, 0]);
  const [, big, multiple] = entries;
  assert.deepEqual([big.requestBody.size, big.requestBody.truncated, big.requestBody.bytes.length, big.fields['sql.rows']], [text.length, true, 64 * 1024, 1]);
  assert.ok(big.responseBody.truncated && big.responseBody.bytes.toString().startsWith('big\nrrrr'));
  assert.ok(big.responseBody.bytes.length <= 64 * 1024);
  assert.deepEqual([multiple.status, multiple.requestBody.size], [1064, 0xffffff - 1]);
});

test('the compressed protocol: zlib frames (a packet across frames, a frame sent as is) and zstd frames', async () => {
  const z = session(BASE_CAPS | CAP.compress);
  z.send(compressedFrame(0, packet(0, command(3, 'SELECT 1'))));
  const reply = Buffer.concat([packet(1, Buffer.from([1])), packet(2, column('1', 8)), packet(3, eof()), packet(4, textRow(['1'])), packet(5, eof())]);
  z.reply(Buffer.concat([compressedFrame(1, reply.subarray(0, 20)), compressedFrame(2, reply.subarray(20))]));
  const raw = packet(0, command(0x0e));
  z.send(compressedFrame(0, raw, raw, 0));
  z.reply(compressedFrame(1, packet(1, ok())));
  const zs = session(BASE_CAPS | CAP.compress | CAP.zstd);
  const q = packet(0, command(3, 'SELECT 2'));
  zs.send(compressedFrame(0, q, execFileSync('zstd', ['-c', '-q'], { input: q }), q.length));
  const r = packet(1, err(1146, '42S02', "Table 'shop.x' doesn't exist"));
  zs.reply(compressedFrame(1, r, execFileSync('zstd', ['-c', '-q'], { input: r }), r.length));
  const { entries, counters } = await run(z, zs);
  assert.deepEqual([counters.parseErrors, counters.orphanResponses], [0, 0]);
  assert.deepEqual(entries.map(summary), ['LOGIN shop 0 OK', 'SELECT  0 OK', 'PING  0 OK', 'LOGIN shop 0 OK', 'SELECT  1146 42S02']);
  assert.equal(entries[1].responseBody.bytes.toString(), '1\n1\n');
  assert.deepEqual([entries[0].fields['mysql.compressed'], entries[3].fields['mysql.compressed']], [1, 1]);
});

test('TLS after an SSLRequest is not read; a pickup mid-connection is found by its statements; a connection refused before its greeting', async () => {
  const caps = BASE_CAPS | CAP.ssl;
  const tls = new Conversation({ ip: '10.7.1.1', port: port++ }, { ip: '10.7.1.2', port: 13306 }, t0).handshake();
  tls.reply(packet(0, greeting(caps, '10.11.19-MariaDB')));
  tls.send(packet(1, Buffer.concat([u32(caps), u32(1 << 24), Buffer.from([45]), Buffer.alloc(23)])));
  tls.send(Buffer.from('160301020001000000000000', 'hex'));
  tls.reply(Buffer.alloc(300, 0x17));
  const mid = new Conversation({ ip: '10.7.1.3', port: port++ }, { ip: '10.7.1.4', port: 23306 }, t0 + 1e6);
  mid.send(packet(0, command(3, 'SELECT id FROM users')));
  mid.reply(Buffer.concat([packet(1, Buffer.from([1])), packet(2, column('id', 3)), packet(3, eof()), packet(4, eof())]));
  const refused = new Conversation({ ip: '10.7.1.5', port: port++ }, { ip: '10.7.1.6', port: 3306 }, t0 + 2e6).handshake();
  refused.reply(packet(0, Buffer.concat([Buffer.from([0xff]), u16(1040), Buffer.from('Too many connections')])));
  const { entries, counters } = await run(tls, mid, refused);
  assert.deepEqual(entries.map(summary), ['LOGIN  0 TLS', 'SELECT users 0 OK', 'LOGIN  1040 ERR']);
  assert.deepEqual([entries[2].fields['sql.message'], entries[2].fields['sql.error'], outcome(entries[2])], ['Too many connections', '', Outcome.serverError]);
  assert.deepEqual([entries[0].fields['mysql.tls'], entries[0].fields['mysql.server_version'], outcome(entries[0])], [1, '10.11.19-MariaDB', Outcome.ok]);
  assert.equal(counters.parseErrors, 0);
});

test('bad input: lying lengths, sequence ids out of order, a frame inflating past its header, garbage, a gap: counted, bounded, resumed', async () => {
  const seqs = session();
  seqs.send(packet(0, command(3, 'SELECT 1')));
  seqs.reply(packet(5, ok())); // should be 1
  seqs.send(packet(3, command(3, 'SELECT 2'))); // a command must start at 0
  const bomb = session(BASE_CAPS | CAP.compress);
  const huge = packet(0, command(3, `SELECT '${'b'.repeat(4 << 20)}'`));
  bomb.send(compressedFrame(0, huge, undefined, 100)); // declares 100 bytes, inflates to 4 MiB
  bomb.send(compressedFrame(0, packet(0, command(0x0e))));
  bomb.reply(compressedFrame(1, packet(1, ok())));
  const liar = session();
  liar.send(packet(0, command(3, 'SELECT 3')));
  liar.reply(packet(1, ok()));
  liar.send(Buffer.concat([Buffer.from([0xff, 0xff, 0x7f, 0x00, 0x03]), Buffer.from('SELECT but the rest never comes')]));
  const gap = session();
  gap.send(packet(0, command(3, 'SELECT a FROM t')));
  const rows = Buffer.concat([packet(1, Buffer.from([1])), packet(2, column('a', 3)), packet(3, eof()), ...Array.from({ length: 50 }, (_, i) => packet(4 + i, textRow([String(i)])))]);
  gap.reply(rows.subarray(0, 63)); // the gap starts inside a row
  const lost = gap.reply(rows.subarray(63, 200));
  gap.reply(rows.subarray(200));
  gap.reply(packet(54, eof()));
  gap.send(packet(0, command(0x0e)));
  gap.reply(packet(1, ok()));
  const frames: Frame[] = [];
  for (const c of [seqs, bomb, liar, gap]) frames.push(...c.close().frames.filter((f) => !lost.includes(f)));
  const { entries, result } = await importFrames(frames);
  const counters = result.counters.protocols.mysql;
  const by = (p: number) => entries.filter((e) => e.src.port === p).sort((a, b) => a.startUs - b.startUs).map(summary);
  assert.deepEqual(by(seqs.client.port), ['LOGIN shop 0 OK', 'SELECT  0 OK']);
  assert.deepEqual(by(bomb.client.port), ['LOGIN shop 0 OK', 'PING  0 OK']);
  assert.deepEqual(by(liar.client.port), ['LOGIN shop 0 OK', 'SELECT  0 OK']);
  const gapped = entries.filter((e) => e.src.port === gap.client.port).sort((a, b) => a.startUs - b.startUs);
  assert.deepEqual(gapped.map(summary), ['LOGIN shop 0 OK', 'SELECT t 0 ', 'PING  0 OK']);
  assert.equal(gapped[1].incomplete, true);
  // seq 5 for 1, a command at seq 3, the bomb, the lie cut by the end, the gap mid-row.
  assert.ok(counters.parseErrors >= 5, JSON.stringify(counters));
});

test('the statement table is bounded: the oldest statement is forgotten, its execution still an entry', async () => {
  const c = session();
  for (let id = 1; id <= MAX_STATEMENTS + 1; id++) {
    c.send(packet(0, command(0x16, `SELECT ${id}`)));
    c.reply(packet(1, Buffer.concat([Buffer.from([0]), u32(id), u16(0), u16(0), Buffer.from([0]), u16(0)])));
  }
  for (const id of [1, MAX_STATEMENTS + 1]) {
    c.send(packet(0, command(0x17, Buffer.concat([u32(id), Buffer.from([0]), u32(1)]))));
    c.reply(packet(1, ok()));
  }
  const { entries } = await run(c);
  const [first, last] = entries.slice(-2);
  assert.deepEqual([first.operation, first.fields['sql.statement'], first.fields['mysql.statement_id']], ['STMT_EXECUTE', undefined, 1]);
  assert.deepEqual([last.operation, last.fields['sql.statement']], ['SELECT', `SELECT ${MAX_STATEMENTS + 1}`]);
});

test('redaction: password literals in statements; bound parameters only when asked', async () => {
  assert.equal(redactStatement("CREATE USER 'u'@'%' IDENTIFIED BY 'p4ss'"), "CREATE USER 'u'@'%' IDENTIFIED BY '[REDACTED]'");
  assert.equal(redactStatement("ALTER USER u IDENTIFIED WITH mysql_native_password BY \"p'4\""), "ALTER USER u IDENTIFIED WITH mysql_native_password BY '[REDACTED]'");
  assert.equal(redactStatement("SET PASSWORD FOR 'u' = PASSWORD('p4ss')"), "SET PASSWORD FOR 'u' = PASSWORD('[REDACTED]')");
  assert.equal(redactStatement("SET PASSWORD = 'p4ss'"), "SET PASSWORD = '[REDACTED]'");
  assert.equal(redactStatement("GRANT ALL ON *.* TO u IDENTIFIED BY PASSWORD '*ABC'"), "GRANT ALL ON *.* TO u IDENTIFIED BY PASSWORD '[REDACTED]'");
  assert.equal(redactStatement("SELECT 'IDENTIFIED' FROM t"), "SELECT 'IDENTIFIED' FROM t");
  const make = () => {
    const c = session();
    c.send(packet(0, command(0x16, 'SELECT ? FROM dual')));
    c.reply(Buffer.concat([packet(1, Buffer.concat([Buffer.from([0]), u32(1), u16(0), u16(1), Buffer.from([0]), u16(0)])), packet(2, column('?', 253)), packet(3, eof())]));
    c.send(packet(0, command(0x17, Buffer.concat([u32(1), Buffer.from([0]), u32(1), Buffer.from([0, 1]), u16(253), str('card-4111')]))));
    c.reply(packet(1, ok()));
    return c.close().frames;
  };
  const kept = (await importFrames(make())).entries.find((e) => e.fields['mysql.command'] === 'STMT_EXECUTE');
  assert.deepEqual(kept?.requestHeaders.toPairs(), [['param 1', "'card-4111'"]]);
  const dropped = (await importFrames(make(), { redaction: { enabled: true, headers: [], queryParams: ['parameters'] } })).entries.find((e) => e.fields['mysql.command'] === 'STMT_EXECUTE');
  assert.deepEqual(dropped?.requestHeaders.toPairs(), [['param 1', '[REDACTED]']]);
});

test('fuzz: the framer yields the same packets however the stream is cut, and random streams never throw', async () => {
  const packets = fc.array(fc.record({ seq: fc.integer({ min: 0, max: 255 }), body: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 20 });
  fc.assert(
    fc.property(packets, fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 30 }), (list, cuts) => {
      const stream = Buffer.concat(list.map((p) => packet(p.seq, Buffer.from(p.body))));
      const got: string[] = [];
      const framer = new PacketFramer({ packet: (seq, b, s, e, length) => got.push(`${seq}:${length}:${b.toString('hex', s, e)}`) }, 128, newProtocolCounters(), () => true);
      let at = 0;
      for (let i = 0; at < stream.length; i++) {
        const n = cuts[i % cuts.length];
        framer.push(stream, at, Math.min(stream.length, at + n), 0);
        at += n;
      }
      assert.deepEqual(got, list.map((p) => `${p.seq}:${p.body.length}:${Buffer.from(p.body).subarray(0, 128).toString('hex')}`));
    }),
    { numRuns: 300 },
  );
  await fc.assert(
    fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 400 }), { minLength: 1, maxLength: 12 }), fc.boolean(), async (chunks, withGreeting) => {
      const c = withGreeting ? session() : new Conversation({ ip: '10.7.9.1', port: 40999 }, { ip: '10.7.9.2', port: 3306 }, t0).handshake();
      chunks.forEach((b, i) => (i % 2 === 0 ? c.send(Buffer.from(b)) : c.reply(Buffer.from(b))));
      const { entries } = await importFrames(c.close().frames);
      for (const e of entries) assert.ok(e.requestBody.bytes.length <= 64 * 1024 && e.responseBody.bytes.length <= 64 * 1024);
    }),
    { numRuns: 60 },
  );
});
