/**
 * Benchmark: `tapline import` of a MySQL capture of ≥ 100k statements against `tshark -T fields` on
 * the same file (goal: ≥ 10x less CPU).
 *
 *   node --import tsx bench/capture-offline-mysql.ts [--queries 100000] [--keep FILE] [--file FILE --port N]
 *
 * Builds the capture from real traffic: mysqlslap (mixed auto-generated INSERTs and SELECTs, 4
 * clients) against MariaDB in a temp dir on 127.0.0.1, captured by tcpdump on lo. Then, one after
 * the other on that file: the import pipeline into a counting sink, and tshark's MySQL fields.
 * Prints CPU time, statements per CPU-second and the ratio.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { importThenTshark } from './import-support.js';
import { Tcpdump } from '../backend/test/agent/traffic.js';
import { MariaDb } from '../backend/test/protocols/mysql-support.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    queries: { type: 'string', default: '100000' },
    keep: { type: 'string' },
    file: { type: 'string' },
    port: { type: 'string' },
  },
});
const QUERIES = Number(values.queries);
const CLIENTS = 4;
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-mysql-'));
const file = values.file ?? join(dir, 'mysql.pcap');

async function record(): Promise<number> {
  // No fsync per INSERT: the bench measures the dissector, not the disk.
  const db = await MariaDb.start(['--innodb-flush-log-at-trx-commit=0', '--skip-innodb-doublewrite']);
  const dump = await Tcpdump.start('lo', `tcp port ${db.port}`, file, [], false);
  try {
    const { stdout } = await run('mysqlslap', [
      '--no-defaults', '-h127.0.0.1', `-P${db.port}`, '-uroot', `--concurrency=${CLIENTS}`, '--iterations=1',
      `--number-of-queries=${QUERIES}`, '--auto-generate-sql', '--auto-generate-sql-load-type=key', '--auto-generate-sql-add-autoincrement', '--create-schema=slap',
    ], { maxBuffer: 1 << 24 });
    console.log(stdout.split('\n').filter((l) => /seconds|clients/.test(l)).map((l) => `mysqlslap: ${l.trim()}`).join('\n'));
  } finally {
    await dump.stop();
    await db.stop();
  }
  console.log(`tcpdump: ${dump.droppedByKernel()} packets dropped by the kernel`);
  if (values.keep) copyFileSync(file, values.keep);
  return db.port;
}

try {
  const port = values.file ? Number(values.port) : await record();
  if (!port) throw new Error('--file needs --port (the MySQL server port in the capture)');
  const { sink, imp, tshark } = await importThenTshark(
    file,
    ['-n', '-d', `tcp.port==${port},mysql`, '-Y', 'mysql', '-T', 'fields', '-E', 'occurrence=a', '-e', 'frame.number', '-e', 'mysql.command',
        '-e', 'mysql.query', '-e', 'mysql.error_code', '-e', 'mysql.response_code', '-e', 'mysql.affected_rows'],
    (stdout) => {
      const commands = stdout.split('\n').map((l) => l.split('\t')[1] ?? '').filter((c) => c !== '');
      return { statements: commands.flatMap((c) => c.split(',')).filter((c) => c === '3').length };
    },
  );
  const packets = imp.value.counters.packets;
  const counters = imp.value.counters.protocols.mysql;
  const rate = (n: number, ms: number) => `${((n * 1000) / ms / 1000).toFixed(0)}k`;
  const row = (name: string, t: { ms: number; cpuMs: number }, what: string) =>
    console.log(`${name.padEnd(34)} ${t.ms.toFixed(0).padStart(6)} ms wall ${t.cpuMs.toFixed(0).padStart(6)} ms CPU  ${what}`);
  console.log(`machine: ${cpus().length} × ${cpus()[0].model}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  console.log(`capture: ${packets} packets, tshark: ${tshark.value.statements} COM_QUERY statements`);
  console.log(`mysql counters: ${JSON.stringify(counters)}`);
  row('import pipeline (counting sink)', imp, `${rate(sink.count, imp.cpuMs)} entries per CPU-s (${sink.count} entries, ${sink.answered} answered)`);
  row('tshark -T fields', tshark, `${rate(tshark.value.statements, tshark.cpuMs)} statements per CPU-s`);
  console.log(`ratio (CPU): import is ${(tshark.cpuMs / imp.cpuMs).toFixed(1)}x cheaper than tshark (goal ≥ 10x)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
