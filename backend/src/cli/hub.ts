/**
 * `tapline hub`: the HTTP API over a store (an embedded data directory or a ClickHouse server),
 * without capturing. In cluster mode agents write to ClickHouse and hubs follow it.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { COMMAND_DESCRIPTIONS } from './command-list.js';
import { createHub } from '../hub/server.js';
import { createLogger } from '../log.js';
import { loadProtoDir } from '../protocols/grpc/schemas.js';
import { migrate, openStore, storeConfigFrom, type StoreCliOptions, type StoreConfig } from '../store/index.js';
import { addRetentionOptions, describeRetention, startRetention, type RetentionCliOptions } from './retention.js';

export function registerHub(program: Command): void {
  addRetentionOptions(addHubOptions(
    addStoreOptions(program.command('hub')
      .description(COMMAND_DESCRIPTIONS.hub)),
  ))
    .option('--settle <ms>', 'live stream: inserts are assumed visible this long after their insert time', nonNegativeInt, 1000)
    .action(async (o: HubCliOptions & StoreArgOptions & RetentionCliOptions & { settle: number }) => {
    const log = createLogger('hub');
    const config = storeFromOptions(o);
    const store = openStore(config);
    // An embedded store belongs to this process: make sure its tables exist. A server's schema is
    // created by whoever writes (agents, `tapline seed`); the hub may have a read-only user.
    if (config.kind === 'embedded') await migrate(store, { logger: log });
    const retention = await startRetention(store, o, log);
    useProtoOption(o);
    const hub = await createHub({ store, ...hubSettings(o), live: { settleMs: o.settle }, logger: log });
    const url = await hub.listen();
    log.info({ url, store: config.kind === 'embedded' ? config.dataDir : config.url }, 'hub listening');
    console.log(`tapline hub: serving ${url}/api/v1 over ${config.kind === 'embedded' ? `the embedded store in ${config.dataDir}` : config.url}`);
    console.log(describeRetention(o));
    await onSignal(async () => {
      await hub.close();
      await retention.stop();
      await store.close();
    });
  });
}

/** Waits for SIGINT/SIGTERM, runs the shutdown once, then exits. */
export function onSignal(shutdown: () => Promise<void>): Promise<never> {
  return new Promise(() => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`tapline: ${signal}, stopping\n`);
      shutdown().then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`tapline: shutdown failed: ${(err as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

// Options shared with `tapline up` and `tapline query`.

export interface ListenAddress {
  host: string;
  port: number;
}

/** "127.0.0.1:8787", "[::1]:8787", "0.0.0.0:80", ":8787" (loopback), "8787". */
/** `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or a bare `PORT` (host 127.0.0.1). */
export function parseListen(text: string): ListenAddress {
  const t = text.trim();
  const m = /^\d{1,5}$/.test(t) ? [t, undefined, '', t] : /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(t);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new InvalidArgumentError(`expected HOST:PORT like 127.0.0.1:8787 (or a port), got ${JSON.stringify(text)}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function nonNegativeInt(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number, got ${JSON.stringify(text)}`);
  return n;
}

const collect = (v: string, acc: string[]) => [...acc, v];

export interface HubCliOptions {
  listen: ListenAddress;
  token?: string;
  corsOrigin: string[];
  allowHost: string[];
  queryTimeout: number;
  /** .proto files for gRPC messages with field names. */
  proto?: string;
}

export function addHubOptions(cmd: Command): Command {
  return cmd
    .option('--listen <host:port>', 'address of the HTTP API', parseListen, parseListen('127.0.0.1:8787'))
    .option('--token <token>', 'require "Authorization: Bearer <token>" (or TAPLINE_TOKEN); needed beyond loopback')
    .option('--cors-origin <origin>', 'allow this browser origin (repeatable; none by default)', collect, [])
    .option('--allow-host <name>', 'without a token, answer requests for this host name too (repeatable; default: 127.0.0.1, localhost, [::1] and the listen host)', collect, [])
    .option('--query-timeout <ms>', 'longest a store query may run', nonNegativeInt, 10_000)
    .option('--proto <dir>', 'a directory of .proto files: gRPC messages are shown with their field names');
}

/** Loads `--proto` (the drawer's gRPC schemas), saying what it found. */
export function useProtoOption(o: HubCliOptions): void {
  if (o.proto === undefined) return;
  console.log(`gRPC schemas: ${loadProtoDir(o.proto)} methods from ${o.proto}`);
}

export function tokenFrom(o: { token?: string }): string | undefined {
  return o.token ?? (process.env.TAPLINE_TOKEN || undefined);
}

/** The hub's settings from its command-line options. */
export function hubSettings(o: HubCliOptions) {
  return { host: o.listen.host, port: o.listen.port, token: tokenFrom(o), corsOrigins: o.corsOrigin, allowHosts: o.allowHost, queryTimeoutMs: o.queryTimeout };
}

export interface StoreArgOptions extends StoreCliOptions {
  /** A data directory or an http(s) URL, as `tapline import --store` takes it. */
  store?: string;
}

export function addStoreOptions(cmd: Command): Command {
  return cmd
    .option('--store <dir|url>', 'the store: a data directory (embedded) or a ClickHouse URL')
    .option('--data <dir>', 'embedded store directory (default .tapline/data)')
    .option('--url <url>', 'ClickHouse server, e.g. http://127.0.0.1:8123 (or TAPLINE_CLICKHOUSE_URL)')
    .option('--user <name>', 'ClickHouse user (or TAPLINE_CLICKHOUSE_USER)')
    .option('--password <secret>', 'ClickHouse password (or TAPLINE_CLICKHOUSE_PASSWORD)')
    .option('--database <name>', 'database (default tapline)');
}

/** `--store` is either kind; it fills in `--url` or `--data` and the rest is the store's own rule. */
export function storeFromOptions(o: StoreArgOptions): StoreConfig {
  if (o.store && (o.data || o.url)) throw new InvalidArgumentError('give --store, or --data/--url, not both');
  if (o.store) {
    if (!/^https?:\/\//.test(o.store)) return storeConfigFrom({ ...o, data: o.store });
    const url = new URL(o.store);
    return storeConfigFrom({
      ...o,
      url: `${url.protocol}//${url.host}`,
      user: o.user ?? (decodeURIComponent(url.username) || undefined),
      password: o.password ?? (decodeURIComponent(url.password) || undefined),
    });
  }
  return storeConfigFrom(o);
}
