/**
 * STAND-IN for Grafana's getTemplateSrv(): `$name`, `${name}`, `${name:raw}` and scoped vars,
 * calling the data source's format function the way Grafana does (a multi-value variable passes an
 * array). No Node imports: the browser harness bundles it too.
 */
import type { ScopedVars, TimeRange } from '@grafana/data';

export type VarValue = string | string[];

export class TemplateSrvStandIn {
  constructor(public variables: Record<string, VarValue> = {}) {}

  replace(target?: string, scopedVars?: ScopedVars, format?: string | ((v: VarValue) => string)): string {
    if (!target) return '';
    return target.replace(/\$(\w+)|\$\{(\w+)(?::(\w+))?\}/g, (whole, a?: string, b?: string, fmt?: string) => {
      const name = a ?? b ?? '';
      const scoped = scopedVars?.[name];
      const value: VarValue | undefined = scoped ? (scoped.value as VarValue) : this.variables[name];
      if (value === undefined) return whole;
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

