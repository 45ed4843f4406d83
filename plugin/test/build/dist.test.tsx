/**
 * The build as Grafana loads it: `npm run build`, then dist/<id>/module.js evaluated as an AMD
 * module by a tiny define() that supplies Grafana's externals from node_modules, as Grafana's
 * SystemJS loader supplies its own copies.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { render, screen } from '@testing-library/react';
import * as grafanaData from '@grafana/data';
import { DataSourcePlugin, PanelPlugin, type DataSourceApi, type DataSourceSettings } from '@grafana/data';
import * as grafanaRuntime from '@grafana/runtime';
import * as grafanaUi from '@grafana/ui';
import * as react from 'react';
import * as reactDom from 'react-dom';
import * as rxjs from 'rxjs';
import { pluginJsonErrors } from '../support/plugin-schema';
import { installGrafanaRuntimeStandIns } from '../support/grafana-runtime-standins';

const ROOT = join(__dirname, '../..');
const DIST = join(ROOT, 'dist/tapline-traffic-datasource');

/** Grafana's externals, from this test's own module registry (the same instances the test sees). */
const EXTERNALS: Record<string, unknown> = {
  '@grafana/data': grafanaData,
  '@grafana/runtime': grafanaRuntime,
  '@grafana/ui': grafanaUi,
  react,
  'react-dom': reactDom,
  rxjs,
};

function loadAmd(file: string, id = 'tapline-traffic-datasource'): { deps: string[]; exports: Record<string, unknown> } {
  let result: { deps: string[]; exports: Record<string, unknown> } | undefined;
  const define = (deps: string[], factory: (...mods: unknown[]) => Record<string, unknown>) => {
    const mods = deps.map((d) => {
      if (d === 'module') return { id: `public/plugins/${id}/module.js` };
      if (!(d in EXTERNALS)) throw new Error(`module.js asks for '${d}', which Grafana does not provide`);
      return EXTERNALS[d];
    });
    result = { deps, exports: factory(...mods) };
  };
  (define as unknown as { amd: object }).amd = {};
  new Function('define', readFileSync(file, 'utf8'))(define);
  if (!result) throw new Error('module.js did not call define()');
  return result;
}

beforeAll(() => {
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
}, 180_000);

test('dist holds what Grafana loads: module.js, plugin.json (version filled in), logo, README, CHANGELOG', () => {
  for (const f of ['module.js', 'plugin.json', 'img/logo.svg', 'README.md', 'CHANGELOG.md']) {
    expect(existsSync(join(DIST, f))).toBe(true);
  }
  const json = JSON.parse(readFileSync(join(DIST, 'plugin.json'), 'utf8'));
  expect(json.info.version).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  expect(json.info.updated).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  expect(pluginJsonErrors(json)).toBe('');
});

test('module.js is AMD, keeps Grafana’s libraries external, and exports a DataSourcePlugin with both editors', () => {
  const { deps, exports } = loadAmd(join(DIST, 'module.js'));
  expect(deps).toEqual(expect.arrayContaining(['@grafana/data', '@grafana/runtime', '@grafana/ui', 'react']));
  // Grafana's own copies, not bundled ones: the bundle stays small.
  expect(readFileSync(join(DIST, 'module.js')).length).toBeLessThan(200_000);
  const plugin = exports.plugin as DataSourcePlugin<DataSourceApi>;
  expect(plugin).toBeInstanceOf(DataSourcePlugin);
  expect(typeof plugin.components.ConfigEditor).toBe('function');
  expect(typeof plugin.components.QueryEditor).toBe('function');

  // The bundled class works with the runtime Grafana hands it.
  const { settings } = installGrafanaRuntimeStandIns({ hubUrl: 'http://127.0.0.1:9' });
  const ds = new plugin.DataSourceClass(settings);
  expect(ds.getDefaultQuery?.('dashboard' as never)).toEqual({ queryType: 'entries', filter: '' });

  // And the bundled config editor renders with Grafana's UI library.
  const ConfigEditor = plugin.components.ConfigEditor!;
  render(
    <ConfigEditor
      options={{ jsonData: { hubUrl: 'http://hub:8787' }, secureJsonFields: {} } as unknown as DataSourceSettings}
      onOptionsChange={() => {}}
    />,
  );
  expect(screen.getByDisplayValue('http://hub:8787')).toBeInTheDocument();
});

test('the bundles hold no backend code: the hub’s shapes are imported as types only, and erased', () => {
  for (const id of ['tapline-traffic-datasource', 'tapline-stream-panel']) {
    const dir = join(ROOT, 'dist', id);
    // The source map names every module webpack put in the bundle.
    const { sources } = JSON.parse(readFileSync(join(dir, 'module.js.map'), 'utf8')) as { sources: string[] };
    expect(sources.filter((f) => /\/module\.tsx?$/.test(f))).toHaveLength(1);
    expect([id, sources.filter((f) => /backend\/|@sinclair|typebox/.test(f))]).toEqual([id, []]);
    expect(readFileSync(join(dir, 'module.js'), 'utf8')).not.toMatch(/TypeBox\.Kind|EntrySummaryShape/);
  }
});

test('the panel: dist/tapline-stream-panel/module.js exports a PanelPlugin with its options', () => {
  const dir = join(ROOT, 'dist/tapline-stream-panel');
  for (const f of ['module.js', 'plugin.json', 'img/logo.svg', 'README.md', 'CHANGELOG.md']) expect(existsSync(join(dir, f))).toBe(true);
  expect(pluginJsonErrors(JSON.parse(readFileSync(join(dir, 'plugin.json'), 'utf8')))).toBe('');
  const { exports } = loadAmd(join(dir, 'module.js'), 'tapline-stream-panel');
  const plugin = exports.plugin as PanelPlugin;
  expect(plugin).toBeInstanceOf(PanelPlugin);
  expect(typeof plugin.panel).toBe('function');
  // Grafana's option editors live in Grafana's registry, not in @grafana/data: record the calls instead.
  const paths: string[] = [];
  const recorder: Record<string, unknown> = {};
  for (const m of ['addMultiSelect', 'addNumberInput', 'addBooleanSwitch', 'addTextInput']) {
    recorder[m] = (c: { path: string }) => (paths.push(c.path), recorder);
  }
  plugin.getPanelOptionsSupplier()(recorder as never, { data: [] });
  expect(paths).toEqual(['columns', 'maxRows', 'newestFirst', 'latencyWarnMs', 'latencyCritMs', 'filterVariable', 'entryDashboardUid']);
});
