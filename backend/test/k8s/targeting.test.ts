/**
 * Tap targeting like `kubeshark tap`: options and their defaults, the BPF filter, and the targeted
 * set following pod events from the real informers against the loopback FAKE API server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Command } from 'commander';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../src/log.js';
import { NoopEnricher } from '../../src/k8s/enricher.js';
import { contextNamespace, loadKubeConfig } from '../../src/k8s/kubeconfig.js';
import { createKubeMetadata } from '../../src/k8s/metadata.js';
import {
  addTapTargetOptions,
  buildTapFilter,
  resolveTapTargets,
  TapTargets,
  tapTargetOptionsFrom,
  type TapChange,
} from '../../src/k8s/targeting.js';
import { FakeKubeApi, kube } from '../../../test/support/fake-kube-api.js';
import { waitFor } from '../../../test/support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'tapline-k8s-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('kubeconfig: the context namespace is the default target; no kubeconfig and no service account means outside a cluster', () => {
  const file = join(dir, 'config');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]',
      'users: [{name: u, user: {token: t}}]',
      'contexts: [{name: shop-ctx, context: {cluster: c, user: u, namespace: shop}}, {name: plain, context: {cluster: c, user: u}}]',
      'current-context: shop-ctx',
    ].join('\n'),
  );
  const kc = loadKubeConfig({ kubeconfigPath: file });
  assert.ok(kc);
  assert.equal(contextNamespace(kc), 'shop');
  assert.deepEqual([...(resolveTapTargets({}, contextNamespace(kc)).namespaces ?? [])], ['shop']);
  const plain = loadKubeConfig({ kubeconfigPath: file, context: 'plain' });
  assert.ok(plain);
  assert.equal(contextNamespace(plain), 'default');
  assert.throws(() => loadKubeConfig({ kubeconfigPath: file, context: 'nope' }), /no context "nope"/);
  assert.throws(() => loadKubeConfig({ kubeconfigPath: join(dir, 'missing') }), (e: Error & { code?: string }) => e.code === 'kubeconfig_invalid');
  const outside = loadKubeConfig({ env: {}, home: join(dir, 'no-home'), serviceAccountTokenPath: join(dir, 'no-token') });
  assert.equal(outside, null);
});

test('outside a cluster the no-op enricher says once that names are unavailable and leaves entries alone', () => {
  const lines: string[] = [];
  const enricher = new NoopEnricher({ warn: (msg: string) => lines.push(msg) } as never, 'no kubeconfig');
  const ep = { ip: '10.0.0.1', port: 1, pod: '', namespace: '', service: '', workload: '', node: '' };
  for (let i = 0; i < 3; i++) enricher.enrich({ src: ep, dst: ep } as never);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /names are unavailable \(no kubeconfig\)/);
  assert.equal(ep.pod, '');
});

test('command-line options: -n repeatable, -A, --pod, --exclude-namespace; bad values are refused with the reason', () => {
  const cmd = addTapTargetOptions(new Command('agent')).exitOverride();
  cmd.parse(['-n', 'default', '-n', 'shop', '--pod', '^web-', '--exclude-namespace', 'kube-system', '--node-name', 'w1'], { from: 'user' });
  const opts = tapTargetOptionsFrom(cmd.opts(), {});
  assert.deepEqual(opts, { namespaces: ['default', 'shop'], allNamespaces: false, pod: '^web-', excludeNamespaces: ['kube-system'], nodeName: 'w1' });
  const spec = resolveTapTargets(opts, 'ignored');
  assert.deepEqual([...(spec.namespaces ?? [])], ['default', 'shop']);
  assert.equal(spec.pod?.test('web-1'), true);
  const all = resolveTapTargets({ ...opts, allNamespaces: true }, 'default');
  assert.equal(all.namespaces, null);
  assert.throws(() => resolveTapTargets({ pod: '(' }, 'default'), /--pod: not a regular expression: \(/);
  assert.throws(() => resolveTapTargets({ namespaces: ['Bad_NS'] }, 'default'), /not a namespace name: "Bad_NS"/);
});

test('the BPF filter: sorted unique hosts; hostNetwork pods only with their ports; nothing targeted gives null', () => {
  const pod = (name: string, ips: string[], hostNetwork = false, hostPorts: number[] = []) => ({ namespace: 'd', name, node: 'n', ips, hostNetwork, hostPorts });
  assert.equal(buildTapFilter([]), null);
  assert.equal(
    buildTapFilter([pod('b', ['10.0.0.2']), pod('a', ['10.0.0.1', 'fd00::1']), pod('c', ['10.0.0.2'])]),
    'host 10.0.0.1 or host 10.0.0.2 or host fd00::1',
  );
  assert.equal(
    buildTapFilter([pod('x', ['10.0.0.3']), pod('h', ['172.18.0.2'], true, [10250, 9100]), pod('h2', ['172.18.0.2'], true)]),
    'host 10.0.0.3 or (host 172.18.0.2 and (port 9100 or port 10250))',
  );
  assert.equal(buildTapFilter([pod('h2', ['172.18.0.2'], true)]), null);
});

test('targeted pods follow pod events: namespace, regex, excluded namespace and node; one change per burst', async () => {
  const api = await FakeKubeApi.start();
  api.seed([
    kube.pod('default', 'web-1', '10.244.0.1', { node: 'w1' }),
    kube.pod('default', 'db-1', '10.244.0.2', { node: 'w1' }),
    kube.pod('shop', 'web-2', '10.244.0.3', { node: 'w1' }),
    kube.pod('kube-system', 'web-sys', '10.244.0.4', { node: 'w1' }),
    kube.pod('default', 'web-remote', '10.244.1.1', { node: 'w2' }),
  ]);
  const kc = new KubeConfig();
  kc.loadFromOptions(api.kubeConfigOptions());
  const md = createKubeMetadata({ kubeConfig: kc, log: createLogger('k8s-test', 'silent'), backoff: { initialMs: 20, maxMs: 100 } });
  const spec = resolveTapTargets({ allNamespaces: true, pod: '^web-', excludeNamespaces: ['kube-system'], nodeName: 'w1' }, 'default');
  const targets = new TapTargets(md, spec);
  const changes: TapChange[] = [];
  targets.on('change', (c) => changes.push(c));
  try {
    await waitFor('the first change', () => changes.length === 1);
    assert.equal(changes[0].bpfFilter, 'host 10.244.0.1 or host 10.244.0.3');
    assert.deepEqual(changes[0].pods.map((p) => `${p.namespace}/${p.name}`), ['default/web-1', 'shop/web-2']);

    api.add(kube.pod('default', 'web-3', '10.244.0.5', { node: 'w1' }));
    api.add(kube.pod('default', 'web-4', '10.244.0.6', { node: 'w1' }));
    await waitFor('the new pods', () => changes.at(-1)?.bpfFilter?.includes('10.244.0.6') === true);
    assert.equal(changes.at(-1)?.bpfFilter, 'host 10.244.0.1 or host 10.244.0.3 or host 10.244.0.5 or host 10.244.0.6');

    // Pods that are not targeted change nothing; the next targeted change shows they were ignored.
    const n = changes.length;
    api.add(kube.pod('default', 'cache-1', '10.244.0.7', { node: 'w1' }));
    api.add(kube.pod('kube-system', 'web-sys2', '10.244.0.8', { node: 'w1' }));
    api.remove('Pod', 'v1', 'default', 'web-1');
    await waitFor('the deletion', () => changes.at(-1)?.bpfFilter?.includes('10.244.0.1 ') === false);
    assert.equal(changes.length, n + 1, 'non-targeted pods caused no change event');
    assert.equal(changes.at(-1)?.bpfFilter, 'host 10.244.0.3 or host 10.244.0.5 or host 10.244.0.6');
    assert.equal(targets.state.pods.length, 3);
  } finally {
    targets.stop();
    await md.stop();
    await api.stop();
  }
});
