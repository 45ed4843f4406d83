/**
 * Filters evaluated in memory, on entry summaries (the live stream's recent rows), with the meaning
 * compile.ts gives them in SQL; a property test runs both on the same rows in the real engine.
 *
 * A filter gets no matcher (undefined: ask the store) when it reads what a summary does not hold
 * (headers, bodies, end time, wire sizes, truncation, reason phrase). Regular expressions run in
 * regex.ts's RE2 engine (re2js: RE2's syntax and semantics, as the store's `match`, in linear
 * time), so no pattern can stall the event loop, whatever the entry holds.
 * Type errors are the compiler's: compile a filter before asking for its matcher.
 */
import { BlockList, isIP } from 'node:net';
import type { CompareOp, Expr, FieldRef, MethodName, Value } from './ast.js';
import { parseTimeUs } from './compile.js';
import { RegexError, compileRe2, type Re2 } from './regex.js';
import { isProtocolKeyword, lookupField, type FieldGetter, type FieldType, type MatchSubject } from './fields.js';

export type { MatchSubject } from './fields.js';

export type EntryMatcher = (e: MatchSubject) => boolean;

type Get = FieldGetter;

/** Thrown inside the builder when a part of the filter cannot be evaluated in memory. */
class NotInMemory extends Error {}

/** The in-memory matcher of a compiled (type-checked) filter, or undefined: evaluate it in the store. */
export function compileMatcher(expr: Expr): EntryMatcher | undefined {
  try {
    return build(expr);
  } catch (err) {
    if (err instanceof NotInMemory) return undefined;
    throw err;
  }
}

function build(e: Expr): EntryMatcher {
  switch (e.kind) {
    case 'and': {
      const l = build(e.left);
      const r = build(e.right);
      return (s) => l(s) && r(s);
    }
    case 'or': {
      const l = build(e.left);
      const r = build(e.right);
      return (s) => l(s) || r(s);
    }
    case 'not': {
      const m = build(e.expr);
      return (s) => !m(s);
    }
    case 'const':
      return e.value ? () => true : () => false;
    case 'bare': {
      if (e.field.key === undefined && isProtocolKeyword(e.field.path)) {
        const p = e.field.path;
        return (s) => s.protocol === p;
      }
      const { get } = field(e.field);
      return (s) => get(s) === true;
    }
    case 'compare':
      return compare(e.field, e.op, e.value);
    case 'method':
      return method(e.field, e.method, e.arg);
    case 'in': {
      const parts = e.values.map((v) => compare(e.field, '==', v));
      const any: EntryMatcher = (s) => parts.some((m) => m(s));
      return e.negated ? (s) => !any(s) : any;
    }
  }
}

function field(ref: FieldRef): { type: FieldType; get: Get } {
  const def = lookupField(ref.path);
  if (!def?.get) throw new NotInMemory();
  return { type: def.type, get: def.get };
}

function ordered(op: CompareOp, a: number, b: number): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    default:
      throw new NotInMemory();
  }
}

/** Number a value compares as, for the numeric types (as compile.ts binds it). */
function numberOf(type: FieldType, v: Value): number {
  if (type === 'duration' && v.kind === 'duration') return v.us;
  if (type === 'size' && v.kind === 'size') return v.bytes;
  if (v.kind === 'number') return v.value;
  throw new NotInMemory();
}

function compare(ref: FieldRef, op: CompareOp, v: Value): EntryMatcher {
  const { type, get } = field(ref);
  if (op === '=~' || op === '!~') {
    if (v.kind !== 'string') throw new NotInMemory();
    const re = re2(v.value);
    const subject = type === 'ip' ? ipSubject(get) : (s: MatchSubject) => get(s) as string;
    return op === '=~' ? (s) => re.test(subject(s)) : (s) => !re.test(subject(s));
  }
  switch (type) {
    case 'string': {
      if (v.kind !== 'string') throw new NotInMemory();
      const want = v.value;
      return op === '==' ? (s) => get(s) === want : (s) => get(s) !== want;
    }
    case 'bool': {
      if (v.kind !== 'bool') throw new NotInMemory();
      const want = v.value;
      return op === '==' ? (s) => get(s) === want : (s) => get(s) !== want;
    }
    case 'status':
      if (v.kind === 'statusClass') return statusClass(get, op, v.digit);
      return numeric(get, op, numberOf(type, v));
    case 'int':
    case 'duration':
    case 'size':
      return numeric(get, op, numberOf(type, v));
    case 'time':
      return time(get, op, v);
    case 'ip':
      return ip(get, op, v);
  }
}

function numeric(get: Get, op: CompareOp, want: number): EntryMatcher {
  return (s) => ordered(op, get(s) as number, want);
}

/** As compile.ts: `== 5xx` is the class, ordered comparisons take its bounds. */
function statusClass(get: Get, op: CompareOp, digit: number): EntryMatcher {
  switch (op) {
    case '==':
      return (s) => Math.floor((get(s) as number) / 100) === digit;
    case '!=':
      return (s) => Math.floor((get(s) as number) / 100) !== digit;
    case '<':
    case '>=':
      return numeric(get, op, digit * 100);
    default:
      return numeric(get, op, digit * 100 + 99);
  }
}

function time(get: Get, op: CompareOp, v: Value): EntryMatcher {
  if (v.kind === 'now') {
    // now() is read at each evaluation, as the store reads it at each query.
    const offset = v.offsetUs;
    return (s) => ordered(op, get(s) as number, Date.now() * 1000 + offset);
  }
  if (v.kind !== 'string') throw new NotInMemory();
  const us = parseTimeUs(v.value);
  if (us === undefined) throw new NotInMemory();
  return numeric(get, op, us);
}

/** Addresses as the store holds them: IPv6, IPv4 mapped (`::ffff:a.b.c.d`); '' is `::`. */
function mapped(text: string): string {
  if (text === '') return '::';
  return isIP(text) === 4 ? `::ffff:${text}` : text;
}

function ip(get: Get, op: CompareOp, v: Value): EntryMatcher {
  const text = v.kind === 'ip' ? v.text : v.kind === 'string' ? v.value.trim() : '';
  const slash = text.indexOf('/');
  const rule = new BlockList();
  if (slash < 0) {
    if (!isIP(text)) throw new NotInMemory();
    rule.addAddress(mapped(text), 'ipv6');
  } else {
    const addr = text.slice(0, slash);
    const bits = Number(text.slice(slash + 1));
    const family = isIP(addr);
    if (family === 0) throw new NotInMemory();
    rule.addSubnet(mapped(addr), family === 4 ? 96 + bits : bits, 'ipv6');
  }
  const inRule = (s: MatchSubject) => rule.check(mapped(get(s) as string), 'ipv6');
  if (op === '==') return inRule;
  if (op === '!=') return (s) => !inRule(s);
  throw new NotInMemory();
}

/** An IP's text as compile.ts matches it: the store's text without `::ffff:`. */
function ipSubject(get: Get): (s: MatchSubject) => string {
  return (s) => (get(s) as string) || '::';
}

function method(ref: FieldRef, name: MethodName, arg: Value): EntryMatcher {
  const { type, get } = field(ref);
  if (arg.kind !== 'string') throw new NotInMemory();
  const subject = type === 'ip' ? ipSubject(get) : (s: MatchSubject) => get(s) as string;
  const needle = arg.value;
  switch (name) {
    case 'contains':
      return (s) => subject(s).includes(needle);
    case 'startsWith':
      return (s) => subject(s).startsWith(needle);
    case 'endsWith':
      return (s) => subject(s).endsWith(needle);
    case 'matches': {
      const re = re2(needle);
      return (s) => re.test(subject(s));
    }
  }
}

/** The pattern in the RE2 engine, as the store's `match` reads it (the compiler has checked it). */
function re2(pattern: string): Re2 {
  try {
    return compileRe2(pattern);
  } catch (err) {
    if (err instanceof RegexError) throw new NotInMemory();
    throw err;
  }
}
