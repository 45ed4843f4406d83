/**
 * `tapline targets` as a user runs it: the real CLI in a child process against the loopback FAKE
 * API server, printing the targeted pods and the BPF filter, following changes with --watch, and
 * failing clearly outside a cluster or with a bad regex.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeKubeApi, kube } from '../../../test/support/fake-kube-api.js';
import { waitFor } from '../../../test/support/wait.js';

const cli = fileURLToPath(new URL('../../bin/tapline.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tapline-targets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [cli, 'targets', ...args], {
    env: { PATH: process.env.PATH, HOME: join(dir, 'home'), TAPLINE_LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '', code: null as number | null };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const done = new Promise<typeof out>((resolve) => child.on('close', (code) => resolve({ ...out, code })));
  return { child, out, done };
}

test('lists the pods of the context namespace and the BPF filter; -A with --pod and --json', async () => {
  const api = await FakeKubeApi.start();
  try {
    api.seed([kube.pod('default', 'web-1', '10.244.0.1'), kube.pod('default', 'db-1', '10.244.0.2'), kube.pod('shop', 'web-2', '10.244.0.3')]);
    const kc = join(dir, 'kc');
    writeFileSync(kc, api.kubeconfigYaml('default'));
    const plain = await run(['--kubeconfig', kc]).done;
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /Targeted pods in namespace default: 2/);
    assert.match(plain.stdout, /default\/web-1 +10\.244\.0\.1/);
    assert.match(plain.stdout, /BPF filter: host 10\.244\.0\.1 or host 10\.244\.0\.2\n/);
    assert.doesNotMatch(plain.stdout, /shop/);

    const json = await run(['--kubeconfig', kc, '-A', '--pod', '^web-', '--json']).done;
    assert.equal(json.code, 0, json.stderr);
    const state = JSON.parse(json.stdout) as { pods: Array<{ name: string }>; bpfFilter: string };
    assert.deepEqual(state.pods.map((p) => p.name), ['web-1', 'web-2']);
    assert.equal(state.bpfFilter, 'host 10.244.0.1 or host 10.244.0.3');
  } finally {
    await api.stop();
  }
});

test('--watch prints a new state when a targeted pod appears', async () => {
  const api = await FakeKubeApi.start();
  try {
    api.seed([kube.pod('default', 'web-1', '10.244.0.1')]);
    const kc = join(dir, 'kc-watch');
    writeFileSync(kc, api.kubeconfigYaml('default'));
    const w = run(['--kubeconfig', kc, '--watch', '--json']);
    await waitFor('the first state', () => w.out.stdout.split('\n').length >= 2, 30_000);
    api.add(kube.pod('default', 'web-2', '10.244.0.2'));
    await waitFor('the second state', () => w.out.stdout.includes('host 10.244.0.1 or host 10.244.0.2'), 10_000);
    w.child.kill('SIGINT');
    const r = await w.done;
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await api.stop();
  }
});

test('outside a cluster and with a bad --pod the command fails saying why', async () => {
  const outside = await run([]).done;
  assert.equal(outside.code, 1);
  assert.match(outside.stderr, /no Kubernetes cluster: no kubeconfig/);
  writeFileSync(join(dir, 'kc-any'), 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]\ncontexts: [{name: c, context: {cluster: c}}]\ncurrent-context: c\n');
  const bad = await run(['--kubeconfig', join(dir, 'kc-any'), '--pod', '(']).done;
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--pod: not a regular expression: \(/);
});
