/**
 * Two hosts in network namespaces joined by a bridge (NOTES.md, "Test hosts"): a client in one,
 * a server in the other, the agent capturing on the bridge from the root namespace. Every
 * request the client completed appears exactly once, with the hosts' addresses. Needs root.
 * The namespaces, veths and bridge carry this process's id and are deleted at the end, also on failure.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { AgentProcess, pathCounts } from './live-support.js';
import { waitFor } from '../../../test/support/wait.js';

const run = promisify(execFile);
const id = process.pid % 100000;
const nsA = `tl-a-${id}`;
const nsB = `tl-b-${id}`;
const bridge = `tlcb${id}`; // not tlbr…: the k8s tests use that prefix
const subnet = `10.201.${id % 250}`;
const clientIp = `${subnet}.1`;
const serverIp = `${subnet}.2`;
const agents: AgentProcess[] = [];

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

async function cleanup(): Promise<void> {
  agents.forEach((a) => a.kill());
  // Deleting a namespace deletes its end of the veth, and with it the peer on the bridge.
  for (const args of [['netns', 'del', nsA], ['netns', 'del', nsB], ['link', 'del', bridge]]) {
    await ip(...args).catch(() => {});
  }
}
after(cleanup);

async function setUp(): Promise<void> {
  await ip('netns', 'add', nsA);
  await ip('netns', 'add', nsB);
  await ip('link', 'add', bridge, 'type', 'bridge');
  await ip('link', 'set', bridge, 'up');
  for (const [ns, addr, host] of [[nsA, clientIp, `tlva${id}`], [nsB, serverIp, `tlvb${id}`]]) {
    await ip('link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await ip('link', 'set', host, 'master', bridge, 'up');
    await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
}

const serverScript = `
const http = require('http');
http.createServer((req, res) => { res.statusCode = req.url.endsWith('/500') ? 500 : 200; res.end('from b ' + req.url); })
  .listen(8080, '${serverIp}', () => console.log('ready'));`;

const clientScript = `
const http = require('http');
const ka = new http.Agent({ keepAlive: true, maxSockets: 4 });
const get = (path, agent) => new Promise((resolve, reject) => http.get({ host: '${serverIp}', port: 8080, path, agent },
  (res) => { res.resume(); res.on('end', () => resolve(path)); }).on('error', reject));
(async () => {
  const done = await Promise.all([
    ...Array.from({ length: 400 }, (_, i) => get('/ka/' + i + (i % 40 === 0 ? '/500' : ''), ka)),
    ...Array.from({ length: 40 }, (_, i) => get('/new/' + i, false)),
  ]);
  ka.destroy();
  console.log(JSON.stringify(done));
})().catch((e) => { console.error(e); process.exit(1); });`;

test('two namespace hosts across a bridge: every completed request exactly once', async () => {
  await setUp();
  const server = spawn('ip', ['netns', 'exec', nsB, process.execPath, '-e', serverScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let ready = '';
    server.stdout!.on('data', (d) => (ready += d));
    await waitFor('the server in the namespace', () => ready.includes('ready'));
    const agent = await AgentProcess.start(['-i', bridge, '--filter', 'tcp port 8080']);
    agents.push(agent);
    const { stdout } = await run('ip', ['netns', 'exec', nsA, process.execPath, '-e', clientScript], { maxBuffer: 16 << 20 });
    const completed = JSON.parse(stdout) as string[];
    assert.equal(completed.length, 440);
    await waitFor(`${completed.length} entries`, () => agent.entries.length >= completed.length, 20_000);
    assert.equal(await agent.stop('SIGTERM'), 0, agent.err);
    const counts = pathCounts(agent.entries);
    assert.deepEqual(completed.filter((p) => counts.get(p) !== 1), [], 'requests not seen exactly once');
    assert.equal(agent.entries.length, completed.length, 'no extra entries');
    for (const e of agent.entries) {
      assert.equal(e.src.ip, clientIp);
      assert.equal(e.dst.ip, serverIp);
      assert.equal(e.dst.port, 8080);
      assert.equal(e.status, e.target.endsWith('/500') ? 500 : 200);
      assert.equal(e.responseBody.text, `from b ${e.target}`);
    }
  } finally {
    server.kill('SIGTERM');
    if (server.exitCode === null) await once(server, 'exit');
    await cleanup();
  }
});
