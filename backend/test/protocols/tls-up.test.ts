/**
 * `tapline up --tls-keylog FILE` as a process, capturing loopback: a Node https server and client
 * whose `keylog` event writes the key log while the capture runs (the file does not exist when
 * `up` starts). The handshake and the decrypted requests reach the API; health shows the key
 * log's path and counts; and no secret of the key log (nor the credential inside the requests)
 * appears in anything the hub serves, in the process's output, or in any column of any row of any
 * table the store holds.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.js';
import { stop, tapline, type Running } from '../hub/processes.js';
import { getJson, q } from '../hub/fixture.js';
import { waitFor } from '../../../test/support/wait.js';
import { selfSigned } from './tls-support.js';

let dir: string;
let data: string;
let keylog: string;
let up: Running | undefined;
let server: https.Server;
let serverPort: number;
let base: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tapline-tls-up-'));
  data = join(dir, 'data');
  keylog = join(dir, 'client-keys.log');
  const c = await selfSigned(dir, 'up.tapline.test');
  server = https.createServer({ cert: readFileSync(c.cert), key: readFileSync(c.key) }, (req, res) => {
    res.writeHead(req.url === '/index.html' ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(`you asked for ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverPort = (server.address() as { port: number }).port;
  // Port 0: the hub says where it listens (a port picked beforehand may be taken by a parallel test).
  up = tapline(['up', '--data', data, '--listen', '127.0.0.1:0', '--bpf', `tcp port ${serverPort}`, '--tls-keylog', keylog]);
  await waitFor(
    'tapline up to be healthy',
    async () => {
      if (up!.child.exitCode !== null) throw new Error(`tapline up exited: ${up!.stderr()}`);
      const url = /API on (http:\/\/[^/\s]+)\/api\/v1/.exec(up!.stdout())?.[1];
      if (!url) return false;
      base = url;
      const res = await fetch(`${base}/api/v1/health`).catch(() => undefined);
      return res?.ok === true && ((await res.json()) as { agent?: { running: boolean } }).agent?.running === true;
    },
    60_000,
  );
});

after(async () => {
  if (up) await stop(up);
  await new Promise((resolve) => server?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A credential inside the encrypted requests: decrypted HTTP is redacted like any other. */
const TOKEN = 'sekrit-bearer-token-4711';

async function get(agent: https.Agent, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: serverPort, path, servername: 'up.tapline.test', rejectUnauthorized: false, agent, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

/** The secrets of the key log (its third column), as hex in either case. */
function secrets(): string[] {
  return readFileSync(keylog, 'latin1')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[2])
    .filter((s): s is string => s !== undefined && /^[0-9a-f]{64,}$/i.test(s));
}

function assertNoSecret(where: string, text: string): void {
  const lower = text.toLowerCase();
  for (const s of secrets()) {
    // Any 16-byte stretch of a secret would be a leak, not only the whole of it.
    for (let i = 0; i + 32 <= s.length; i += 16) assert.ok(!lower.includes(s.slice(i, i + 32).toLowerCase()), `${where} holds key material`);
  }
}

test('decrypted live with a key log written while capturing; nothing of it is served, logged or stored', async () => {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  agent.on('keylog', (line: Buffer) => appendFileSync(keylog, line));
  assert.equal(await get(agent, '/index.html'), 200);
  assert.equal(await get(agent, '/private?token=abc'), 404);
  agent.destroy();
  assert.ok(secrets().length >= 4, 'the client wrote its TLS 1.3 secrets');

  const window = { from: Date.now() - 600_000, to: Date.now() + 600_000 };
  const served: string[] = [];
  let listed: Array<{ id: string; protocol: string; target: string; status: number; fields: Record<string, string | number> }> = [];
  await waitFor(() => `the handshake and both requests in the API: ${JSON.stringify(listed.map((e) => [e.protocol, e.target, e.status]))} ${up!.stderr()}`, async () => {
    const { body } = await getJson(`${base}/api/v1/entries?${q({ filter: `dst.port == ${serverPort}`, ...window })}`);
    listed = body.entries ?? [];
    return listed.length >= 3;
  }, 30_000);
  const rows = listed.map((e) => `${e.protocol} ${e.target} ${e.status}`).sort();
  assert.deepEqual(rows, ['http /index.html 200', 'http /private 404', 'tls up.tapline.test 0']);
  const { body: decrypted } = await getJson(`${base}/api/v1/entries?${q({ filter: `http and tls.decrypted and dst.port == ${serverPort}`, ...window })}`);
  assert.equal(decrypted.entries.length, 2);
  served.push(JSON.stringify(listed), JSON.stringify(decrypted));
  for (const e of listed) {
    const { status, body } = await getJson(`${base}/api/v1/entries/${e.id}`);
    assert.equal(status, 200);
    served.push(JSON.stringify(body));
  }
  const { body: health } = await getJson(`${base}/api/v1/health`);
  assert.equal(health.agent.tlsKeyLogs.length, 1);
  assert.equal(health.agent.tlsKeyLogs[0].path, keylog);
  assert.ok(health.agent.tlsKeyLogs[0].secrets >= 4);
  assert.equal(health.agent.tlsKeyLogs[0].error, '');
  served.push(JSON.stringify(health));
  for (const path of ['/api/v1/protocols', `/api/v1/stats?${q(window)}`]) served.push(JSON.stringify((await getJson(`${base}${path}`)).body));
  assertNoSecret('what the hub served', served.join('\n'));
  assert.ok(!served.join('\n').includes(TOKEN), 'the decrypted Authorization header is redacted');

  await stop(up!);
  assertNoSecret("tapline up's output", up!.stdout() + up!.stderr());
  up = undefined;
  const store = openStore({ kind: 'embedded', dataDir: data });
  try {
    const rs = await store.client.query({ query: `SELECT name FROM system.tables WHERE database = {db:String}`, query_params: { db: store.database }, format: 'JSONEachRow' });
    const tables = (await rs.json<{ name: string }>()).map((t) => t.name);
    assert.ok(tables.includes('entries'));
    let dump = '';
    for (const t of tables) {
      const all = await store.client.query({ query: `SELECT * FROM ${store.database}.\`${t}\``, format: 'JSONEachRow' });
      dump += await all.text();
    }
    assert.match(dump, /up\.tapline\.test/, 'the dump holds the entries (the search below is not vacuous)');
    assertNoSecret('the store', dump);
    assert.ok(!dump.includes(TOKEN), 'the store holds no decrypted credential');
  } finally {
    await store.close();
  }
});
