/**
 * Grafana's JSON Schema for plugin.json, compiled once. The schema is vendored in
 * test/fixtures/grafana-plugin.schema.json: a copy of the project's reference folder's
 * grafana-plugin.schema.json (shared/reference), measured against Grafana 12.4 (the @grafana/*
 * 12.4.10 the plugins are built with). Update the copy when the plugins move to a newer Grafana.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';

const SCHEMA = join(__dirname, '../fixtures/grafana-plugin.schema.json');

// The schema's patterns are written for JavaScript's non-unicode RegExp (`\-` in a class).
// The two formats the schema uses, checked loosely: an email is something@something, a URI parses.
const formats = {
  email: /^[^\s@]+@[^\s@]+$/,
  uri: (s: string) => URL.canParse(s),
};
const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false, formats });
const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')));

/** The schema's complaints about a plugin.json, '' when it is valid. */
export function pluginJsonErrors(json: unknown): string {
  return validate(json) ? '' : ajv.errorsText(validate.errors);
}
