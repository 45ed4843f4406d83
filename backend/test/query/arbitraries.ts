// Random well-typed filter ASTs (fast-check), shared by the engine test and the in-memory matcher test.
import fc from 'fast-check';
import type { CompareOp, Expr, FieldRef, Value } from '../../src/query/ast.js';
import { allFields, protocolKeywords, type FieldDef } from '../../src/query/fields.js';

/** Strings that try to break out of a literal. */
export const hostile = [
  "'; DROP TABLE entries; --",
  '\\',
  "\\'",
  '"',
  '/* comment */',
  '-- comment',
  '{p0:String}',
  '}',
  ') OR 1=1 OR (',
  'ünïcödé ☃ 日本 🚀',
  '\u0000',
  '%s%d',
  "' OR ''='",
];
/** Values the rows under test hold, mixed into the random ones so that comparisons can be true. */
export interface SeenValues {
  strings?: readonly string[];
  ips?: readonly string[];
  numbers?: readonly number[];
}

const at = (column = 1) => ({ column });
const ORDER: CompareOp[] = ['==', '!=', '<', '<=', '>', '>='];

/** Random well-typed filters over every field of the field table (the protocols registered when called). */
export function exprArbitrary(seen: SeenValues = {}): fc.Arbitrary<Expr> {
  const text = fc.oneof(fc.constantFrom(...hostile, ...(seen.strings ?? [])), fc.string({ unit: 'grapheme', maxLength: 12 }));
  // Common ground and RE2-only syntax (inline flags, \A \z \Q…\E \x \pL, POSIX classes, ungreedy), and
  // patterns a backtracking engine would take exponential time on.
  const regex = fc.constantFrom(
    '^/p', 'a.*b', '\\d+', '(GET|POST)', '[a-z]+$', '.', '^/api/[a-z]+', 'x|y', '', '[[:alpha:]]+', 'é.',
    '(?i)get', '(?i:P)OST', '\\A/', 'l\\z', '\\Q/\\E', '\\x2F[a-z]', '\\pL+$', '\\p{Han}', '[[:digit:]]{2}', '(?U)/.+/', '(?-s)e.b', '(?s:e.b)', '\\bapi\\b', '^/(a+)+$', '(x+x+)+y',
  );
  const number = (max: number) => (seen.numbers?.length ? fc.oneof(fc.nat(max), fc.constantFrom(...seen.numbers)) : fc.nat(max));
  // Mostly the envelope's fields (every row has them), the protocols' now and then: with a dozen
  // protocols their fields would otherwise crowd out the filters that select some rows.
  const fieldsOf = (types: FieldDef['type'][]) => {
    const all = allFields().filter((f) => types.includes(f.type));
    const envelope = all.filter((f) => f.protocols.length === 0);
    const own = all.filter((f) => f.protocols.length > 0);
    if (envelope.length === 0 || own.length === 0) return fc.constantFrom(...all);
    return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...envelope) }, { weight: 1, arbitrary: fc.constantFrom(...own) });
  };
  const fieldArb = (types: FieldDef['type'][]) =>
    fieldsOf(types).chain((def) =>
      (def.name.endsWith('[]') ? text.map((k) => k as string | undefined) : fc.constant(undefined)).map(
        (key): { def: FieldDef; ref: FieldRef } => ({ def, ref: { path: def.name, key, ...at() } }),
      ),
    );

  const valueFor = (type: FieldDef['type']): fc.Arbitrary<Value> => {
    switch (type) {
      case 'string':
        return text.map((value) => ({ kind: 'string', value, ...at() }));
      case 'int':
        return number(70000).map((value) => ({ kind: 'number', value, text: String(value), ...at() }));
      case 'status':
        return fc.oneof(
          number(600).map((value): Value => ({ kind: 'number', value, text: String(value), ...at() })),
          fc.integer({ min: 1, max: 5 }).map((digit): Value => ({ kind: 'statusClass', digit, ...at() })),
        );
      case 'duration':
        return number(10 ** 9).map((us) => ({ kind: 'duration', us, text: `${us}us`, ...at() }));
      case 'size':
        return number(10 ** 9).map((bytes) => ({ kind: 'size', bytes, text: `${bytes}B`, ...at() }));
      case 'time':
        return fc.oneof(
          fc.integer({ min: -(10 ** 12), max: 10 ** 12 }).map((offsetUs): Value => ({ kind: 'now', offsetUs, ...at() })),
          fc
            .integer({ min: 0, max: 4102444800000 })
            .map((ms): Value => ({ kind: 'string', value: new Date(ms).toISOString(), ...at() })),
        );
      case 'bool':
        return fc.boolean().map((value) => ({ kind: 'bool', value, ...at() }));
      case 'ip':
        return fc.oneof(
          fc.ipV4().map((t): Value => ({ kind: 'ip', text: t, ...at() })),
          fc.ipV6().map((t): Value => ({ kind: 'string', value: t, ...at() })),
          fc.tuple(fc.ipV4(), fc.nat(32)).map(([ip, n]): Value => ({ kind: 'string', value: `${ip}/${n}`, ...at() })),
          ...(seen.ips?.length
            ? [
                fc.constantFrom(...seen.ips).map((t): Value => ({ kind: 'string', value: t, ...at() })),
                fc.tuple(fc.constantFrom(...seen.ips.filter((t) => t.includes('.'))), fc.nat(32)).map(([ip, n]): Value => ({ kind: 'string', value: `${ip}/${n}`, ...at() })),
              ]
            : []),
        );
    }
  };

  const predicate: fc.Arbitrary<Expr> = fc.oneof(
    fieldArb(['string']).chain(({ ref }) =>
      fc.oneof(
        fc.tuple(fc.constantFrom<CompareOp>('==', '!='), text).map(([op, value]): Expr => ({ kind: 'compare', field: ref, op, opColumn: 1, value: { kind: 'string', value, ...at() } })),
        fc.tuple(fc.constantFrom<CompareOp>('=~', '!~'), regex).map(([op, value]): Expr => ({ kind: 'compare', field: ref, op, opColumn: 1, value: { kind: 'string', value, ...at() } })),
        fc.tuple(fc.constantFrom('contains' as const, 'startsWith' as const, 'endsWith' as const), text).map(([method, value]): Expr => ({ kind: 'method', field: ref, method, arg: { kind: 'string', value, ...at() } })),
        regex.map((value): Expr => ({ kind: 'method', field: ref, method: 'matches', arg: { kind: 'string', value, ...at() } })),
        fc.tuple(fc.array(valueFor('string'), { minLength: 1, maxLength: 4 }), fc.boolean()).map(([values, negated]): Expr => ({ kind: 'in', field: ref, values, negated })),
      ),
    ),
    fieldArb(['int', 'status', 'duration', 'size', 'time']).chain(({ def, ref }) =>
      fc.tuple(fc.constantFrom(...ORDER), valueFor(def.type)).map(([op, value]): Expr => ({ kind: 'compare', field: ref, op, opColumn: 1, value })),
    ),
    fieldArb(['ip']).chain(({ ref }) =>
      fc.oneof(
        fc.tuple(fc.constantFrom<CompareOp>('==', '!='), valueFor('ip')).map(([op, value]): Expr => ({ kind: 'compare', field: ref, op, opColumn: 1, value })),
        fc.tuple(fc.constantFrom('contains' as const, 'startsWith' as const, 'endsWith' as const), text).map(([method, value]): Expr => ({ kind: 'method', field: ref, method, arg: { kind: 'string', value, ...at() } })),
      ),
    ),
    fieldArb(['bool']).chain(({ ref }) =>
      fc.oneof(
        fc.constant<Expr>({ kind: 'bare', field: ref, nextColumn: 1 }),
        fc.tuple(fc.constantFrom<CompareOp>('==', '!='), valueFor('bool')).map(([op, value]): Expr => ({ kind: 'compare', field: ref, op, opColumn: 1, value })),
      ),
    ),
    fc.constantFrom(...protocolKeywords()).map((path): Expr => ({ kind: 'bare', field: { path, ...at() }, nextColumn: 1 })),
  );

  return fc.letrec<{ filter: Expr }>((tie) => ({
    filter: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      predicate,
      fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), left: tie('filter'), right: tie('filter'), column: fc.constant(1) }),
      fc.record({ kind: fc.constant('not' as const), expr: tie('filter'), column: fc.constant(1) }),
    ),
  })).filter;
}

/** Hostile strings and random graphemes. */
export const text = fc.oneof(fc.constantFrom(...hostile), fc.string({ unit: 'grapheme', maxLength: 12 }));
