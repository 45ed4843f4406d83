/**
 * Every provisioned dashboard's Tapline query, run through the real DataSource against a REAL hub
 * (`tapline seed` + `tapline hub`), with the dashboard's variables at their defaults as Grafana
 * would interpolate them (only Grafana's runtime is a stand-in). Each query must come back without
 * an error and with data, and every field a panel names in its transformations and overrides must
 * be among the fields the query returns.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoadingState, type DataFrame, type DataQueryResponse } from '@grafana/data';
import { DataSource } from '../../src/datasource/datasource';
import type { TaplineQuery } from '../../src/datasource/types';
import { installGrafanaRuntimeStandIns, realFetch, timeRange, type StandIns } from '../support/grafana-runtime-standins';
import { request, runAll, waitFor } from '../support/requests';
import { freePort, stopProcess, tapline, taplineRun, waitHealthy, type TaplineProcess } from '../support/tapline-process';

jest.setTimeout(60_000);

interface Panel {
  title: string;
  type: string;
  datasource?: { uid: string };
  targets?: Array<TaplineQuery & { datasource?: { uid: string } }>;
  transformations?: Array<{ id: string; options: Record<string, unknown> }>;
  fieldConfig?: { overrides?: Array<{ matcher: { id: string; options: string } }> };
  options?: { reduceOptions?: { fields?: string } };
}
interface Variable {
  name: string;
  type: string;
  allValue?: string;
  current?: { value: string | string[] };
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const DIR = join(__dirname, '../../../provisioning/dashboards/tapline');
const dashboards = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Dashboard);
const TOKEN = 'dashboards-test-token';
/** Series names the stats query can return by status class (a panel may colour any of them). */
const STATUS_CLASSES = ['no response', '1xx', '2xx', '3xx', '4xx', '5xx'];
/** DNS response codes a panel grouping by status text may colour (a quiet hour has no SERVFAIL). */
const RCODES = ['NOERROR', 'NXDOMAIN', 'SERVFAIL', 'REFUSED'];

/** The names Grafana matches `byName` against: the field name and its display names. */
function fieldNames(frames: DataFrame[]): Set<string> {
  const names = new Set<string>();
  for (const f of frames) {
    for (const field of f.fields) {
      names.add(field.name);
      if (field.config.displayName) names.add(field.config.displayName);
      if (field.config.displayNameFromDS) names.add(field.config.displayNameFromDS);
    }
  }
  return names;
}

/** Field names a panel relies on in its transformations. */
function namesInTransformations(p: Panel): string[] {
  const out: string[] = [];
  for (const t of p.transformations ?? []) {
    const o = t.options as {
      binary?: { left: { matcher: { options: string } }; right: { matcher: { options: string } } };
      include?: { names?: string[] };
      excludeByName?: Record<string, boolean>;
      byField?: string;
    };
    if (o.binary) out.push(o.binary.left.matcher.options, o.binary.right.matcher.options);
    if (o.include?.names) out.push(...o.include.names);
    if (o.excludeByName) out.push(...Object.keys(o.excludeByName));
    if (o.byField) out.push(o.byField);
  }
  return out;
}

describe('provisioned dashboards over a real hub', () => {
  let dir: string;
  let hub: TaplineProcess | undefined;
  let rt: StandIns;
  let entryId: string;
  const now = Date.now();
  const range = timeRange(now - 2 * 3_600_000, now + 60_000);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `tapline-dashboards-${process.pid}-`));
    await taplineRun(['seed', '--rows', '2000', '--span', '30m', '--data', join(dir, 'data'), '--no-progress'], 120_000);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    hub = tapline(['hub', '--store', join(dir, 'data'), '--listen', `127.0.0.1:${port}`, '--token', TOKEN]);
    await waitHealthy(hub, base, 60_000);
    const newest = (await (
      await realFetch(`${base}/api/v1/entries?limit=1`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { entries: Array<{ id: string }> };
    entryId = newest.entries[0].id;
    rt = installGrafanaRuntimeStandIns({ hubUrl: base, token: TOKEN });
  }, 180_000);

  afterAll(async () => {
    await stopProcess(hub);
    rmSync(dir, { recursive: true, force: true });
  });

  test('there are the six dashboards the user guide lists', () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual(
      ['tapline-catalog', 'tapline-dns', 'tapline-live', 'tapline-overview', 'tapline-request', 'tapline-service-map'],
    );
  });

  for (const d of dashboards) {
    for (const p of d.panels) {
      test(`${d.title} / ${p.title}: its queries return data and the fields it names`, async () => {
        // The dashboard's variables at their defaults; the request dashboard shows a real entry.
        rt.templates.variables = {};
        rt.templates.allValues = {};
        for (const v of d.templating.list) {
          if (v.type === 'adhoc') continue;
          rt.templates.variables[v.name] = v.name === 'entry' ? entryId : (v.current?.value ?? '');
          if (v.allValue !== undefined) rt.templates.allValues[v.name] = v.allValue;
          if (Array.isArray(v.current?.value) && v.current.value.includes('$__all')) rt.templates.variables[v.name] = '$__all';
        }
        const ds = new DataSource(rt.settings);
        const targets = (p.targets ?? []).filter((t) => (t.datasource ?? p.datasource)?.uid === 'tapline');
        expect(targets.length).toBeGreaterThan(0);

        const frames: DataFrame[] = [];
        for (const target of targets) {
          const req = request([target], { range, intervalMs: 60_000, maxDataPoints: 120 });
          let res: DataQueryResponse;
          if (target.queryType === 'stream') {
            const packets: DataQueryResponse[] = [];
            const sub = ds.query(req).subscribe((x) => packets.push(x));
            try {
              await waitFor(() => packets.length > 0, `the first packet of ${p.title}`, 30_000);
            } finally {
              sub.unsubscribe();
            }
            res = packets[0];
            expect(res.state).toBe(LoadingState.Streaming);
          } else {
            [res] = await runAll(ds, req);
            expect(res.state).toBe(LoadingState.Done);
          }
          expect(res.errors ?? []).toEqual([]);
          frames.push(...(res.data as DataFrame[]));
        }
        // Data, not just empty frames (the stream's backfill holds the seeded history too).
        expect(frames.some((f) => f.length > 0)).toBe(true);

        const names = fieldNames(frames);
        for (const n of namesInTransformations(p)) expect([...names]).toContain(n);
        const groupByStatus = targets.some((t) => t.groupBy === 'statusClass');
        const groupByStatusText = targets.some((t) => t.groupBy === 'response.statusText');
        for (const o of p.fieldConfig?.overrides ?? []) {
          if (o.matcher.id !== 'byName') continue;
          if (groupByStatus && STATUS_CLASSES.includes(o.matcher.options)) continue;
          if (groupByStatusText && RCODES.includes(o.matcher.options) && o.matcher.options !== 'NOERROR') continue;
          expect([...names]).toContain(o.matcher.options);
        }
        const fieldsRegex = p.options?.reduceOptions?.fields;
        if (fieldsRegex) {
          const re = new RegExp(fieldsRegex.replace(/^\/(.*)\/$/, '$1'));
          expect([...names].some((n) => re.test(n))).toBe(true);
        }
      });
    }
  }
});
