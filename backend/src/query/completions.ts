/**
 * What can come next in a half-typed filter: field names (matching the word being typed),
 * operators (after a field), or values of a field (after an operator). The hub adds the values.
 */
import { FilterError } from './errors.js';
import { OPERATORS_BY_TYPE, allFields, lookupField, protocolKeywords, type FieldType } from './fields.js';
import { tokenize, type Token } from './lexer.js';

export interface CompletionContext {
  /** Fields (and protocol keywords) that fit where the cursor is. */
  fields: Array<{ name: string; type: FieldType | 'protocol'; doc: string }>;
  operators: string[];
  /** The field whose values fit here (after `field ==`), if any. */
  valuesOf?: string;
}

type Completion = CompletionContext['fields'][number];

let cached: { fields: readonly unknown[]; list: Completion[] } | null = null;

/** Every field name and protocol keyword, for the protocols registered now. */
function completableFields(): Completion[] {
  const fields = allFields();
  if (cached?.fields === fields) return cached.list;
  const list: Completion[] = [
    ...fields.flatMap((f) => [f.name, ...f.aliases].map((name) => ({ name: name.replace('[]', '["…"]'), type: f.type, doc: f.doc }))),
    ...protocolKeywords().map((name) => ({ name, type: 'protocol' as const, doc: `protocol == "${name}"` })),
  ];
  cached = { fields, list };
  return list;
}
const CONNECTIVES = ['and', 'or', 'not'];

export function completionContext(prefix: string): CompletionContext {
  let tokens: Token[];
  try {
    tokens = tokenize(prefix).slice(0, -1); // without eof
  } catch (err) {
    // An unterminated string or similar: nothing sensible to add but fields.
    if (err instanceof FilterError) return { fields: completableFields(), operators: [] };
    throw err;
  }
  const endsWithSpace = /\s$/.test(prefix) || prefix === '';
  // Read the dotted path that ends the prefix, if any: `dst.ser`.
  const i = pathStart(tokens, tokens.length);
  const tail = tokens.slice(i);
  const path = tail.map((t) => t.text).join('');

  if (tail.length > 0 && !endsWithSpace) {
    // Typing a name: offer names that continue it.
    const lower = path.toLowerCase();
    return { fields: completableFields().filter((f) => f.name.toLowerCase().startsWith(lower)), operators: [] };
  }
  if (tail.length > 0 && !CONNECTIVES.includes(path.toLowerCase())) {
    const def = lookupField(path);
    if (def) return { fields: [], operators: [...OPERATORS_BY_TYPE[def.type]] };
    return { fields: [], operators: ['and', 'or'] };
  }
  const last = tokens.at(-1);
  if (last?.kind === 'op' && ['==', '!=', '=~', '!~'].includes(last.text)) {
    const j = pathStart(tokens, tokens.length - 1);
    const def = lookupField(tokens.slice(j, -1).map((t) => t.text).join(''));
    return { fields: [], operators: [], ...(def ? { valuesOf: def.name } : {}) };
  }
  if (last && (last.kind === 'string' || last.kind === 'number' || last.kind === ')' || last.kind === 'duration' || last.kind === 'size')) {
    return { fields: [], operators: ['and', 'or'] };
  }
  return { fields: completableFields(), operators: ['not', '('] };
}

/** Index where the dotted name ending just before `end` starts (`dst.na` in `http and dst.na`). */
function pathStart(tokens: Token[], end: number): number {
  let i = end;
  if (tokens[i - 1]?.kind === '.') i--; // `dst.` while typing
  if (tokens[i - 1]?.kind !== 'ident') return end;
  i--;
  while (tokens[i - 1]?.kind === '.' && tokens[i - 2]?.kind === 'ident') i -= 2;
  return i;
}
