/**
 * Benchmark: `tapline import` of a pgbench capture of ≥ 100k statements against `tshark -T fields`
 * on the same file (issue 20's goal: ≥ 10x less CPU).
 *
 *   node --import tsx bench/capture-offline-postgres.ts [--statements 100000] [--mode simple|extended|prepared] [--keep FILE] [--file FILE --port N]
 *
 * Builds the capture from real traffic: pgbench -S (the select-only script: one SELECT per
 * transaction) with 4 clients against a postgres 15 of its own on 127.0.0.1, captured by tcpdump
 * on lo. Then, one after the other on that file: the import pipeline into a counting sink, and
 * tshark's pgsql fields. Prints CPU time (the machine is shared: wall time says little),
 * statements per CPU-second and the ratio.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { importThenTshark, printComparison } from './import-support.js';
import { Tcpdump } from '../backend/test/agent/traffic.js';
import { PgServer } from '../backend/test/protocols/postgres-support.js';

const { values } = parseArgs({
  options: {
    statements: { type: 'string', default: '100000' },
    mode: { type: 'string', default: 'simple' },
    keep: { type: 'string' },
    file: { type: 'string' },
    port: { type: 'string' },
  },
});
const STATEMENTS = Number(values.statements);
const CLIENTS = 4;
const dir = mkdtempSync(join(tmpdir(), 'tapline-bench-pg-'));
const file = values.file ?? join(dir, 'pg.pcap');

async function record(): Promise<number> {
  const server = await PgServer.start({ cleartext: 'bench-clear', scram: 'bench-scram' });
  try {
    await server.pgbench('shop', ['-i', '-s', '1', '-q']);
    const dump = await Tcpdump.start('lo', `tcp port ${server.port}`, file, [], false);
    try {
      const out = await server.pgbench('shop', ['-n', '-S', '-M', values.mode!, '-c', String(CLIENTS), '-t', String(Math.ceil(STATEMENTS / CLIENTS))]);
      console.log(out.split('\n').filter((l) => /transactions actually processed|tps =/.test(l)).map((l) => `pgbench: ${l.trim()}`).join('\n'));
    } finally {
      await dump.stop();
    }
    console.log(`tcpdump: ${dump.droppedByKernel()} packets dropped by the kernel`);
  } finally {
    await server.stop();
  }
  if (values.keep) copyFileSync(file, values.keep);
  return server.port;
}

try {
  const port = values.file ? Number(values.port) : await record();
  if (!port) throw new Error('--file needs --port (the PostgreSQL server port in the capture)');
  const { sink, imp, tshark } = await importThenTshark(
    file,
    ['-n', '-d', `tcp.port==${port},pgsql`, '-Y', 'pgsql', '-T', 'fields', '-E', 'occurrence=a', '-e', 'frame.number', '-e', 'pgsql.type',
      '-e', 'pgsql.query', '-e', 'pgsql.tag', '-e', 'pgsql.code'],
    (stdout) => {
      // A statement completes with a CommandComplete (its tag) or an ErrorResponse (its code).
      let statements = 0;
      for (const line of stdout.split('\n')) {
        const [, , , tags, codes] = line.split('\t');
        if (tags) statements += tags.split(',').length;
        if (codes) statements += codes.split(',').length;
      }
      return statements;
    },
  );
  const pg = imp.value.counters.protocols.postgres;
  printComparison('statements', `${imp.value.counters.packets} packets of pgbench -S -M ${values.mode}, tshark: ${tshark.value} statements completed (${pg.parseErrors} parse errors in the import)`, imp, sink, tshark, tshark.value);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
