/**
 * Test support for PostgreSQL: a postgres 15 server of the test's own (initdb in a temp dir, run
 * as the `postgres` user, on 127.0.0.1 and a free port, stopped by pg_ctl on its data dir), psql
 * and pgbench as clients, and tshark's reading of a capture (the reference entries are compared
 * with).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../agent/traffic.js';

const run = promisify(execFile);
export const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Users the server knows: one logs in with a cleartext password, one with SCRAM-SHA-256; `postgres` is trusted. */
export const CLEARTEXT_USER = 'plainuser';
export const SCRAM_USER = 'scramuser';

function postgresIds(): { uid: number; gid: number } {
  const [, uid, gid] = /^postgres:[^:]*:(\d+):(\d+):/m.exec(execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }))!;
  return { uid: Number(uid), gid: Number(gid) };
}

/** A client started: the process, and its stdout and stderr once it ends (a rejection naming its exit code unless in `okCodes`). */
function client(cmd: string, args: string[], env: NodeJS.ProcessEnv, input: string, okCodes: number[]): { child: ChildProcess; output: Promise<string> } {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  child.stdin!.end(input);
  const output = once(child, 'exit').then(([code]) => {
    if (!okCodes.includes(code as number)) throw new Error(`${cmd} exited ${code}: ${out}`);
    return out;
  });
  return { child, output };
}

export interface PsqlOptions {
  user?: string;
  password?: string;
  /** What psql reads on stdin (COPY FROM STDIN data). */
  input?: string;
  sslmode?: string;
  /** The login is meant to fail (psql exits 2). */
  loginFails?: boolean;
}

export class PgServer {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** initdb, pg_hba (trust for postgres, `password` and `scram-sha-256` for the two users), start, create the users. */
  static async start(passwords: { cleartext: string; scram: string }): Promise<PgServer> {
    if (userInfo().uid !== 0) throw new Error('the PostgreSQL tests run as root (they start postgres as the postgres user)');
    const dir = mkdtempSync(join(tmpdir(), 'tapline-pg-'));
    const { uid, gid } = postgresIds();
    chownSync(dir, uid, gid);
    const port = await freePort();
    const s = new PgServer(dir, port);
    const asPostgres = (cmd: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', cmd, ...args], { cwd: dir });
    await asPostgres(`${PG_BIN}/initdb`, ['-D', s.dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const hba = [
      `local all all trust`,
      `host all ${CLEARTEXT_USER} 127.0.0.1/32 password`,
      `host all ${SCRAM_USER} 127.0.0.1/32 scram-sha-256`,
      `host all all 127.0.0.1/32 trust`,
    ].join('\n');
    writeFileSync(join(s.dataDir, 'pg_hba.conf'), hba + '\n');
    chownSync(join(s.dataDir, 'pg_hba.conf'), uid, gid);
    const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c password_encryption=scram-sha-256 -c fsync=off -c max_connections=40`;
    try {
      await asPostgres(`${PG_BIN}/pg_ctl`, ['-D', s.dataDir, '-o', opts, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    await s.psql('postgres', ['-v', 'ON_ERROR_STOP=1',
      '-c', `CREATE ROLE ${CLEARTEXT_USER} LOGIN PASSWORD '${passwords.cleartext}'`,
      '-c', `CREATE ROLE ${SCRAM_USER} LOGIN PASSWORD '${passwords.scram}'`,
      '-c', `CREATE DATABASE shop`,
      '-c', `GRANT ALL ON DATABASE shop TO ${CLEARTEXT_USER}, ${SCRAM_USER}`,
      '-c', `ALTER DATABASE shop OWNER TO ${SCRAM_USER}`,
    ]);
    return s;
  }

  /** psql over TCP (captured) as `user`, with `args` and `input` on stdin; its stdout and stderr (psql exits 1 when the last statement failed, 2 when it could not log in: the tests provoke both). */
  psql(database: string, args: string[], o: PsqlOptions = {}): Promise<string> {
    return this.startPsql(database, args, o).output;
  }

  /** psql started (the test may interrupt it); see `psql`. */
  startPsql(database: string, args: string[], o: PsqlOptions = {}): { child: ChildProcess; output: Promise<string> } {
    const env = { ...process.env, PGPASSWORD: o.password ?? '', PGCONNECT_TIMEOUT: '10', PGSSLMODE: o.sslmode ?? 'disable', PGGSSENCMODE: 'disable', PGAPPNAME: 'psql-test' };
    return client(`${PG_BIN}/psql`, ['-X', '-q', '-h', '127.0.0.1', '-p', String(this.port), '-U', o.user ?? 'postgres', '-d', database, ...args], env, o.input ?? '', o.loginFails ? [2] : [0, 1]);
  }

  /** pgbench with `args` against `database` over TCP; its output. */
  pgbench(database: string, args: string[]): Promise<string> {
    const env = { ...process.env, PGSSLMODE: 'disable', PGGSSENCMODE: 'disable' };
    return client(`${PG_BIN}/pgbench`, ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', ...args, database], env, '', [0]).output;
  }

  async stop(): Promise<void> {
    await run('runuser', ['-u', 'postgres', '--', `${PG_BIN}/pg_ctl`, '-D', this.dataDir, '-m', 'fast', '-w', 'stop'], { cwd: this.dir }).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One PostgreSQL message as tshark reads it (several in one frame are apart). */
export interface TsharkPg {
  frame: number;
  clientPort: number;
  fromClient: boolean;
  type: string;
  query: string;
  statement: string;
  portal: string;
  tag: string;
  code: string;
}

/**
 * Every PostgreSQL message tshark finds in `file` decoding `port` as pgsql: the type (its long
 * name, as tshark gives it) and the fields the comparison needs, in capture order.
 */
export async function tsharkPg(file: string, port: number): Promise<TsharkPg[]> {
  const args = [
    '-r', file, '-n', '-o', 'tcp.reassemble_out_of_order:TRUE', '-d', `tcp.port==${port},pgsql`, '-Y', 'pgsql',
    '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=\u0001',
    '-e', 'frame.number', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'pgsql.type', '-e', 'pgsql.query',
    '-e', 'pgsql.statement', '-e', 'pgsql.portal', '-e', 'pgsql.tag', '-e', 'pgsql.code',
  ];
  const { stdout } = await run('tshark', args, { maxBuffer: 1 << 30 });
  const out: TsharkPg[] = [];
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [frame, sport, dport, types, queries, statements, portals, tags, codes] = line.split('\t');
    const fromClient = Number(dport) === port;
    const list = (s: string) => (s ? s.split('\u0001') : []);
    // Per message, the field lists are consumed in order by the messages that carry them.
    const q = list(queries);
    const st = list(statements);
    const po = list(portals);
    const tg = list(tags);
    const cd = list(codes);
    for (const type of list(types)) {
      const m: TsharkPg = { frame: Number(frame), clientPort: fromClient ? Number(sport) : Number(dport), fromClient, type, query: '', statement: '', portal: '', tag: '', code: '' };
      if (type === 'Simple query' || type === 'Parse') m.query = q.shift() ?? '';
      if (type === 'Parse') m.statement = st.shift() ?? '';
      if (type === 'Bind') {
        m.portal = po.shift() ?? '';
        m.statement = st.shift() ?? '';
      }
      if (type === 'Execute') m.portal = po.shift() ?? '';
      if (type === 'Describe' || type === 'Close') {
        // tshark names a statement or a portal: either list may carry it
      }
      if (type === 'Command completion') m.tag = tg.shift() ?? '';
      if (type === 'Error') m.code = cd.shift() ?? '';
      if (type === 'Notice') cd.shift();
      out.push(m);
    }
  }
  return out;
}

/** A statement as tshark's messages show it executed: its text (a Query's whole text) and its completion (tag, or "E" + SQLSTATE). */
export interface TsharkStatement {
  clientPort: number;
  text: string;
  completion: string;
}

/**
 * tshark's messages as executed statements, per connection in order: each CommandComplete,
 * EmptyQueryResponse or ErrorResponse completes the Query under way, or the Execute (its text
 * through the portal's Bind and the statement's Parse), or the Parse/Bind it refuses.
 */
export function tsharkStatements(messages: TsharkPg[]): TsharkStatement[] {
  const out: TsharkStatement[] = [];
  const conns = new Map<number, { statements: Map<string, string>; portals: Map<string, string>; waiting: Array<{ type: string; text: string }>; query: string | null }>();
  for (const m of messages) {
    let c = conns.get(m.clientPort);
    if (!c) conns.set(m.clientPort, (c = { statements: new Map(), portals: new Map(), waiting: [], query: null }));
    if (m.fromClient) {
      if (m.type === 'Simple query') c.query = m.query;
      else if (m.type === 'Parse') {
        c.statements.set(m.statement, m.query);
        c.waiting.push({ type: 'Parse', text: m.query });
      } else if (m.type === 'Bind') {
        c.portals.set(m.portal, c.statements.get(m.statement) ?? '');
        c.waiting.push({ type: 'Bind', text: c.statements.get(m.statement) ?? '' });
      } else if (m.type === 'Execute') c.waiting.push({ type: 'Execute', text: c.portals.get(m.portal) ?? '' });
      else if (m.type === 'Sync') c.waiting.push({ type: 'Sync', text: '' });
      continue;
    }
    const completion = m.type === 'Command completion' ? m.tag : m.type === 'Empty query' ? 'EmptyQueryResponse' : m.type === 'Error' ? `E${m.code}` : null;
    if (m.type === 'Parse completion' || m.type === 'Bind completion') c.waiting.shift();
    if (m.type === 'Ready for query') {
      c.query = null;
      c.waiting = c.waiting.slice(c.waiting.findIndex((w) => w.type === 'Sync') + 1);
    }
    if (completion === null) continue;
    if (c.query !== null) out.push({ clientPort: m.clientPort, text: c.query, completion });
    else {
      const w = c.waiting.shift();
      if (w) out.push({ clientPort: m.clientPort, text: w.text, completion });
      if (completion.startsWith('E')) c.waiting = c.waiting.slice(c.waiting.findIndex((x) => x.type === 'Sync'));
    }
  }
  return out;
}
