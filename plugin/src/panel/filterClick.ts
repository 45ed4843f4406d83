/**
 * "+" / "−" next to a value: a `field == value` (or `!=`) clause added to the dashboard's filter
 * variable, which the query reads, so the dashboard, its URL and the stream all keep it.
 */
import { getTemplateSrv, locationService } from '@grafana/runtime';
import { stringLiteral } from '../datasource/filter.js';

/** Filter fields whose values are numbers in the filter language. */
const NUMERIC = new Set(['status', 'src.port', 'dst.port']);

export function filterClause(field: string, value: string | number, exclude: boolean): string {
  const literal = NUMERIC.has(field) && /^\d+$/.test(String(value)) ? String(value) : stringLiteral(String(value));
  return `${field} ${exclude ? '!=' : '=='} ${literal}`;
}

/** The filter with one more clause; an `or` at the top level is kept inside parentheses. */
export function addClause(current: string, clause: string): string {
  const c = current.trim();
  if (!c) return clause;
  const hasOr = /(^|[\s)])(or|\|\|)([\s(]|$)/.test(c);
  return `${hasOr ? `(${c})` : c} and ${clause}`;
}

/** The variable's current text, or undefined when the dashboard has no such variable. */
export function currentFilter(variable: string): string | undefined {
  const token = `\${${variable}:raw}`;
  const value = getTemplateSrv().replace(token);
  return value === token ? undefined : value;
}

/** Writes the variable through the URL: Grafana updates the variable and re-runs the queries. */
export function setFilter(variable: string, filter: string): void {
  locationService.partial({ [`var-${variable}`]: filter }, true);
}
