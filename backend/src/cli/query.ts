/**
 * `tapline query 'FILTER'`: matching entries, newest first, as a table or JSON lines; with
 * `--entry ID`, one entry in full, as its protocol's sections (the drawer's, as text). Reads the
 * store directly, or a running hub with --hub (needed while `tapline up` holds the embedded store).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { COMMAND_DESCRIPTIONS } from './command-list.js';
import { EntryLookup, listEntries, checkLimit } from '../hub/entries.js';
import type { EntryDetail, EntrySummary } from '../hub/shapes.js';
import { parseUserFilter, timeRange } from '../hub/params.js';
import { openStore, StoreLockedError, type Store } from '../store/index.js';
import { addStoreOptions, storeFromOptions, tokenFrom, type StoreArgOptions } from './hub.js';

interface QueryOptions extends StoreArgOptions {
  since?: number;
  from?: number;
  to?: number;
  limit: number;
  json?: boolean;
  hub?: string;
  token?: string;
  entry?: string;
}

const SPAN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const SPAN_MS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };

function parseSince(text: string): number {
  const m = SPAN.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration like 15m, 2h or 7d, got ${JSON.stringify(text)}`);
  return Number(m[1]) * SPAN_MS[m[2]];
}

/** ISO 8601 text or milliseconds since the epoch. */
function parseTime(text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new InvalidArgumentError(`expected a time like 2026-01-31T12:00:00Z or epoch ms, got ${JSON.stringify(text)}`);
  return ms;
}

function positive(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive whole number, got ${JSON.stringify(text)}`);
  return n;
}

export function registerQuery(program: Command): void {
  addStoreOptions(
    program
      .command('query')
      .description(COMMAND_DESCRIPTIONS.query)
      .argument('[filter]', 'e.g. \'http and status >= 500\' (empty: everything)', ''),
  )
    .option('--since <duration>', 'how far back, when --from is not given (default 1h)', parseSince)
    .option('--from <time>', 'start of the range (ISO 8601 or epoch ms)', parseTime)
    .option('--to <time>', 'end of the range (default now)', parseTime)
    .option('--limit <n>', 'most entries to print', positive, 50)
    .option('--json', 'JSON lines (one entry summary a line) instead of a table')
    .option('--hub <url>', 'ask a running hub (e.g. http://127.0.0.1:8787) instead of opening the store')
    .option('--token <token>', "the hub's token (or TAPLINE_TOKEN)")
    .option('--entry <id>', 'print this one entry in full (its sections), instead of a list')
    .action(async (filter: string, o: QueryOptions) => {
      if (o.entry !== undefined) {
        const detail = o.hub ? await entryViaHub(o.hub, tokenFrom(o), o.entry) : await withStore(o, '', (store) => new EntryLookup(store).get(o.entry!));
        process.stdout.write(o.json ? JSON.stringify(detail) + '\n' : formatDetail(detail));
        return;
      }
      const to = o.to ?? Date.now();
      const from = o.from ?? to - (o.since ?? 3_600_000);
      const entries = o.hub ? await viaHub(o.hub, tokenFrom(o), filter, from, to, o.limit) : await viaStore(o, filter, from, to);
      if (o.json) for (const e of entries) process.stdout.write(JSON.stringify(e) + '\n');
      else process.stdout.write(formatTable(entries));
    });
}

async function withStore<T>(o: QueryOptions, filter: string, use: (store: Store) => Promise<T>): Promise<T> {
  let store;
  try {
    store = openStore(storeFromOptions(o));
  } catch (err) {
    if (err instanceof StoreLockedError) {
      const args = o.entry !== undefined ? `--entry ${o.entry}` : `'${filter}'`;
      throw new Error(`${err.message}; while it runs, ask its hub: tapline query --hub http://127.0.0.1:8787 ${args}`);
    }
    throw err;
  }
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

async function viaStore(o: QueryOptions, filter: string, from: number, to: number): Promise<EntrySummary[]> {
  const expr = parseUserFilter(filter); // a bad filter fails before the store is opened
  const page = await withStore(o, filter, (store) => listEntries(store, { queryTimeoutMs: 60_000 }, expr, timeRange({ from, to }), checkLimit(o.limit)));
  return page.entries;
}

async function hubGet<T>(hub: string, token: string | undefined, url: URL, what: (body: T) => boolean): Promise<T> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} }).catch((err: Error) => {
    throw new Error(`cannot reach the hub at ${hub}: ${(err.cause as Error | undefined)?.message ?? err.message}`);
  });
  const body = (await res.json()) as T & { error?: { message: string } };
  if (!res.ok || !what(body)) throw new Error(`the hub answered ${res.status}: ${body.error?.message ?? 'nothing'}`);
  return body;
}

function entryViaHub(hub: string, token: string | undefined, id: string): Promise<EntryDetail> {
  return hubGet<EntryDetail>(hub, token, new URL(`/api/v1/entries/${encodeURIComponent(id)}`, hub), (b) => Array.isArray(b.sections));
}

async function viaHub(hub: string, token: string | undefined, filter: string, from: number, to: number, limit: number): Promise<EntrySummary[]> {
  const url = new URL('/api/v1/entries', hub);
  url.search = new URLSearchParams({ filter, from: String(from), to: String(to), limit: String(limit) }).toString();
  return (await hubGet<{ entries: EntrySummary[] }>(hub, token, url, (b) => Array.isArray(b.entries))).entries;
}

function endpoint(e: EntrySummary['src']): string {
  const name = e.pod ? `${e.namespace ? e.namespace + '/' : ''}${e.pod}` : e.ip;
  return e.service && !e.pod ? `${e.service}:${e.port}` : `${name}:${e.port}`;
}

export function formatTable(entries: EntrySummary[]): string {
  const rows = entries.map((e) => [
    new Date(e.startUs / 1000).toISOString().replace('T', ' ').slice(0, 23),
    e.protocol,
    e.operation,
    e.unanswered ? '-' : String(e.status),
    e.unanswered ? '-' : `${(e.durationUs / 1000).toFixed(1)}ms`,
    endpoint(e.src),
    endpoint(e.dst),
    e.target + (e.query ? `?${e.query}` : ''),
  ]);
  const header = ['TIME (UTC)', 'PROTO', 'OPERATION', 'STATUS', 'LATENCY', 'SOURCE', 'DESTINATION', 'TARGET'];
  const widths = header.map((h, i) => Math.min(48, Math.max(h.length, ...rows.map((r) => r[i].length))));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.slice(0, widths[i]).padEnd(widths[i]))).join('  ').trimEnd() + '\n';
  return line(header) + rows.map(line).join('') + (entries.length === 0 ? '(no entries)\n' : '');
}

/** Text bodies longer than this are cut in the terminal (the store keeps them whole). */
const MAX_BODY_CHARS = 4000;

/** One entry in full: a summary line, then its protocol's sections, tables aligned, bodies as text. */
export function formatDetail(d: EntryDetail): string {
  const status = d.unanswered ? 'no response' : `${d.status} ${d.statusText}`.trim();
  const lines = [
    `${d.protocol} ${d.operation} ${d.target} → ${status} (${(d.durationUs / 1000).toFixed(1)}ms)`,
    `${endpoint(d.src)} → ${endpoint(d.dst)}  ${new Date(d.startUs / 1000).toISOString()}  ${d.id}`,
  ];
  for (const s of d.sections) {
    lines.push('', s.title, '-'.repeat(s.title.length));
    if (s.kind === 'table') {
      const width = Math.min(32, Math.max(0, ...s.rows.map(([n]) => n.length)));
      for (const [n, v] of s.rows) lines.push(`${n.padEnd(width)}  ${v}`);
    } else {
      const b = s.body;
      const cut = b.truncated ? ` (truncated: ${b.size} bytes decoded)` : '';
      if (b.text === undefined) lines.push(`(${b.size} bytes, not text${cut})`);
      else {
        lines.push(b.text.length > MAX_BODY_CHARS ? `${b.text.slice(0, MAX_BODY_CHARS)}…` : b.text);
        if (cut || b.text.length > MAX_BODY_CHARS) lines.push(`(${b.size} bytes${cut})`);
      }
    }
  }
  return lines.join('\n') + '\n';
}
