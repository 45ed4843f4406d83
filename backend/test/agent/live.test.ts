/**
 * Live capture with the real `tapline agent` on loopback: every request the client completed
 * appears exactly once, and SIGINT/SIGTERM stop it cleanly with the counters printed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { AgentProcess, pathCounts } from './live-support.js';
import { freePort } from './traffic.js';
import { waitFor } from '../../../test/support/wait.js';

const agents: AgentProcess[] = [];
after(() => agents.forEach((a) => a.kill()));

async function withServer<T>(fn: (port: number) => Promise<T>): Promise<T> {
  const port = await freePort();
  const server = http.createServer((req, res) => {
    res.statusCode = req.url?.endsWith('/404') ? 404 : 200;
    res.end(`answer for ${req.url}`);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  try {
    return await fn(port);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

function get(port: number, path: string, agent: http.Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

test('loopback under load: every completed request exactly once, clean SIGINT', async () => {
  await withServer(async (port) => {
    const agent = await AgentProcess.start(['-i', 'lo', '--filter', `tcp port ${port}`]);
    agents.push(agent);
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const completed: string[] = [];
    // 1000 requests over 8 keep-alive sockets, and 60 on connections of their own.
    await Promise.all([
      ...Array.from({ length: 1000 }, async (_, i) => {
        const path = `/ka/${i}${i % 50 === 0 ? '/404' : ''}`;
        await get(port, path, keepAlive);
        completed.push(path);
      }),
      ...Array.from({ length: 60 }, async (_, i) => {
        const path = `/new/${i}`;
        await get(port, path, false);
        completed.push(path);
      }),
    ]);
    keepAlive.destroy();
    await waitFor(`${completed.length} entries`, () => agent.entries.length >= completed.length, 20_000);
    const code = await agent.stop('SIGINT');
    assert.equal(code, 0, agent.err);
    const counts = pathCounts(agent.entries);
    const missing = completed.filter((p) => counts.get(p) !== 1);
    assert.deepEqual(missing, [], 'requests not seen exactly once');
    assert.equal(agent.entries.length, completed.length, 'no extra entries');
    for (const e of agent.entries) {
      assert.equal(e.status, e.target.endsWith('/404') ? 404 : 200);
      assert.equal(e.responseBody.text, `answer for ${e.target}`);
      assert.equal(e.src.ip, '127.0.0.1');
      assert.equal(e.dst.port, port);
      assert.equal(e.agent, 'test-agent');
    }
    assert.match(agent.err, /SIGINT: stopping/);
    assert.match(agent.err, new RegExp(`entries\\s+${completed.length}\\n`));
    assert.match(agent.err, /lo dropped \(libpcap\)\s+0\n/);
  });
});

test('SIGTERM flushes requests still waiting for an answer as unanswered', async () => {
  const port = await freePort();
  // A server that never answers.
  let received = false;
  const server = http.createServer(() => (received = true));
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  try {
    const agent = await AgentProcess.start(['-i', 'lo', '--filter', `tcp port ${port}`, '--stats-interval', '1']);
    agents.push(agent);
    const req = http.get({ host: '127.0.0.1', port, path: '/pending' });
    req.on('error', () => {});
    await waitFor('the server to get the request', () => received);
    // The periodic counters show when the agent has seen the request's packets.
    await waitFor('the agent to see the request', () => /http parse errors/.test(agent.err) && /connections\s+1\n/.test(agent.err));
    const code = await agent.stop('SIGTERM');
    req.destroy();
    assert.equal(code, 0, agent.err);
    assert.deepEqual(agent.entries.map((e) => [e.target, e.unanswered, e.status]), [['/pending', true, 0]]);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('an interface that does not exist is a clear error, exit code 1', async () => {
  await assert.rejects(AgentProcess.start(['-i', 'no-such-if0']), /cannot capture on no-such-if0/);
});
