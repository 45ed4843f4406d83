/**
 * The clauses "+" and "−" write, checked against the hub's own filter compiler (backend workspace):
 * every field a row or the drawer offers is a field of the filter language, and every value reads
 * back as a literal of the right type.
 */
import { compileFilter } from '../../../backend/src/query/compile';
import { OUTCOME_NAMES as HUB_OUTCOME_NAMES } from '../../../backend/src/entries/entry';
import { OUTCOME_NAMES } from '../../src/datasource/protocols';
import { addClause, filterClause } from '../../src/panel/filterClick';

test('the outcome names are the hub’s', () => {
  expect([...OUTCOME_NAMES]).toEqual([...HUB_OUTCOME_NAMES]);
});

test('each field the stream panel filters on makes a clause the hub compiles', () => {
  const clauses = [
    filterClause('operation', 'GET', false),
    filterClause('target', '/error.html', false),
    filterClause('target', 'say "hi"\n', true),
    filterClause('status', 404, true),
    filterClause('status', 3, false),
    ...OUTCOME_NAMES.map((o) => filterClause('outcome', o, false)),
    filterClause('src.pod', 'test-pod', false),
    filterClause('dst.service', 'nginx', true),
    filterClause('src.ip', '10.244.1.7', false),
    filterClause('dst.port', 80, false),
  ];
  expect(clauses.slice(0, 6)).toEqual([
    'operation == "GET"',
    'target == "/error.html"',
    'target != "say \\"hi\\"\\n"',
    'status != 404',
    'status == 3',
    'outcome == "no response"',
  ]);
  for (const c of clauses) expect(() => compileFilter(c)).not.toThrow();
  expect(() => compileFilter(clauses.reduce((f, c) => addClause(f, c), 'http or status == 5xx'))).not.toThrow();
});
