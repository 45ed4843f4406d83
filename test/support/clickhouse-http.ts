/**
 * A loopback ClickHouse-over-HTTP endpoint for tests, backed by chDB in this process: enough of
 * the HTTP interface for @clickhouse/client (ping, query, command, exec, insert, query
 * parameters, settings, errors) to run the store's "server" code path with no server here.
 *
 * chDB binds one data directory per process, so the endpoint serves the directory this process
 * already uses (or a new one); tests can `stop()` and `start()` it to make the "server" go away
 * and come back on the same port. Not a ClickHouse server: no auth, no compression, no sessions;
 * `{name:Type}` parameters are substituted as CAST literals (parameters inside string literals
 * of the SQL are not supported); insert bodies must be UTF-8 text, or a Native block (staged as a
 * file the engine reads with FROM INFILE, as SQL text cannot carry binary).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Session } from 'chdb';

export interface ClickHouseHttpEndpoint {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** Requests answered so far. */
  readonly requests: number;
  /** Stops listening and drops open connections (the "server" goes away). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Same as stop(); the data directory stays (the caller owns it). */
  close(): Promise<void>;
}

/** URL parameters that are not settings (or are HTTP-layer settings chDB does not know). */
const NOT_SETTINGS = new Set([
  'query', 'database', 'default_format', 'query_id', 'session_id', 'session_timeout', 'session_check',
  'user', 'password', 'compress', 'decompress', 'enable_http_compression', 'wait_end_of_query',
  'send_progress_in_http_headers', 'http_headers_progress_interval_ms', 'http_response_buffer_size',
  'http_zlib_compression_level', 'role',
]);

const TSV_UNESCAPE: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', '0': '\0', "'": "'", '\\': '\\' };

function tsvUnescape(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, c: string) =>
    c.length === 3 ? String.fromCharCode(parseInt(c.slice(1), 16)) : (TSV_UNESCAPE[c] ?? c),
  );
}

function sqlLiteral(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The HTTP interface parses a parameter's text as the type's escaped text form; CAST does the same. */
function paramSql(type: string, raw: string): string {
  if (type === 'Identifier') return `\`${raw.replace(/`/g, '``')}\``;
  const base = type.replace(/^(Nullable|LowCardinality)\((.*)\)$/, '$2').replace(/^(Nullable|LowCardinality)\((.*)\)$/, '$2');
  if (raw === '\\N' && type.includes('Nullable')) return `CAST(NULL AS ${type})`;
  const composite = /^(Array|Map|Tuple|Nested)\(/.test(base);
  return `CAST(${sqlLiteral(composite ? raw : tsvUnescape(raw))} AS ${type})`;
}

function substituteParams(sql: string, params: Map<string, string>): string {
  return sql.replace(/\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^{}]+?)\s*\}/g, (whole, name: string, type: string) => {
    const raw = params.get(name);
    if (raw === undefined) throw new Error(`Code: 456. DB::Exception: Substitution \`${name}\` is not set. (UNKNOWN_QUERY_PARAMETER)`);
    return paramSql(type.trim(), raw);
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Starts the endpoint on 127.0.0.1 (a free port unless `port` is given) over `dataDir`. */
export async function startClickHouseHttp(dataDir: string, options: { port?: number } = {}): Promise<ClickHouseHttpEndpoint> {
  const dir = resolve(dataDir); // the same spelling openStore uses: chDB keys its one engine by path
  let requests = 0;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/ping' || (req.method === 'GET' && url.pathname === '/' && !url.searchParams.has('query'))) {
      await readBody(req);
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('Ok.\n');
      return;
    }
    const body = await readBody(req);
    const queryParam = url.searchParams.get('query');
    let sql = queryParam !== null ? (body.length > 0 ? `${queryParam}\n${body.toString('utf8')}` : queryParam) : body.toString('utf8');
    const nativeInsert = queryParam !== null && body.length > 0 ? /\bFORMAT\s+Native\s*$/i.exec(queryParam) : null;
    const staged = nativeInsert ? join(tmpdir(), `tapline-ch-http-${randomUUID()}.native`) : undefined;
    if (nativeInsert && staged && queryParam !== null) {
      await writeFile(staged, body);
      sql = `${queryParam.slice(0, nativeInsert.index)}FROM INFILE ${sqlLiteral(staged)} FORMAT Native`;
    }
    const params = new Map<string, string>();
    const prefix: string[] = ['SET output_format_json_quote_64bit_integers = 1']; // as a server does by default
    const database = url.searchParams.get('database');
    if (database) prefix.push(`USE \`${database.replace(/`/g, '``')}\``);
    for (const [k, v] of url.searchParams) {
      if (k.startsWith('param_')) params.set(k.slice(6), v);
      else if (!NOT_SETTINGS.has(k) && !k.startsWith('http_')) prefix.push(`SET ${k} = ${sqlLiteral(v)}`);
    }
    const queryId = url.searchParams.get('query_id') ?? randomUUID();
    const format = url.searchParams.get('default_format') ?? 'TabSeparated';
    // A Session per request keeps USE/SET from leaking between requests (sessions share the engine).
    const session = new Session(dir);
    try {
      if (params.size > 0) sql = substituteParams(sql, params);
      const result = await session.queryAsync(`${prefix.join('; ')}; ${sql}`, { format });
      const out = result.bytes();
      res.writeHead(200, {
        'Content-Type': 'text/plain; charset=UTF-8',
        'X-ClickHouse-Query-Id': queryId,
        'X-ClickHouse-Format': format,
        'X-ClickHouse-Summary': JSON.stringify({
          read_rows: String(result.rowsRead ?? 0), read_bytes: String(result.bytesRead ?? 0),
          written_rows: '0', written_bytes: '0', total_rows_to_read: '0', result_rows: '0', result_bytes: '0',
        }),
      });
      res.end(Buffer.from(out));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const code = /Code: (\d+)/.exec(message)?.[1] ?? '1001';
      res.writeHead(500, { 'Content-Type': 'text/plain', 'X-ClickHouse-Exception-Code': code, 'X-ClickHouse-Query-Id': queryId });
      res.end(message.startsWith('Code:') ? message : `Code: ${code}. DB::Exception: ${message}`);
    } finally {
      session.close();
      if (staged) await rm(staged, { force: true });
      requests++;
    }
  }

  let server: Server | undefined;
  let port = options.port ?? 0;

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          if (!res.headersSent) res.writeHead(500);
          res.end(String(err));
        });
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });

  const stop = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      if (!s) return resolve();
      s.close(() => resolve());
      s.closeAllConnections();
    });

  await start();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get requests() {
      return requests;
    },
    stop,
    start,
    close: stop,
  };
}
