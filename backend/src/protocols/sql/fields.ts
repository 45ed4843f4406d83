/**
 * The `sql` family: fields PostgreSQL and MySQL both fill, so one filter or dashboard reads every
 * database (`sql.error != "" and sql.database == "shop"`). Each SQL dissector lists these objects in
 * its `fields` and `sql` in its `fieldFamilies`; its own details stay under its protocol's prefix.
 */
import type { ProtocolField } from '../dissector.js';

export const SQL_FAMILY = 'sql';

export const sqlStatement: ProtocolField = {
  name: 'sql.statement',
  type: 'string',
  doc: 'the statement executed, as sent (a prepared statement shows its text on every execution); cut at the body limit',
};
export const sqlShape: ProtocolField = {
  name: 'sql.shape',
  type: 'string',
  labels: true,
  doc: 'the statement with literals and parameters replaced by ? and lists folded, so executions of one query group: SELECT * FROM t WHERE id = ?',
};
export const sqlDatabase: ProtocolField = { name: 'sql.database', type: 'string', labels: true, doc: 'the database (schema) of the connection, from its startup or handshake' };
export const sqlUser: ProtocolField = { name: 'sql.user', type: 'string', labels: true, doc: 'the user the connection logged in as' };
export const sqlError: ProtocolField = {
  name: 'sql.error',
  type: 'string',
  labels: true,
  doc: 'SQLSTATE of the error the server answered ("42P01", "23000"), "" when none',
};
export const sqlMessage: ProtocolField = { name: 'sql.message', type: 'string', doc: "the server's error message, \"\" when none" };
export const sqlRows: ProtocolField = { name: 'sql.rows', type: 'int', doc: 'rows returned or affected' };

export const sqlFields: readonly ProtocolField[] = [sqlStatement, sqlShape, sqlDatabase, sqlUser, sqlError, sqlMessage, sqlRows];
