/**
 * The provisioned 5xx alert rule: its structure is what Grafana's file provisioning accepts, and
 * its SQL, run on the real ClickHouse engine over the real schema, picks out exactly the services
 * whose 5xx share over the last 5 minutes is above the threshold with enough requests.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import yaml from 'js-yaml';
import { tempStore, type TempStore } from './support/temp-store.js';
import { EntryWriter } from '../backend/src/store/index.js';
import { emptyBody, emptyEndpoint, HeaderList, NO_FIELDS, type Entry } from '../backend/src/entries/entry.js';
import { httpOutcome } from '../backend/src/protocols/http/dissector.js';

interface RuleQuery {
  refId: string;
  datasourceUid: string;
  model: { refId: string; rawSql?: string; type?: string; expression?: string; conditions?: unknown[] };
}
interface Rule {
  uid: string;
  title: string;
  condition: string;
  data: RuleQuery[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface AlertingFile {
  apiVersion: number;
  groups: Array<{ name: string; folder: string; interval: string; rules: Rule[] }>;
  contactPoints: Array<{ name: string; receivers: Array<{ uid: string; type: string }> }>;
  policies: Array<{ receiver: string; routes: Array<{ receiver: string; object_matchers: string[][] }> }>;
}
interface DatasourcesFile {
  datasources: Array<{ uid: string; type: string; jsonData: Record<string, unknown> }>;
}

const root = new URL('..', import.meta.url).pathname;
const alerting = yaml.load(readFileSync(`${root}provisioning/alerting/tapline.yaml`, 'utf8')) as AlertingFile;
const datasources = yaml.load(readFileSync(`${root}provisioning/datasources/tapline.yaml`, 'utf8')) as DatasourcesFile;
const rule = alerting.groups.flatMap((g) => g.rules).find((r) => r.uid === 'tapline-5xx-spike');

describe('provisioned 5xx spike rule', () => {
  it('is well formed for Grafana file provisioning', () => {
    assert.equal(alerting.apiVersion, 1);
    assert.ok(rule, 'rule tapline-5xx-spike exists');
    assert.match(rule.uid, /^[A-Za-z0-9_-]{1,40}$/);
    const refIds = rule.data.map((d) => d.refId);
    assert.ok(refIds.includes(rule.condition), `condition ${rule.condition} names one of ${refIds}`);
    for (const d of rule.data) {
      assert.equal(d.model.refId, d.refId, `model.refId matches for ${d.refId}`);
      if (d.datasourceUid === '__expr__') {
        assert.ok(['reduce', 'threshold', 'math'].includes(d.model.type ?? ''), `expression type of ${d.refId}`);
        assert.ok(refIds.includes(d.model.expression ?? ''), `${d.refId} reads an existing refId`);
      } else {
        const ds = datasources.datasources.find((s) => s.uid === d.datasourceUid);
        assert.equal(ds?.type, 'grafana-clickhouse-datasource', `${d.refId} queries the ClickHouse data source`);
      }
    }
    // The summary names the service and the policy routes the rule's label to a real contact point.
    assert.match(rule.annotations.summary, /\$labels\.service/);
    assert.match(rule.annotations.description, /tapline-live/);
    const route = alerting.policies[0].routes.find((r) =>
      r.object_matchers.some(([k, op, v]) => rule.labels[k] === v && op === '='),
    );
    assert.ok(route, 'a route matches the rule labels');
    assert.ok(alerting.contactPoints.some((c) => c.name === route.receiver), 'the route names a contact point');
  });

  describe('its SQL on the real engine', () => {
    let temp: TempStore;
    const nowUs = Date.now() * 1000;

    function entry(service: string, status: number, agoSeconds: number): Entry {
      const startUs = nowUs - agoSeconds * 1_000_000;
      const dst = { ...emptyEndpoint('10.0.0.2', 80), service, namespace: 'shop' };
      return {
        id: randomUUID(), agent: 'test', protocol: 'http', protocolVersion: '1.1', transport: 'tcp',
        startUs, endUs: startUs + 1000, durationUs: 1000,
        src: emptyEndpoint('10.0.0.1', 40000), dst,
        operation: 'GET', target: '/', query: '', host: service, status, statusText: '', outcome: httpOutcome({ unanswered: false, status }), fields: NO_FIELDS,
        requestHeaders: HeaderList.of([]), responseHeaders: HeaderList.of([]), requestBody: emptyBody(), responseBody: emptyBody(),
        unanswered: false, incomplete: false,
      };
    }

    before(async () => {
      temp = await tempStore();
      const writer = await EntryWriter.create(temp.store, { flushIntervalMs: 50 });
      const add = (service: string, status: number, n: number, ago = 60) => {
        for (let i = 0; i < n; i++) writer.push(entry(service, status, ago));
      };
      add('checkout', 200, 20); // 10 of 30 fail: 33 %
      add('checkout', 503, 10);
      add('catalog', 200, 99); // 1 of 100 fails: 1 %
      add('catalog', 500, 1);
      add('probe-only', 500, 5); // all fail, but only 5 requests
      add('old-outage', 500, 50, 3600); // an hour ago: outside the window
      add('not-found', 404, 40); // 4xx is not 5xx
      await writer.close();
    });
    after(async () => temp?.dispose());

    it('returns one row per service over the threshold window, with its 5xx share', async () => {
      assert.ok(rule);
      const sql = rule.data.find((d) => d.refId === 'A')?.model.rawSql;
      assert.ok(sql);
      const rows = await (
        await temp.store.client.query({ query: sql.replaceAll('tapline.', `${temp.store.database}.`), format: 'JSONEachRow' })
      ).json<{ namespace: string; service: string; ratio_5xx: number }>();
      const byService = new Map(rows.map((r) => [r.service, r]));
      assert.deepEqual([...byService.keys()].sort(), ['catalog', 'checkout', 'not-found']);
      assert.equal(byService.get('checkout')?.namespace, 'shop');
      assert.ok(Math.abs(Number(byService.get('checkout')?.ratio_5xx) - 10 / 30) < 1e-9);
      assert.ok(Math.abs(Number(byService.get('catalog')?.ratio_5xx) - 1 / 100) < 1e-9);
      assert.equal(Number(byService.get('not-found')?.ratio_5xx), 0);
      // The threshold expression fires for checkout only.
      const threshold = rule.data.find((d) => d.refId === rule.condition)?.model.conditions?.[0] as {
        evaluator: { type: string; params: number[] };
      };
      assert.equal(threshold.evaluator.type, 'gt');
      const firing = rows.filter((r) => Number(r.ratio_5xx) > threshold.evaluator.params[0]).map((r) => r.service);
      assert.deepEqual(firing, ['checkout']);
    });
  });
});
