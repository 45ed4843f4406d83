/** Test support: the real `tapline agent` CLI as a child process, entries read from its stdout. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { JsonEntry } from '../../src/agent/json-sink.js';
import { waitFor } from '../../../test/support/wait.js';

const cli = new URL('./cli.ts', import.meta.url).pathname;

export class AgentProcess {
  private out = '';
  err = '';
  readonly entries: JsonEntry[] = [];

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => {
      this.out += d.toString('utf8');
      let nl: number;
      while ((nl = this.out.indexOf('\n')) >= 0) {
        this.entries.push(JSON.parse(this.out.slice(0, nl)) as JsonEntry);
        this.out = this.out.slice(nl + 1);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (this.err += d.toString('utf8')));
  }

  /** Starts `tapline agent ARGS --json` (optionally inside `ip netns exec`), resolved once capturing. */
  static async start(args: string[], prefix: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<AgentProcess> {
    const cmd = [...prefix, process.execPath, '--import', 'tsx', cli, 'agent', ...args, '--json', '--agent-name', 'test-agent'];
    const a = new AgentProcess(spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env }));
    await waitFor('the agent to capture', () => {
      if (a.child.exitCode !== null) throw new Error(`agent exited: ${a.err}`);
      return a.err.includes('tapline agent: capturing on');
      // Start-up (tsx compiling the CLI) takes seconds, and far more on a loaded CI machine.
    }, 60_000);
    return a;
  }

  /** Sends `signal` and waits for the exit; returns the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    const [code] = (await exited) as [number | null];
    return code;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Counts each path: every one must appear exactly once. */
export function pathCounts(entries: JsonEntry[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of entries) m.set(e.target, (m.get(e.target) ?? 0) + 1);
  return m;
}
