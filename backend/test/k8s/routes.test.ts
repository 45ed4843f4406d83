/**
 * Host-side interfaces from a real kernel routing table: a network namespace of this test's own
 * with a per-pod /32 route to a veth (as kindnet/Calico do), a pod subnet on a bridge
 * device (as bridge CNIs do) and a default route, read back through /proc/net/route.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { parseProcNetRoute, routeInterface } from '../../src/k8s/routes.js';

const ns = `tl-rt-${process.pid}`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

before(() => {
  ip('netns', 'add', ns);
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  ip('-n', ns, 'link', 'add', 'vethpod1', 'type', 'veth', 'peer', 'name', 'vethpeer1');
  ip('-n', ns, 'link', 'set', 'vethpod1', 'up');
  ip('-n', ns, 'link', 'set', 'vethpeer1', 'up');
  ip('-n', ns, 'link', 'add', 'cni0', 'type', 'bridge');
  ip('-n', ns, 'link', 'set', 'cni0', 'up');
  ip('-n', ns, 'addr', 'add', '10.244.5.1/24', 'dev', 'cni0');
  ip('-n', ns, 'addr', 'add', '192.168.77.2/24', 'dev', 'vethpeer1');
  ip('-n', ns, 'route', 'add', '10.244.5.9/32', 'dev', 'vethpod1');
  ip('-n', ns, 'route', 'add', 'default', 'via', '192.168.77.1');
});
after(() => {
  try {
    ip('netns', 'del', ns);
  } catch {
    // already gone
  }
});

test('the most specific non-default route names the interface; addresses only the default route reaches have none', () => {
  const text = ip('netns', 'exec', ns, 'cat', '/proc/net/route');
  const routes = parseProcNetRoute(text);
  assert.ok(routes.some((r) => r.prefix === 0), 'the kernel table has the default route');
  assert.equal(routeInterface(routes, '10.244.5.9'), 'vethpod1', '/32 beats the /24');
  assert.equal(routeInterface(routes, '10.244.5.10'), 'cni0');
  assert.equal(routeInterface(routes, '192.168.77.40'), 'vethpeer1');
  assert.equal(routeInterface(routes, '8.8.8.8'), undefined);
  assert.equal(routeInterface(routes, 'fd00::1'), undefined, 'IPv6 is not in /proc/net/route');
});
