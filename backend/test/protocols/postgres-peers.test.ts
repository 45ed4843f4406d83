/**
 * PostgreSQL with real peers: a postgres 15 server of the test's own, psql (simple protocol,
 * several statements in one Query, an error, COPY in and out, an SSLRequest the server refuses),
 * the `pg` client (simple and extended protocol, a named statement prepared once and executed
 * three times, errors at Parse and at Execute, an empty query, a transaction, LISTEN/NOTIFY) and
 * pgbench (its COPY-loaded init and prepared selects), captured by tcpdump on lo and imported
 * like any capture. The entries must be tshark's statements (pgsql), per connection, in the same
 * order, with the same CommandComplete tags and SQLSTATEs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Outcome, type Entry } from '../../src/entries/entry.js';
import { Op, postgresDissector } from '../../src/protocols/postgres/dissector.js';
import { analyse } from '../agent/compare.js';
import { tempFile } from '../agent/run.js';
import { Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { waitFor } from '../../../test/support/wait.js';
import { PgServer, tsharkPg, tsharkStatements } from './postgres-support.js';

let server: PgServer;

before(async () => {
  await tsharkAvailable();
  server = await PgServer.start({ cleartext: 'peer-clear-pw', scram: 'peer-scram-pw' });
});

after(() => server?.stop());

const NOT_STATEMENTS: ReadonlySet<string> = new Set([Op.startup, Op.ssl, Op.gssenc, Op.notification, Op.cancel]);
const outcome = (e: Entry) => postgresDissector.outcome({ ...e, clientDir: 0 });
const completion = (e: Entry) => (e.fields['sql.error'] ? `E${e.fields['sql.error']}` : e.statusText);

async function pgClient(user = 'postgres', password?: string): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: server.port, user, password, database: 'shop', application_name: 'node-pg' });
  await c.connect();
  return c;
}

test('psql, pg and pgbench against postgres 15: every statement tshark sees, in order, with its tag or SQLSTATE', async () => {
  const file = tempFile('pg.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${server.port}`, file);
  const notified: string[] = [];
  let listener: pg.Client | undefined;
  let c: pg.Client | undefined;
  try {
    await server.psql('shop', ['-c', 'CREATE TABLE items (id int PRIMARY KEY, name text, price numeric)']);
    await server.psql('shop', ['-c', "INSERT INTO items VALUES (1, 'apple', 1.5), (2, 'pear', 2)"]);
    // Several statements in one Query: the error ends it (SELECT 3 never runs) and rolls it back.
    await server.psql('shop', ['-c', "UPDATE items SET name = 'x'; SELECT name FROM items ORDER BY id; SELECT 1/0; SELECT 3"]);
    await server.psql('shop', ['-c', 'COPY items FROM STDIN'], { input: '3\tplum\t0.5\n4\tfig\t\\N\n\\.\n' });
    await server.psql('shop', ['-c', 'COPY items TO STDOUT']);
    await server.psql('shop', ['-c', 'SELECT count(*) FROM items'], { sslmode: 'prefer' }); // the server has no TLS: 'N'

    listener = await pgClient();
    listener.on('notification', (n) => notified.push(`${n.channel} ${n.payload}`));
    await listener.query('LISTEN orders');
    c = await pgClient();
    await c.query('SELECT 1 AS one'); // no parameters: the simple protocol
    assert.deepEqual((await c.query('SELECT name FROM items WHERE id = $1', [2])).rows, [{ name: 'pear' }]);
    for (const id of [1, 3, 4]) await c.query({ name: 'by_id', text: 'SELECT id, name, price FROM items WHERE id = $1', values: [id] });
    await assert.rejects(c.query('SELEC 1', []), { code: '42601' }); // refused at Parse
    await assert.rejects(c.query('SELECT $1::int / 0', [7]), { code: '22012' }); // fails at Execute
    await assert.rejects(c.query('INSERT INTO items VALUES ($1, $2, $3)', [1, 'dup', 0]), { code: '23505' });
    await c.query('');
    await c.query('BEGIN');
    await c.query('UPDATE items SET price = price * $1 WHERE id > $2', [2, 1]);
    await c.query('COMMIT');
    await c.query("NOTIFY orders, 'order 42'");
    await waitFor('the notification', () => notified.length === 1);
    await c.end();
    await listener.end();
    c = listener = undefined;

    await server.pgbench('shop', ['-i', '-s', '1', '-I', 'dtg', '-q']);
    await server.pgbench('shop', ['-n', '-S', '-M', 'prepared', '-c', '2', '-t', '20']);
  } finally {
    await c?.end();
    await listener?.end();
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  assert.deepEqual(notified, ['orders order 42']);
  const { entries } = await analyse(file, []);

  // The reference: tshark's messages on the same file, as executed statements per connection.
  const theirs = tsharkStatements(await tsharkPg(file, server.port));
  const statements = entries.filter((e) => !NOT_STATEMENTS.has(e.operation));
  const byPort = <T extends { clientPort: number }>(xs: T[]) => {
    const m = new Map<number, T[]>();
    for (const x of xs) m.set(x.clientPort, [...(m.get(x.clientPort) ?? []), x]);
    return m;
  };
  const ours = byPort(statements.map((e) => ({ clientPort: e.src.port, text: String(e.fields['sql.statement']), completion: completion(e) })));
  const ref = byPort(theirs);
  assert.deepEqual([...ours.keys()].sort(), [...ref.keys()].sort(), 'the same connections carry statements');
  const problems: string[] = [];
  for (const [port, list] of ref) {
    const mine = ours.get(port) ?? [];
    if (mine.length !== list.length) problems.push(`port ${port}: tshark ${list.length} statements, entries ${mine.length}`);
    list.forEach((t, i) => {
      const e = mine[i];
      // A Query with several statements is one text to tshark: each entry holds one of them.
      if (!e || e.completion !== t.completion || !(e.text === t.text || t.text.includes(e.text))) {
        problems.push(`port ${port} #${i}: tshark ${JSON.stringify(t)}, entry ${JSON.stringify(e)}`);
      }
    });
  }
  assert.deepEqual(problems, []);
  assert.ok(theirs.length > 60, `${theirs.length} statements`);

  // What tshark does not pair, checked by hand.
  const find = (statement: string) => statements.filter((e) => e.fields['sql.statement'] === statement);
  const [insert] = find("INSERT INTO items VALUES (1, 'apple', 1.5), (2, 'pear', 2)");
  assert.deepEqual([insert.operation, insert.target, insert.statusText, insert.fields['sql.rows'], insert.fields['sql.shape']], ['INSERT', 'items', 'INSERT 0 2', 2, 'INSERT INTO items VALUES (?)']);
  const [rollback] = find("UPDATE items SET name = 'x'");
  assert.deepEqual([rollback.statusText, rollback.fields['sql.rows'], rollback.fields['postgres.transaction']], ['UPDATE 2', 2, 'idle']);
  const [names] = find('SELECT name FROM items ORDER BY id');
  assert.deepEqual([names.fields['sql.rows'], names.responseBody.bytes.toString(), names.responseHeaders.toPairs()], [2, 'name\nx\nx\n', [['column', 'name']]]);
  const [div] = find('SELECT 1/0');
  assert.deepEqual([div.fields['sql.error'], div.fields['sql.message'], div.fields['postgres.severity'], outcome(div)], ['22012', 'division by zero', 'ERROR', Outcome.clientError]);
  assert.equal(find('SELECT 3').length, 0, 'the statement after the error never ran');
  // psql sends the end-of-data line too, as CopyData.
  const [copyIn] = find('COPY items FROM STDIN');
  assert.deepEqual([copyIn.statusText, copyIn.requestBody.bytes.toString(), copyIn.target], ['COPY 2', '3\tplum\t0.5\n4\tfig\t\\N\n\\.\n', 'items']);
  const [copyOut] = find('COPY items TO STDOUT');
  assert.deepEqual([copyOut.statusText, copyOut.responseBody.bytes.toString()], ['COPY 4', '1\tapple\t1.5\n2\tpear\t2\n3\tplum\t0.5\n4\tfig\t\\N\n']);

  const byId = find('SELECT id, name, price FROM items WHERE id = $1');
  assert.deepEqual(byId.map((e) => [e.fields['postgres.statement_name'], e.requestHeaders.toPairs(), e.responseBody.bytes.toString()]), [
    ['by_id', [['$1', '1']], 'id\tname\tprice\n1\tapple\t1.5\n'],
    ['by_id', [['$1', '3']], 'id\tname\tprice\n3\tplum\t0.5\n'],
    ['by_id', [['$1', '4']], 'id\tname\tprice\n4\tfig\t\\N\n'],
  ]);
  assert.ok(byId.every((e) => e.fields['postgres.query_protocol'] === 'extended' && e.fields['sql.shape'] === 'SELECT id, name, price FROM items WHERE id = ?'));
  const [parseError] = find('SELEC 1');
  assert.deepEqual([parseError.operation, parseError.fields['sql.error'], parseError.fields['sql.message']], ['SELEC', '42601', 'syntax error at or near "SELEC"']);
  const [dup] = find('INSERT INTO items VALUES ($1, $2, $3)');
  assert.deepEqual([dup.fields['sql.error'], dup.requestHeaders.get('constraint'), dup.responseHeaders.get('constraint'), outcome(dup)], ['23505', undefined, 'items_pkey', Outcome.clientError]);
  const [update] = find('UPDATE items SET price = price * $1 WHERE id > $2');
  assert.deepEqual([update.statusText, update.fields['sql.rows'], update.fields['postgres.transaction'], update.target], ['UPDATE 3', 3, 'in transaction', 'items']);
  const [empty] = find('');
  assert.deepEqual([empty.statusText, outcome(empty)], ['EmptyQueryResponse', Outcome.ok]);

  const [notification] = entries.filter((e) => e.operation === Op.notification);
  assert.deepEqual([notification.target, notification.responseBody.bytes.toString(), outcome(notification)], ['orders', 'order 42', Outcome.oneWay]);
  const ssl = entries.filter((e) => e.operation === Op.ssl);
  assert.deepEqual(ssl.map((e) => [e.statusText, e.responseHeaders.get('encryption')]), [['N', 'refused']]);
  const startups = entries.filter((e) => e.operation === Op.startup);
  assert.ok(startups.length >= 9 && startups.every((e) => e.statusText === 'OK' && e.fields['sql.database'] === 'shop' && e.fields['sql.user'] === 'postgres'));
  assert.deepEqual([...new Set(startups.map((e) => e.fields['postgres.application'] ?? ''))].sort(), ['', 'node-pg', 'pgbench', 'psql-test'].filter((a) => a !== ''));
  for (const e of statements) {
    assert.equal(e.dst.port, server.port);
    assert.equal(e.fields['sql.database'], 'shop');
    assert.ok(!e.unanswered && e.durationUs >= 0 && e.durationUs < 10e6, `${e.fields['sql.statement']}: ${e.durationUs} µs`);
  }
  // pgbench -S: its prepared select, executed 40 times with its text each time.
  const selects = statements.filter((e) => e.fields['postgres.statement_name'] === 'P_0');
  assert.equal(selects.length, 40);
  assert.ok(selects.every((e) => e.fields['sql.statement'] === 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;' && e.statusText === 'SELECT 1'));
  const [load] = statements.filter((e) => String(e.fields['sql.statement']).startsWith('copy pgbench_accounts'));
  // pgbench sends its rows as "aid\tbid\tabalance\t\n" (bid 1, abalance 0): 6 bytes and the digits of aid
  // each, then the end-of-data line "\\.\n" (PQputline).
  let digits = 0;
  for (let aid = 1; aid <= 100_000; aid++) digits += String(aid).length;
  assert.deepEqual([load.statusText, load.fields['sql.rows'], load.requestBody.truncated, load.requestBody.size], ['COPY 100000', 100000, true, digits + 6 * 100_000 + 3]);
  assert.equal(load.requestBody.bytes.length, 64 * 1024, 'COPY data kept up to the body limit');
});

test('psql interrupted: its CancelRequest is a one-way entry of its own and the statement fails with 57014, as tshark sees', async () => {
  const file = tempFile('pg-cancel.pcap');
  const dump = await Tcpdump.start('lo', `tcp port ${server.port}`, file);
  try {
    const sleeper = server.startPsql('shop', ['-c', 'SELECT pg_sleep(30)']);
    await waitFor('the sleep to run', async () => {
      const out = await server.psql('shop', ['-tA', '-c', "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'"]);
      return out.trim() === '1';
    }, 20_000, 200);
    sleeper.child.kill('SIGINT'); // psql sends a CancelRequest on a connection of its own
    assert.match(await sleeper.output, /canceling statement due to user request/);
  } finally {
    await dump.stop();
  }
  const { entries } = await analyse(file, []);
  const [sleep] = entries.filter((e) => e.fields['sql.statement'] === 'SELECT pg_sleep(30)');
  assert.deepEqual([sleep.fields['sql.error'], outcome(sleep)], ['57014', Outcome.serverError]);
  const cancels = entries.filter((e) => e.operation === Op.cancel);
  assert.equal(cancels.length, 1);
  assert.deepEqual([outcome(cancels[0]), cancels[0].requestHeaders.get('backend pid') !== undefined], [Outcome.oneWay, true]);
  assert.ok(cancels[0].startUs > sleep.startUs && cancels[0].startUs < sleep.endUs, 'the cancel came while the statement ran');
  const messages = await tsharkPg(file, server.port);
  assert.equal(messages.filter((m) => m.type === 'Cancel request').length, 1);
  const theirs = tsharkStatements(messages).filter((t) => t.text === 'SELECT pg_sleep(30)');
  assert.deepEqual(theirs.map((t) => t.completion), ['E57014']);
});
