/**
 * MySQL with real peers: MariaDB 10.11 (the Debian package) on 127.0.0.1, the `mariadb` client,
 * `mysqlslap` and mysql2 (text and prepared statements, errors, multi-statements, a big result,
 * LOCAL INFILE, the compressed protocol, payloads past 16 MiB both ways), captured by tcpdump on lo
 * and imported like any capture. The entries must be tshark's requests, in the same order per
 * connection, with the same statements, statement ids and errors; result sets must read as
 * `mariadb --batch` prints them. Then the password and the auth response appear nowhere in the
 * store or the hub, and mutated real bytes never break the dissector.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { mysqlDissector } from '../../src/protocols/mysql/dissector.js';
import { importCaptureFile } from '../../src/agent/import-file.js';
import { CollectingSink } from '../../src/agent/json-sink.js';
import { Conversation } from '../capture/frames.js';
import { importFrames, tempFile } from '../agent/run.js';
import { Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { fixture, getJson, q } from '../hub/fixture.js';
import { COMMANDS, MariaDb, tsharkMysql } from './mysql-support.js';

const run = promisify(execFile);
const PASSWORD = 'Sup3r-s3cret-pw';
const OTHER_PASSWORD = 'An0ther-s3cret';
const THIRD_PASSWORD = 'Th1rd-s3cret';
const BIG = 17 * 1024 * 1024;

let db: MariaDb;
/** The first test's capture, reused as seeds by the fuzz test. */
let captureFile = '';

before(async () => {
  await tsharkAvailable();
  db = await MariaDb.start();
  await db.admin(`
    CREATE DATABASE shop;
    CREATE USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('${PASSWORD}');
    GRANT ALL ON *.* TO 'app'@'%' WITH GRANT OPTION;
  `);
});

after(() => db?.stop());

async function capture(name: string, traffic: () => Promise<void>): Promise<string> {
  const file = tempFile(`${name}.pcap`);
  const dump = await Tcpdump.start('lo', `tcp port ${db.port}`, file, [], true);
  try {
    await traffic();
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0, `tcpdump dropped packets: ${dump.stderr()}`);
  return file;
}

async function imported(file: string, redaction: boolean) {
  const sink = new CollectingSink();
  const result = await importCaptureFile(file, sink, { redaction: { enabled: redaction, headers: [], queryParams: [] } });
  assert.equal(result.error, undefined);
  return { entries: [...sink.entries].sort((a, b) => a.startUs - b.startUs), counters: result.counters.protocols.mysql };
}

const connect = (options: mysql.ConnectionOptions = {}) =>
  mysql.createConnection({ host: '127.0.0.1', port: db.port, user: 'app', password: PASSWORD, database: 'shop', ...options });

const PREPARED = 'SELECT id, name, price, note FROM items WHERE id = ? AND name <> ?';

test('mariadb, mysqlslap and mysql2 against MariaDB: entries are tshark\'s requests, statements and errors, in order', async () => {
  const out: Record<string, string> = {};
  const file = await capture('mariadb', async () => {
    const setup = await db.client(['-uapp', `-p${PASSWORD}`, 'shop', '--batch', '-e', [
      'CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(40), price DECIMAL(8,2), note TEXT NULL)',
      "INSERT INTO items (name, price, note) VALUES ('apple', 1.50, NULL), ('pear\\tx', 2.25, 'multi\\nline')",
      'use mysql',
      "SELECT COUNT(*) AS n FROM user WHERE User = 'app'",
    ].join(';\n')]);
    assert.equal(setup.code, 0, setup.stderr);
    const select = await db.client(['-uapp', `-p${PASSWORD}`, 'shop', '--batch', '-e', 'SELECT * FROM items ORDER BY id']);
    out.select = select.stdout;
    const denied = await db.client(['-uapp', '-pwrong-password', 'shop', '-e', 'SELECT 1']);
    assert.match(denied.stderr, /ERROR 1045 \(28000\)/);

    const c = await connect({ multipleStatements: true });
    await c.query('SELECT id, name FROM items WHERE price > ?', [1]);
    await c.execute(PREPARED, [1, 'x']);
    await c.execute(PREPARED, [2, 'apple']); // the cached statement: an execute alone
    await assert.rejects(c.query('SELEC broken'), { errno: 1064, sqlState: '42000' });
    await assert.rejects(c.query('SELECT * FROM missing_table'), { errno: 1146, sqlState: '42S02' });
    await c.query('SELECT 1 AS a; SELECT 2 AS b, 3 AS c');
    const [big] = await c.query('SELECT seq, REPEAT(\'x\', 100) AS pad FROM seq_1_to_20000');
    assert.equal((big as unknown[]).length, 20000);
    await c.query({ sql: "LOAD DATA LOCAL INFILE 'items.tsv' INTO TABLE items (name, price)", infileStreamFactory: () => Readable.from([Buffer.from('melon\t3.00\nkiwi\t0.75\n')]) });
    const [fig] = await c.execute('INSERT INTO items (name, price) VALUES (?, ?)', ['fig', 4.5]);
    out.figId = String((fig as mysql.ResultSetHeader).insertId);
    await c.changeUser({ user: 'app', password: PASSWORD, database: 'shop' });
    await c.ping();
    c.unprepare(PREPARED);
    await c.end();

    const z = await connect({ compress: true });
    await z.query('SELECT name FROM items ORDER BY id');
    await z.execute('SELECT id FROM items WHERE name = ?', ['kiwi']);
    await assert.rejects(z.query('SELECT nope FROM items'), { errno: 1054 });
    const [many] = await z.query('SELECT seq, MD5(seq) AS h FROM seq_1_to_5000');
    assert.equal((many as unknown[]).length, 5000);
    await z.end();

    const huge = await connect();
    const [[len]] = (await huge.query('SELECT LENGTH(?) AS n', ['y'.repeat(BIG)])) as unknown as [[{ n: number }]];
    assert.equal(len.n, BIG);
    const [[row]] = (await huge.query(`SELECT REPEAT('z', ${BIG}) AS big`)) as unknown as [[{ big: string }]];
    assert.equal(row.big.length, BIG);
    await huge.end();

    await run('mysqlslap', [
      '--no-defaults', '-h127.0.0.1', `-P${db.port}`, '-uapp', `-p${PASSWORD}`, '--concurrency=2', '--iterations=1',
      '--number-of-queries=40', '--auto-generate-sql', '--create-schema=slap',
    ]);
  });
  captureFile = file;

  const { entries, counters } = await imported(file, false);
  assert.deepEqual([counters.parseErrors, counters.orphanResponses], [0, 0], JSON.stringify(counters));

  // The reference: tshark's requests per client port, in order, with the errors that answered them.
  const theirs = await tsharkMysql(file, db.port);
  const key = (port: number, command: number, text: string, user: string, stmtId: number, errno: number, sqlstate: string) =>
    `${port} ${command} ${text.slice(0, 200)} ${user} ${stmtId} ${errno} ${sqlstate}`;
  const ours = entries.map((e) => {
    const command = COMMANDS[String(e.fields['mysql.command'])];
    assert.notEqual(command, undefined, `command ${e.fields['mysql.command']}`);
    const text = command === COMMANDS.QUERY || command === COMMANDS.STMT_PREPARE ? String(e.fields['sql.statement'] ?? '') : '';
    const user = command === COMMANDS.LOGIN || command === COMMANDS.CHANGE_USER ? String(e.fields['sql.user']) : '';
    const id = command === COMMANDS.STMT_EXECUTE || command === COMMANDS.STMT_CLOSE ? Number(e.fields['mysql.statement_id']) : -1;
    return key(e.src.port, command, text, user, id, e.status, e.status === 0 ? '' : e.statusText);
  });
  const reference = theirs.map((t) => key(t.clientPort, t.command, t.query, t.user, t.stmtId, t.errno, t.sqlstate));
  const byPort = (xs: string[]) => [...xs].sort((a, b) => Number(a.split(' ')[0]) - Number(b.split(' ')[0]));
  assert.ok(reference.length > 100, `${reference.length} requests`);
  assert.deepEqual(byPort(ours), byPort(reference));

  const find = (pred: (e: Entry) => boolean, what: string) => {
    const e = entries.find(pred);
    assert.ok(e, what);
    return e;
  };
  const statement = (text: string, command = 'QUERY') => find((e) => e.fields['sql.statement'] === text && e.fields['mysql.command'] === command, text);

  // A result set reads as `mariadb --batch` prints it.
  const select = statement('SELECT * FROM items ORDER BY id');
  assert.equal(select.responseBody.bytes.toString(), out.select);
  assert.deepEqual([select.operation, select.target, select.fields['sql.rows'], select.fields['mysql.columns'], select.statusText], ['SELECT', 'items', 2, 4, 'OK']);
  const insert = find((e) => String(e.fields['sql.statement']).startsWith('INSERT INTO items (name, price, note)'), 'insert');
  assert.deepEqual([insert.operation, insert.target, insert.fields['sql.rows'], insert.fields['mysql.insert_id']], ['INSERT', 'items', 2, 1]);
  const initDb = find((e) => e.fields['mysql.command'] === 'INIT_DB', 'use mysql');
  assert.deepEqual([initDb.operation, initDb.target, initDb.fields['sql.database']], ['INIT_DB', 'mysql', 'mysql']);
  const count = statement("SELECT COUNT(*) AS n FROM user WHERE User = 'app'");
  assert.deepEqual([count.fields['sql.database'], count.responseBody.bytes.toString()], ['mysql', 'n\n1\n']);

  const logins = entries.filter((e) => e.operation === 'LOGIN');
  const denied = logins.find((e) => e.status !== 0);
  assert.ok(denied);
  assert.deepEqual([denied.status, denied.statusText, denied.fields['sql.error'], mysqlDissector.outcome({ ...denied, clientDir: 0 })], [1045, '28000', '28000', Outcome.clientError]);
  assert.match(String(denied.fields['sql.message']), /Access denied for user 'app'/);
  for (const l of logins) {
    assert.deepEqual([l.fields['sql.user'], l.fields['mysql.server_version'], l.fields['mysql.auth_plugin']], ['app', (await db.admin('SELECT VERSION()')).split('\n')[1], 'mysql_native_password']);
  }
  assert.ok(logins.some((l) => l.requestHeaders.get('program_name') === 'mysql'), 'connection attributes of the mariadb client');

  // Prepared statements: every execution shows its text and its parameters.
  const executions = entries.filter((e) => e.fields['mysql.command'] === 'STMT_EXECUTE' && e.fields['sql.statement'] === PREPARED);
  assert.deepEqual(executions.map((e) => [e.operation, e.target, e.requestHeaders.toPairs(), e.responseBody.bytes.toString()]), [
    ['SELECT', 'items', [['param 1', '1'], ['param 2', "'x'"]], 'id\tname\tprice\tnote\n1\tapple\t1.50\tNULL\n'],
    ['SELECT', 'items', [['param 1', '2'], ['param 2', "'apple'"]], 'id\tname\tprice\tnote\n2\tpear\\tx\t2.25\tmulti\\nline\n'],
  ]);
  const prepare = statement(PREPARED, 'STMT_PREPARE');
  assert.equal(prepare.operation, 'STMT_PREPARE');
  const close = find((e) => e.fields['mysql.command'] === 'STMT_CLOSE', 'close');
  assert.deepEqual([close.fields['sql.statement'], close.fields['mysql.statement_id'], mysqlDissector.outcome({ ...close, clientDir: 0 }), close.unanswered], [PREPARED, prepare.fields['mysql.statement_id'], Outcome.oneWay, false]);
  const fig = find((e) => e.fields['mysql.command'] === 'STMT_EXECUTE' && String(e.fields['sql.statement']).startsWith('INSERT'), 'insert execute');
  assert.deepEqual([fig.fields['sql.rows'], fig.fields['mysql.insert_id'], fig.fields['sql.shape'], fig.requestHeaders.toPairs()], [1, Number(out.figId), 'INSERT INTO items (name, price) VALUES (?)', [['param 1', "'fig'"], ['param 2', '4.5']]]);

  const syntax = statement('SELEC broken');
  assert.deepEqual([syntax.status, syntax.statusText, mysqlDissector.outcome({ ...syntax, clientDir: 0 })], [1064, '42000', Outcome.clientError]);
  const multi = statement('SELECT 1 AS a; SELECT 2 AS b, 3 AS c');
  assert.deepEqual([multi.fields['mysql.results'], multi.fields['sql.rows'], multi.responseBody.bytes.toString()], [2, 2, 'a\n1\nb\tc\n2\t3\n']);
  const big = statement("SELECT seq, REPEAT('x', 100) AS pad FROM seq_1_to_20000");
  assert.equal(big.fields['sql.rows'], 20000);
  assert.ok(big.responseBody.truncated && big.responseBody.bytes.length <= 64 * 1024, 'first rows kept, up to the body limit');
  assert.ok(big.responseBody.bytes.toString().startsWith(`seq\tpad\n1\t${'x'.repeat(100)}\n2\t`));
  const infile = find((e) => e.fields['mysql.infile'] !== undefined, 'LOCAL INFILE');
  assert.deepEqual([infile.fields['mysql.infile'], infile.fields['sql.rows'], infile.status, infile.fields['mysql.infile_bytes']], ['items.tsv', 2, 0, 'melon\t3.00\nkiwi\t0.75\n'.length]);
  const change = find((e) => e.operation === 'CHANGE_USER', 'change user');
  assert.deepEqual([change.statusText, change.fields['sql.user'], change.fields['sql.database'], change.target], ['OK', 'app', 'shop', '']);
  const ping = find((e) => e.operation === 'PING', 'ping');
  assert.equal(ping.statusText, 'OK');

  // The compressed protocol: followed from the login's OK on.
  const compressedLogin = logins.find((l) => l.fields['mysql.compressed'] === 1);
  assert.ok(compressedLogin);
  const many = statement('SELECT seq, MD5(seq) AS h FROM seq_1_to_5000');
  assert.equal(many.src.port, compressedLogin.src.port);
  assert.equal(many.fields['sql.rows'], 5000);
  assert.ok(many.responseBody.bytes.toString().startsWith('seq\th\n1\tc4ca4238a0b923820dcc509a6f75849b\n'));
  assert.equal(statement('SELECT nope FROM items').status, 1054);

  // Past 16 MiB: a statement and a row continued over several packets.
  const length = find((e) => e.fields['sql.statement'] !== undefined && String(e.fields['sql.statement']).startsWith('SELECT LENGTH('), 'LENGTH');
  assert.deepEqual([length.responseBody.bytes.toString(), length.requestBody.size, length.requestBody.truncated], [`n\n${BIG}\n`, BIG + 'SELECT LENGTH(\'\') AS n'.length, true]);
  const repeat = statement(`SELECT REPEAT('z', ${BIG}) AS big`);
  assert.deepEqual([repeat.fields['sql.rows'], repeat.responseBody.truncated], [1, true]);
  assert.ok(repeat.responseBody.bytes.toString().startsWith('big\nzzzz'));

  const slap = entries.filter((e) => e.fields['sql.database'] === 'slap' && e.fields['mysql.command'] === 'QUERY');
  assert.ok(slap.length >= 40, `${slap.length} mysqlslap statements`);
  for (const e of entries) {
    assert.equal(e.dst.port, db.port);
    assert.equal(e.protocol, 'mysql');
    if (!e.unanswered && e.fields['mysql.one_way'] !== 1) assert.ok(e.durationUs > 0 && e.durationUs < 30e6, `${e.operation}: ${e.durationUs} µs`);
  }
});

test('secrets: the password, statements\' password literals and the auth response appear nowhere in the store or the hub', async () => {
  const file = await capture('secrets', async () => {
    const c = await connect();
    await c.query(`CREATE USER 'other'@'localhost' IDENTIFIED BY '${OTHER_PASSWORD}'`);
    await c.query(`SET PASSWORD FOR 'other'@'localhost' = PASSWORD('${THIRD_PASSWORD}')`);
    await c.query('SELECT 1');
    await c.end();
  });
  // tshark's reading of what the client sent as its auth response.
  const { stdout } = await run('tshark', ['-r', file, '-n', '-d', `tcp.port==${db.port},mysql`, '-Y', 'mysql.passwd', '-T', 'fields', '-e', 'mysql.passwd']);
  const scramble = stdout.trim().replace(/:/g, '');
  assert.match(scramble, /^[0-9a-f]{40}$/, 'a 20-byte mysql_native_password response');
  const scrambleBytes = Buffer.from(scramble, 'hex');
  const { entries } = await imported(file, true);
  assert.deepEqual(entries.map((e) => e.operation), ['LOGIN', 'CREATE', 'SET', 'SELECT', 'QUIT']);

  const f = await fixture(0);
  try {
    // Recent times: the store keeps entries for its retention only.
    const shift = Date.now() * 1000 - 60e6 - entries[0].startUs;
    for (const e of entries) {
      e.startUs += shift;
      e.endUs += shift;
    }
    await f.write(entries);
    const base = await f.hub();
    const everything = JSON.stringify(await f.sql(`SELECT * FROM ${f.temp.store.database}.entries`));
    const { body: list } = await getJson(`${base}/api/v1/entries?${q({ filter: 'mysql', from: Math.floor(entries[0].startUs / 1000) - 1000, to: Date.now() + 1000 })}`);
    assert.equal(list.entries.length, entries.length);
    const served = [JSON.stringify(list)];
    for (const e of entries) {
      const { body } = await getJson(`${base}/api/v1/entries/${e.id}`);
      // Read back from the store, an entry shows what it showed when captured.
      const shape = (sections: Array<{ kind: string; title: string }>) => sections.map((x) => (x.kind === 'table' ? x : { kind: x.kind, title: x.title }));
      assert.deepEqual(shape(body.sections), shape(JSON.parse(JSON.stringify(mysqlDissector.represent(e)))), e.operation);
      served.push(JSON.stringify(body));
    }
    const range = { from: Math.floor(entries[0].startUs / 1000) - 1000, to: Date.now() + 1000 };
    const operations = async (filter: string) => {
      const { status, body } = await getJson(`${base}/api/v1/entries?${q({ filter, ...range })}`);
      assert.equal(status, 200, JSON.stringify(body));
      return (body.entries as Array<{ operation: string }>).map((e) => e.operation).sort();
    };
    assert.deepEqual(await operations('mysql.command == "LOGIN" and sql.user == "app" and sql.database == "shop"'), ['LOGIN']);
    assert.deepEqual(await operations('sql.statement.startsWith("SET PASSWORD") and sql.error == ""'), ['SET']);
    assert.deepEqual(await operations('mysql.one_way'), ['QUIT']);
    assert.deepEqual(await operations('sql.rows == 1 and mysql.columns == 1'), ['SELECT']);
    const texts = [everything, ...served];
    assert.match(everything, /IDENTIFIED BY '\[REDACTED\]'/);
    assert.match(everything, /PASSWORD\('\[REDACTED\]'\)/);
    for (const text of texts) {
      for (const secret of [PASSWORD, OTHER_PASSWORD, THIRD_PASSWORD, scramble, scrambleBytes.toString('base64'), scrambleBytes.toString('latin1')]) {
        assert.ok(!text.includes(secret), `${secret} appears in ${text.slice(0, 200)}`);
      }
    }
    assert.ok(everything.includes('app') && everything.includes('SELECT 1'), 'the store holds the entries');
  } finally {
    await f.dispose();
  }
});

test('fuzz: mutated real MySQL bytes and random bytes on the port never throw; damage is counted and bounded', async () => {
  assert.ok(captureFile, 'the first test captured');
  const { stdout } = await run('tshark', ['-r', captureFile, '-n', '-Y', `tcp.len > 0 and tcp.len < 2000`, '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tcp.payload'], { maxBuffer: 1 << 30 });
  const segments = stdout.split('\n').filter(Boolean).slice(0, 400).map((l) => {
    const [port, hex] = l.split('\t');
    return { fromClient: Number(port) !== db.port, bytes: Buffer.from(hex.replace(/:/g, ''), 'hex') };
  });
  let x = 0x2545f491;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
  const frames = [];
  for (let round = 0; round < 12; round++) {
    const conv = new Conversation({ ip: '10.8.0.1', port: 42000 + round }, { ip: '10.8.0.2', port: 3306 }, 1_700_000_000_000_000 + round * 1e9).handshake();
    for (const s of segments) {
      const b = Buffer.from(s.bytes);
      if (round % 3 === 2) for (let j = 0; j < b.length; j++) b[j] = Math.floor(next() * 256);
      else for (let k = 0; k < 1 + round; k++) b[Math.floor(next() * b.length)] = next() < 0.3 ? 0xff : Math.floor(next() * 256);
      if (s.fromClient) conv.send(b);
      else conv.reply(b);
    }
    conv.close();
    frames.push(...conv.frames);
  }
  const { entries, result } = await importFrames(frames);
  const c = result.counters.protocols.mysql;
  assert.ok(c.parseErrors + c.orphanResponses > 0, 'damage was counted');
  assert.ok(entries.length <= segments.length * 12, `${entries.length} entries`);
  for (const e of entries) {
    assert.ok(e.requestBody.bytes.length <= 64 * 1024 && e.responseBody.bytes.length <= 64 * 1024 + 1024 * 1024);
    assert.ok(e.requestHeaders.count <= 64 && e.target.length < 70_000);
  }
});
