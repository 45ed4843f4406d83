// The `sql` field family: fields two protocols share are one definition the filter language, the
// registry and /api/v1/protocols know under both; a statement's shape groups its executions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outcome } from '../../src/entries/entry.js';
import type { Dissector } from '../../src/protocols/dissector.js';
import { ProtocolRegistry, ProtocolRegistryError, protocols } from '../../src/protocols/registry.js';
import { sqlError, sqlFields, SQL_FAMILY } from '../../src/protocols/sql/fields.js';
import { statementShape } from '../../src/protocols/sql/shape.js';
import { sqlstateOutcome } from '../../src/protocols/sql/sqlstate.js';
import { allFields, lookupField } from '../../src/query/fields.js';
import { protocolsJson } from '../../src/hub/protocols.js';
import { tlineDissector } from '../../../test/support/line-protocols.js';

const member = (protocol: string): Dissector => ({
  ...tlineDissector,
  protocol,
  fieldFamilies: [SQL_FAMILY],
  fields: [...sqlFields, { name: `${protocol}.own`, type: 'int', doc: 'own' }],
});

test('a family field is one definition, declared by every member; a second definition of its name is refused', () => {
  // The built-in members (MySQL, PostgreSQL…) declare it already.
  const builtin = protocols.all().filter((d) => d.fieldFamilies?.includes(SQL_FAMILY)).map((d) => d.protocol);
  assert.deepEqual(builtin, ['postgres', 'mysql']);
  protocols.register(member('sqla'));
  protocols.register(member('sqlb'));
  try {
    assert.deepEqual(lookupField('sql.error')?.protocols, [...builtin, 'sqla', 'sqlb']);
    assert.equal(lookupField('sql.error')?.sql, "fields_text['sql.error']");
    assert.equal(allFields().filter((f) => f.name === 'sql.statement').length, 1);
    const listed = protocolsJson().protocols.filter((p) => p.name === 'sqla' || p.name === 'sqlb');
    for (const p of listed) {
      assert.ok(p.fields.some((f) => f.name === 'sql.rows'), `${p.name} lists sql.rows`);
      assert.ok(p.fields.some((f) => f.name === `${p.name}.own`));
      assert.ok(!p.fields.some((f) => f.name.endsWith('.own') && f.name !== `${p.name}.own`));
    }
  } finally {
    protocols.unregister('sqla');
    protocols.unregister('sqlb');
  }
  assert.deepEqual(lookupField('sql.error')?.protocols ?? [], builtin);

  const registry = new ProtocolRegistry([member('sqla')]);
  const copy = { ...sqlError };
  assert.throws(
    () => registry.register({ ...member('sqlc'), fields: [copy] }),
    (e: unknown) => e instanceof ProtocolRegistryError && /sql\.error of sqlc is defined by sqla already/.test(e.message),
  );
  assert.throws(
    () => registry.register({ ...member('sqld'), fieldFamilies: [], fields: [sqlError] }),
    (e: unknown) => e instanceof ProtocolRegistryError && /must start with "sqld\."/.test(e.message),
  );
});

test('statement shapes: literals, parameters, comments and lists replaced, quoting understood', () => {
  const pg: Array<[string, string]> = [
    ['SELECT * FROM users WHERE id = 42', 'SELECT * FROM users WHERE id = ?'],
    ["select a,b from t where name = 'O''Brien' and x > 3.5e-3 -- note\n and y IN (1, 2,3)", 'select a, b from t where name = ? and x > ? and y IN (?)'],
    ['INSERT INTO t (a, b) VALUES ($1, $2)', 'INSERT INTO t (a, b) VALUES (?)'],
    ["SELECT \"Id\" FROM \"Order\" WHERE note = E'it\\'s' /* why */ AND body = $fn$ -- not a comment $fn$", 'SELECT "Id" FROM "Order" WHERE note = ? AND body = ?'],
    ['UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 73;', 'UPDATE pgbench_accounts SET abalance = abalance + ? WHERE aid = ?;'],
    ["SELECT '--' AS dashes, x1 - 1 FROM t2", 'SELECT ? AS dashes, x1 - ? FROM t2'],
    ['SELECT id::text FROM t', 'SELECT id::text FROM t'],
  ];
  for (const [text, shape] of pg) assert.equal(statementShape(text, 'postgres'), shape, text);
  const my: Array<[string, string]> = [
    ["INSERT INTO t (a,b) VALUES (1,'x'),(2,'y'), (3, 'z')", 'INSERT INTO t (a, b) VALUES (?)'],
    ['SELECT `Key` FROM t WHERE s = "str" AND h = 0xFF # trailing', 'SELECT `Key` FROM t WHERE s = ? AND h = ?'],
    ["SELECT 'a\\'b', count(*) FROM t WHERE a = ? AND b IN (?, ?)", 'SELECT ?, count(*) FROM t WHERE a = ? AND b IN (?)'],
  ];
  for (const [text, shape] of my) assert.equal(statementShape(text, 'mysql'), shape, text);
  // The same query with other values has the same shape.
  assert.equal(statementShape('SELECT * FROM t WHERE id IN (1,2,3)', 'postgres'), statementShape("SELECT * FROM t WHERE id IN ('a')", 'postgres'));
  // Unterminated quotes and comments end the statement, never loop or throw.
  assert.equal(statementShape("SELECT 'open", 'postgres'), 'SELECT ?');
  assert.equal(statementShape('SELECT 1 /* open', 'mysql'), 'SELECT ?');
  assert.ok(statementShape('SELECT '.repeat(1000), 'postgres').length <= 1024);
});

test('SQLSTATE classes as outcomes', () => {
  assert.equal(sqlstateOutcome(''), Outcome.ok);
  assert.equal(sqlstateOutcome('00000'), Outcome.ok);
  assert.equal(sqlstateOutcome('01000'), Outcome.ok);
  assert.equal(sqlstateOutcome('42P01'), Outcome.clientError); // undefined_table
  assert.equal(sqlstateOutcome('23505'), Outcome.clientError); // unique_violation
  assert.equal(sqlstateOutcome('28P01'), Outcome.clientError); // invalid_password
  assert.equal(sqlstateOutcome('40P01'), Outcome.serverError); // deadlock_detected
  assert.equal(sqlstateOutcome('53300'), Outcome.serverError); // too_many_connections
  assert.equal(sqlstateOutcome('57P01'), Outcome.serverError); // admin_shutdown
  assert.equal(sqlstateOutcome('XX000'), Outcome.serverError); // internal_error
  assert.equal(sqlstateOutcome('08006'), Outcome.serverError); // connection_failure
});
