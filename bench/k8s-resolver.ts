/**
 * Benchmark: the Kubernetes IP resolver on the per-entry path, with a cluster of 10k pods, 2k
 * services (ClusterIP + one EndpointSlice of 5 pods each), 1k ReplicaSets and 100 nodes.
 *
 *   node --expose-gc --import tsx bench/k8s-resolver.ts [--pods 10000] [--services 2000] [--seconds 2]
 *
 * Prints: enrichments/s (two endpoint lookups each: a pod IP source and a ClusterIP, pod IP or
 * unknown destination), the resolver's heap, and (with --informers) the full metadata cache synced
 * from the loopback fake API server through the real informers: time to sync and heap including
 * client-node's own object caches.
 */
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { emptyBody, emptyEndpoint, HeaderList, NO_FIELDS, Outcome, type Entry } from '../backend/src/entries/entry.js';
import { KubeEnricher } from '../backend/src/k8s/enricher.js';
import { createKubeMetadata } from '../backend/src/k8s/metadata.js';
import { IpResolver } from '../backend/src/k8s/resolver.js';
import { createLogger } from '../backend/src/log.js';
import { FakeKubeApi, kube, type KubeObject } from '../test/support/fake-kube-api.js';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '10000' },
    services: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '2' },
    informers: { type: 'boolean', default: false },
  },
});
const POD_COUNT = Number(values.pods);
const SERVICE_COUNT = Number(values.services);
const SECONDS = Number(values.seconds);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.warn('run with --expose-gc for heap figures');
function heapMB(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed / 1048576;
}

const podIp = (i: number) => `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const svcIp = (i: number) => `10.96.${(i >> 8) & 255}.${i & 255}`;

/**
 * What real API servers send along (managedFields, annotations, env, volumes, conditions, container
 * statuses, node images): ~5 KB a pod, as measured on kind clusters. Only the informer path sees it.
 */
function realistic(o: KubeObject, i: number): KubeObject {
  const meta = o.metadata as Record<string, unknown>;
  meta.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(600), 'checksum/config': `${i}`.padStart(64, '0') };
  meta.managedFields = [
    { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } }, 'f:spec': { 'f:containers': { 'k:{"name":"main"}': { '.': {}, 'f:image': {}, 'f:env': {} } } } } },
    { manager: 'kubelet', operation: 'Update', apiVersion: 'v1', subresource: 'status', fieldsType: 'FieldsV1', fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:podIP': {}, 'f:podIPs': {} } } },
  ];
  if (o.kind === 'Pod') {
    const spec = o.spec as Record<string, unknown>;
    spec.volumes = Array.from({ length: 3 }, (_, v) => ({ name: `vol-${v}`, projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] } }));
    (spec.containers as Array<Record<string, unknown>>)[0].env = Array.from({ length: 20 }, (_, e) => ({ name: `ENV_VAR_NUMBER_${e}`, value: `value-of-environment-variable-${e}-${i}` }));
    const status = o.status as Record<string, unknown>;
    status.conditions = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastTransitionTime: '2026-11-26T08:00:00Z' }));
    status.containerStatuses = [{ name: 'main', ready: true, restartCount: 0, image: 'docker.io/library/nginx:1.27', imageID: `docker.io/library/nginx@sha256:${'a'.repeat(64)}`, containerID: `containerd://${'b'.repeat(64)}`, started: true, state: { running: { startedAt: '2026-11-26T08:00:01Z' } } }];
  }
  if (o.kind === 'Node') {
    (o.status as Record<string, unknown>).images = Array.from({ length: 60 }, (_, m) => ({ names: [`registry.example/team/image-${m}@sha256:${'c'.repeat(64)}`, `registry.example/team/image-${m}:v1.2.${m}`], sizeBytes: 123456789 }));
  }
  return o;
}

function cluster(): KubeObject[] {
  const objs: KubeObject[] = [];
  for (let n = 0; n < 100; n++) objs.push(kube.node(`node-${n}`, `172.18.${n >> 8}.${n & 255}`));
  for (let r = 0; r < 1000; r++) objs.push(kube.replicaSet(`ns-${r % 50}`, `app-${r}-5d9f8`, { kind: 'Deployment', name: `app-${r}` }));
  for (let i = 0; i < POD_COUNT; i++) {
    const r = i % 1000;
    objs.push(
      kube.pod(`ns-${r % 50}`, `app-${r}-5d9f8-${i}`, podIp(i), {
        node: `node-${i % 100}`,
        owner: { kind: 'ReplicaSet', name: `app-${r}-5d9f8` },
        labels: { app: `app-${r}`, 'pod-template-hash': '5d9f8' },
      }),
    );
  }
  for (let s = 0; s < SERVICE_COUNT; s++) {
    const ns = `ns-${s % 50}`;
    objs.push(kube.service(ns, `svc-${s}`, svcIp(s), [{ port: 80, targetPort: 8080 }]));
    const ips = [0, 1, 2, 3, 4].map((k) => podIp((s * 5 + k) % POD_COUNT));
    objs.push(kube.endpointSlice(ns, `svc-${s}-abcde`, `svc-${s}`, ips, [8080]));
  }
  return objs;
}

function feed(r: IpResolver, objs: KubeObject[]): void {
  for (const o of objs) {
    if (o.kind === 'Pod') r.upsertPod(o);
    else if (o.kind === 'Service') r.upsertService(o);
    else if (o.kind === 'EndpointSlice') r.upsertEndpointSlice(o);
    else if (o.kind === 'Node') r.upsertNode(o);
    else if (o.kind === 'ReplicaSet') r.upsertReplicaSet(o);
  }
}

function entries(n: number): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < n; i++) {
    // Destinations: 45% ClusterIP, 45% pod IP (after DNAT), 10% outside the cluster.
    const kind = i % 20;
    const dst = kind < 9 ? svcIp(i % SERVICE_COUNT) : kind < 18 ? podIp((i * 7) % POD_COUNT) : `203.0.113.${i & 255}`;
    out.push({
      id: String(i), agent: 'bench', protocol: 'http', protocolVersion: '1.1', transport: 'tcp',
      startUs: Date.now() * 1000, endUs: 0, durationUs: 0,
      src: emptyEndpoint(podIp(i % POD_COUNT), 40000 + (i & 1023)),
      dst: emptyEndpoint(dst, kind < 9 ? 80 : 8080),
      operation: 'GET', target: '/', query: '', host: '', status: 200, statusText: 'OK', outcome: Outcome.ok, fields: NO_FIELDS,
      requestHeaders: HeaderList.of([]), responseHeaders: HeaderList.of([]), requestBody: emptyBody(), responseBody: emptyBody(),
      unanswered: false, incomplete: false,
    });
  }
  return out;
}

const objs = cluster();
const before = heapMB();
let resolver: IpResolver | undefined = new IpResolver();
let t = performance.now();
feed(resolver, objs);
const buildMs = performance.now() - t;
const resolverMB = heapMB() - before;

const enricher = new KubeEnricher(resolver);
const batch = entries(16384);
// Warm up, then measure.
for (const e of batch) enricher.enrich(e);
let done = 0;
const cpu0 = process.cpuUsage();
t = performance.now();
const deadline = t + SECONDS * 1000;
while (performance.now() < deadline) {
  for (let i = 0; i < batch.length; i++) enricher.enrich(batch[i]);
  done += batch.length;
}
const elapsed = (performance.now() - t) / 1000;
const cpu = process.cpuUsage(cpu0);
// The machine is shared: CPU time says what the work costs, wall time what this run got.
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const named = batch.filter((e) => e.src.pod !== '' && (e.dst.service !== '' || e.dst.ip.startsWith('203.'))).length;
console.log(`cluster: ${POD_COUNT} pods, ${SERVICE_COUNT} services (+${SERVICE_COUNT} endpoint slices), 1000 replicasets, 100 nodes`);
console.log(`resolver build: ${buildMs.toFixed(0)} ms; resolver heap: ${resolverMB.toFixed(1)} MB`);
console.log(
  `enrich: ${(done / elapsed / 1e6).toFixed(2)} M entries/s wall, ${(done / cpuSeconds / 1e6).toFixed(2)} M entries per CPU-second ` +
    `(${((done * 2) / cpuSeconds / 1e6).toFixed(2)} M endpoint lookups per CPU-second, ${((cpuSeconds * 1e9) / (done * 2)).toFixed(0)} ns each); ` +
    `${named}/${batch.length} entries fully named`,
);
resolver = undefined;

/** Seeds the fake from a helper's frame, so the big temporary copies are garbage once it returns. */
function seedRealistic(api: FakeKubeApi): void {
  api.seed(objs.map((o, i) => realistic(structuredClone(o), i)));
}

if (values.informers) {
  const api = await FakeKubeApi.start();
  seedRealistic(api);
  const kc = new KubeConfig();
  kc.loadFromOptions(api.kubeConfigOptions());
  const base = heapMB();
  t = performance.now();
  const md = createKubeMetadata({ kubeConfig: kc, log: createLogger('bench', 'silent') });
  await md.waitForSync(120_000);
  const syncMs = performance.now() - t;
  const cacheMB = heapMB() - base;
  const listBytes = (await (await fetch(`${api.url}/api/v1/pods`)).arrayBuffer()).byteLength;
  console.log(
    `informers: pods as served ${(listBytes / POD_COUNT / 1024).toFixed(1)} KB each; synced from the fake API in ${syncMs.toFixed(0)} ms; ` +
      `metadata cache heap (resolver + client-node caches): ${cacheMB.toFixed(1)} MB`,
  );
  await md.stop();
  await api.stop();
}
