/**
 * Benchmark: `tapline import` of an HTTP/2 capture of ≥ 100k requests against `tshark -T fields`
 * on the same file (issue 18's goal: ≥ 10x less CPU).
 *
 *   node --import tsx bench/capture-offline-http2.ts [--requests 100000] [--keep FILE] [--file FILE --port N]
 *
 * Builds the capture from real traffic: h2load (nghttp2-client) against nghttpd serving a small
 * file on 127.0.0.1 in cleartext (h2c with prior knowledge), 4 connections of 10 concurrent
 * streams, captured by tcpdump on lo. Then, one after the other on that file: the import pipeline
 * into a counting sink, and tshark's HTTP/2 fields. Prints CPU time, requests per CPU-second and
 * the ratio.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { importThenTshark } from './import-support.js';
import { freePort, Tcpdump } from '../backend/test/agent/traffic.js';
import { Nghttpd } from '../backend/test/protocols/http2-support.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '100000' },
    keep: { type: 'string' },
    file: { type: 'string' },
    port: { type: 'string' },
  },
});
const REQUESTS = Number(values.requests);
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-http2-'));
const file = values.file ?? join(dir, 'http2.pcap');

async function record(): Promise<number> {
  const port = await freePort();
  const www = join(dir, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'index.html'), '<html><body>hello from nghttpd</body></html>\n');
  const server = await Nghttpd.start(port, www);
  const dump = await Tcpdump.start('lo', `tcp port ${port}`, file, [], false);
  try {
    const { stdout } = await run('h2load', ['-n', String(REQUESTS), '-c', '4', '-m', '10', `http://127.0.0.1:${port}/index.html`], { maxBuffer: 1 << 24 });
    console.log(stdout.split('\n').filter((l) => /^(requests|status codes):/.test(l)).map((l) => `h2load: ${l}`).join('\n'));
  } finally {
    await dump.stop();
    await server.stop();
  }
  console.log(`tcpdump: ${dump.droppedByKernel()} packets dropped by the kernel`);
  if (values.keep) copyFileSync(file, values.keep);
  return port;
}

try {
  const port = values.file ? Number(values.port) : await record();
  if (!port) throw new Error('--file needs --port (the HTTP/2 server port in the capture)');
  const { sink, imp, tshark } = await importThenTshark(
    file,
    ['-n', '-d', `tcp.port==${port},http2`, '-Y', 'http2.type == 1', '-T', 'fields', '-e', 'frame.number', '-e', 'http2.streamid',
        '-e', 'http2.headers.method', '-e', 'http2.headers.path', '-e', 'http2.headers.status'],
    (stdout) => {
      let requests = 0;
      let responses = 0;
      for (const line of stdout.split('\n')) {
        const [, , methods, , statuses] = line.split('\t');
        if (methods) requests += methods.split(',').length;
        if (statuses) responses += statuses.split(',').length;
      }
      return { requests, responses };
    },
  );
  const packets = imp.value.counters.packets;
  const rate = (n: number, ms: number) => `${((n * 1000) / ms / 1000).toFixed(0)}k`;
  const row = (name: string, t: { ms: number; cpuMs: number }, what: string) =>
    console.log(`${name.padEnd(34)} ${t.ms.toFixed(0).padStart(6)} ms wall ${t.cpuMs.toFixed(0).padStart(6)} ms CPU  ${what}`);
  console.log(`machine: ${cpus().length} × ${cpus()[0].model}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  console.log(`capture: ${packets} packets, tshark: ${tshark.value.requests} requests, ${tshark.value.responses} responses`);
  row('import pipeline (counting sink)', imp, `${rate(sink.count, imp.cpuMs)} requests per CPU-s (${sink.count} entries, ${sink.answered} answered)`);
  row('tshark -T fields', tshark, `${rate(tshark.value.requests, tshark.cpuMs)} requests per CPU-s`);
  console.log(`ratio (CPU): import is ${(tshark.cpuMs / imp.cpuMs).toFixed(1)}x cheaper than tshark (goal ≥ 10x)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
