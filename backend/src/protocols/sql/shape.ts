/**
 * A statement's shape: literals and parameters replaced by `?`, comments dropped, whitespace
 * folded, lists of `?` folded to one, so that every execution of one query groups together
 * (`SELECT * FROM t WHERE id IN (?)`), as pg_stat_statements and MySQL's digests do. One pass
 * over the text, quote-aware (a `--` inside a string is not a comment); the dialects differ only
 * in what double quotes mean (an identifier in PostgreSQL, a string in MySQL) and in PostgreSQL's
 * dollar quoting and `$n` parameters.
 */
export type SqlDialect = 'postgres' | 'mysql';

/** Shapes are for grouping: a longer statement is cut here (its prefix still groups). */
export const MAX_SHAPE_CHARS = 1024;

const isDigit = (c: number) => c >= 48 && c <= 57;
const isWordChar = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 36 || c >= 128;
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12;

/** Index after the quoted run starting at `i` (quote char `q`), doubled quotes and (MySQL) backslashes escaping. */
export function skipQuoted(s: string, i: number, q: number, backslash: boolean): number {
  let j = i + 1;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (backslash && c === 92) j += 2;
    else if (c === q) {
      if (s.charCodeAt(j + 1) === q) j += 2;
      else return j + 1;
    } else j++;
  }
  return j;
}

/** `$tag$…$tag$` (PostgreSQL): the index after it, or -1 when `i` does not open one. */
export function skipDollarQuoted(s: string, i: number): number {
  let j = i + 1;
  while (j < s.length && s.charCodeAt(j) !== 36) {
    const c = s.charCodeAt(j);
    if (!isWordChar(c) || isDigit(c)) return -1;
    j++;
  }
  if (j >= s.length) return -1;
  const tag = s.slice(i, j + 1);
  const end = s.indexOf(tag, j + 1);
  return end < 0 ? s.length : end + tag.length;
}

const NO_SPACE_BEFORE = new Set([')', ',', '.', ';', '::']);
const NO_SPACE_AFTER = new Set(['(', '.', '::']);
/** Whether a token ends an operand, so a '-' after it subtracts rather than signs a number. */
const endsOperand = (t: string | undefined) => t !== undefined && (t === '?' || t === ')' || isWordChar(t.charCodeAt(t.length - 1)) || t.endsWith('"') || t.endsWith('`'));
const isOperatorChar = (c: number) => '<>=!+-*/%|&^~:@'.includes(String.fromCharCode(c));

export function statementShape(text: string, dialect: SqlDialect): string {
  // Tokens, and whether whitespace preceded each in the text (kept only before '(': `IN (` vs `count(`).
  const tokens: string[] = [];
  const spaced: boolean[] = [];
  let sawSpace = false;
  const emit = (t: string) => {
    tokens.push(t);
    spaced.push(sawSpace);
    sawSpace = false;
  };
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (isSpace(c)) {
      sawSpace = true;
      i++;
    } else if ((c === 45 && next === 45) || (c === 35 && dialect === 'mysql')) {
      // -- (and MySQL's #) comment to the end of the line
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
      sawSpace = true;
    } else if (c === 47 && next === 42) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      sawSpace = true;
    } else if (c === 39) {
      // A one-letter prefix glued to the quote (E'…', N'…', X'…', B'…') belongs to the literal.
      const last = tokens[tokens.length - 1];
      const prefixed = !sawSpace && last !== undefined && /^[EeNnBbXxUu]$/.test(last);
      if (prefixed) {
        tokens.pop();
        sawSpace = spaced.pop() ?? false;
      }
      i = skipQuoted(text, i, 39, dialect === 'mysql' || (prefixed && (last === 'E' || last === 'e')));
      emit('?');
    } else if (c === 34 && dialect === 'mysql') {
      i = skipQuoted(text, i, 34, true);
      emit('?');
    } else if (c === 34 || c === 96) {
      // A quoted identifier: kept as written.
      const j = skipQuoted(text, i, c, false);
      emit(text.slice(i, j));
      i = j;
    } else if (c === 36 && dialect === 'postgres' && isDigit(next)) {
      let j = i + 1;
      while (j < n && isDigit(text.charCodeAt(j))) j++;
      emit('?');
      i = j;
    } else if (c === 36 && dialect === 'postgres' && skipDollarQuoted(text, i) >= 0) {
      i = skipDollarQuoted(text, i);
      emit('?');
    } else if (isDigit(c) || (c === 46 && isDigit(next)) || (c === 45 && isDigit(next) && !endsOperand(tokens[tokens.length - 1]))) {
      // A number (integer, decimal, exponent, 0x…, a sign that is not subtraction); digits inside a
      // word are taken with the word below.
      let j = i + 1;
      while (j < n && (isWordChar(text.charCodeAt(j)) || text.charCodeAt(j) === 46)) {
        const d = text.charCodeAt(j);
        const sign = text.charCodeAt(j + 1);
        j += (d === 101 || d === 69) && (sign === 43 || sign === 45) ? 2 : 1;
      }
      emit('?');
      i = j;
    } else if (isWordChar(c)) {
      let j = i + 1;
      while (j < n && isWordChar(text.charCodeAt(j))) j++;
      emit(text.slice(i, j));
      i = j;
    } else if (isOperatorChar(c) && c !== 63) {
      let j = i + 1;
      while (j < n && isOperatorChar(text.charCodeAt(j)) && !(text.charCodeAt(j) === 45 && text.charCodeAt(j + 1) === 45)) j++;
      emit(text.slice(i, j));
      i = j;
    } else {
      emit(text[i]);
      i++;
    }
  }
  let shape = '';
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    const prev = tokens[k - 1];
    const space = k > 0 && !NO_SPACE_BEFORE.has(t) && !NO_SPACE_AFTER.has(prev) && (t !== '(' || spaced[k] || prev === ',');
    shape += space ? ` ${t}` : t;
    if (shape.length > MAX_SHAPE_CHARS * 2) break;
  }
  return (shape.includes('(?') ? foldLists(shape) : shape).slice(0, MAX_SHAPE_CHARS);
}

/** `(?, ?, ?)` → `(?)`, then `(?), (?)` → `(?)`: IN lists and multi-row VALUES of any length group. */
function foldLists(s: string): string {
  return s.replace(/\((?:\?, )+\?\)/g, '(?)').replace(/\(\?\)(?:, \(\?\))+/g, '(?)');
}
