/**
 * Test support for MySQL: a MariaDB server (the Debian package) in a temp dir on 127.0.0.1, run as
 * root with its own data directory and socket; administration goes through the socket (never
 * captured); the `mariadb` and `mysqlslap` clients; and tshark's reading of a capture.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../../../test/support/wait.js';
import { freePort } from '../agent/traffic.js';

const run = promisify(execFile);

export class MariaDb {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly dir: string,
  ) {}

  get socket(): string {
    return join(this.dir, 'sock');
  }

  /** A fresh data directory, mariadbd on 127.0.0.1:<free port>; resolves once it accepts connections. */
  static async start(extra: string[] = []): Promise<MariaDb> {
    const dir = mkdtempSync(join(tmpdir(), 'tapline-mysql-'));
    const data = join(dir, 'data');
    await run('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db']);
    const port = await freePort();
    const log = join(dir, 'error.log');
    const child = spawn(
      'mariadbd',
      [
        '--no-defaults', `--datadir=${data}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${join(dir, 'sock')}`,
        '--user=root', `--pid-file=${join(dir, 'pid')}`, `--log-error=${log}`, '--skip-log-bin', '--innodb-buffer-pool-size=32M',
        '--max-allowed-packet=64M', '--local-infile=1', ...extra,
      ],
      { stdio: 'ignore' },
    );
    const db = new MariaDb(child, port, dir);
    const logText = () => readFileSync(log, { encoding: 'utf8', flag: 'a+' });
    try {
      await waitFor(() => `mariadbd to start: ${logText()}`, () => /ready for connections/.test(logText()) || child.exitCode !== null, 30_000);
      if (child.exitCode !== null) throw new Error(`mariadbd failed: ${logText()}`);
    } catch (e) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return db;
  }

  /** Runs SQL as root over the Unix socket (not on the captured port). */
  async admin(sql: string): Promise<string> {
    const { stdout } = await run('mariadb', ['--no-defaults', `--socket=${this.socket}`, '-uroot', '--batch', '-e', sql]);
    return stdout;
  }

  /** The `mariadb` client over TCP; stdout, or the error's stderr when it fails. */
  async client(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const { stdout, stderr } = await run('mariadb', ['--no-defaults', '-h127.0.0.1', `-P${this.port}`, ...args]);
      return { stdout, stderr, code: 0 };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: err.code ?? -1 };
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One client request as tshark reads it, with the error that answered it (0 when none). */
export interface TsharkRequest {
  clientPort: number;
  /** COM_ number, or -1 for the login request. */
  command: number;
  query: string;
  user: string;
  stmtId: number;
  errno: number;
  sqlstate: string;
}

/** COM_ numbers of the commands the tests send, as MySQL's documentation numbers them. */
export const COMMANDS: Record<string, number> = {
  LOGIN: -1, QUIT: 1, INIT_DB: 2, QUERY: 3, FIELD_LIST: 4, STATISTICS: 9, PING: 14, CHANGE_USER: 17,
  STMT_PREPARE: 22, STMT_EXECUTE: 23, STMT_CLOSE: 25, STMT_RESET: 26,
};

/**
 * Every request tshark finds in `file` (decoding `port` as MySQL), in capture order per client port;
 * an ERR the server sends is given to the newest request of that client still without a reply.
 */
export async function tsharkMysql(file: string, port: number): Promise<TsharkRequest[]> {
  const args = ['-r', file, '-n', '-o', 'tcp.reassemble_out_of_order:TRUE', '-d', `tcp.port==${port},mysql`, '-Y', 'mysql'];
  args.push(
    '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=\u0001',
    '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'mysql.command', '-e', 'mysql.query', '-e', 'mysql.stmt_id',
    '-e', 'mysql.user', '-e', 'mysql.error_code', '-e', 'mysql.sqlstate', '-e', 'mysql.login_request',
  );
  const { stdout } = await run('tshark', args, { maxBuffer: 1 << 30 });
  const all: TsharkRequest[] = [];
  const open = new Map<number, TsharkRequest[]>();
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [sport, dport, commands, queries, stmtIds, users, errnos, sqlstates] = line.split('\t');
    const list = (s: string) => (s ? s.split('\u0001') : []);
    if (Number(dport) === port) {
      const client = Number(sport);
      const pending = open.get(client) ?? [];
      open.set(client, pending);
      const user = list(users);
      // A handshake response has a user and no command (COM_CHANGE_USER has both).
      if (user.length > 0 && commands === '') {
        const r: TsharkRequest = { clientPort: client, command: -1, query: '', user: user[0], stmtId: -1, errno: 0, sqlstate: '' };
        all.push(r);
        pending.push(r);
      }
      const qs = list(queries);
      const ids = list(stmtIds);
      let q = 0;
      let id = 0;
      for (const c of list(commands)) {
        const command = Number(c);
        // tshark 4.0 reads a LOCAL INFILE's contents as a command ('m' of "melon…" is 109): no COM_ is above 0x1f.
        if (command > 0x1f) continue;
        const withText = command === COMMANDS.QUERY || command === COMMANDS.STMT_PREPARE;
        const withId = command === COMMANDS.STMT_EXECUTE || command === COMMANDS.STMT_CLOSE || command === COMMANDS.STMT_RESET;
        const r: TsharkRequest = {
          clientPort: client,
          command,
          query: withText ? (qs[q++] ?? '') : '',
          user: command === COMMANDS.CHANGE_USER ? (user[0] ?? '') : '',
          stmtId: withId ? Number(ids[id++] ?? -1) : -1,
          errno: 0,
          sqlstate: '',
        };
        all.push(r);
        if (command !== COMMANDS.STMT_CLOSE && command !== COMMANDS.QUIT) pending.push(r);
      }
    } else {
      const pending = open.get(Number(dport)) ?? [];
      const states = list(sqlstates);
      list(errnos).forEach((e, i) => {
        const r = pending.pop();
        if (!r) return;
        r.errno = Number(e);
        r.sqlstate = states[i] ?? '';
      });
    }
  }
  return all;
}
