/**
 * PostgreSQL through the agent's pipeline on hand-built frames: detection by content on any port,
 * messages split byte by byte and batched, the extended protocol's skip-until-Sync after an error,
 * PortalSuspended, notices, COPY failing, CancelRequest, GSSENCRequest refused then SSLRequest
 * accepted (nothing more is read), a capture picked up mid-connection, unanswered statements, a
 * DataRow past the body limit; then bad input (a length below 4, a huge length, unknown types,
 * random bytes) counted and bounded, and fast-check over random and mutated messages fed straight
 * to the dissector.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { defaultDissectorLimits, newProtocolCounters, type DissectorContext, type Exchange } from '../../src/protocols/dissector.js';
import { Op, postgresDissector } from '../../src/protocols/postgres/dissector.js';
import { protocols } from '../../src/protocols/registry.js';
import { lookupField } from '../../src/query/fields.js';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { Conversation, type Frame } from '../capture/frames.js';
import { importFrames } from '../agent/run.js';
import * as w from './postgres-wire.js';

const client = { ip: '10.9.2.5', port: 40500 };
const server = { ip: '10.9.2.54', port: 15432 }; // not 5432: found by content
const outcome = (e: Entry) => postgresDissector.outcome({ ...e, clientDir: 0 });
const row = (e: Entry) => `${e.operation}|${e.fields['sql.statement'] ?? e.target}|${e.unanswered ? 'unanswered' : e.statusText}`;

/** A connection through startup (cleartext password) with `parts` after it. */
function connection(parts: (c: Conversation) => void, port = client.port): Frame[] {
  const c = new Conversation({ ...client, port }, server).handshake();
  c.send(w.startup({ user: 'app', database: 'shop', application_name: 'billing' }));
  c.reply(w.authCleartext());
  c.send(w.password('hunter2'));
  c.reply(Buffer.concat([w.authOk(), w.parameterStatus('server_version', '15.8'), w.backendKey(4242, 99), w.ready()]));
  parts(c);
  c.close();
  return c.frames;
}

test('PostgreSQL is a built-in protocol with the sql family and its own fields', () => {
  assert.equal(protocols.get('postgres'), postgresDissector);
  assert.deepEqual(['sql.statement', 'sql.rows', 'postgres.tag', 'postgres.transaction'].map((n) => lookupField(n)?.type), ['string', 'int', 'string', 'string']);
  assert.ok(lookupField('sql.error')?.protocols?.includes('postgres'));
});

test('simple protocol split byte by byte and batched: statements, tags, rows, errors, notices, transaction status', async () => {
  const frames = connection((c) => {
    c.send(w.query("BEGIN; INSERT INTO t VALUES (1); SELECT 'a;b' AS x; SELECT 1/0; SELECT 2"), 1);
    c.reply(Buffer.concat([
      w.complete('BEGIN'), w.notice('01000', 'careful'), w.complete('INSERT 0 1'),
      w.rowDescription(['x']), w.dataRow(['a;b']), w.complete('SELECT 1'),
      w.errorResponse('22012', 'division by zero'), w.ready('E'),
    ]), 3);
    c.send(w.query('ROLLBACK'));
    c.reply(Buffer.concat([w.complete('ROLLBACK'), w.ready('I')]));
    c.send(w.query('  -- nothing\n'));
    c.reply(Buffer.concat([w.emptyQuery(), w.ready()]));
  });
  const { entries, result } = await importFrames(frames);
  assert.deepEqual(entries.map(row), [
    'STARTUP|shop|OK',
    'BEGIN|BEGIN|BEGIN',
    'INSERT|INSERT INTO t VALUES (1)|INSERT 0 1',
    "SELECT|SELECT 'a;b' AS x|SELECT 1",
    'SELECT|SELECT 1/0|22012',
    'ROLLBACK|ROLLBACK|ROLLBACK',
    '|-- nothing|EmptyQueryResponse',
  ]);
  const [login, begin, insert, select, div, rollback] = entries;
  assert.deepEqual(login.requestHeaders.toPairs().slice(0, 5), [['protocol', '3.0'], ['user', 'app'], ['database', 'shop'], ['application_name', 'billing'], ['password', '[REDACTED]']]);
  assert.deepEqual(login.responseHeaders.toPairs(), [['authentication', 'cleartext password'], ['authentication', 'ok'], ['server_version', '15.8'], ['backend pid', '4242']]);
  assert.deepEqual([begin.fields['postgres.transaction'], div.fields['postgres.transaction'], rollback.fields['postgres.transaction']], ['failed transaction', 'failed transaction', 'idle']);
  assert.deepEqual(insert.responseHeaders.toPairs(), [['notice', 'WARNING 01000 careful']]);
  assert.deepEqual([insert.target, insert.fields['sql.rows'], select.responseBody.bytes.toString(), select.fields['sql.rows']], ['t', 1, 'x\na;b\n', 1]);
  assert.deepEqual([div.fields['sql.error'], div.fields['sql.message'], outcome(div), div.fields['sql.rows']], ['22012', 'division by zero', Outcome.clientError, undefined]);
  for (const e of entries) assert.deepEqual([e.fields['sql.user'], e.fields['sql.database'], e.fields['postgres.application'], e.dst.port], ['app', 'shop', 'billing', server.port]);
  assert.ok(entries.every((e) => e.durationUs >= 0 && !e.incomplete));
  assert.deepEqual(result.counters.protocols.postgres, { connections: 1, exchanges: 7, parseErrors: 0, orphanResponses: 0, unanswered: 0 });
});

test('extended protocol: named statements keep their text, an error skips to Sync, PortalSuspended, COPY fail', async () => {
  const frames = connection((c) => {
    c.send(Buffer.concat([w.parse('s1', 'SELECT v FROM kv WHERE k = $1'), w.sync()]));
    c.reply(Buffer.concat([w.parseComplete(), w.ready()]));
    for (const k of ['a', 'b']) {
      c.send(Buffer.concat([w.bind('', 's1', [k]), w.describe('P', ''), w.execute(''), w.sync()]));
      c.reply(Buffer.concat([w.bindComplete(), w.rowDescription(['v']), w.dataRow([k.toUpperCase()]), w.complete('SELECT 1'), w.ready()]));
    }
    // Bind refused: its Execute never runs; the next batch works.
    c.send(Buffer.concat([w.bind('', 's1', ['x', 'extra']), w.execute(''), w.sync(), w.bind('p', 's1', [null]), w.execute('p', 1), w.execute('p', 1), w.sync()]));
    c.reply(Buffer.concat([
      w.errorResponse('08P01', 'bind message supplies 2 parameters, but prepared statement "s1" requires 1', 'ERROR'), w.ready(),
      w.bindComplete(), w.dataRow(['1']), w.portalSuspended(), w.dataRow(['2']), w.complete('SELECT 1'), w.ready(),
    ]));
    c.send(w.query('COPY kv FROM STDIN'));
    c.reply(w.copyInResponse());
    c.send(Buffer.concat([w.copyData('a\t1\n'), w.copyFail('user gave up')]));
    c.reply(Buffer.concat([w.errorResponse('57014', 'COPY from stdin failed: user gave up'), w.ready()]));
  });
  const { entries, result } = await importFrames(frames);
  const statements = entries.filter((e) => e.operation !== Op.startup);
  assert.deepEqual(statements.map(row), [
    'SELECT|SELECT v FROM kv WHERE k = $1|SELECT 1',
    'SELECT|SELECT v FROM kv WHERE k = $1|SELECT 1',
    'SELECT|SELECT v FROM kv WHERE k = $1|08P01',
    'SELECT|SELECT v FROM kv WHERE k = $1|PortalSuspended',
    'SELECT|SELECT v FROM kv WHERE k = $1|SELECT 1',
    'COPY|COPY kv FROM STDIN|57014',
  ]);
  const [a, b, refused, suspended, last, copy] = statements;
  assert.deepEqual([a.requestHeaders.toPairs(), a.responseBody.bytes.toString(), b.responseBody.bytes.toString()], [[['$1', 'a']], 'v\nA\n', 'v\nB\n']);
  assert.ok(statements.slice(0, 5).every((e) => e.fields['postgres.statement_name'] === 's1' && e.fields['sql.shape'] === 'SELECT v FROM kv WHERE k = ?'));
  assert.deepEqual([refused.requestHeaders.toPairs(), outcome(refused)], [[['$1', 'x'], ['$2', 'extra']], Outcome.serverError]);
  assert.deepEqual([suspended.fields['postgres.portal'], suspended.requestHeaders.toPairs(), suspended.fields['sql.rows'], last.fields['sql.rows']], ['p', [['$1', 'NULL']], 1, 1]);
  assert.deepEqual([copy.requestBody.bytes.toString(), copy.requestHeaders.toPairs(), copy.target], ['a\t1\n', [['copy fail', 'user gave up']], 'kv']);
  assert.equal(result.counters.protocols.postgres.orphanResponses, 0);
});

test('CancelRequest, GSSENCRequest refused, SSLRequest accepted: entries of their own, and nothing read after TLS starts', async () => {
  const cancel = new Conversation({ ...client, port: 40601 }, server).handshake();
  cancel.send(w.cancelRequest(4242, 99));
  cancel.close();
  const tls = new Conversation({ ...client, port: 40602 }, server).handshake();
  tls.send(w.gssencRequest());
  tls.reply('N');
  tls.send(w.sslRequest());
  tls.reply('S');
  tls.send(Buffer.from('160301020001000200030376', 'hex')); // a TLS ClientHello's start
  tls.reply(Buffer.from('1603030059020000550303', 'hex'));
  tls.close();
  const { entries, result } = await importFrames([...cancel.frames, ...tls.frames.map((f) => ({ ...f, tsUs: f.tsUs + 1e6 }))]);
  assert.deepEqual(entries.map((e) => [e.operation, e.statusText, e.requestHeaders.toPairs(), e.responseHeaders.toPairs(), outcome(e)]), [
    [Op.cancel, '', [['backend pid', '4242']], [], Outcome.oneWay],
    [Op.gssenc, 'N', [], [['encryption', 'refused']], Outcome.ok],
    [Op.ssl, 'S', [], [['encryption', 'accepted: encrypted from here']], Outcome.ok],
  ]);
  assert.equal(result.counters.protocols.postgres.parseErrors, 0, 'TLS bytes are not parsed');
});

test('picked up mid-connection: a Query found by content; the server resynchronises at a message start', async () => {
  const c = new Conversation({ ...client, port: 40700 }, server);
  c.reply(w.dataRow(['tail of an earlier result']).subarray(3)); // inside a message
  c.send(w.query('SELECT now()'));
  c.reply(Buffer.concat([w.rowDescription(['now']), w.dataRow(['2026-12-02']), w.complete('SELECT 1'), w.ready()]));
  c.send(w.query('SELECT pg_sleep(100)'));
  const { entries } = await importFrames(c.frames);
  assert.deepEqual(entries.map(row), ['SELECT|SELECT now()|SELECT 1', 'SELECT|SELECT pg_sleep(100)|unanswered']);
  assert.deepEqual([entries[0].fields['sql.user'], entries[1].unanswered, outcome(entries[1])], ['', true, Outcome.none]);
});

test('a DataRow past the body limit is counted and cut; the next statement is whole', async () => {
  const big = 'x'.repeat(300_000);
  const frames = connection((c) => {
    c.send(w.query('SELECT big FROM blobs'));
    c.reply(Buffer.concat([w.rowDescription(['big']), w.dataRow([big]), w.dataRow(['small']), w.complete('SELECT 2'), w.ready()]));
    c.send(w.query('SELECT 1'));
    c.reply(Buffer.concat([w.complete('SELECT 1'), w.ready()]));
  });
  const { entries } = await importFrames(frames);
  const [, blob, one] = entries;
  assert.deepEqual([blob.fields['sql.rows'], blob.responseBody.truncated, blob.responseBody.bytes.length], [2, true, defaultDissectorLimits.maxBodyBytes]);
  assert.ok(blob.responseBody.size > 300_000, `size ${blob.responseBody.size}`);
  assert.equal(row(one), 'SELECT|SELECT 1|SELECT 1');
});

test('bad input: a length below 4, a huge length, an unknown type are counted; framing resumes at a later message', async () => {
  const lies = [
    Buffer.from([0x51, 0, 0, 0, 2]), // Query of length 2 (< 4)
    Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]), // 2 GiB
    Buffer.from([0x01, 0, 0, 0, 8, 1, 2, 3, 4]), // no such type
  ];
  const frames: Frame[] = [];
  lies.forEach((lie, i) => {
    frames.push(...connection((c) => {
      c.send(lie);
      c.send(w.query('SELECT 1'));
      c.reply(Buffer.concat([w.complete('SELECT 1'), w.ready()]));
    }, 40800 + i).map((f) => ({ ...f, tsUs: f.tsUs + i * 1e6 })));
  });
  const { entries, result } = await importFrames(frames);
  assert.equal(result.counters.protocols.postgres.parseErrors, 3);
  assert.deepEqual(entries.filter((e) => e.operation !== Op.startup).map(row), ['SELECT|SELECT 1|SELECT 1', 'SELECT|SELECT 1|SELECT 1', 'SELECT|SELECT 1|SELECT 1']);
});

test("a gap in the server's bytes: the statement whose answer was lost is unanswered and incomplete; the next batch pairs right", async () => {
  let lost: Frame[] = [];
  const frames = connection((c) => {
    c.send(Buffer.concat([w.parse('', 'SELECT 1'), w.bind('', '', []), w.execute(''), w.sync()]));
    // The answer comes in 3-byte segments: the one carrying the CommandComplete's start is never captured.
    lost = c.reply(Buffer.concat([w.parseComplete(), w.bindComplete(), w.dataRow(['1']), w.complete('SELECT 1'), w.ready()]), 3);
    c.send(Buffer.concat([w.parse('', 'SELECT 2'), w.bind('', '', []), w.execute(''), w.sync()]));
    c.reply(Buffer.concat([w.parseComplete(), w.bindComplete(), w.dataRow(['2']), w.complete('SELECT 1'), w.ready()]));
    // FunctionCall (the old fast-path interface): its result, then ReadyForQuery.
    c.send(w.msg('F', Buffer.from([0, 0, 0x04, 0xd2]), Buffer.from([0, 0, 0, 0, 0, 0])));
    c.reply(Buffer.concat([w.msg('V', Buffer.from([0, 0, 0, 1, 0x31])), w.ready()]));
  });
  const hole = lost[Math.floor((5 + 5 + 11) / 3)]; // inside the CommandComplete
  const { entries, result } = await importFrames(frames.filter((f) => f !== hole));
  const statements = entries.filter((e) => e.operation !== Op.startup);
  assert.deepEqual(statements.map((e) => [row(e), e.incomplete]), [
    ['SELECT|SELECT 1|unanswered', true],
    ['SELECT|SELECT 2|SELECT 1', false],
    [`${Op.functionCall}|1234|`, false],
  ]);
  assert.equal(result.counters.protocols.postgres.orphanResponses, 0);
});

/** The dissector alone, fed chunks straight (no pcap, no reassembly): what fast-check drives. */
function feed(chunks: Array<{ fromClient: boolean; bytes: Uint8Array }>): { exchanges: Exchange[]; counters: ReturnType<typeof newProtocolCounters> } {
  const exchanges: Exchange[] = [];
  const counters = newProtocolCounters();
  const limits = { ...defaultDissectorLimits, maxBodyBytes: 4096, maxHeaderBytes: 4096, maxPendingRequests: 16 };
  const ctx: DissectorContext = {
    conn: { id: 1, transport: 'tcp', ip: ['10.0.0.1', '10.0.0.2'], port: [40000, 5432], clientDir: 0, midStream: false },
    limits,
    counters,
    emit: (x) => {
      exchanges.push(x);
      return `${exchanges.length}`;
    },
    handOff: () => null,
    inner: () => {
      throw new Error('no stream is carried inside these connections');
    },
    emitAs: () => false,
    handshake: null,
  };
  const consumer = postgresDissector.stream!.open(ctx, 0);
  let t = 1;
  for (const c of chunks) consumer.data(c.fromClient ? 0 : 1, Buffer.from(c.bytes), 0, c.bytes.length, t++);
  consumer.end('fin', t);
  return { exchanges, counters };
}

/** A real-looking conversation, message by message, to mutate. */
const script: Array<{ fromClient: boolean; bytes: Buffer }> = [
  { fromClient: true, bytes: w.startup({ user: 'u', database: 'd' }) },
  { fromClient: false, bytes: Buffer.concat([w.authOk(), w.ready()]) },
  { fromClient: true, bytes: w.query('SELECT a FROM t; SELECT 2') },
  { fromClient: false, bytes: Buffer.concat([w.rowDescription(['a']), w.dataRow(['1']), w.complete('SELECT 1'), w.complete('SELECT 1'), w.ready()]) },
  { fromClient: true, bytes: Buffer.concat([w.parse('', 'SELECT $1'), w.bind('', '', ['v']), w.describe('P', ''), w.execute(''), w.sync()]) },
  { fromClient: false, bytes: Buffer.concat([w.parseComplete(), w.bindComplete(), w.noData(), w.errorResponse('42601', 'x'), w.ready()]) },
  { fromClient: true, bytes: w.query('COPY t TO STDOUT') },
  { fromClient: false, bytes: Buffer.concat([w.copyOutResponse(), w.copyData('1\n'), w.copyDone(), w.complete('COPY 1'), w.ready(), w.notification(1, 'c', 'p')]) },
];

test('fast-check: random bytes and mutated conversations never throw, stay bounded, and count what they break', () => {
  const random = fc.array(fc.record({ fromClient: fc.boolean(), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) }), { maxLength: 30 });
  const mutated = fc
    .tuple(fc.array(fc.tuple(fc.nat({ max: script.length - 1 }), fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat({ max: 40 }))
    .map(([edits, cut]) => {
      const chunks = script.map((s) => ({ fromClient: s.fromClient, bytes: Buffer.from(s.bytes) }));
      for (const [i, at, v] of edits) chunks[i].bytes[at % chunks[i].bytes.length] = v;
      if (cut > 0) chunks[chunks.length - 1].bytes = chunks[chunks.length - 1].bytes.subarray(0, cut);
      return chunks;
    });
  fc.assert(
    fc.property(fc.oneof(random, mutated), (chunks) => {
      const { exchanges, counters } = feed(chunks);
      const bytes = chunks.reduce((n, c) => n + c.bytes.length, 0);
      // Each entry needs at least a 5-byte message of the client's (or one of the server's).
      assert.ok(exchanges.length <= bytes / 5 + 2, `${exchanges.length} entries from ${bytes} bytes`);
      for (const x of exchanges) {
        assert.ok(x.responseBody.bytes.length <= 4096 && x.requestBody.bytes.length <= 4096);
        assert.ok(String(x.fields['sql.statement'] ?? '').length <= 4096);
      }
      assert.ok(counters.exchanges === exchanges.length);
    }),
    { numRuns: 400 },
  );
  // Unmutated: a startup, four statements (one refused) and a notification, and nothing broken.
  const clean = feed(script);
  assert.deepEqual([clean.exchanges.length, clean.counters.parseErrors, clean.counters.orphanResponses], [6, 0, 0]);
});

test('prepared statements remembered per connection are bounded: the oldest are forgotten', () => {
  const chunks: Array<{ fromClient: boolean; bytes: Uint8Array }> = [script[0], script[1]];
  for (let i = 0; i < 1500; i++) {
    chunks.push({ fromClient: true, bytes: Buffer.concat([w.parse(`s${i}`, `SELECT ${i}`), w.sync()]) });
    chunks.push({ fromClient: false, bytes: Buffer.concat([w.parseComplete(), w.ready()]) });
  }
  for (const name of ['s0', 's1499']) {
    chunks.push({ fromClient: true, bytes: Buffer.concat([w.bind('', name, []), w.execute(''), w.sync()]) });
    chunks.push({ fromClient: false, bytes: Buffer.concat([w.bindComplete(), w.complete('SELECT 1'), w.ready()]) });
  }
  const { exchanges, counters } = feed(chunks);
  assert.deepEqual(exchanges.slice(1).map((x) => x.fields['sql.statement']), ['', 'SELECT 1499']);
  assert.equal(counters.orphanResponses, 0);
});
