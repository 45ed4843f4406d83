/**
 * The filter language's lexer: turns the filter text into tokens that carry their 1-based column,
 * so every later error can say where it happened.
 */
import { FilterError } from './errors.js';

export type TokenKind =
  | 'ident'
  | 'string'
  | 'number'
  | 'duration'
  | 'size'
  | 'statusClass'
  | 'ip'
  | 'op'
  | '('
  | ')'
  | '['
  | ']'
  | '.'
  | ','
  | '+'
  | '-'
  | 'eof';

export interface Token {
  kind: TokenKind;
  /** The source text of the token (for 'string', the decoded value). */
  text: string;
  /** Numeric value: the number, microseconds for durations, bytes for sizes, the digit of '5xx'. */
  value: number;
  /** 1-based column of the token's first character. */
  column: number;
}

/** Microseconds per duration unit. */
export const DURATION_UNITS: Readonly<Record<string, number>> = {
  us: 1,
  'µs': 1,
  ms: 1_000,
  s: 1_000_000,
  m: 60_000_000,
  h: 3_600_000_000,
  d: 86_400_000_000,
};

/** Bytes per size unit. */
export const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  kib: 1_024,
  mib: 1_048_576,
  gib: 1_073_741_824,
};

const OPERATORS = ['==', '!=', '<=', '>=', '=~', '!~', '&&', '||', '<', '>', '!'];
const IP_LITERAL = /^\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?/;
const NUMBER = /^\d+(?:\.\d+)?/;
const UNIT = /^[a-zA-Zµ]+/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*/;
const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '\\': '\\', '"': '"', "'": "'" };

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, tokenText: string, value: number, start: number) =>
    tokens.push({ kind, text: tokenText, value, column: start + 1 });

  while (i < text.length) {
    const ch = text[i];
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const rest = text.slice(i);
    if (ch === '"' || ch === "'") {
      const { value, end } = readString(text, i);
      push('string', value, 0, i);
      i = end;
      continue;
    }
    if (/\d/.test(ch)) {
      const ip = IP_LITERAL.exec(rest);
      if (ip && !/[\w.]/.test(rest[ip[0].length] ?? '')) {
        push('ip', ip[0], 0, i);
        i += ip[0].length;
        continue;
      }
      const num = NUMBER.exec(rest)![0];
      const unit = UNIT.exec(rest.slice(num.length))?.[0] ?? '';
      const lower = unit.toLowerCase();
      if (unit === '') push('number', num, inRange(Number(num), num, '', i), i);
      else if (lower in DURATION_UNITS) push('duration', num + unit, inRange(Math.round(Number(num) * DURATION_UNITS[lower]), num + unit, ' µs', i), i);
      else if (lower in SIZE_UNITS) push('size', num + unit, inRange(Math.round(Number(num) * SIZE_UNITS[lower]), num + unit, ' bytes', i), i);
      else if (lower === 'xx' && /^[1-5]$/.test(num)) push('statusClass', num + unit, Number(num), i);
      else
        throw new FilterError(
          `unknown unit '${unit}' after ${num} (durations: us ms s m h d; sizes: B KB MB GB KiB MiB GiB; status classes: 1xx…5xx)`,
          i + num.length + 1,
        );
      i += num.length + unit.length;
      continue;
    }
    const ident = IDENT.exec(rest);
    if (ident) {
      push('ident', ident[0], 0, i);
      i += ident[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => rest.startsWith(o));
    if (op) {
      push('op', op, 0, i);
      i += op.length;
      continue;
    }
    if ('()[].,+-'.includes(ch)) {
      push(ch as TokenKind, ch, 0, i);
      i++;
      continue;
    }
    if (ch === '=') throw new FilterError("use '==' to compare, not '='", i + 1, ['==']);
    if (ch === '&' || ch === '|') throw new FilterError(`use '${ch}${ch}' (or '${ch === '&' ? 'and' : 'or'}')`, i + 1);
    throw new FilterError(`unexpected character '${ch}'`, i + 1);
  }
  push('eof', '', 0, text.length);
  return tokens;
}

/**
 * Numbers, durations (in µs) and sizes (in bytes) must stay exact: at most 2^53 − 1, the largest
 * integer a JavaScript number (and so the hub's query parameters) holds exactly.
 */
function inRange(value: number, text: string, unit: string, start: number): number {
  if (value > Number.MAX_SAFE_INTEGER) {
    throw new FilterError(`${text} is too large (at most ${Number.MAX_SAFE_INTEGER}${unit})`, start + 1);
  }
  return value;
}

function readString(text: string, start: number): { value: string; end: number } {
  const quote = text[start];
  let value = '';
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i];
    if (ch === quote) return { value, end: i + 1 };
    if (ch === '\\') {
      const next = text[i + 1];
      if (next === undefined) break;
      if (next === 'u') {
        const hex = /^[0-9a-fA-F]{4}/.exec(text.slice(i + 2));
        if (!hex) throw new FilterError('expected four hex digits after \\u', i + 3);
        value += String.fromCharCode(parseInt(hex[0], 16));
        i += 6;
        continue;
      }
      // Unknown escapes keep the backslash, so regexes like "\d+" read as typed.
      value += ESCAPES[next] ?? '\\' + next;
      i += 2;
      continue;
    }
    value += ch;
    i++;
  }
  throw new FilterError(`unterminated string (missing closing ${quote})`, start + 1);
}
