/**
 * The MISSION's walkthrough, end to end (needs root: network namespaces and libpcap). The scenario
 * — nginx and test-pod on a bridge, the fake Kubernetes API, `tapline up` as a process — is
 * test/support/walkthrough-scenario.ts (shared with the plugin's Jest test, which asserts the same
 * story through the Grafana data source).
 *
 * The story: the kubelet's probes, then from test-pod `curl nginx.default/index.html` (200),
 * `/50x.html` (200), `/error.html` (404); then, through the hub API, what the user sees: the
 * filtered list, the narrowed filter, the 404 in full, the live stream, the catalog, the service map
 * and the stats. Every expected value comes from what this test sent or what curl received.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NODE, PAGES, PROBE_UA, Walkthrough } from './support/walkthrough-scenario.js';
import { waitFor } from './support/wait.js';
import type { EntryDetail, EntrySummary } from '../backend/src/hub/shapes.js';

const wt = new Walkthrough();
const { nodeIp, clusterIp } = wt;

type Summary = EntrySummary;
type Full = EntryDetail;

async function api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
  const res = await fetch(`${wt.base}/api/v1/${path}?${new URLSearchParams(params)}`);
  const text = await res.text();
  assert.equal(res.status, 200, `GET ${path} ${JSON.stringify(params)}: ${text}`);
  return JSON.parse(text) as T;
}

before(() => wt.setUp());

/** Starts `tapline up` with `args`; it must capture on `interfaces`. */
async function startUp(args: string[], interfaces: string[]): Promise<void> {
  const started = await wt.startUp(args);
  assert.deepEqual(started.interfaces, interfaces, `where tapline up captures; its output: ${started.output}`);
}

/** Ctrl-C as a user would: tapline up must exit 0. */
async function stopUp(): Promise<void> {
  const { code, stderr } = await wt.stopUp();
  assert.equal(code, 0, stderr);
}

after(() => wt.tearDown());

test('the walkthrough: probes, three curls from test-pod, and what the hub shows of them', async () => {
  await startUp(['-i', wt.lab.bridge], [wt.lab.bridge]);
  const t0 = Date.now();
  // 1. The kubelet's liveness and readiness probes.
  const probes = wt.probes();
  assert.deepEqual(probes.map((p) => p.status), [200, 200]);

  // The live stream's position before the curls (the stream starts at "now").
  const start = await api<{ cursor: string }>('stream', { wait: '0' });

  // 2. The three curls from test-pod, to the Service's name.
  const sent = wt.curls();
  assert.deepEqual(sent.map((c) => c.status), [200, 200, 404], 'what nginx answered');
  assert.equal(sent[0].body, PAGES['index.html']);

  // 3. The filter on test-pod's IP: exactly the three requests, named.
  const bySource = `src.ip == "${wt.testPod.ip}"`;
  let listed: Summary[] = [];
  await waitFor('the three curls in the entries', async () => {
    listed = (await api<{ entries: Summary[] }>('entries', { filter: bySource })).entries;
    return listed.length >= 3;
  }, 30_000, 100);
  const oldestFirst = [...listed].reverse();
  assert.deepEqual(oldestFirst.map((e) => [e.operation, e.target, e.status]), sent.map((c) => ['GET', c.path, c.status]));
  for (const e of oldestFirst) {
    assert.equal(e.src.ip, wt.testPod.ip);
    assert.equal(e.src.pod, 'test-pod');
    assert.equal(e.src.namespace, 'default');
    assert.equal(e.dst.ip, clusterIp);
    assert.equal(e.dst.service, 'nginx');
    assert.equal(e.dst.namespace, 'default');
  }
  // "+" on the destination IP narrows the filter: still the three.
  const narrowed = (await api<{ entries: Summary[] }>('entries', { filter: `${bySource} and dst.ip == "${clusterIp}"` })).entries;
  assert.deepEqual(narrowed.map((e) => e.id), listed.map((e) => e.id));

  // 4. The 404 in full: the request as curl sent it, nginx's page and headers as curl got them.
  const notFound = oldestFirst[2];
  const full = await api<Full>(`entries/${notFound.id}`);
  assert.equal(full.status, 404);
  assert.equal(full.target, '/error.html');
  const header = (hs: Array<[string, string]>, name: string) => hs.find(([n]) => n.toLowerCase() === name)?.[1];
  assert.equal(header(full.requestHeaders, 'host'), 'nginx.default');
  assert.match(header(full.requestHeaders, 'user-agent') ?? '', /^curl\//);
  assert.equal(full.responseBody.text, sent[2].body);
  assert.match(sent[2].body, /404 Not Found/);
  for (const [name, value] of sent[2].headers) assert.equal(header(full.responseHeaders, name.toLowerCase()), value, `response header ${name}`);

  // 5. The live stream from the cursor taken before the curls delivers the three.
  const streamed: Summary[] = [];
  let cursor = start.cursor;
  await waitFor('the three curls on the live stream', async () => {
    const page = await api<{ entries: Summary[]; cursor: string }>('stream', { filter: bySource, cursor, wait: '2000' });
    streamed.push(...page.entries);
    cursor = page.cursor;
    return streamed.length >= 3;
  }, 30_000, 0);
  assert.deepEqual(streamed.map((e) => e.id), oldestFirst.map((e) => e.id));

  // All of nginx's traffic (probes + curls) is in before the aggregates are read.
  const toNginx = probes.length + sent.length;
  await waitFor(`${toNginx} requests to nginx`, async () =>
    (await api<{ entries: Summary[] }>('entries', { filter: 'dst.service == "nginx"' })).entries.length >= toNginx, 30_000, 100);
  const range = { from: String(t0 - 60_000), to: String(Date.now() + 60_000) };
  // The probes came first in the stream of the user's story: from the node, with the kubelet's agent.
  const fromNode = (await api<{ entries: Summary[] }>('entries', { filter: `src.ip == "${nodeIp}" and dst.service == "nginx"` })).entries;
  assert.deepEqual(fromNode.map((e) => [e.target, e.status]).reverse(), probes.map((p) => [p.path, p.status]));
  const probeEntry = await api<Full>(`entries/${fromNode[0].id}`);
  assert.equal(header(probeEntry.requestHeaders, 'user-agent'), PROBE_UA);

  // 6. The catalog: nginx with every request it received; failed = 4xx + 5xx + unanswered.
  const statuses = [...probes, ...sent].map((r) => r.status);
  const failed = statuses.filter((s) => s >= 400).length;
  const catalog = await api<{ services: Array<{ service: string; namespace: string; requests: number; succeeded: number; failed: number }> }>('catalog', range);
  const nginxRow = catalog.services.find((s) => s.service === 'nginx' && s.namespace === 'default');
  assert.ok(nginxRow, `nginx in the catalog: ${JSON.stringify(catalog.services)}`);
  assert.deepEqual(
    { requests: nginxRow.requests, succeeded: nginxRow.succeeded, failed: nginxRow.failed },
    { requests: statuses.length, succeeded: statuses.length - failed, failed },
  );

  // 7. The service map: test-pod → nginx, with the three requests.
  const map = await api<{ edges: Array<{ source: string; target: string; requests: number }> }>('servicemap', range);
  const edge = map.edges.find((e) => e.source === 'default/test-pod' && e.target === 'default/nginx');
  assert.ok(edge, `edge test-pod → nginx in ${JSON.stringify(map.edges)}`);
  assert.equal(edge.requests, sent.length);

  // 8. Traffic stats by status class: the 404 is in 4xx, the rest in 2xx.
  const stats = await api<{ series: Array<{ name: string; points: Array<[number, number]> }> }>('stats', {
    ...range, groupBy: 'statusClass', filter: 'dst.service == "nginx"',
  });
  const total = (name: string) => stats.series.find((s) => s.name === name)?.points.reduce((n, [, v]) => n + v, 0) ?? 0;
  assert.equal(total('4xx'), statuses.filter((s) => s >= 400 && s < 500).length);
  assert.equal(total('2xx'), statuses.filter((s) => s >= 200 && s < 300).length);

  await stopUp();
});

test('without -i on the node, tapline up taps the targeted pods as the agent does (the bridge that routes to them)', async () => {
  await startUp(['--node-name', NODE], [wt.lab.bridge]);
  const sent = wt.curlFromTestPod('http://nginx.default/50x.html');
  assert.equal(sent.status, 200);
  let listed: Summary[] = [];
  await waitFor('the curl in the entries', async () => {
    listed = (await api<{ entries: Summary[] }>('entries', { filter: `src.ip == "${wt.testPod.ip}"` })).entries;
    return listed.length >= 1;
  }, 30_000, 100);
  assert.deepEqual(listed.map((e) => [e.target, e.status, e.src.pod, e.dst.service]), [['/50x.html', 200, 'test-pod', 'nginx']]);
  await stopUp();
});
