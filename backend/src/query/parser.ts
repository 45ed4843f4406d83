/**
 * Recursive-descent parser for the filter language (grammar: docs/filter-language.md).
 * Precedence, loosest first: or, and, not, then a single predicate or a parenthesised filter.
 */
import type { CompareOp, Expr, FieldRef, MethodName, Value } from './ast.js';
import { METHOD_NAMES } from './ast.js';
import { FilterError } from './errors.js';
import { tokenize, type Token } from './lexer.js';

const COMPARE_OPS = new Set(['==', '!=', '<', '<=', '>', '>=', '=~', '!~']);
const VALUE_KINDS = ['"string"', 'number', 'duration (250ms)', 'size (1KB)', 'status class (5xx)', 'true', 'false', 'now()'];

/**
 * Most `not`s and parentheses one inside another. Deeper filters are refused before they reach
 * the store, whose parser stops at an AST depth of 1000 (about 400 nested NOTs).
 */
export const MAX_NESTING = 100;

/** Parses a filter. The empty filter (only whitespace) matches everything and parses to `true`. */
export function parseFilter(text: string): Expr {
  return new Parser(tokenize(text)).parseAll();
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  parseAll(): Expr {
    if (this.peek().kind === 'eof') return { kind: 'const', value: true, column: 1 };
    const expr = this.parseOr();
    const t = this.peek();
    if (t.kind !== 'eof') {
      throw new FilterError(`expected 'and', 'or' or the end of the filter, found ${describe(t)}`, t.column, [
        'and',
        'or',
      ]);
    }
    return expr;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)];
  }
  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }
  private isWord(t: Token, ...words: string[]): boolean {
    return t.kind === 'ident' && words.includes(t.text.toLowerCase());
  }
  private isOp(t: Token, ...ops: string[]): boolean {
    return t.kind === 'op' && ops.includes(t.text);
  }

  private parseOr(): Expr {
    let left = this.parseAnd();
    while (this.isWord(this.peek(), 'or') || this.isOp(this.peek(), '||')) {
      const op = this.next();
      left = { kind: 'or', left, right: this.parseOperand(op), column: colOf(left) };
    }
    return left;
  }

  private parseAnd(): Expr {
    let left = this.parseUnary();
    while (this.isWord(this.peek(), 'and') || this.isOp(this.peek(), '&&')) {
      const op = this.next();
      if (this.peek().kind === 'eof') this.failOperand(op);
      left = { kind: 'and', left, right: this.parseUnary(), column: colOf(left) };
    }
    return left;
  }

  /** The right-hand side of `or`, with an error naming the operator when it is missing. */
  private parseOperand(op: Token): Expr {
    if (this.peek().kind === 'eof') this.failOperand(op);
    return this.parseAnd();
  }

  private failOperand(op: Token): never {
    throw new FilterError(`expected a condition after '${op.text}'`, this.peek().column);
  }

  private parseUnary(): Expr {
    const t = this.peek();
    if (this.isWord(t, 'not') || this.isOp(t, '!')) {
      this.next();
      if (this.peek().kind === 'eof') this.failOperand(t);
      this.enter(t);
      const expr = this.parseUnary();
      this.depth--;
      return { kind: 'not', expr, column: t.column };
    }
    return this.parsePrimary();
  }

  /** One level deeper (a `not` or a `(`), refused past MAX_NESTING. */
  private enter(t: Token): void {
    if (++this.depth > MAX_NESTING) {
      throw new FilterError(`the filter nests too deeply: at most ${MAX_NESTING} 'not's and parentheses one inside another`, t.column);
    }
  }

  private parsePrimary(): Expr {
    const t = this.peek();
    if (t.kind === '(') {
      this.next();
      if (this.peek().kind === ')') throw new FilterError("expected a condition after '('", this.peek().column);
      this.enter(t);
      const inner = this.parseOr();
      this.depth--;
      const close = this.peek();
      if (close.kind !== ')') throw new FilterError(`expected ')' to close the '(' at column ${t.column}, found ${describe(close)}`, close.column, [')']);
      this.next();
      return inner;
    }
    if (this.isWord(t, 'true', 'false')) {
      this.next();
      return { kind: 'const', value: t.text.toLowerCase() === 'true', column: t.column };
    }
    if (t.kind !== 'ident' || this.isWord(t, 'and', 'or', 'in')) {
      throw new FilterError(`expected a field, a protocol or '(', found ${describe(t)}`, t.column);
    }
    return this.parsePredicate();
  }

  private parsePredicate(): Expr {
    const { field, method } = this.parseField();
    if (method) {
      this.next(); // the '(' parseField saw
      const arg = this.parseValue(`'${method}('`);
      const close = this.peek();
      if (close.kind !== ')') throw new FilterError(`expected ')' after the argument of ${method}, found ${describe(close)}`, close.column, [')']);
      this.next();
      return { kind: 'method', field, method, arg };
    }
    const t = this.peek();
    if (t.kind === 'op' && COMPARE_OPS.has(t.text)) {
      this.next();
      return { kind: 'compare', field, op: t.text as CompareOp, opColumn: t.column, value: this.parseValue(`'${t.text}'`) };
    }
    if (this.isWord(t, 'in') || (this.isWord(t, 'not') && this.isWord(this.peek(1), 'in'))) {
      const negated = this.isWord(t, 'not');
      if (negated) this.next();
      const inTok = this.next();
      return { kind: 'in', field, negated, values: this.parseList(inTok) };
    }
    return { kind: 'bare', field, nextColumn: t.column };
  }

  /** A dotted path with optional `["key"]` parts; a trailing `.method(` ends the path. */
  private parseField(): { field: FieldRef; method?: MethodName } {
    const first = this.next();
    let path = first.text;
    let key: string | undefined;
    for (;;) {
      const t = this.peek();
      if (t.kind === '.') {
        this.next();
        const name = this.peek();
        if (name.kind !== 'ident') throw new FilterError(`expected a field name after '.', found ${describe(name)}`, name.column);
        this.next();
        if (this.peek().kind === '(') {
          if (!(METHOD_NAMES as readonly string[]).includes(name.text)) {
            throw new FilterError(`unknown function '${name.text}' (known: ${METHOD_NAMES.join(', ')})`, name.column, [...METHOD_NAMES]);
          }
          return { field: { path, key, column: first.column }, method: name.text as MethodName };
        }
        path += '.' + name.text;
      } else if (t.kind === '[') {
        this.next();
        const k = this.peek();
        if (k.kind !== 'string') throw new FilterError(`expected a quoted name after '[', found ${describe(k)}`, k.column);
        this.next();
        const close = this.peek();
        if (close.kind !== ']') throw new FilterError(`expected ']' after ${JSON.stringify(k.text)}, found ${describe(close)}`, close.column, [']']);
        this.next();
        if (key !== undefined) throw new FilterError('only one [key] is allowed in a field', t.column);
        key = k.text;
        path += '[]';
      } else break;
    }
    return { field: { path, key, column: first.column } };
  }

  private parseList(inTok: Token): Value[] {
    const open = this.peek();
    if (open.kind !== '[') throw new FilterError(`expected '[' after 'in', found ${describe(open)}`, open.column, ['[']);
    this.next();
    const values: Value[] = [this.parseValue("'['")];
    while (this.peek().kind === ',') {
      this.next();
      values.push(this.parseValue("','"));
    }
    const close = this.peek();
    if (close.kind !== ']') throw new FilterError(`expected ',' or ']' in the list after '${inTok.text}', found ${describe(close)}`, close.column, [',', ']']);
    this.next();
    return values;
  }

  private parseValue(afterText: string): Value {
    const t = this.peek();
    const column = t.column;
    switch (t.kind) {
      case 'string':
        this.next();
        return { kind: 'string', value: t.text, column };
      case 'number':
        this.next();
        return { kind: 'number', value: t.value, text: t.text, column };
      case 'duration':
        this.next();
        return { kind: 'duration', us: t.value, text: t.text, column };
      case 'size':
        this.next();
        return { kind: 'size', bytes: t.value, text: t.text, column };
      case 'statusClass':
        this.next();
        return { kind: 'statusClass', digit: t.value, column };
      case 'ip':
        this.next();
        return { kind: 'ip', text: t.text, column };
      case 'ident':
        if (this.isWord(t, 'true', 'false')) {
          this.next();
          return { kind: 'bool', value: t.text.toLowerCase() === 'true', column };
        }
        if (t.text === 'now') return this.parseNow();
        break;
    }
    throw new FilterError(`expected a value after ${afterText}`, column, VALUE_KINDS);
  }

  private parseNow(): Value {
    const now = this.next();
    if (this.peek().kind !== '(' || this.peek(1).kind !== ')') {
      throw new FilterError("expected '()' after 'now'", this.peek().column, ['()']);
    }
    this.next();
    this.next();
    const sign = this.peek();
    if (sign.kind !== '+' && sign.kind !== '-') return { kind: 'now', offsetUs: 0, column: now.column };
    this.next();
    const d = this.peek();
    if (d.kind !== 'duration') throw new FilterError(`expected a duration like 5m after 'now() ${sign.kind}', found ${describe(d)}`, d.column);
    this.next();
    return { kind: 'now', offsetUs: sign.kind === '-' ? -d.value : d.value, column: now.column };
  }
}

function colOf(e: Expr): number {
  return e.kind === 'bare' || e.kind === 'compare' || e.kind === 'method' || e.kind === 'in' ? e.field.column : e.column;
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'the end of the filter';
  if (t.kind === 'string') return JSON.stringify(t.text);
  return `'${t.text}'`;
}
