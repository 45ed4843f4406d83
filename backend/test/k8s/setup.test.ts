/**
 * setupKube(), the agent's one call: outside a cluster a no-op enricher and no targets; with a
 * kubeconfig (pointing at the loopback FAKE API server) a synced cache, names, and tap targets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { emptyEndpoint } from '../../src/entries/entry.js';
import { setupKube } from '../../src/k8s/index.js';
import { createLogger } from '../../src/log.js';
import { FakeKubeApi, kube } from '../../../test/support/fake-kube-api.js';
import { waitFor } from '../../../test/support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'tapline-k8s-setup-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('outside a cluster: entries keep their IPs, no targets, one warning', async () => {
  const warnings: string[] = [];
  const log = createLogger('k8s-test', 'silent');
  log.warn = ((msg: string) => void warnings.push(msg)) as typeof log.warn;
  const k = await setupKube({ env: {}, home: join(dir, 'nohome'), log });
  assert.equal(k.metadata, null);
  assert.equal(k.targets, null);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /names are unavailable/);
  await k.stop();
});

test('with a kubeconfig: names from the cluster and the BPF filter of the context namespace', async () => {
  const api = await FakeKubeApi.start();
  api.seed([
    kube.pod('shop', 'cart-1', '10.244.0.11', { node: 'w1' }),
    kube.pod('default', 'web-1', '10.244.0.12', { node: 'w1' }),
    kube.service('shop', 'cart', '10.96.0.40'),
  ]);
  const file = join(dir, 'kubeconfig');
  writeFileSync(file, api.kubeconfigYaml('shop'));
  const k = await setupKube({ kubeconfig: file, log: createLogger('k8s-test', 'silent'), env: {} });
  try {
    assert.equal(k.metadata?.synced, true);
    const ep = emptyEndpoint('10.96.0.40', 80);
    k.enricher.enrich({ src: emptyEndpoint('10.244.0.12', 5000), dst: ep, startUs: 0 } as never);
    assert.deepEqual([ep.service, ep.namespace], ['cart', 'shop']);
    await waitFor('the targets', () => k.targets?.state.bpfFilter === 'host 10.244.0.11');
  } finally {
    await k.stop();
    await api.stop();
  }
});
