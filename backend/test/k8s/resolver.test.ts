/**
 * The IP resolver fed directly with Kubernetes objects (the builders of the fake API server), with a
 * test clock: time-aware IP reuse, grace periods, services by ClusterIP and endpoint slices,
 * hostNetwork pods by IP+port, workloads through ReplicaSets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyEndpoint, type Endpoint } from '../../src/entries/entry.js';
import { slimPod } from '../../src/k8s/objects.js';
import { IpResolver } from '../../src/k8s/resolver.js';
import { kube } from '../../../test/support/fake-kube-api.js';

const T0 = Date.parse('2026-11-26T10:00:00Z') * 1000;
const SEC = 1_000_000;

function clock(startUs = T0) {
  const c = { now: startUs };
  return { c, nowUs: () => c.now };
}

function resolve(r: IpResolver, ip: string, port: number, tUs: number): Endpoint {
  const ep = emptyEndpoint(ip, port);
  r.resolveEndpoint(ep, tUs);
  return ep;
}

test('an IP reused by a new pod names each pod for its own time, the old one only during the grace period', () => {
  const { c, nowUs } = clock();
  const r = new IpResolver({ graceMs: 60_000, nowUs });
  const iso = (us: number) => new Date(us / 1000).toISOString();
  const a = kube.pod('default', 'a', '10.244.0.9', { startTime: iso(T0 - 100 * SEC) });
  a.metadata.uid = 'uid-a';
  r.upsertPod(a);
  c.now = T0 + 10 * SEC;
  r.deletePod(a);
  const b = kube.pod('shop', 'b', '10.244.0.9', { startTime: iso(T0 + 20 * SEC) });
  b.metadata.uid = 'uid-b';
  c.now = T0 + 25 * SEC;
  r.upsertPod(b);

  assert.equal(resolve(r, '10.244.0.9', 80, T0 + 5 * SEC).pod, 'a');
  assert.equal(resolve(r, '10.244.0.9', 80, T0 + 15 * SEC).pod, 'a', 'after a was deleted, before b started');
  const atB = resolve(r, '10.244.0.9', 80, T0 + 21 * SEC);
  assert.deepEqual([atB.pod, atB.namespace], ['b', 'shop']);
  assert.equal(resolve(r, '10.244.0.9', 80, 0).pod, 'b', 'time 0 means now');

  c.now = T0 + 71 * SEC; // a's holding ended at +10 s; grace 60 s
  r.sweep();
  assert.equal(resolve(r, '10.244.0.9', 80, T0 + 5 * SEC).pod, 'b', 'a is forgotten after the grace period');
});

test('a deleted pod stays resolvable for the grace period, then its IP is unknown', () => {
  const { c, nowUs } = clock();
  const r = new IpResolver({ graceMs: 30_000, nowUs });
  const p = kube.pod('default', 'gone', '10.244.0.7');
  r.upsertPod(p);
  r.deletePod(p);
  c.now = T0 + 29 * SEC;
  r.sweep();
  assert.equal(resolve(r, '10.244.0.7', 1234, T0).pod, 'gone');
  c.now = T0 + 31 * SEC;
  r.sweep();
  const ep = resolve(r, '10.244.0.7', 1234, T0);
  assert.equal(ep.pod, '');
  assert.equal(r.resolveEndpoint(emptyEndpoint('10.244.0.7', 1), T0), false);
});

test('a pod whose IP changes: the new IP names it at once, the old one until the grace period ends', () => {
  const { c, nowUs } = clock();
  const r = new IpResolver({ graceMs: 10_000, nowUs });
  r.upsertPod(kube.pod('default', 'mover', '10.244.0.1'));
  c.now = T0 + 5 * SEC;
  r.upsertPod(kube.pod('default', 'mover', '10.244.0.2'));
  assert.equal(resolve(r, '10.244.0.2', 80, 0).pod, 'mover');
  assert.equal(resolve(r, '10.244.0.1', 80, T0 + SEC).pod, 'mover');
  c.now = T0 + 16 * SEC;
  r.sweep();
  assert.equal(resolve(r, '10.244.0.1', 80, T0 + SEC).pod, '');
  assert.equal(resolve(r, '10.244.0.2', 80, 0).pod, 'mover');
});

test('ClusterIP and pod IP (before and after DNAT) both name the service; the slice port picks among services', () => {
  const r = new IpResolver();
  r.upsertService(kube.service('default', 'nginx', '10.96.0.10'));
  r.upsertService(kube.service('default', 'nginx-metrics', '10.96.0.11', [{ port: 9113 }]));
  r.upsertPod(kube.pod('default', 'nginx-1', '10.244.1.5', { node: 'kind-worker' }));
  r.upsertEndpointSlice(kube.endpointSlice('default', 'nginx-abc', 'nginx', ['10.244.1.5'], [80]));
  r.upsertEndpointSlice(kube.endpointSlice('default', 'nginx-metrics-abc', 'nginx-metrics', ['10.244.1.5'], [9113]));

  const vip = resolve(r, '10.96.0.10', 80, 0);
  assert.deepEqual([vip.service, vip.namespace, vip.pod], ['nginx', 'default', '']);
  const pod80 = resolve(r, '10.244.1.5', 80, 0);
  assert.deepEqual([pod80.service, pod80.pod, pod80.node, pod80.workload], ['nginx', 'nginx-1', 'kind-worker', 'nginx-1']);
  assert.equal(resolve(r, '10.244.1.5', 9113, 0).service, 'nginx-metrics');
  assert.deepEqual(r.servicesOfEndpoint('10.244.1.5').sort(), ['nginx', 'nginx-metrics']);

  // The slice drops the pod (it is terminating): the pod keeps its last service for late entries.
  r.upsertEndpointSlice(kube.endpointSlice('default', 'nginx-abc', 'nginx', [], [80]));
  r.deleteEndpointSlice(kube.endpointSlice('default', 'nginx-metrics-abc', 'nginx-metrics', [], []));
  assert.equal(resolve(r, '10.244.1.5', 80, 0).service, 'nginx-metrics', 'the last service that listed it');
  assert.deepEqual(r.servicesOfEndpoint('10.244.1.5'), []);

  const lb = kube.service('default', 'gateway', '10.96.0.12');
  (lb.spec as { externalIPs?: string[] }).externalIPs = ['192.0.2.10'];
  lb.status = { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } };
  r.upsertService(lb);
  assert.equal(resolve(r, '192.0.2.10', 443, 0).service, 'gateway', 'external IP');
  assert.equal(resolve(r, '198.51.100.7', 443, 0).service, 'gateway', 'load balancer IP');

  r.deleteService(kube.service('default', 'nginx', '10.96.0.10'));
  assert.equal(resolve(r, '10.96.0.10', 80, 0).service, 'nginx', 'still named during the grace period');
});

test('workloads: ReplicaSet → Deployment, before and after the ReplicaSet is known; StatefulSet, Job, bare pod', () => {
  const r = new IpResolver();
  // The ReplicaSet's name does not reveal its Deployment: only the ReplicaSet object does.
  const p = kube.pod('default', 'web-x1-abcde', '10.244.2.1', { owner: { kind: 'ReplicaSet', name: 'web-x1' } });
  r.upsertPod(p);
  assert.equal(resolve(r, '10.244.2.1', 80, 0).workload, 'web-x1');
  r.upsertReplicaSet(kube.replicaSet('default', 'web-x1', { kind: 'Deployment', name: 'frontend' }));
  assert.equal(resolve(r, '10.244.2.1', 80, 0).workload, 'frontend');
  // A pod arriving after its ReplicaSet.
  r.upsertPod(kube.pod('default', 'web-x1-fghij', '10.244.2.2', { owner: { kind: 'ReplicaSet', name: 'web-x1' } }));
  assert.equal(resolve(r, '10.244.2.2', 80, 0).workload, 'frontend');
  // Unknown ReplicaSet: the pod-template-hash convention gives the Deployment.
  r.upsertPod(
    kube.pod('default', 'api-5d9f8-q', '10.244.2.3', { owner: { kind: 'ReplicaSet', name: 'api-5d9f8' }, labels: { 'pod-template-hash': '5d9f8' } }),
  );
  assert.equal(resolve(r, '10.244.2.3', 80, 0).workload, 'api');
  r.upsertPod(kube.pod('db', 'pg-0', '10.244.2.4', { owner: { kind: 'StatefulSet', name: 'pg' } }));
  r.upsertPod(kube.pod('ops', 'backup-29-x', '10.244.2.5', { owner: { kind: 'Job', name: 'backup-29' } }));
  r.upsertPod(kube.pod('default', 'test-pod', '10.244.2.6'));
  assert.equal(resolve(r, '10.244.2.4', 5432, 0).workload, 'pg');
  assert.equal(resolve(r, '10.244.2.5', 80, 0).workload, 'backup-29');
  assert.equal(resolve(r, '10.244.2.6', 80, 0).workload, 'test-pod');
});

test('hostNetwork pods resolve by node IP and port; other ports of that IP name the node', () => {
  const r = new IpResolver();
  r.upsertNode(kube.node('kind-worker', '172.18.0.3'));
  r.upsertPod(
    kube.pod('kube-system', 'kube-proxy-abc', '172.18.0.3', {
      hostNetwork: true,
      ports: [10249],
      node: 'kind-worker',
      owner: { kind: 'DaemonSet', name: 'kube-proxy' },
    }),
  );
  const hp = resolve(r, '172.18.0.3', 10249, 0);
  assert.deepEqual([hp.pod, hp.namespace, hp.workload, hp.node], ['kube-proxy-abc', 'kube-system', 'kube-proxy', 'kind-worker']);
  const other = resolve(r, '172.18.0.3', 40000, 0);
  assert.deepEqual([other.pod, other.node, other.namespace], ['', 'kind-worker', '']);
  assert.equal(r.podAt('172.18.0.3'), undefined, 'a hostNetwork pod does not own the node IP');
});

test('finished pods give up their IP; unknown IPs leave the endpoint untouched', () => {
  const { c, nowUs } = clock();
  const r = new IpResolver({ graceMs: 1000, nowUs });
  r.upsertPod(kube.pod('default', 'job-1', '10.244.3.1'));
  r.upsertPod(kube.pod('default', 'job-1', '10.244.3.1', { phase: 'Succeeded' }));
  c.now = T0 + 2 * SEC;
  r.sweep();
  assert.equal(r.podAt('10.244.3.1'), undefined);
  const ep = { ...emptyEndpoint('192.0.2.1', 80), pod: 'set-by-someone' };
  assert.equal(r.resolveEndpoint(ep, 0), false);
  assert.equal(ep.pod, 'set-by-someone');
});

test('trimming the informer copies keeps everything the resolver reads', () => {
  const full = kube.pod('kube-system', 'proxy-1', '172.18.0.9', {
    hostNetwork: true,
    ports: [10249],
    node: 'w9',
    owner: { kind: 'DaemonSet', name: 'proxy' },
    labels: { app: 'proxy' },
    startTime: '2026-11-26T08:00:00Z',
  });
  Object.assign(full.metadata, { managedFields: [{ manager: 'kubelet' }], annotations: { big: 'x'.repeat(1000) } });
  Object.assign(full.spec as object, { volumes: [{ name: 'v' }] });
  Object.assign(full.status as object, { conditions: [{ type: 'Ready' }] });
  const slim = structuredClone(full);
  slimPod(slim);
  assert.ok(JSON.stringify(slim).length < JSON.stringify(full).length / 2);
  assert.equal((slim.metadata as Record<string, unknown>).managedFields, undefined);
  const a = new IpResolver();
  const b = new IpResolver();
  a.upsertPod(full);
  b.upsertPod(slim);
  assert.deepEqual(resolve(b, '172.18.0.9', 10249, 0), resolve(a, '172.18.0.9', 10249, 0));
  assert.equal(resolve(b, '172.18.0.9', 10249, 0).workload, 'proxy');
  const web = kube.pod('default', 'web-1', '10.244.7.1', { owner: { kind: 'StatefulSet', name: 'web' }, labels: { app: 'web' }, startTime: '2026-11-26T08:00:00Z' });
  Object.assign(web.metadata, { managedFields: [{ manager: 'kubelet' }] });
  const webSlim = structuredClone(web);
  slimPod(webSlim);
  a.upsertPod(web);
  b.upsertPod(webSlim);
  const [ra, rb] = [a.podAt('10.244.7.1'), b.podAt('10.244.7.1')];
  assert.ok(ra && rb);
  assert.deepEqual({ ...rb, uid: '' }, { ...ra, uid: '' });
  assert.deepEqual(rb.labels, { app: 'web' });
});
