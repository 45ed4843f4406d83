/**
 * CLI start-up (issue 16): CPU time of `tapline --help`, `tapline query --hub` (against a hub that
 * answers nothing: connection refused, so only start-up and one failed request count) and
 * `tapline import` of a one-packet file, against `tshark -v` and `tshark -r` of the same file, run
 * after run, from the sources (tsx) and from the build (`npm run build`; the bench builds it and
 * removes it after unless --keep-build).
 *
 *   node --import tsx bench/cli-startup.ts [--runs 5] [--keep-build]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuNow } from './import-support.js';
import { Conversation, pcapFile } from '../backend/test/capture/frames.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] || 5) || 5;
const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'backend/bin/tapline.js');
const dir = mkdtempSync(join(tmpdir(), 'tapline-cli-bench-'));
const file = join(dir, 'one.pcap');
const c = new Conversation({ ip: '10.0.0.1', port: 40000 }, { ip: '10.0.0.2', port: 80 });
c.send('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
writeFileSync(file, pcapFile(1, c.frames.slice(0, 1)));

/** Median CPU ms of a command's runs (children's CPU, from /proc). */
function cpu(cmd: string, cmdArgs: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const before = cpuNow();
    spawnSync(cmd, cmdArgs, { stdio: 'ignore' });
    times.push(cpuNow() - before);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

const commands: Array<[string, string[], string[]]> = [
  ['--help', ['--help'], ['-v']],
  ['query --hub (refused)', ['query', '--hub', 'http://127.0.0.1:9', 'http'], ['-v']],
  ['import one packet --json', ['import', file, '--json', '--no-progress'], ['-r', file, '-n']],
];

function table(label: string): void {
  for (const [name, ours, theirs] of commands) {
    const a = cpu(process.execPath, [bin, ...ours]);
    const b = cpu('tshark', theirs);
    console.log(`| ${label} | ${name} | ${a.toFixed(0)} ms | tshark ${theirs.join(' ')}: ${b.toFixed(0)} ms | ${(a / b).toFixed(2)}x |`);
  }
}

console.log(`${new Date().toISOString()}, load ${execFileSync('cat', ['/proc/loadavg']).toString().split(' ').slice(0, 3).join(' ')}, ${runs} runs each, median CPU`);
console.log('| from | command | tapline | tshark | ratio |\n|---|---|---|---|---|');
table('sources (tsx)');
execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
try {
  table('build');
} finally {
  if (!args.includes('--keep-build')) rmSync(join(root, 'backend/dist'), { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}
