/**
 * Benchmark: the live agent on loopback under wrk.
 *
 *   node --import tsx bench/capture-live.ts [--seconds 10] [--connections 8]
 *
 * nginx serves a small page on 127.0.0.1; `tapline agent -i lo --json` captures its port while
 * wrk runs for the given time. Prints the requests wrk completed, the entries the agent wrote
 * (goal: equal), the agent's CPU seconds per 100k requests (from /proc, startup excluded), its RSS
 * at the end, and libpcap's drop counter.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Nginx } from '../backend/test/agent/nginx.js';
import { waitFor } from '../test/support/wait.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '8' } } });
const cli = new URL('../backend/test/agent/cli.ts', import.meta.url).pathname;
const TICKS = 100; // USER_HZ on Linux
const outFile = join(tmpdir(), `tapline-live-bench-${process.pid}.jsonl`);

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime
}

function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

const nginx = await Nginx.start({ 'index.html': '<html><body>' + 'live benchmark page. '.repeat(20) + '</body></html>' });
try {
  // Entries go to a file (page cache): a pipe would make this process's reading part of the measurement.
  const out = openSync(outFile, 'w');
  const agent = spawn(process.execPath, ['--import', 'tsx', cli, 'agent', '-i', 'lo', '--filter', `tcp port ${nginx.port}`, '--json', '--agent-name', 'bench'], {
    stdio: ['ignore', out, 'pipe'],
  });
  closeSync(out);
  let err = '';
  agent.stderr!.on('data', (d) => (err += d));
  await waitFor('the agent to capture', () => err.includes('capturing on'), 60_000);
  const cpu0 = cpuSeconds(agent.pid!);
  const { stdout } = await run('wrk', [`-t1`, `-c${values.connections}`, `-d${values.seconds}s`, `http://127.0.0.1:${nginx.port}/index.html`]);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  // The agent may still be working through its buffer: wait until the count stops moving.
  let last = -1;
  let since = Date.now();
  await waitFor('the entries to stop growing', () => {
    const size = statSync(outFile).size;
    if (size !== last) {
      last = size;
      since = Date.now();
    }
    return Date.now() - since > 2000;
  }, 120_000);
  const cpu = cpuSeconds(agent.pid!) - cpu0;
  const rss = rssMb(agent.pid!);
  const exited = once(agent, 'exit');
  agent.kill('SIGINT');
  await exited;
  const text = readFileSync(outFile);
  let lines = 0;
  for (let i = text.indexOf(10); i >= 0; i = text.indexOf(10, i + 1)) lines++;
  rmSync(outFile, { force: true });
  const drops = /lo dropped \(libpcap\)\s+(\d+)/.exec(err)?.[1];
  const packets = /packets\s+(\d+)/.exec(err)?.[1];
  console.log(`machine: ${cpus().length} × ${cpus()[0].model}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${new Date().toISOString()}`);
  console.log(`wrk: ${requests} requests in ${values.seconds} s over ${values.connections} connections (${Math.round(requests / Number(values.seconds))} req/s)`);
  const sinkDrops = /entries dropped \(sink full\)\s+(\d+)/.exec(err)?.[1];
  console.log(`agent: ${lines} entries (${lines - requests >= 0 ? '+' : ''}${lines - requests} vs wrk; wrk does not count requests cut off at its end), ${packets} packets, libpcap drops ${drops}, entries dropped at the sink ${sinkDrops}`);
  if (process.env.BENCH_VERBOSE) console.log(err);
  console.log(`agent CPU: ${cpu.toFixed(2)} s in all, ${((cpu / Math.max(requests, 1)) * 1e5).toFixed(2)} s per 100k requests; RSS at the end ${rss.toFixed(0)} MB`);
} finally {
  await nginx.stop();
}
