/** plugin.json against Grafana's JSON Schema for plugin.json (vendored: test/fixtures/grafana-plugin.schema.json). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pluginJsonErrors } from '../support/plugin-schema';

const read = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

test.each([
  ['tapline-traffic-datasource', 'datasource'],
  ['tapline-stream-panel', 'panel'],
])('%s: plugin.json is valid against Grafana’s schema', (_id, folder) => {
  const json = read(join(__dirname, '../../src', folder, 'plugin.json'));
  expect(pluginJsonErrors(json)).toBe('');
});

test('the data source: streaming, metrics, and a proxy route that adds the token on the server', () => {
  const json = read(join(__dirname, '../../src/datasource/plugin.json'));
  expect(json).toMatchObject({ type: 'datasource', id: 'tapline-traffic-datasource', streaming: true, metrics: true });
  expect(json.routes).toEqual([
    {
      path: 'hub',
      url: '{{ .JsonData.hubUrl }}',
      headers: [{ name: 'Authorization', content: 'Bearer {{ .SecureJsonData.token }}' }],
    },
  ]);
  expect(json.info.logos).toEqual({ small: 'img/logo.svg', large: 'img/logo.svg' });
});

test('the schema rejects what Grafana would reject (so the check above means something)', () => {
  const json = read(join(__dirname, '../../src/datasource/plugin.json'));
  expect(pluginJsonErrors({ ...json, type: 'data-source' })).toMatch(/type must be equal to one of the allowed values/);
  expect(pluginJsonErrors({ ...json, id: 'Tapline_DS' })).toMatch(/id must match pattern/);
  expect(pluginJsonErrors({ ...json, routes: [{ path: 'hub', urll: 'x' }] })).toMatch(/must NOT have additional properties/);
  const { dependencies: _d, ...noDeps } = json;
  expect(pluginJsonErrors(noDeps)).toMatch(/must have required property 'dependencies'/);
});
