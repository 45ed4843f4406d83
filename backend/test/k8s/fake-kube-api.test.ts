/**
 * The loopback FAKE Kubernetes API server itself, spoken to over HTTP as an API client would:
 * list documents, watch streams (replay, live events, BOOKMARK, 410 for expired versions), errors.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { FakeKubeApi, kube } from '../../../test/support/fake-kube-api.js';
import { waitFor } from '../../../test/support/wait.js';

/** Reads a watch stream's first `n` events (one JSON object a line). */
function watchLines(url: string, n: number): Promise<Array<{ type: string; object: { metadata: Record<string, unknown>; code?: number } }>> {
  return new Promise((resolve, reject) => {
    const events: Array<{ type: string; object: { metadata: Record<string, unknown>; code?: number } }> = [];
    let buf = '';
    const req = request(url, (res) => {
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
          if (events.length === n) {
            req.destroy();
            resolve(events);
          }
        }
      });
      res.on('end', () => resolve(events));
    });
    req.on('error', (e) => (events.length >= n ? undefined : reject(e)));
    req.end();
  });
}

test('lists carry kind, apiVersion and the current resourceVersion; namespaced and cluster-wide paths', async () => {
  const api = await FakeKubeApi.start();
  try {
    api.seed([kube.pod('a', 'p1', '10.0.0.1'), kube.pod('b', 'p2', '10.0.0.2'), kube.endpointSlice('a', 's1', 'svc', ['10.0.0.1'])]);
    const all = (await (await fetch(`${api.url}/api/v1/pods`)).json()) as { kind: string; metadata: { resourceVersion: string }; items: unknown[] };
    assert.equal(all.kind, 'PodList');
    assert.equal(all.metadata.resourceVersion, api.resourceVersion);
    assert.equal(all.items.length, 2);
    const inA = (await (await fetch(`${api.url}/api/v1/namespaces/a/pods`)).json()) as { items: Array<{ metadata: { name: string } }> };
    assert.deepEqual(inA.items.map((p) => p.metadata.name), ['p1']);
    const slices = (await (await fetch(`${api.url}/apis/discovery.k8s.io/v1/endpointslices`)).json()) as { kind: string; apiVersion: string };
    assert.deepEqual([slices.kind, slices.apiVersion], ['EndpointSliceList', 'discovery.k8s.io/v1']);
    const one = (await (await fetch(`${api.url}/api/v1/namespaces/b/pods/p2`)).json()) as { metadata: { name: string; uid: string } };
    assert.equal(one.metadata.name, 'p2');
    assert.ok(one.metadata.uid);
    assert.equal((await fetch(`${api.url}/api/v1/namespaces/b/pods/nope`)).status, 404);
    assert.equal((await fetch(`${api.url}/api/v1/pods?labelSelector=app%3Dx`)).status, 400, 'selectors are refused, not ignored');
  } finally {
    await api.stop();
  }
});

test('watch: replays events after the given resourceVersion, then streams live ones with increasing versions', async () => {
  const api = await FakeKubeApi.start();
  try {
    api.add(kube.pod('a', 'p1', '10.0.0.1'));
    const rv = api.resourceVersion;
    api.modify(kube.pod('a', 'p1', '10.0.0.9'));
    api.add(kube.service('a', 'other-kind', '10.96.0.1'));
    const got = watchLines(`${api.url}/api/v1/pods?watch=true&resourceVersion=${rv}`, 4);
    await waitFor('the watch', () => api.watcherCount('v1/pods') === 1);
    api.remove('Pod', 'v1', 'a', 'p1');
    api.bookmark();
    api.add(kube.pod('a', 'p2', '10.0.0.2'));
    const events = await got;
    assert.deepEqual(events.map((e) => e.type), ['MODIFIED', 'DELETED', 'BOOKMARK', 'ADDED']);
    const versions = events.map((e) => Number(e.object.metadata.resourceVersion));
    assert.ok(versions.every((v, i) => i === 0 || v >= versions[i - 1]), `increasing: ${versions}`);
    assert.equal(events[0].object.metadata.name, 'p1');
  } finally {
    await api.stop();
  }
});

test('watch from a compacted resourceVersion: one ERROR event with a 410 Status, then the end', async () => {
  const api = await FakeKubeApi.start();
  try {
    api.add(kube.pod('a', 'p1', '10.0.0.1'));
    const old = api.resourceVersion;
    api.add(kube.pod('a', 'p2', '10.0.0.2'));
    api.compact();
    const events = await watchLines(`${api.url}/api/v1/pods?watch=true&resourceVersion=${old}`, 5);
    assert.equal(events.length, 1);
    assert.equal(events[0].type, 'ERROR');
    assert.equal(events[0].object.code, 410);
    // Watching from now still works.
    assert.equal((await fetch(`${api.url}/api/v1/pods`)).status, 200);
  } finally {
    await api.stop();
  }
});
