/**
 * HTTP/2 between two network-namespace hosts on a bridge (the test's own, removed after): nghttpd
 * in one, nghttp and h2load in the other, captured on the bridge as a node would see its pods.
 * Every stream is an entry from the client host to the server host, as tshark sees it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetnsLab, type NetnsHost } from '../../../test/support/netns.js';
import { analyse } from '../agent/compare.js';
import { tempFile } from '../agent/run.js';
import { Tcpdump, tsharkAvailable } from '../agent/traffic.js';
import { byKey, entryStreams, Nghttpd, tsharkStreams } from './http2-support.js';

const id = process.pid % 10_000;
const lab = new NetnsLab(`h2br${id}`, '10.231.7.1');
const dir = mkdtempSync(join(tmpdir(), 'tapline-http2-netns-'));
const PORT = 8080;
let client: NetnsHost;
let server: NetnsHost;
let nghttpd: Nghttpd | undefined;

before(async () => {
  await tsharkAvailable();
  lab.up();
  client = lab.addHost(`h2a-${id}`, '10.231.7.10', `h2va${id}`);
  server = lab.addHost(`h2b-${id}`, '10.231.7.20', `h2vb${id}`);
  writeFileSync(join(dir, 'index.html'), 'from the server pod\n');
  nghttpd = await Nghttpd.start(PORT, dir, server.ip, server.ns);
});

after(async () => {
  await nghttpd?.stop();
  lab.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('nghttp and h2load in one namespace, nghttpd in another, captured on the bridge: the streams tshark sees', async () => {
  const file = tempFile('http2-netns.pcap');
  const dump = await Tcpdump.start(lab.bridge, `tcp port ${PORT}`, file);
  try {
    lab.exec(client.ns, 'nghttp', ['-n', `http://${server.ip}:${PORT}/index.html`, `http://${server.ip}:${PORT}/missing`]);
    assert.match(lab.exec(client.ns, 'h2load', ['-n', '40', '-c', '2', '-m', '4', `http://${server.ip}:${PORT}/index.html`]), /40 succeeded/);
  } finally {
    await dump.stop();
  }
  assert.equal(dump.droppedByKernel(), 0);
  const { entries } = await analyse(file, []);
  assert.equal(entries.length, 42);
  assert.deepEqual(byKey(entryStreams(entries)), byKey(await tsharkStreams(file, PORT)));
  for (const e of entries) {
    assert.deepEqual([e.protocol, e.src.ip, e.dst.ip, e.dst.port, e.host], ['http2', client.ip, server.ip, PORT, `${server.ip}:${PORT}`]);
  }
  assert.deepEqual(entries.filter((e) => e.target === '/missing').map((e) => e.status), [404]);
});
