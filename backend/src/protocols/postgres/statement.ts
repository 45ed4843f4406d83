/**
 * What the dissector reads from a statement's text: the statements of a simple Query (several,
 * separated by ';', each answered by its own CommandComplete), its verb (the entry's operation)
 * and its main table when cheaply found (the entry's target).
 */
import { skipDollarQuoted, skipQuoted } from '../sql/shape.js';

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12;

/** The index of the first character at or after `i` (before `to`) that is neither whitespace nor in a comment. */
function skipBlank(s: string, i: number, to: number): number {
  while (i < to) {
    const c = s.charCodeAt(i);
    if (isSpace(c)) i++;
    else if (c === 45 && s.charCodeAt(i + 1) === 45) {
      const eol = s.indexOf('\n', i);
      i = eol < 0 ? to : eol + 1;
    } else if (c === 47 && s.charCodeAt(i + 1) === 42) {
      const end = s.indexOf('*/', i + 2);
      i = end < 0 ? to : end + 2;
    } else return i;
  }
  return to;
}

/** Whether s[from, to) holds only whitespace and comments (the server skips such a statement). */
const blank = (s: string, from: number, to: number) => skipBlank(s, from, to) >= to;

/**
 * The statements of a simple Query, as the server executes them: split at ';' outside quotes,
 * dollar quotes and comments, trimmed, blank ones dropped. A blank query is one statement, as
 * sent (the server answers it with EmptyQueryResponse).
 */
export function splitStatements(text: string): string[] {
  const out: string[] = [];
  let from = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (c === 39) {
      const prev = text.charCodeAt(i - 1);
      i = skipQuoted(text, i, 39, prev === 69 || prev === 101); // E'…' takes backslash escapes
    } else if (c === 34) i = skipQuoted(text, i, 34, false);
    else if (c === 36 && skipDollarQuoted(text, i) >= 0) i = skipDollarQuoted(text, i);
    else if (c === 45 && next === 45) {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
    } else if (c === 47 && next === 42) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === 59) {
      if (!blank(text, from, i)) out.push(text.slice(from, i).trim());
      from = ++i;
    } else i++;
  }
  if (!blank(text, from, n)) out.push(text.slice(from, n).trim());
  return out.length === 0 ? [text.trim()] : out;
}

/** Verbs whose object kind is part of the operation: CREATE TABLE, DROP INDEX, ALTER ROLE. */
const TWO_WORD_VERBS = new Set(['CREATE', 'ALTER', 'DROP']);
const SKIPPED_AFTER_CREATE = new Set(['OR', 'REPLACE', 'TEMP', 'TEMPORARY', 'UNLOGGED', 'UNIQUE', 'GLOBAL', 'LOCAL']);

const isWordStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isWordChar = (c: number) => isWordStart(c) || (c >= 48 && c <= 57);

/** Leading words of a statement, upper-cased, comments and whitespace skipped (at most `max`; up to a non-word). */
function leadingWords(text: string, max: number): string[] {
  const words: string[] = [];
  const n = text.length;
  for (let i = skipBlank(text, 0, n); words.length < max && i < n && isWordStart(text.charCodeAt(i)); i = skipBlank(text, i, n)) {
    let j = i + 1;
    while (j < n && isWordChar(text.charCodeAt(j))) j++;
    words.push(text.slice(i, j).toUpperCase());
    i = j;
  }
  return words;
}

/** The entry's operation: the statement's first keyword (two for CREATE/ALTER/DROP), '' for a blank one. */
export function statementVerb(text: string): string {
  const first = leadingWords(text, 1);
  if (first.length === 0) return '';
  if (!TWO_WORD_VERBS.has(first[0])) return first[0];
  const words = leadingWords(text, 6);
  const kind = words.slice(1).find((w) => !SKIPPED_AFTER_CREATE.has(w));
  return kind === undefined ? words[0] : `${words[0]} ${kind}`;
}

const IDENT = String.raw`("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\s*\.\s*("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*))?`;
/** Where the main table is named, by verb (the first match in the statement). */
const TABLE_AFTER: Record<string, RegExp> = {
  SELECT: new RegExp(String.raw`\bFROM\s+(?:ONLY\s+)?${IDENT}`, 'i'),
  DELETE: new RegExp(String.raw`\bFROM\s+(?:ONLY\s+)?${IDENT}`, 'i'),
  INSERT: new RegExp(String.raw`\bINTO\s+${IDENT}`, 'i'),
  UPDATE: new RegExp(String.raw`^\s*UPDATE\s+(?:ONLY\s+)?${IDENT}`, 'i'),
  COPY: new RegExp(String.raw`^\s*COPY\s+${IDENT}`, 'i'),
  TRUNCATE: new RegExp(String.raw`^\s*TRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?${IDENT}`, 'i'),
  'CREATE TABLE': new RegExp(String.raw`\bTABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?${IDENT}`, 'i'),
  'DROP TABLE': new RegExp(String.raw`\bTABLE\s+(?:IF\s+EXISTS\s+)?${IDENT}`, 'i'),
  'ALTER TABLE': new RegExp(String.raw`\bTABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?${IDENT}`, 'i'),
};

/** Statements longer than this are not searched for a table (the target is a cheap hint). */
const MAX_TARGET_SEARCH = 4096;

/** The entry's target: the main table (schema.table as written, unquoted names lower-cased), '' when not cheaply known. */
export function statementTarget(verb: string, text: string): string {
  const re = TABLE_AFTER[verb];
  if (re === undefined) return '';
  const m = re.exec(text.length > MAX_TARGET_SEARCH ? text.slice(0, MAX_TARGET_SEARCH) : text);
  if (m === null || (verb === 'COPY' && m[1] === '(')) return '';
  return m[2] === undefined ? identifier(m[1]) : `${identifier(m[1])}.${identifier(m[2])}`;
}

/** A name as PostgreSQL reads it: quoted as written, unquoted lower-cased. */
function identifier(part: string): string {
  return part.charCodeAt(0) === 34 ? part.slice(1, -1).replace(/""/g, '"') : part.toLowerCase();
}

/** The row count a CommandComplete tag carries (`SELECT 3`, `INSERT 0 1`, `COPY 10`), -1 when none. */
export function tagRows(tag: string): number {
  let i = tag.length;
  while (i > 0 && tag.charCodeAt(i - 1) >= 48 && tag.charCodeAt(i - 1) <= 57) i--;
  if (i === tag.length || i === 0 || !isSpace(tag.charCodeAt(i - 1))) return -1;
  return Number(tag.slice(i));
}
