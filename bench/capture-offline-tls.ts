/**
 * Benchmark: `tapline import --tls-keylog` of a capture of ≥ 50k HTTPS requests (nginx over TLS
 * 1.2 and 1.3, keep-alive) against `tshark -o tls.keylog_file:` on the same file (issue 22's goal:
 * ≥ 10x less CPU), and the CPU cost of decryption per MB.
 *
 *   node --import tsx bench/capture-offline-tls.ts [--requests 60000] [--connections 20]
 *
 * The load: Node's https client (keep-alive, one request at a time per connection, half the
 * connections TLS 1.3 with AES-256-GCM, half TLS 1.2 with ECDHE-RSA-AES128-GCM) writing its key
 * log from the `keylog` event (wrk has no key log), captured by tcpdump on lo. Then, one after the
 * other on that file: the import pipeline without the key log (handshakes only), with it but no
 * HTTP dissector (decryption alone), with it (decryption and HTTP), and tshark. CPU time is the
 * measure (the machine is shared).
 */
import { execFile } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import https from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { importCaptureFile } from '../backend/src/agent/import-file.js';
import { followKeyLogs } from '../backend/src/agent/options.js';
import { dnsDissector } from '../backend/src/protocols/dns/dissector.js';
import { httpDissector } from '../backend/src/protocols/http/dissector.js';
import { tlsDissector } from '../backend/src/protocols/tls/dissector.js';
import { CountingSink, timed } from './import-support.js';
import { Tcpdump } from '../backend/test/agent/traffic.js';
import { Nginx } from '../backend/test/agent/nginx.js';
import { selfSigned } from '../backend/test/protocols/tls-support.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '60000' },
    connections: { type: 'string', default: '20' },
    keep: { type: 'string' },
  },
});
const REQUESTS = Number(values.requests);
const CONNECTIONS = Number(values.connections);
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-tls-'));
const file = join(dir, 'tls.pcap');
const keylog = join(dir, 'keys.log');

function get(agent: https.Agent, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: '/index.html', servername: 'bench.tapline.test', rejectUnauthorized: false, agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

async function record(): Promise<number> {
  const cert = await selfSigned(dir, 'bench.tapline.test');
  const nginx = await Nginx.start({ 'index.html': `<html><body>${'Tapline over TLS. '.repeat(40)}</body></html>` }, cert);
  const dump = await Tcpdump.start('lo', `tcp port ${nginx.port}`, file, [], false);
  try {
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, i) => {
        const tls13 = i % 2 === 0;
        const agent = new https.Agent({
          keepAlive: true,
          maxSockets: 1,
          ...(tls13 ? { minVersion: 'TLSv1.3' as const, ciphers: 'TLS_AES_256_GCM_SHA384' } : { maxVersion: 'TLSv1.2' as const, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }),
        });
        agent.on('keylog', (line: Buffer) => appendFileSync(keylog, line));
        for (let n = i; n < REQUESTS; n += CONNECTIONS) await get(agent, nginx.port);
        agent.destroy();
      }),
    );
  } finally {
    await dump.stop();
    await nginx.stop();
  }
  console.log(`tcpdump: ${dump.droppedByKernel()} packets dropped by the kernel`);
  if (values.keep) copyFileSync(file, values.keep);
  return nginx.port;
}

try {
  const port = await record();
  const rate = (n: number, ms: number) => `${((n * 1000) / ms / 1000).toFixed(1)}k`;
  const row = (name: string, t: { ms: number; cpuMs: number }, what: string) =>
    console.log(`${name.padEnd(40)} ${t.ms.toFixed(0).padStart(6)} ms wall ${t.cpuMs.toFixed(0).padStart(6)} ms CPU  ${what}`);
  const importWith = async (protocols = [httpDissector, dnsDissector, tlsDissector]) => {
    const sink = new CountingSink();
    const t = await timed(() => importCaptureFile(file, sink, { protocols }));
    return { ...t, sink };
  };
  const bare = await importWith();
  followKeyLogs([keylog]);
  const decryptOnly = await importWith([tlsDissector]);
  const full = await importWith();
  const tshark = await timed(async () => {
    const { stdout } = await run(
      'tshark',
      ['-r', file, '-n', '-o', `tls.keylog_file:${keylog}`, '-d', `tcp.port==${port},tls`, '-Y', 'http.request || http.response',
        '-T', 'fields', '-e', 'frame.number', '-e', 'tcp.stream', '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.response.code'],
      { maxBuffer: 1 << 30 },
    );
    const lines = stdout.split('\n').filter((l) => l !== '');
    return { requests: lines.filter((l) => l.split('\t')[2] !== '').length, responses: lines.filter((l) => l.split('\t')[4] !== '').length };
  });
  const mb = statSync(file).size / 1e6;
  const c = full.value.counters;
  console.log(`machine: ${cpus().length} × ${cpus()[0].model}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  console.log(`capture: ${c.packets} packets, ${mb.toFixed(1)} MB, ${readFileSync(keylog, 'latin1').split('\n').length - 1} key log lines; tshark: ${tshark.value.requests} requests, ${tshark.value.responses} responses`);
  row('import, no key log (handshakes)', bare, `${bare.sink.count} entries`);
  row('import, key log, TLS only (decryption)', decryptOnly, `${decryptOnly.sink.count} entries`);
  row('import, key log (decryption + HTTP)', full, `${rate(full.sink.count, full.cpuMs)} entries per CPU-s (${full.sink.count} entries, ${c.protocols.http.exchanges} HTTP, ${c.protocols.tls.parseErrors} TLS errors)`);
  row('tshark -o tls.keylog_file -T fields', tshark, `${rate(tshark.value.requests, tshark.cpuMs)} requests per CPU-s`);
  console.log(`decryption: ${((decryptOnly.cpuMs - bare.cpuMs) / mb).toFixed(1)} ms CPU per MB of capture (${mb.toFixed(1)} MB)`);
  console.log(`ratio (CPU): import is ${(tshark.cpuMs / full.cpuMs).toFixed(1)}x cheaper than tshark (goal ≥ 10x)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
