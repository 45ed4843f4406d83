/**
 * SQLSTATE classes (ISO/IEC 9075 and PostgreSQL's appendix A, which MySQL and MariaDB also
 * report) as outcomes: the server's own trouble (connection 08, transaction rollback 40 such as
 * deadlocks and serialization failures, resources 53, operator 57, system 58, internal XX) is a
 * server error; everything else a statement can provoke (syntax, missing table, constraint) is the
 * client's. MySQL's catch-all HY000 says nothing: its dissector decides by error number.
 */
import { Outcome } from '../../entries/entry.js';

const SERVER_CLASSES = new Set(['08', '40', '53', '57', '58', 'XX']);

export function sqlstateOutcome(sqlstate: string): Outcome {
  if (sqlstate === '' || sqlstate.startsWith('00')) return Outcome.ok;
  // Class 01 (warning) and 02 (no data) are completions, not failures.
  if (sqlstate.startsWith('01') || sqlstate.startsWith('02')) return Outcome.ok;
  return SERVER_CLASSES.has(sqlstate.slice(0, 2)) ? Outcome.serverError : Outcome.clientError;
}
