/**
 * Building the filter the hub receives: dashboard variables interpolated as filter-language
 * literals, ad-hoc filters turned into clauses, the parts joined with `and`.
 */
import type { AdHocVariableFilter } from '@grafana/data';

/** An ad-hoc filter that cannot be expressed in the filter language. */
export class AdHocFilterError extends Error {
  override readonly name = 'AdHocFilterError';
  readonly code = 'bad_adhoc_filter';
}

/**
 * A filter-language string literal. The lexer reads the JSON escapes (\" \\ \n \t \r \b \f \uXXXX),
 * so JSON's quoting is exactly right: no value can end the string early.
 */
export function stringLiteral(value: string): string {
  return JSON.stringify(value);
}

/**
 * Grafana's format function for `$var` in a filter: one value → `"value"`, a multi-value or All
 * selection → `["a", "b"]` (for `field in $var`). `${var:raw}` bypasses it (numbers, status codes).
 */
export function formatVariableValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => stringLiteral(String(v))).join(', ')}]`;
  return stringLiteral(value === undefined || value === null ? '' : String(value));
}

/** Filter-language field types (from the hub's completions) that take a bare literal. */
function literalFor(value: string, type: string | undefined): string {
  switch (type) {
    case 'int':
    case 'size':
      if (/^\d+$/.test(value)) return value;
      break;
    case 'status':
      if (/^\d+$/.test(value) || /^[1-5]xx$/.test(value)) return value;
      break;
    case 'duration':
      if (/^\d+(\.\d+)?(us|ms|s|m|h|d)$/.test(value)) return value;
      break;
    case 'bool':
      if (value === 'true' || value === 'false') return value;
      break;
  }
  return stringLiteral(value);
}

const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_.-]*(\["(?:[^"\\]|\\.)*"\])?$/;
const OPERATORS: Record<string, string> = {
  '=': '==',
  '!=': '!=',
  '=~': '=~',
  '!~': '!~',
  '<': '<',
  '>': '>',
  '<=': '<=',
  '>=': '>=',
  '=|': 'in',
  '!=|': 'not in',
};

/** One ad-hoc filter as a clause: `dst.service == "nginx"`, `status in [404, 500]`. */
export function adHocClause(f: AdHocVariableFilter, typeOf: (field: string) => string | undefined): string {
  if (!FIELD_PATH.test(f.key)) {
    throw new AdHocFilterError(`ad-hoc filter key '${f.key}' is not a filter field (e.g. dst.service, status)`);
  }
  const op = OPERATORS[f.operator];
  if (!op) {
    throw new AdHocFilterError(
      `ad-hoc filter operator '${f.operator}' on '${f.key}' is not supported (use ${Object.keys(OPERATORS).join(' ')})`,
    );
  }
  const type = typeOf(f.key);
  if (op === 'in' || op === 'not in') {
    const values = f.values && f.values.length ? f.values : [f.value];
    return `${f.key} ${op} [${values.map((v) => literalFor(v, type)).join(', ')}]`;
  }
  return `${f.key} ${op} ${literalFor(f.value, type)}`;
}

/** Joins filters with `and`, each in parentheses so an `or` inside one stays inside it. */
export function combineFilters(parts: Array<string | undefined>): string {
  const kept = parts.map((p) => (p ?? '').trim()).filter((p) => p !== '');
  if (kept.length <= 1) return kept[0] ?? '';
  return kept.map((p) => `(${p})`).join(' and ');
}

/** An error message that names its column: the hub's already do ("… at column 8"); others get it added. */
export function withColumn(message: string, position: number | undefined): string {
  if (position === undefined || /\bcolumn \d+/.test(message)) return message;
  return `${message} (at column ${position})`;
}
