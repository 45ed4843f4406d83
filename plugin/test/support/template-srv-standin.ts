/**
 * STAND-IN for Grafana's getTemplateSrv(): `$name`, `${name}`, `${name:raw}`, `${name:regex}` and
 * scoped vars, calling the data source's format function the way Grafana does (a multi-value
 * variable passes an array). "All" (`$__all`) with a custom all value gives that value unformatted,
 * as Grafana does. No Node imports: the browser harness bundles it too.
 */
import type { ScopedVars, TimeRange } from '@grafana/data';

export type VarValue = string | string[];

/** Grafana's regex escaping (kbn.regexEscape) and its `regex` format. */
const regexEscape = (v: string) => v.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
function regexFormat(value: VarValue): string {
  if (!Array.isArray(value)) return regexEscape(value);
  return value.length === 1 ? regexEscape(value[0]) : `(${value.map(regexEscape).join('|')})`;
}

export class TemplateSrvStandIn {
  constructor(
    public variables: Record<string, VarValue> = {},
    /** Custom "All" values of variables whose value is `$__all`. */
    public allValues: Record<string, string> = {},
  ) {}

  replace(target?: string, scopedVars?: ScopedVars, format?: string | ((v: VarValue) => string)): string {
    if (!target) return '';
    return target.replace(/\$(\w+)|\$\{(\w+)(?::(\w+))?\}/g, (whole, a?: string, b?: string, fmt?: string) => {
      const name = a ?? b ?? '';
      const scoped = scopedVars?.[name];
      const value: VarValue | undefined = scoped ? (scoped.value as VarValue) : this.variables[name];
      if (value === undefined) return whole;
      if (value === '$__all' && this.allValues[name] !== undefined) return this.allValues[name];
      if (fmt === 'regex') return regexFormat(value);
      if (fmt === 'raw') return Array.isArray(value) ? value.join(',') : value;
      if (typeof format === 'function') return format(value);
      return Array.isArray(value) ? `{${value.join(',')}}` : value;
    });
  }

  containsTemplate(target?: string): boolean {
    return /\$\w+|\$\{\w+/.test(target ?? '');
  }

  getVariables() {
    return [];
  }

  updateTimeRange(_t: TimeRange): void {}
}

