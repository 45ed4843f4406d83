/**
 * The hub answers the tests serve (test/fixtures/hub) have the hub's own shapes: checked against
 * the TypeBox schemas in backend/src/hub/shapes.ts, which the plugin's types come from.
 */
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { CatalogShape, EntryDetailShape, EntrySummaryShape, ProtocolsShape, TopShape } from '../../../backend/src/hub/shapes';
import { fixture } from '../support/recorded-hub';

const problems = (schema: Parameters<typeof Value.Errors>[0], value: unknown) =>
  [...Value.Errors(schema, value)].map((e) => `${e.path}: ${e.message}`);

test.each([
  ['entries', Type.Object({ entries: Type.Array(EntrySummaryShape), nextCursor: Type.Union([Type.String(), Type.Null()]) })],
  ['entry-404', EntryDetailShape],
  ['entry-binary', EntryDetailShape],
  ['protocols', ProtocolsShape],
  ['catalog', CatalogShape],
  ['top', TopShape],
])('fixture %s has the hub’s shape', (name, schema) => {
  expect(problems(schema, fixture(name))).toEqual([]);
});
