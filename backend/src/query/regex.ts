/**
 * The filter language's one regex dialect: RE2's (ClickHouse's `match`), run in memory by re2js, a
 * linear-time port of RE2 (no backtracking: no pattern can stall the process on any input). The
 * compiler checks every pattern here, so what RE2 rejects is a bad filter before the store sees
 * it; the in-memory matcher (the live stream) runs the same compiled pattern.
 */
import { RE2JS } from 're2js';
import { TaplineError } from '../errors.js';

/**
 * Largest pattern accepted, in instructions of the compiled program, a character class counting
 * one per range (`\pL` is some 680): RE2 in the store refuses a program past its memory budget
 * ("pattern too large"), and matching time grows with the program's size. `.{1000}` or
 * `[a-z]{5000}` fit; `\pL{1000}` does not.
 */
export const MAX_REGEX_SIZE = 20_000;
const CACHE_SIZE = 500;

/** A pattern RE2 (or this hub) refuses, with the reason (the compiler makes it a FilterError with its column). */
export class RegexError extends TaplineError {
  readonly code = 'FILTER_REGEX';
}

export interface Re2 {
  /** Whether the pattern matches anywhere in `text` (ClickHouse `match`: `.` matches a line break too). */
  test(text: string): boolean;
}

const cache = new Map<string, Re2 | RegexError>();

/** The compiled pattern, or a RegexError saying why RE2 refuses it. Results are cached. */
export function compileRe2(pattern: string): Re2 {
  let got = cache.get(pattern);
  if (got === undefined) {
    got = build(pattern);
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    cache.set(pattern, got);
  }
  if (got instanceof RegexError) throw got;
  return got;
}

function build(pattern: string): Re2 | RegexError {
  const unsupported = /\(\?<?[=!]|\\[1-9]|\\k/.exec(pattern);
  if (unsupported) {
    return new RegexError(`regular expressions cannot use '${unsupported[0]}' (look-arounds and back-references are not supported)`);
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern, RE2JS.DOTALL);
  } catch (err) {
    return new RegexError(`invalid regular expression: ${(err as Error).message.replace(/^error parsing regexp: /, '')}`);
  }
  const size = programSize(re);
  if (size > MAX_REGEX_SIZE) {
    return new RegexError(`the regular expression is too large (${size} instructions compiled, at most ${MAX_REGEX_SIZE}); use fewer or smaller repeats`);
  }
  return { test: (text) => re.test(text) };
}

/** Instructions of the compiled program, a rune instruction counting one per range it holds. */
function programSize(re: RE2JS): number {
  // re2js keeps the program on its RE2 object; it does not type it.
  const prog = (re.re2() as unknown as { prog?: { inst?: Array<{ runes?: unknown[] }> } }).prog;
  let n = 0;
  for (const inst of prog?.inst ?? []) n += Math.max(1, Math.ceil((inst.runes?.length ?? 0) / 2));
  return n;
}
