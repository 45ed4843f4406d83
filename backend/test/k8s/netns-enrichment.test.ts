/**
 * End to end on one "node": two network namespaces of this test's own play the pods (a client and
 * an nginx-like server) on a bridge; the loopback FAKE Kubernetes API server lists them, a
 * ReplicaSet/Deployment, a Service and its EndpointSlice. setupKube() targets the pods of the
 * context's namespace on this node (BPF filter and host interface from the real routing table),
 * libpcap captures on that interface, the agent pipeline dissects, and the entries carry the pods',
 * the service's, the workload's and the node's names — also for a request to the Service's
 * ClusterIP as a client pod's veth sees it before kube-proxy's DNAT.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CollectingSink } from '../../src/agent/json-sink.js';
import { Pipeline } from '../../src/agent/pipeline.js';
import { defaultLiveOptions, LiveCapture } from '../../src/capture/live.js';
import { setupKube, type KubeSetup } from '../../src/k8s/index.js';
import { createLogger } from '../../src/log.js';
import { FakeKubeApi, kube } from '../../../test/support/fake-kube-api.js';
import { waitFor } from '../../../test/support/wait.js';

const pid = process.pid;
const nsClient = `tl-k8s-a-${pid}`;
const nsServer = `tl-k8s-b-${pid}`;
const bridge = `tlbr${pid}`;
const subnet = `10.213.${(pid % 250) + 1}`;
const clientIp = `${subnet}.1`;
const serverIp = `${subnet}.2`;
const nodeIp = `${subnet}.254`;
const clusterIp = `10.96.${(pid % 250) + 1}.7`;
const dir = mkdtempSync(join(tmpdir(), 'tapline-k8s-e2e-'));

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const quietly = (f: () => void) => {
  try {
    f();
  } catch {
    // already gone
  }
};

let server: ChildProcess | undefined;
let api: FakeKubeApi | undefined;
let k: KubeSetup | undefined;
let capture: LiveCapture | undefined;

function curl(path: string, host = `${serverIp}:8080`): string {
  return execFileSync('ip', ['netns', 'exec', nsClient, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', `http://${host}${path}`])
    .toString()
    .trim();
}

before(async () => {
  ip('link', 'add', bridge, 'type', 'bridge');
  ip('addr', 'add', `${nodeIp}/24`, 'dev', bridge);
  ip('link', 'set', bridge, 'up');
  for (const [ns, addr, tag] of [
    [nsClient, clientIp, 'a'],
    [nsServer, serverIp, 'b'],
  ]) {
    ip('netns', 'add', ns);
    ip('link', 'add', `tlv${tag}${pid}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('link', 'set', `tlv${tag}${pid}`, 'master', bridge, 'up');
    ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  // What a client pod's veth sees of a Service before kube-proxy's DNAT: packets to and from the
  // ClusterIP. Without iptables here, the server pod simply owns the ClusterIP too (port 80), and
  // the client reaches it on the bridge.
  ip('-n', nsServer, 'addr', 'add', `${clusterIp}/32`, 'dev', 'eth0');
  ip('-n', nsClient, 'route', 'add', `${clusterIp}/32`, 'dev', 'eth0');
  // The "nginx" pod: index.html is there, anything else is a 404.
  const code = `const h = (q, s) => { const ok = q.url === '/index.html';
    s.writeHead(ok ? 200 : 404, {'content-type': 'text/html'}); s.end(ok ? '<h1>hello</h1>' : 'not found'); };
    let n = 0; const up = () => ++n === 2 && console.log('listening');
    require('http').createServer(h).listen(8080, '${serverIp}', up);
    require('http').createServer(h).listen(80, '${clusterIp}', up);`;
  server = spawn('ip', ['netns', 'exec', nsServer, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  server.stdout?.on('data', (d) => (out += d));
  await waitFor('the server pod to listen', () => out.includes('listening'));
});

after(async () => {
  capture?.stop();
  // node_pcap closes its handle on the next packet after close(): give it one.
  quietly(() => curl('/index.html'));
  await k?.stop();
  await api?.stop();
  server?.kill();
  quietly(() => ip('netns', 'del', nsClient));
  quietly(() => ip('netns', 'del', nsServer));
  quietly(() => ip('link', 'del', bridge));
  rmSync(dir, { recursive: true, force: true });
});

test('captured requests between two netns pods carry pod, namespace, service, workload and node names; via the ClusterIP too', async () => {
  api = await FakeKubeApi.start();
  api.seed([
    kube.node('kind-worker', nodeIp),
    kube.replicaSet('default', 'web-6d4b5', { kind: 'Deployment', name: 'nginx' }),
    kube.pod('default', 'web-6d4b5-x7k2p', serverIp, { node: 'kind-worker', owner: { kind: 'ReplicaSet', name: 'web-6d4b5' }, ports: [8080] }),
    kube.pod('default', 'test-pod', clientIp, { node: 'kind-worker' }),
    kube.pod('other', 'elsewhere', `${subnet}.3`, { node: 'kind-worker' }),
    kube.service('default', 'nginx', clusterIp, [{ port: 80, targetPort: 8080 }]),
    kube.endpointSlice('default', 'nginx-abcde', 'nginx', [serverIp], [8080]),
  ]);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, api.kubeconfigYaml('default'));
  k = await setupKube({ kubeconfig, nodeName: 'kind-worker', env: {}, log: createLogger('k8s-e2e', 'silent') });
  const targets = k.targets;
  assert.ok(targets);
  await waitFor('the tap targets', () => targets.state.bpfFilter !== null);
  assert.equal(targets.state.bpfFilter, `host ${clientIp} or host ${serverIp}`, 'the context namespace only');
  assert.deepEqual(targets.state.interfaces, [bridge], 'the host interface that routes to the pods');
  assert.equal(targets.state.promiscuous, true, 'it is a bridge');

  const sink = new CollectingSink();
  const pipeline = new Pipeline(sink, { agentName: 'kind-worker', enrich: (e) => k?.enricher.enrich(e) });
  capture = new LiveCapture({
    ...defaultLiveOptions,
    interfaces: targets.state.interfaces,
    filter: `tcp and (${targets.state.bpfFilter})`,
    promiscuous: targets.state.promiscuous,
  });
  capture.start(pipeline.packet);

  assert.equal(curl('/index.html'), '200');
  assert.equal(curl('/error.html'), '404');
  assert.equal(curl('/50x.html', clusterIp), '404');
  await waitFor('three entries', () => sink.entries.length >= 3).catch((err: Error) => {
    throw new Error(`${err.message}; pipeline counters: ${JSON.stringify(pipeline.counters())}; capture: ${JSON.stringify(capture?.stats())}`);
  });

  const byPath = new Map(sink.entries.map((e) => [e.target, e]));
  const ok = byPath.get('/index.html');
  const missing = byPath.get('/error.html');
  assert.ok(ok && missing, `entries for both paths: ${[...byPath.keys()]}`);
  assert.equal(ok.status, 200);
  assert.equal(missing.status, 404);
  for (const e of [ok, missing]) {
    assert.deepEqual(e.src, { ip: clientIp, port: e.src.port, pod: 'test-pod', namespace: 'default', service: '', workload: 'test-pod', node: 'kind-worker' });
    assert.deepEqual(e.dst, {
      ip: serverIp, port: 8080, pod: 'web-6d4b5-x7k2p', namespace: 'default', service: 'nginx', workload: 'nginx', node: 'kind-worker',
    });
    assert.equal(e.agent, 'kind-worker');
  }
  const viaService = byPath.get('/50x.html');
  assert.ok(viaService);
  assert.deepEqual(viaService.dst, { ip: clusterIp, port: 80, pod: '', namespace: 'default', service: 'nginx', workload: '', node: '' });
  assert.equal(viaService.src.pod, 'test-pod');
  assert.equal(pipeline.counters().enrichErrors, 0);
});
