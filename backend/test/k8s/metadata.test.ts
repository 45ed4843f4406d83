/**
 * The metadata cache's real informers (@kubernetes/client-node) against the loopback FAKE API server
 * (test/support/fake-kube-api.ts): list and watch, IP changes, deletions, IP reuse, services by
 * ClusterIP and endpoint slices, ReplicaSet → Deployment, relist after 410 Gone, recovery after
 * the API server restarts, BOOKMARK resourceVersions.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { emptyBody, emptyEndpoint, HeaderList, NO_FIELDS, Outcome, type Entry } from '../../src/entries/entry.js';
import { createLogger } from '../../src/log.js';
import { createKubeMetadata, type KubeMetadata, type KubeMetadataOptions } from '../../src/k8s/metadata.js';
import { FakeKubeApi, kube } from '../../../test/support/fake-kube-api.js';
import { waitFor } from '../../../test/support/wait.js';

const silent = createLogger('k8s-test', 'silent');
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A metadata cache on the fake API server, both stopped after the tests. */
function connect(api: FakeKubeApi, opts: Partial<KubeMetadataOptions> = {}): KubeMetadata {
  const kc = new KubeConfig();
  kc.loadFromOptions(api.kubeConfigOptions());
  const md = createKubeMetadata({ kubeConfig: kc, log: silent, backoff: { initialMs: 20, maxMs: 200 }, ...opts });
  cleanups.push(async () => {
    await md.stop();
    await api.stop();
  });
  return md;
}

async function setup(objects = baseCluster(), opts: Partial<KubeMetadataOptions> = {}): Promise<{ api: FakeKubeApi; md: KubeMetadata }> {
  const api = await FakeKubeApi.start();
  api.seed(objects);
  const md = connect(api, opts);
  await md.waitForSync(5000);
  // Each informer watches once its list is applied: wait for all five watches (nodes, replicasets,
  // services, endpointslices, pods per namespace) so tests start from a steady state.
  const watches = 1 + 4 * (opts.namespaces?.length ?? 1);
  await waitFor('every informer to watch', () => api.watcherCount() === watches);
  return { api, md };
}

function baseCluster() {
  return [
    kube.node('kind-worker', '172.18.0.3'),
    kube.replicaSet('default', 'web-x1', { kind: 'Deployment', name: 'nginx' }),
    kube.pod('default', 'web-x1-abcde', '10.244.1.5', { owner: { kind: 'ReplicaSet', name: 'web-x1' }, node: 'kind-worker' }),
    kube.pod('default', 'test-pod', '10.244.1.9', { node: 'kind-worker' }),
    kube.service('default', 'nginx', '10.96.12.3'),
    kube.endpointSlice('default', 'nginx-7xq', 'nginx', ['10.244.1.5'], [80]),
  ];
}

function entry(srcIp: string, srcPort: number, dstIp: string, dstPort: number, startUs = 0): Entry {
  return {
    id: 'e1',
    agent: 'test',
    protocol: 'http',
    protocolVersion: '1.1',
    transport: 'tcp',
    startUs,
    endUs: startUs,
    durationUs: 0,
    src: emptyEndpoint(srcIp, srcPort),
    dst: emptyEndpoint(dstIp, dstPort),
    operation: 'GET',
    target: '/',
    query: '',
    host: '',
    status: 200,
    statusText: 'OK',
    outcome: Outcome.ok,
    fields: NO_FIELDS,
    requestHeaders: HeaderList.of([]),
    responseHeaders: HeaderList.of([]),
    requestBody: emptyBody(),
    responseBody: emptyBody(),
    unanswered: false,
    incomplete: false,
  };
}

const podAt = (md: KubeMetadata, ip: string) => md.resolver.podAt(ip)?.name;

test('after the initial list, entries to a ClusterIP and to the pod behind it name the service, pods, workload and node', async () => {
  const { md, api } = await setup();
  assert.equal(md.synced, true);
  assert.ok(api.requests({ verb: 'list', resource: 'v1/pods' }).length >= 1);
  assert.equal(api.watcherCount('v1/pods'), 1, 'the informer watches pods');

  const viaVip = entry('10.244.1.9', 51234, '10.96.12.3', 80);
  md.enricher.enrich(viaVip);
  assert.deepEqual(viaVip.src, {
    ip: '10.244.1.9', port: 51234, pod: 'test-pod', namespace: 'default', service: '', workload: 'test-pod', node: 'kind-worker',
  });
  assert.deepEqual([viaVip.dst.service, viaVip.dst.namespace, viaVip.dst.pod], ['nginx', 'default', '']);

  const afterDnat = entry('10.244.1.9', 51234, '10.244.1.5', 80);
  md.enricher.enrich(afterDnat);
  assert.deepEqual(afterDnat.dst, {
    ip: '10.244.1.5', port: 80, pod: 'web-x1-abcde', namespace: 'default', service: 'nginx', workload: 'nginx', node: 'kind-worker',
  });
  const toNode = entry('10.244.1.9', 51234, '172.18.0.3', 10250);
  md.enricher.enrich(toNode);
  assert.equal(toNode.dst.node, 'kind-worker');
});

test('watch events: add, update with an IP change, delete (kept for the grace period), IP reuse by a new pod', async () => {
  // The grace period must outlast the watch round trips below on a loaded machine (the IP reuse
  // needs test-pod still known when cart-0 arrives); 400 ms was too short under CI's load.
  const { md, api } = await setup(baseCluster(), { graceMs: 1500 });
  const changes: string[] = [];
  md.on('pod', (p, change) => changes.push(`${change} ${p.name}`));

  api.add(kube.pod('default', 'late', '10.244.1.20', { owner: { kind: 'ReplicaSet', name: 'web-x1' } }));
  await waitFor('the added pod', () => podAt(md, '10.244.1.20') === 'late');
  assert.equal(md.resolver.podAt('10.244.1.20')?.workload, 'nginx');

  api.modify(kube.pod('default', 'late', '10.244.1.21'));
  await waitFor('the new IP', () => podAt(md, '10.244.1.21') === 'late');
  assert.equal(podAt(md, '10.244.1.20'), 'late', 'the old IP still names it during the grace period');
  await waitFor('the old IP to expire', () => podAt(md, '10.244.1.20') === undefined, 8000);

  api.remove('Pod', 'v1', 'default', 'late');
  await waitFor('the delete event', () => changes.includes('delete late'));
  assert.equal(podAt(md, '10.244.1.21'), 'late', 'a deleted pod stays resolvable for the grace period');
  await waitFor('the deleted pod to expire', () => podAt(md, '10.244.1.21') === undefined, 8000);

  // IP reuse: test-pod goes, a new pod gets its IP; entries before the new pod's start keep the old name.
  const before = Date.now() * 1000;
  api.remove('Pod', 'v1', 'default', 'test-pod');
  const newStart = new Date(Date.now() + 5).toISOString();
  api.add(kube.pod('shop', 'cart-0', '10.244.1.9', { owner: { kind: 'StatefulSet', name: 'cart' }, startTime: newStart }));
  await waitFor('the new holder of the IP', () => podAt(md, '10.244.1.9') === 'cart-0');
  const old = entry('10.244.1.9', 40000, '10.96.12.3', 80, before);
  md.enricher.enrich(old);
  assert.deepEqual([old.src.pod, old.src.namespace], ['test-pod', 'default']);
  const now = entry('10.244.1.9', 40000, '10.96.12.3', 80, Date.parse(newStart) * 1000 + 1000);
  md.enricher.enrich(now);
  assert.deepEqual([now.src.pod, now.src.namespace, now.src.workload], ['cart-0', 'shop', 'cart']);
});

test('services and endpoint slices follow watch events; a ReplicaSet arriving later names the Deployment', async () => {
  const { md, api } = await setup();
  api.add(kube.service('shop', 'cart', '10.96.40.1', [{ port: 8080 }]));
  api.add(kube.pod('shop', 'cart-7f-1', '10.244.2.7', { owner: { kind: 'ReplicaSet', name: 'cart-7f' } }));
  api.add(kube.endpointSlice('shop', 'cart-abc', 'cart', ['10.244.2.7'], [8080]));
  await waitFor('the ClusterIP', () => md.resolver.serviceByClusterIp('10.96.40.1')?.name === 'cart');
  await waitFor('the slice', () => md.resolver.servicesOfEndpoint('10.244.2.7').includes('cart'));
  assert.equal(md.resolver.podAt('10.244.2.7')?.workload, 'cart-7f', 'no ReplicaSet yet, no template hash: the ReplicaSet name');
  api.add(kube.replicaSet('shop', 'cart-7f', { kind: 'Deployment', name: 'checkout' }));
  await waitFor('the Deployment', () => md.resolver.podAt('10.244.2.7')?.workload === 'checkout');

  api.modify(kube.endpointSlice('shop', 'cart-abc', 'cart', [], [8080]));
  await waitFor('the emptied slice', () => md.resolver.servicesOfEndpoint('10.244.2.7').length === 0);
  api.modify(kube.service('shop', 'cart', '10.96.40.2', [{ port: 8080 }]));
  await waitFor('the new ClusterIP', () => md.resolver.serviceByClusterIp('10.96.40.2')?.name === 'cart');
  assert.equal(md.resolver.serviceByClusterIp('10.96.40.1'), undefined);
});

test('a watch from an expired resourceVersion gets 410 Gone: the informer relists and catches up, deletions included', async () => {
  const { md, api } = await setup(baseCluster(), { graceMs: 200 });
  const lists = api.requests({ verb: 'list', resource: 'v1/pods' }).length;
  const deleted: string[] = [];
  md.on('pod', (p, change) => change === 'delete' && deleted.push(p.name));
  // Cut the watches, change things nobody watches, forget the history: the re-watch gets 410.
  api.dropConnections();
  api.remove('Pod', 'v1', 'default', 'test-pod');
  api.add(kube.pod('default', 'missed', '10.244.1.30'));
  api.compact();
  await waitFor('the relist', () => api.requests({ verb: 'list', resource: 'v1/pods' }).length > lists);
  await waitFor('the missed pod', () => podAt(md, '10.244.1.30') === 'missed');
  await waitFor('the missed deletion', () => deleted.includes('test-pod'));
  assert.equal(md.synced, true);
});

test('the server expiring a live watch (ERROR 410) makes the informer relist', async () => {
  const { md, api } = await setup();
  const lists = api.requests({ verb: 'list', resource: 'v1/services' }).length;
  api.expireWatches();
  await waitFor('the relist', () => api.requests({ verb: 'list', resource: 'v1/services' }).length > lists);
  api.add(kube.service('default', 'after', '10.96.50.5'));
  await waitFor('watching again', () => md.resolver.serviceByClusterIp('10.96.50.5')?.name === 'after');
});

test('after the API server restarts, informers come back with backoff and replay what changed while it was down', async () => {
  const { md, api } = await setup();
  await api.stop();
  api.add(kube.pod('default', 'while-down', '10.244.1.40'));
  // While it is down the informers fail and retry: wait until at least one retry has failed.
  await waitFor('a failed restart', () => md.status().some((s) => s.restarts > 0), 5000);
  await api.restart();
  await waitFor('the pod added while down', () => podAt(md, '10.244.1.40') === 'while-down', 5000);
  api.add(kube.pod('default', 'after-restart', '10.244.1.41'));
  await waitFor('live events again', () => podAt(md, '10.244.1.41') === 'after-restart', 5000);
  const pods = md.status().find((s) => s.name === 'pods');
  assert.ok(pods && pods.restarts > 0 && pods.lastError, `pods informer restarted after an error: ${JSON.stringify(pods)}`);
});

test('a restarted API server that lost the history (410 on re-watch): the informers relist after their restart', async () => {
  const { md, api } = await setup(baseCluster(), { graceMs: 200 });
  const lists = api.requests({ verb: 'list', resource: 'v1/pods' }).length;
  await api.stop();
  api.remove('Pod', 'v1', 'default', 'test-pod');
  api.add(kube.pod('default', 'fresh', '10.244.1.60'));
  api.compact();
  await waitFor('a failed restart', () => md.status().some((s) => s.restarts > 0), 5000);
  await api.restart();
  await waitFor('the relist', () => api.requests({ verb: 'list', resource: 'v1/pods' }).length > lists, 5000);
  await waitFor('the new pod', () => podAt(md, '10.244.1.60') === 'fresh', 5000);
  await waitFor('the deleted pod to go', () => podAt(md, '10.244.1.9') === undefined, 5000);
});

test('a BOOKMARK moves the informer on: its next watch starts from the bookmarked resourceVersion', async () => {
  const { md, api } = await setup();
  api.add(kube.service('other', 'noise', '10.96.60.1')); // advances the cluster-wide resourceVersion
  await waitFor('the service', () => md.resolver.serviceByClusterIp('10.96.60.1') !== undefined);
  const rv = api.resourceVersion;
  api.bookmark();
  // Wait until the bookmark has surely been read: a pod event written after it arrives after it.
  api.add(kube.pod('default', 'marker', '10.244.1.50'));
  await waitFor('the marker pod', () => podAt(md, '10.244.1.50') === 'marker');
  const watchesBefore = api.requests({ verb: 'watch', resource: 'apps/v1/replicasets' }).length;
  api.dropConnections();
  await waitFor('the re-watch', () => api.requests({ verb: 'watch', resource: 'apps/v1/replicasets' }).length > watchesBefore);
  const last = api.requests({ verb: 'watch', resource: 'apps/v1/replicasets' }).at(-1);
  assert.equal(last?.resourceVersion, rv, 'replicasets saw no event since the list: only the BOOKMARK carried this version');
});

test('watching only listed namespaces lists and watches those namespaces alone', async () => {
  const objects = [...baseCluster(), kube.pod('other', 'elsewhere', '10.244.9.9')];
  const { md, api } = await setup(objects, { namespaces: ['default'] });
  assert.equal(podAt(md, '10.244.1.5'), 'web-x1-abcde');
  assert.equal(podAt(md, '10.244.9.9'), undefined);
  assert.deepEqual(
    [...new Set(api.requests({ verb: 'list', resource: 'v1/pods' }).map((r) => r.namespace))],
    ['default'],
  );
});

test('HTTP errors from the API server (403, 500) restart the informers with backoff until they succeed', async () => {
  const api = await FakeKubeApi.start();
  api.seed(baseCluster());
  api.failNext(12, 403, 'Forbidden', 'pods is forbidden: User "system:serviceaccount:obs:t" cannot list resource "pods"');
  api.failNext(6, 500);
  const md = connect(api, { backoff: { initialMs: 10, maxMs: 40 } });
  await md.waitForSync(5000);
  assert.ok(md.status().some((s) => s.restarts >= 2), JSON.stringify(md.status()));
  assert.equal(podAt(md, '10.244.1.5'), 'web-x1-abcde');
});

test('waitForSync names what is missing when the API server cannot be reached', async () => {
  const api = await FakeKubeApi.start();
  await api.stop(); // a port nobody listens on
  const md = connect(api, { backoff: { initialMs: 20, maxMs: 100 } });
  await assert.rejects(md.waitForSync(300), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'sync_timeout');
    assert.match(err.message, /pods/);
    assert.match(err.message, /ECONNREFUSED/);
    return true;
  });
  assert.equal(md.synced, false);
});

test('a permanent 403 (missing RBAC) keeps retrying and waitForSync says what the API server answered', async () => {
  const api = await FakeKubeApi.start();
  api.failNext(100_000, 403, 'Forbidden', 'pods is forbidden: User "system:serviceaccount:obs:t" cannot list resource "pods"');
  const md = connect(api, { backoff: { initialMs: 20, maxMs: 50 } });
  await assert.rejects(md.waitForSync(400), /pods \(HTTP 403: pods is forbidden: User "system:serviceaccount:obs:t" cannot list resource "pods"\)/);
});
