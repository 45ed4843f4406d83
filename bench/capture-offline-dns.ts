/**
 * Benchmark: `tapline import` of a DNS capture of ≥ 100k queries against `tshark -T fields` on the
 * same file (issue 19's goal: ≥ 10x less CPU).
 *
 *   node --import tsx bench/capture-offline-dns.ts [--queries 100000] [--keep FILE] [--file FILE --port N]
 *
 * Builds the capture from real traffic: dnsperf (apt-get install dnsperf) against dnsmasq serving a
 * local zone on 127.0.0.1 (A, AAAA, SRV, NXDOMAIN), captured by tcpdump on lo. Then, one after the
 * other on that file: the import pipeline into a counting sink, and tshark's DNS fields. Prints
 * CPU time, queries per CPU-second and the ratio.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { importThenTshark, printComparison } from './import-support.js';
import { freePort, Tcpdump } from '../backend/test/agent/traffic.js';
import { Dnsmasq } from '../backend/test/protocols/dns-support.js';

const { values } = parseArgs({
  options: {
    queries: { type: 'string', default: '100000' },
    keep: { type: 'string' },
    file: { type: 'string' },
    port: { type: 'string' },
  },
});
const QUERIES = Number(values.queries);
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-dns-'));
const file = values.file ?? join(dir, 'dns.pcap');

async function record(): Promise<number> {
  const port = await freePort();
  const dnsmasq = await Dnsmasq.start(port, [
    '--local=/zone.test/',
    '--address=/svc.test/10.0.0.7',
    '--host-record=web.zone.test,10.0.0.8,fd00::8',
    '--srv-host=_http._tcp.zone.test,web.zone.test,8080,0,5',
    '--cache-size=0',
  ]);
  const names = join(dir, 'queries.txt');
  writeFileSync(names, ['svc.test A', 'web.zone.test AAAA', '_http._tcp.zone.test SRV', 'nope.zone.test A'].join('\n') + '\n');
  const dump = await Tcpdump.start('lo', `udp port ${port}`, file, [], false);
  try {
    const child = spawn('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', names, '-n', String(Math.ceil(QUERIES / 4)), '-c', '4', '-Q', '20000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const [code] = await once(child, 'exit');
    if (code !== 0) throw new Error(`dnsperf exited ${code}: ${out}`);
    console.log(out.split('\n').filter((l) => /Queries (sent|completed|lost)/.test(l)).map((l) => `dnsperf: ${l.trim()}`).join('\n'));
  } finally {
    await dump.stop();
    await dnsmasq.stop();
  }
  console.log(`tcpdump: ${dump.droppedByKernel()} packets dropped by the kernel`);
  if (values.keep) copyFileSync(file, values.keep);
  return port;
}

try {
  const port = values.file ? Number(values.port) : await record();
  if (!port) throw new Error('--file needs --port (the DNS server port in the capture)');
  const { sink, imp, tshark } = await importThenTshark(
    file,
    ['-n', '-d', `udp.port==${port},dns`, '-Y', 'dns', '-T', 'fields', '-e', 'frame.number', '-e', 'dns.id', '-e', 'dns.qry.name',
        '-e', 'dns.qry.type', '-e', 'dns.flags.response', '-e', 'dns.flags.rcode', '-e', 'dns.time'],
    (stdout) => {
      const lines = stdout.split('\n').filter((l) => l !== '');
      return { queries: lines.filter((l) => l.split('\t')[4] === '0' || l.split('\t')[4] === 'False').length, responses: lines.filter((l) => l.split('\t')[4] === '1' || l.split('\t')[4] === 'True').length };
    },
  );
  const packets = imp.value.counters.packets;
  printComparison('queries', `${packets} packets, tshark: ${tshark.value.queries} queries, ${tshark.value.responses} responses`, imp, sink, tshark, tshark.value.queries);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
