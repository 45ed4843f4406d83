/**
 * Runs the real `tapline` CLI (backend/src/cli/main.ts through tsx), or another TypeScript program
 * of the repository (test/support/*-up.ts), as a child process for the plugin's end-to-end tests.
 * backend/test/hub/processes.ts does the same for node:test, but it is an ES module (import.meta)
 * that Jest's CommonJS runtime cannot load.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { realFetch } from './node-fetch';

const ROOT = join(__dirname, '../../..');
const BACKEND = join(ROOT, 'backend');

export interface TaplineProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function tapline(args: string[]): TaplineProcess {
  return tsxProgram('src/cli/main.ts', args, BACKEND);
}

/** Runs a TypeScript program through tsx; `script` is relative to `cwd` (the repository root by default). */
export function tsxProgram(script: string, args: string[] = [], cwd = ROOT): TaplineProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd,
    env: { ...process.env, TAPLINE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Runs a command to its end; fails with its output if it does not exit 0 within `ms`. */
export async function taplineRun(args: string[], ms: number): Promise<string> {
  const p = tapline(args);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), ms);
  const code = await p.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`tapline ${args.join(' ')} exited ${code}:\n${p.output()}`);
  return p.output();
}

/** Waits for a line of the process's output that matches `pattern`; fails with the output if it exits or `ms` pass first. */
export async function waitForLine(p: TaplineProcess, pattern: RegExp, ms: number): Promise<RegExpMatchArray> {
  const end = Date.now() + ms;
  for (;;) {
    for (const line of p.output().split('\n')) {
      const m = line.match(pattern);
      if (m) return m;
    }
    if (p.child.exitCode !== null) throw new Error(`the process exited (${p.child.exitCode}) before printing ${pattern}:\n${p.output()}`);
    if (Date.now() > end) throw new Error(`no line matching ${pattern} within ${ms} ms:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGINT (or `signal`) to the child's PID, then SIGKILL if it lingers. */
export async function stopProcess(p: TaplineProcess | undefined, ms = 15_000, signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), ms);
  await p.exited;
  clearTimeout(timer);
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Polls until the hub's health answers 200 with `ready(body)`, or fails with the process output. */
export async function waitHealthy(p: TaplineProcess, base: string, ms: number, ready: (h: { agent?: { running: boolean } }) => boolean = () => true) {
  const end = Date.now() + ms;
  for (;;) {
    if (p.child.exitCode !== null) throw new Error(`tapline exited early:\n${p.output()}`);
    const res = await realFetch(`${base}/api/v1/health`).catch(() => undefined);
    if (res?.ok && ready(await res.json())) return;
    if (Date.now() > end) throw new Error(`the hub at ${base} was not healthy within ${ms} ms:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
