/**
 * Type-checks a filter against the field table and compiles it to a ClickHouse boolean expression
 * over the `entries` table. User values only ever travel as query parameters (`{p0:String}`), never
 * inside the SQL text.
 */
import { isIP } from 'node:net';
import type { CompareOp, Expr, FieldRef, MethodName, Value } from './ast.js';
import { FilterError } from './errors.js';
import { OPERATORS_BY_TYPE, allFields, isProtocolKeyword, lookupField, type FieldDef, type FieldType } from './fields.js';
import { parseFilter } from './parser.js';
import { RegexError, compileRe2 } from './regex.js';

export interface CompiledFilter {
  /** A boolean SQL expression, e.g. `(protocol = {p0:String}) AND (status = {p1:UInt16})`. */
  sql: string;
  /** Values for the `{pN:Type}` placeholders, for `query_params`. */
  params: Record<string, string | number>;
}

/** Parses and compiles filter text; throws FilterError with a column. */
export function compileFilter(text: string): CompiledFilter {
  return compileExpr(parseFilter(text));
}

/**
 * Compiles a parsed filter. `fields` resolves names to fields; the default is the `entries` table's
 * field table, a caller reading another table (the rollup) passes its own narrower one.
 */
export function compileExpr(expr: Expr, fields: (path: string) => FieldDef | undefined = lookupField): CompiledFilter {
  const c = new Compiler(fields);
  return { sql: c.expr(expr), params: c.params };
}

/** Date.parse alone accepts too much ("1" is a date to V8): insist on ISO 8601. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const SQL_OP: Readonly<Record<CompareOp, string>> = { '==': '=', '!=': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=', '=~': '', '!~': '' };
const TYPE_NAMES: Readonly<Record<FieldType, string>> = {
  string: 'text',
  int: 'a number',
  status: 'a status code',
  ip: 'an IP address',
  duration: 'a duration',
  size: 'a size',
  time: 'a time',
  bool: 'true or false',
};
const EXAMPLES: Readonly<Record<FieldType, string>> = {
  string: 'a "quoted string"',
  int: 'a whole number like 8080',
  status: 'a status like 404 or 5xx',
  ip: 'an IP like "10.244.1.7" or a CIDR like "10.0.0.0/8"',
  duration: 'a duration like 250ms or 2s',
  size: 'a size like 512B, 4KB or 1MiB',
  time: 'now() - 5m or a time like "2026-01-31T12:00:00Z"',
  bool: 'true or false',
};

class Compiler {
  readonly params: Record<string, string | number> = {};
  private n = 0;

  constructor(private readonly lookup: (path: string) => FieldDef | undefined) {}

  private param(type: string, value: string | number): string {
    const name = `p${this.n++}`;
    this.params[name] = value;
    return `{${name}:${type}}`;
  }

  expr(e: Expr): string {
    switch (e.kind) {
      case 'and':
      case 'or':
        // A chain `a and b and c` is one flat AND: the store's parser counts nesting depth.
        return chain(e, e.kind).map((x) => `(${this.expr(x)})`).join(` ${e.kind.toUpperCase()} `);
      case 'not':
        return `NOT (${this.expr(e.expr)})`;
      case 'const':
        return e.value ? '1' : '0';
      case 'bare':
        return this.bare(e.field, e.nextColumn);
      case 'compare':
        return this.compare(e.field, e.op, e.opColumn, e.value);
      case 'method':
        return this.method(e.field, e.method, e.arg);
      case 'in': {
        if (e.values.length > 1000) throw new FilterError('a list can hold at most 1000 values', e.values[1000].column);
        const parts = e.values.map((v) => this.compare(e.field, '==', v.column, v));
        const any = `(${parts.map((p) => `(${p})`).join(' OR ')})`;
        return e.negated ? `NOT ${any}` : any;
      }
    }
  }

  private resolve(ref: FieldRef): { def: FieldDef; sql: string } {
    const def = this.lookup(ref.path);
    if (!def) {
      if (this.lookup(ref.path + '[]')) {
        throw new FilterError(`${ref.path} needs a name in brackets, like ${ref.path}["user-agent"]`, ref.column);
      }
      const hint = suggest(ref.path);
      throw new FilterError(`unknown field '${shown(ref)}'${hint ? ` (did you mean '${hint}'?)` : ''}`, ref.column);
    }
    const sql = typeof def.sql === 'string' ? def.sql : def.sql(this.param('String', (ref.key ?? '').toLowerCase()));
    return { def, sql };
  }

  private bare(ref: FieldRef, nextColumn: number): string {
    if (ref.key === undefined && isProtocolKeyword(ref.path)) return `protocol = ${this.param('String', ref.path)}`;
    const { def, sql } = this.resolve(ref);
    if (def.type === 'bool') return sql;
    throw new FilterError(
      `expected an operator after '${shown(ref)}' (${OPERATORS_BY_TYPE[def.type].join(' ')})`,
      nextColumn,
      [...OPERATORS_BY_TYPE[def.type]],
    );
  }

  private compare(ref: FieldRef, op: CompareOp, opColumn: number, v: Value): string {
    const { def, sql } = this.resolve(ref);
    const t = def.type;
    if (!OPERATORS_BY_TYPE[t].includes(op)) {
      throw new FilterError(`'${op}' does not apply to ${shown(ref)} (${TYPE_NAMES[t]}); use ${OPERATORS_BY_TYPE[t].join(' ')}`, opColumn);
    }
    const mismatch = (): never => {
      throw new FilterError(`${shown(ref)} is ${TYPE_NAMES[t]}: expected ${EXAMPLES[t]}`, v.column);
    };
    if (op === '=~' || op === '!~') {
      if (v.kind !== 'string') return mismatch();
      const re = this.param('String', checkRegex(v));
      return `${op === '!~' ? 'NOT ' : ''}match(${sql}, ${re})`;
    }
    const sqlOp = SQL_OP[op];
    switch (t) {
      case 'string':
        if (v.kind !== 'string') return mismatch();
        return `${sql} ${sqlOp} ${this.param('String', v.value)}`;
      case 'int':
        if (v.kind !== 'number' || !Number.isSafeInteger(v.value)) return mismatch();
        return `${sql} ${sqlOp} ${this.param('Int64', v.value)}`;
      case 'status':
        if (v.kind === 'statusClass') return this.statusClass(sql, op, v.digit);
        if (v.kind !== 'number' || !Number.isSafeInteger(v.value)) return mismatch();
        return `${sql} ${sqlOp} ${this.param('Int64', v.value)}`;
      case 'duration':
        if (v.kind !== 'duration') return mismatch();
        return `${sql} ${sqlOp} ${this.param('UInt64', v.us)}`;
      case 'size':
        if (v.kind === 'size') return `${sql} ${sqlOp} ${this.param('UInt64', v.bytes)}`;
        if (v.kind === 'number' && Number.isSafeInteger(v.value)) return `${sql} ${sqlOp} ${this.param('UInt64', v.value)}`;
        return mismatch();
      case 'bool':
        if (v.kind !== 'bool') return mismatch();
        return `${sql} ${sqlOp} ${this.param('Bool', v.value ? 'true' : 'false')}`;
      case 'time':
        return `${sql} ${sqlOp} ${this.time(v, mismatch, ref)}`;
      case 'ip':
        return this.ip(sql, op, v, mismatch);
    }
  }

  /** `status == 5xx` → the class; ordered comparisons take the class's bounds (>= 4xx → >= 400). */
  private statusClass(sql: string, op: CompareOp, digit: number): string {
    const lo = digit * 100;
    switch (op) {
      case '==':
        return `intDiv(${sql}, 100) = ${this.param('UInt16', digit)}`;
      case '!=':
        return `intDiv(${sql}, 100) != ${this.param('UInt16', digit)}`;
      case '<':
      case '>=':
        return `${sql} ${op} ${this.param('UInt16', lo)}`;
      default: // '<=' and '>' take the top of the class
        return `${sql} ${op} ${this.param('UInt16', lo + 99)}`;
    }
  }

  private time(v: Value, mismatch: () => never, ref: FieldRef): string {
    if (v.kind === 'now') {
      if (Math.abs(v.offsetUs) > MAX_NOW_OFFSET_US) {
        throw new FilterError(`${shown(ref)}: an offset from now() is at most 36500d (100 years)`, v.column);
      }
      if (v.offsetUs === 0) return 'now64(6)';
      return `(now64(6) ${v.offsetUs < 0 ? '-' : '+'} toIntervalMicrosecond(${this.param('UInt64', Math.abs(v.offsetUs))}))`;
    }
    if (v.kind !== 'string') return mismatch();
    const us = parseTimeUs(v.value);
    if (us === undefined) return mismatch();
    if (us < MIN_TIME_US || us > MAX_TIME_US) {
      throw new FilterError(`${shown(ref)}: times must be from 1900-01-01 to 2254-12-31`, v.column);
    }
    return `fromUnixTimestamp64Micro(${this.param('Int64', us)})`;
  }

  private ip(sql: string, op: CompareOp, v: Value, mismatch: () => never): string {
    const text = v.kind === 'ip' ? v.text : v.kind === 'string' ? v.value.trim() : mismatch();
    const negate = op === '!=' ? 'NOT ' : '';
    const slash = text.indexOf('/');
    if (slash < 0) {
      if (!isIP(text)) return mismatch();
      return `${sql} ${SQL_OP[op]} toIPv6(${this.param('String', text)})`;
    }
    const addr = text.slice(0, slash);
    const bits = Number(text.slice(slash + 1));
    const family = isIP(addr);
    if (!/^\d{1,3}$/.test(text.slice(slash + 1)) || family === 0 || bits > (family === 4 ? 32 : 128)) return mismatch();
    // Addresses are stored IPv4-mapped, so an IPv4 CIDR becomes its ::ffff:0:0/96 twin.
    const cidr = family === 4 ? `::ffff:${addr}/${96 + bits}` : text;
    return `${negate}isIPAddressInRange(toString(${sql}), ${this.param('String', cidr)})`;
  }

  private method(ref: FieldRef, method: MethodName, arg: Value): string {
    const { def, sql } = this.resolve(ref);
    if (def.type !== 'string' && def.type !== 'ip') {
      throw new FilterError(`.${method}() applies to text fields, and ${shown(ref)} is ${TYPE_NAMES[def.type]}`, ref.column);
    }
    if (arg.kind !== 'string') throw new FilterError(`.${method}() expects a "quoted string"`, arg.column);
    // IPs are matched in their usual text form (10.0.0.1, not ::ffff:10.0.0.1).
    const subject = def.type === 'ip' ? `replaceRegexpOne(toString(${sql}), '^::ffff:', '')` : sql;
    switch (method) {
      case 'contains':
        return `position(${subject}, ${this.param('String', arg.value)}) > 0`;
      case 'startsWith':
        return `startsWith(${subject}, ${this.param('String', arg.value)})`;
      case 'endsWith':
        return `endsWith(${subject}, ${this.param('String', arg.value)})`;
      case 'matches':
        return `match(${subject}, ${this.param('String', checkRegex(arg))})`;
    }
  }
}

/** ClickHouse uses RE2: what RE2 refuses (regex.ts) is a bad filter, before the store sees it. */
function checkRegex(v: Value & { kind: 'string' }): string {
  try {
    compileRe2(v.value);
  } catch (err) {
    if (err instanceof RegexError) throw new FilterError(err.message, v.column);
    throw err;
  }
  return v.value;
}

/** The operands of a chain of one connective, left to right: `a and b and c` → [a, b, c]. */
function chain(e: Expr, kind: 'and' | 'or'): Expr[] {
  const out: Expr[] = [];
  const stack: Expr[] = [e];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x.kind === kind) stack.push(x.right, x.left);
    else out.push(x);
  }
  return out;
}

/**
 * Times a filter may name (µs since the epoch): the store's DateTime64(6) columns hold 1900-01-01
 * to 2299-12-31, and microseconds stay exact in a JavaScript number up to 2^53 (mid-2255), hence
 * 1900-01-01 to 2254-12-31.
 */
export const MIN_TIME_US = Date.UTC(1900, 0, 1) * 1000;
export const MAX_TIME_US = Date.UTC(2255, 0, 1) * 1000 - 1;
/** Longest offset from now() (100 years), so that now() ± offset stays in that range. */
const MAX_NOW_OFFSET_US = 36_500 * 86_400_000_000;

/**
 * An ISO 8601 time in µs since the epoch (to the millisecond), or undefined. The in-memory
 * matcher reads times with the same function.
 */
export function parseTimeUs(text: string): number | undefined {
  if (!ISO_TIME.test(text)) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return undefined;
  return ms * 1000;
}

/** A field as the user typed it (an alias stays an alias): `request.headers["x"]`. */
function shown(ref: FieldRef): string {
  return ref.path.replace('[]', `[${JSON.stringify(ref.key)}]`);
}

function suggest(path: string): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const f of allFields()) {
    for (const n of [f.name, ...f.aliases]) {
      const d = editDistance(path.toLowerCase(), n.toLowerCase());
      if (d < bestDist) {
        bestDist = d;
        best = n;
      }
    }
  }
  return best?.replace('[]', '["…"]');
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
