/** Runs `tapline` commands as child processes for the CLI tests, and always ends them. */
import { spawn, type ChildProcess } from 'node:child_process';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code, or the signal's name when a signal ended it. */
  exited: Promise<number | string | null>;
}

export function tapline(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: { ...process.env, TAPLINE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | string | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs a command to its end (bounded); returns its exit code and output. */
export async function taplineRun(args: string[], timeoutMs = 60_000): Promise<{ code: number | string | null; stdout: string; stderr: string }> {
  const r = tapline(args);
  const timer = setTimeout(() => r.child.kill('SIGKILL'), timeoutMs);
  const code = await r.exited;
  clearTimeout(timer);
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

/** Stops a running command with SIGINT, then SIGKILL if it does not exit in time. */
export async function stop(r: Running, timeoutMs = 15_000): Promise<number | string | null> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return r.child.exitCode ?? r.child.signalCode;
  r.child.kill('SIGINT');
  const timer = setTimeout(() => r.child.kill('SIGKILL'), timeoutMs);
  const code = await r.exited;
  clearTimeout(timer);
  return code;
}

export { freePort } from '../../../test/support/ports.js';

