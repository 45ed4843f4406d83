/**
 * The MISSION's walkthrough, end to end (needs root: network namespaces and libpcap).
 *
 * On one "node" (a bridge; the root namespace is the node and its kubelet): an nginx pod (Debian's
 * nginx in a netns, serving index.html and 50x.html, 404 for anything else; it also owns the
 * Service's ClusterIP, to give the pre-DNAT view without iptables — see
 * backend/test/k8s/netns-enrichment.test.ts) and a test-pod. The loopback FAKE Kubernetes API
 * lists them: nginx pod ← ReplicaSet ← Deployment `nginx`, Service `nginx` with its EndpointSlice,
 * all in `default`. `tapline up` runs as a process, capturing on the bridge, named by the fake API.
 *
 * The story: the kubelet's probes, then from test-pod `curl nginx.default/index.html` (200),
 * `/50x.html` (200), `/error.html` (404); then, through the hub API, what the user sees: the
 * filtered list, the narrowed filter, the 404 in full, the live stream, the catalog, the service map
 * and the stats. Every expected value comes from what this test sent or what curl received.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, stop, tapline, type Running } from '../backend/test/hub/processes.js';
import { FakeKubeApi, kube } from './support/fake-kube-api.js';
import { NetnsLab, type NetnsHost } from './support/netns.js';
import { waitFor } from './support/wait.js';

const pid = process.pid;
const subnet = `10.214.${(pid % 250) + 1}`;
const nodeIp = `${subnet}.254`;
const clusterIp = `10.97.${(pid % 250) + 1}.10`;
const NODE = 'kind-worker';
const NGINX_POD = 'nginx-7c5ddbdf54-x7k2p';
const PROBE_UA = 'kube-probe/1.30';
const PAGES = {
  'index.html': '<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>\n',
  '50x.html': '<!DOCTYPE html>\n<html><head><title>Error</title></head><body><h1>An error occurred.</h1></body></html>\n',
};

const dir = mkdtempSync(join(tmpdir(), 'tapline-walkthrough-'));
const lab = new NetnsLab(`tlwbr${pid}`, nodeIp);
let nginxPod: NetnsHost;
let testPod: NetnsHost;
let nginx: ChildProcess | undefined;
let fake: FakeKubeApi | undefined;
let up: Running | undefined;
let base: string;
const kubeconfig = join(dir, 'kubeconfig');

interface Summary {
  id: string;
  method: string;
  path: string;
  status: number;
  src: { ip: string; pod: string; namespace: string };
  dst: { ip: string; service: string; namespace: string };
}
interface Full extends Summary {
  requestHeaders: Array<[string, string]>;
  responseHeaders: Array<[string, string]>;
  responseBody: { text?: string };
}
interface CurlResult {
  status: number;
  headers: Array<[string, string]>;
  body: string;
}

/** What curl received: status, headers (in order) and body. `-D -` puts the head before the body. */
function parseCurl(out: string): CurlResult {
  const split = out.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = out.slice(0, split).split('\r\n');
  return {
    status: Number(statusLine.split(' ')[1]),
    headers: lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
    body: out.slice(split + 4),
  };
}
const CURL = ['-sS', '--max-time', '10', '-D', '-'];

/** curl as the user types it in test-pod (nginx.default resolves to the ClusterIP there). */
const curlFromTestPod = (url: string) => parseCurl(lab.exec(testPod.ns, 'curl', [...CURL, url]));

/** The kubelet's probe: from the node (the root namespace) straight to the pod's IP. */
const probe = (path: string) =>
  parseCurl(execFileSync('curl', [...CURL, '-A', PROBE_UA, `http://${nginxPod.ip}${path}`], { timeout: 10_000 }).toString());

async function api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
  const res = await fetch(`${base}/api/v1/${path}?${new URLSearchParams(params)}`);
  const text = await res.text();
  assert.equal(res.status, 200, `GET ${path} ${JSON.stringify(params)}: ${text}`);
  return JSON.parse(text) as T;
}

function startNginx(): Promise<void> {
  const root = join(dir, 'nginx');
  mkdirSync(join(root, 'html'), { recursive: true });
  for (const [name, text] of Object.entries(PAGES)) writeFileSync(join(root, 'html', name), text);
  const conf = join(root, 'nginx.conf');
  // Everything under the test's own directory: no system paths touched, one foreground process.
  writeFileSync(
    conf,
    `daemon off;\nmaster_process off;\nworker_processes 1;\npid ${root}/nginx.pid;\nerror_log ${root}/error.log;\n` +
      `events { worker_connections 64; }\n` +
      `http {\n  access_log off;\n  default_type text/html;\n` +
      ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${root}/${t};\n`).join('') +
      `  server { listen 80; root ${root}/html; }\n}\n`,
  );
  nginx = spawn('ip', ['netns', 'exec', nginxPod.ns, 'nginx', '-e', join(root, 'error.log'), '-p', root, '-c', conf], { stdio: 'ignore' });
  const started = nginx;
  return waitFor(
    'nginx to serve index.html',
    () => {
      if (started.exitCode !== null) throw new Error(`nginx exited (${started.exitCode}): ${readFileSync(join(root, 'error.log'), 'utf8')}`);
      try {
        return parseCurl(lab.exec(nginxPod.ns, 'curl', [...CURL, 'http://127.0.0.1/index.html'])).status === 200;
      } catch {
        return false;
      }
    },
    15_000,
    100,
  );
}

before(async () => {
  lab.up();
  nginxPod = lab.addHost(`tl-wt-nginx-${pid}`, `${subnet}.2`, `tlwn${pid}`);
  testPod = lab.addHost(`tl-wt-test-${pid}`, `${subnet}.1`, `tlwt${pid}`);
  // The Service as test-pod's veth sees it before kube-proxy's DNAT: nginx owns the ClusterIP.
  lab.ip('-n', nginxPod.ns, 'addr', 'add', `${clusterIp}/32`, 'dev', 'eth0');
  lab.ip('-n', testPod.ns, 'route', 'add', `${clusterIp}/32`, 'dev', 'eth0');
  lab.hostsFile(testPod.ns, `127.0.0.1 localhost\n${clusterIp} nginx.default nginx.default.svc.cluster.local\n`);
  await startNginx();

  fake = await FakeKubeApi.start();
  fake.seed([
    kube.node(NODE, nodeIp),
    kube.replicaSet('default', 'nginx-7c5ddbdf54', { kind: 'Deployment', name: 'nginx' }),
    kube.pod('default', NGINX_POD, nginxPod.ip, { node: NODE, owner: { kind: 'ReplicaSet', name: 'nginx-7c5ddbdf54' }, ports: [80] }),
    kube.pod('default', 'test-pod', testPod.ip, { node: NODE }),
    kube.service('default', 'nginx', clusterIp, [{ port: 80, targetPort: 80 }]),
    kube.endpointSlice('default', 'nginx-abcde', 'nginx', [nginxPod.ip], [80]),
  ]);
  writeFileSync(kubeconfig, fake.kubeconfigYaml('default'));
});

/** Starts `tapline up` as a process on a fresh store, named by the fake API; resolves once it captures on `interfaces`. */
async function startUp(args: string[], interfaces: string[]): Promise<Running> {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const data = mkdtempSync(join(dir, 'data-'));
  up = tapline(['up', '--data', data, '--kubeconfig', kubeconfig, '-n', 'default', '--agent-name', NODE, '--listen', `127.0.0.1:${port}`, ...args], {
    KUBECONFIG: '',
    NODE_NAME: '',
  });
  const started = up;
  let agent: { running?: boolean; interfaces?: string[] } | undefined;
  await waitFor(
    'tapline up to be healthy and capturing',
    async () => {
      if (started.child.exitCode !== null) throw new Error(`tapline up exited: ${started.stderr()}`);
      const res = await fetch(`${base}/api/v1/health`).catch(() => undefined);
      agent = res?.ok ? ((await res.json()) as { agent?: typeof agent }).agent : undefined;
      return agent?.running === true;
    },
    60_000,
    100,
  );
  // The pods were listed before it started (it waits for the first list): no change to wait for.
  assert.deepEqual(agent?.interfaces, interfaces, `where tapline up captures; its output: ${started.stdout()}`);
  return started;
}

/** Ctrl-C as a user would: tapline up must exit 0. */
async function stopUp(): Promise<void> {
  const running = up!;
  up = undefined;
  const exiting = stop(running);
  // node_pcap lets go of a closed handle at the next packet (NOTES.md): give it packets until it exits.
  await waitFor('tapline up to exit', () => {
    try {
      probe('/index.html');
    } catch {
      // nginx may be gone already (after a failure)
    }
    return running.child.exitCode !== null || running.child.signalCode !== null;
  }, 20_000, 200);
  assert.equal(await exiting, 0, running.stderr());
}

after(async () => {
  if (up) await stopUp().catch(() => undefined);
  nginx?.kill('SIGQUIT');
  await fake?.stop();
  lab.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('the walkthrough: probes, three curls from test-pod, and what the hub shows of them', async () => {
  await startUp(['-i', lab.bridge], [lab.bridge]);
  const t0 = Date.now();
  // 1. The kubelet's liveness and readiness probes.
  const probes = ['/index.html', '/50x.html'].map((path) => ({ path, ...probe(path) }));
  assert.deepEqual(probes.map((p) => p.status), [200, 200]);

  // The live stream's position before the curls (the stream starts at "now").
  const start = await api<{ cursor: string }>('stream', { wait: '0' });

  // 2. The three curls from test-pod, to the Service's name.
  const sent = ['/index.html', '/50x.html', '/error.html'].map((path) => ({ path, ...curlFromTestPod(`http://nginx.default${path}`) }));
  assert.deepEqual(sent.map((c) => c.status), [200, 200, 404], 'what nginx answered');
  assert.equal(sent[0].body, PAGES['index.html']);

  // 3. The filter on test-pod's IP: exactly the three requests, named.
  const bySource = `src.ip == "${testPod.ip}"`;
  let listed: Summary[] = [];
  await waitFor('the three curls in the entries', async () => {
    listed = (await api<{ entries: Summary[] }>('entries', { filter: bySource })).entries;
    return listed.length >= 3;
  }, 30_000, 100);
  const oldestFirst = [...listed].reverse();
  assert.deepEqual(oldestFirst.map((e) => [e.method, e.path, e.status]), sent.map((c) => ['GET', c.path, c.status]));
  for (const e of oldestFirst) {
    assert.equal(e.src.ip, testPod.ip);
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
  assert.equal(full.path, '/error.html');
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
  assert.deepEqual(fromNode.map((e) => [e.path, e.status]).reverse(), probes.map((p) => [p.path, p.status]));
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
  await startUp(['--node-name', NODE], [lab.bridge]);
  const sent = curlFromTestPod('http://nginx.default/50x.html');
  assert.equal(sent.status, 200);
  let listed: Summary[] = [];
  await waitFor('the curl in the entries', async () => {
    listed = (await api<{ entries: Summary[] }>('entries', { filter: `src.ip == "${testPod.ip}"` })).entries;
    return listed.length >= 1;
  }, 30_000, 100);
  assert.deepEqual(listed.map((e) => [e.path, e.status, e.src.pod, e.dst.service]), [['/50x.html', 200, 'test-pod', 'nginx']]);
  await stopUp();
});
