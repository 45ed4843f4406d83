/** The filter language's syntax tree. Every node keeps the 1-based column it starts at. */

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | '=~' | '!~';
export type MethodName = 'contains' | 'startsWith' | 'endsWith' | 'matches';
export const METHOD_NAMES: readonly MethodName[] = ['contains', 'startsWith', 'endsWith', 'matches'];

/** A field as written: `dst.service`, `request.headers["user-agent"]`. */
export interface FieldRef {
  path: string;
  /** The bracketed key, for keyed fields like headers. */
  key?: string;
  column: number;
}

export type Value =
  | { kind: 'string'; value: string; column: number }
  | { kind: 'number'; value: number; text: string; column: number }
  | { kind: 'duration'; us: number; text: string; column: number }
  | { kind: 'size'; bytes: number; text: string; column: number }
  | { kind: 'statusClass'; digit: number; column: number }
  | { kind: 'ip'; text: string; column: number }
  | { kind: 'bool'; value: boolean; column: number }
  /** now() plus an offset in microseconds (negative for `now() - 5m`). */
  | { kind: 'now'; offsetUs: number; column: number };

export type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr; column: number }
  | { kind: 'not'; expr: Expr; column: number }
  | { kind: 'const'; value: boolean; column: number }
  /** A lone name: a protocol keyword (`http`) or a boolean field (`unanswered`). */
  | { kind: 'bare'; field: FieldRef; /** Column right after the name, where an operator could go. */ nextColumn: number }
  | { kind: 'compare'; field: FieldRef; op: CompareOp; opColumn: number; value: Value }
  | { kind: 'method'; field: FieldRef; method: MethodName; arg: Value }
  | { kind: 'in'; field: FieldRef; values: Value[]; negated: boolean };
