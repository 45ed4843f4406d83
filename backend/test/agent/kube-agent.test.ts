/**
 * `tapline agent` in a "cluster": the loopback FAKE Kubernetes API server (test/support) lists a
 * pod and a Service whose addresses are loopback ones, and the agent's entries carry their names
 * (the enrichment step between pairing and the sink). Without -i and without a cluster the agent
 * says it needs an interface.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKubeApi, kube } from '../../../test/support/fake-kube-api.js';
import { AgentProcess } from './live-support.js';
import { freePort } from './traffic.js';
import { waitFor } from '../../../test/support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'tapline-kube-agent-'));
const agents: AgentProcess[] = [];
after(() => {
  agents.forEach((a) => a.kill());
  rmSync(dir, { recursive: true, force: true });
});
const env = { PATH: process.env.PATH, HOME: dir, TAPLINE_LOG_LEVEL: 'silent' };

test('entries name the pods of their addresses (from the Kubernetes API)', async () => {
  const api = await FakeKubeApi.start();
  const port = await freePort();
  const server = http.createServer((_req, res) => res.end('ok'));
  server.listen(port, '127.0.0.2');
  await once(server, 'listening');
  try {
    api.seed([
      kube.pod('default', 'client-pod', '127.0.0.1', { node: 'node-a' }),
      kube.pod('shop', 'web-7f9c-xk2p', '127.0.0.2', { node: 'node-b' }),
    ]);
    const kc = join(dir, 'kubeconfig');
    writeFileSync(kc, api.kubeconfigYaml('default'));
    const agent = await AgentProcess.start(['-i', 'lo', '--filter', `tcp port ${port}`, '--kubeconfig', kc], [], env);
    agents.push(agent);
    await new Promise<void>((resolve, reject) =>
      http.get({ host: '127.0.0.2', localAddress: '127.0.0.1', port, path: '/named' }, (res) => res.resume().on('end', resolve)).on('error', reject),
    );
    await waitFor('the entry', () => agent.entries.length >= 1);
    assert.equal(await agent.stop('SIGINT'), 0, agent.err);
    const [e] = agent.entries;
    assert.equal(e.target, '/named');
    assert.deepEqual([e.src.pod, e.src.namespace, e.src.node], ['client-pod', 'default', 'node-a']);
    assert.deepEqual([e.dst.pod, e.dst.namespace, e.dst.node], ['web-7f9c-xk2p', 'shop', 'node-b']);
  } finally {
    server.close();
    await api.stop();
  }
});

test('without -i and outside a cluster the agent asks for an interface', async () => {
  await assert.rejects(AgentProcess.start([], [], env), /say where to capture with -i IFACE/);
});

test('without -i the agent taps the targeted pods and follows a new one', async () => {
  const api = await FakeKubeApi.start();
  const port = await freePort();
  const servers = ['127.0.0.3', '127.0.0.4'].map((host) => http.createServer((req, res) => res.end(`${host}${req.url}`)).listen(port, host));
  await Promise.all(servers.map((s) => once(s, 'listening')));
  const get = (host: string, path: string) =>
    new Promise<void>((resolve, reject) => http.get({ host, port, path, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject));
  try {
    api.seed([kube.pod('default', 'web-a', '127.0.0.3', { node: 'node-a' }), kube.pod('other', 'not-tapped', '127.0.0.4', { node: 'node-a' })]);
    const kc = join(dir, 'kubeconfig-follow');
    writeFileSync(kc, api.kubeconfigYaml('default'));
    const agent = await AgentProcess.start(['--kubeconfig', kc, '--node-name', 'node-a'], [], env);
    agents.push(agent);
    await waitFor('the targets', () => /1 pods targeted: capturing on .*host 127\.0\.0\.3/.test(agent.err));
    await get('127.0.0.3', '/first');
    await get('127.0.0.4', '/untapped');
    await waitFor('the first entry', () => agent.entries.length >= 1);
    // A pod appears in the tapped namespace: its traffic is captured from then on.
    api.add(kube.pod('default', 'web-b', '127.0.0.4', { node: 'node-a' }));
    await waitFor('the new targets', () => /2 pods targeted: capturing on .*127\.0\.0\.4/.test(agent.err));
    await get('127.0.0.4', '/second');
    await waitFor('the second entry', () => agent.entries.some((e) => e.target === '/second'));
    assert.equal(await agent.stop('SIGTERM'), 0, agent.err);
    assert.deepEqual(agent.entries.map((e) => [e.target, e.dst.pod]), [['/first', 'web-a'], ['/second', 'web-b']]);
  } finally {
    servers.forEach((s) => s.close());
    await api.stop();
  }
});
