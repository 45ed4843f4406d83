/**
 * Test support for Redis: redis-server started on a free port in a temp dir (no persistence),
 * redis-cli as a client, and tshark's reading of a capture (the `resp` dissector's PDML tree),
 * rendered the way redis-cli prints replies (`--no-raw`), for comparison with the entries.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Entry } from '../../src/entries/entry.js';
import { waitFor } from '../../../test/support/wait.js';

const run = promisify(execFile);

export class RedisServer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly port: number,
    readonly log: () => string,
  ) {}

  /** redis-server on 127.0.0.1:`port` in a temp dir, without persistence; resolves once it accepts connections. */
  static async start(port: number, extra: string[] = []): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), 'tapline-redis-'));
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', ...extra];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout!.on('data', (d) => (log += d));
    child.stderr!.on('data', (d) => (log += d));
    const s = new RedisServer(child, dir, port, () => log);
    try {
      await waitFor(() => `redis-server to start: ${log}`, () => /Ready to accept connections/.test(log) || child.exitCode !== null, 10_000);
      if (child.exitCode !== null) throw new Error(`redis-server failed: ${log}`);
    } catch (e) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return s;
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

/** `redis-cli -p port args…` (stdin: `input`); its stdout. */
export async function redisCli(port: number, args: string[], input?: string): Promise<string> {
  const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  child.stdin.end(input ?? '');
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`redis-cli ${args.join(' ')} exited ${code}: ${err}`);
  return out;
}

/** A RESP value as tshark's tree shows it. */
export type TsharkValue =
  | { t: 'simple' | 'error' | 'integer'; text: string }
  | { t: 'bulk'; bytes: Buffer | null }
  /** `length`: as declared (tshark may show fewer items than that of a big reply). */
  | { t: 'array'; length: number; items: TsharkValue[] | null };

/** One top-level message tshark found, with the client port of its connection and whether the client sent it. */
export interface TsharkMessage {
  frame: number;
  clientPort: number;
  fromClient: boolean;
  value: TsharkValue;
}

interface Node {
  name: string;
  show: string;
  value: string;
  children: Node[];
}

const attr = (tag: string, name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1] ?? '';

/** Every RESP message tshark decodes in `file`, decoding tcp port `port` as `resp`, in capture order. */
export async function tsharkResp(file: string, port: number): Promise<TsharkMessage[]> {
  const { stdout } = await run(
    'tshark',
    ['-r', file, '-n', '-o', 'tcp.reassemble_out_of_order:TRUE', '-d', `tcp.port==${port},resp`, '-Y', 'resp', '-T', 'pdml'],
    { maxBuffer: 1 << 30 },
  );
  const out: TsharkMessage[] = [];
  for (const packet of stdout.split('<packet>').slice(1)) {
    const frame = Number(/<field name="frame.number"[^>]* show="(\d+)"/.exec(packet)?.[1]);
    const sport = Number(/<field name="tcp.srcport"[^>]* show="(\d+)"/.exec(packet)?.[1]);
    const dport = Number(/<field name="tcp.dstport"[^>]* show="(\d+)"/.exec(packet)?.[1]);
    const fromClient = dport === port;
    for (const proto of packet.split('<proto name="resp"').slice(1)) {
      const body = proto.slice(0, proto.indexOf('</proto>'));
      for (const node of tree(body)) {
        const value = toValue(node);
        if (value !== null) out.push({ frame, clientPort: fromClient ? sport : dport, fromClient, value });
      }
    }
  }
  return out;
}

/** The field elements of a PDML fragment as a tree. */
function tree(xml: string): Node[] {
  const root: Node = { name: '', show: '', value: '', children: [] };
  const stack = [root];
  for (const m of xml.matchAll(/<field\b[^>]*?(\/?)>|<\/field>/g)) {
    const tag = m[0];
    if (tag === '</field>') {
      stack.pop();
      continue;
    }
    const node: Node = { name: attr(tag, 'name'), show: attr(tag, 'show'), value: attr(tag, 'value'), children: [] };
    stack[stack.length - 1].children.push(node);
    if (m[1] !== '/') stack.push(node);
  }
  return root.children;
}

const hexBytes = (h: string) => Buffer.from(h, 'hex');
/** A simple string's or error's text from the line's bytes (type byte and CRLF dropped). */
const lineText = (h: string) => hexBytes(h).subarray(1).toString('utf8').replace(/\r\n$/, '');

function toValue(n: Node): TsharkValue | null {
  switch (n.name) {
    case 'resp.string':
      return { t: 'simple', text: lineText(n.value) };
    case 'resp.error':
      return { t: 'error', text: lineText(n.value) };
    case 'resp.integer':
      return { t: 'integer', text: n.show };
    case 'resp.bulk_string': {
      const len = n.children.find((c) => c.name === 'resp.bulk_string.length');
      const v = n.children.find((c) => c.name === 'resp.bulk_string.value');
      if (Number(len?.show) < 0) return { t: 'bulk', bytes: null };
      return { t: 'bulk', bytes: v ? hexBytes(v.value) : Buffer.alloc(0) };
    }
    case 'resp.array': {
      const len = n.children.find((c) => c.name === 'resp.array.length');
      const length = Number(len?.show);
      if (length < 0) return { t: 'array', length, items: null };
      return { t: 'array', length, items: n.children.map(toValue).filter((v): v is TsharkValue => v !== null) };
    }
    default:
      return null;
  }
}

/** redis-cli's quoting of a string (sdscatrepr). */
export function repr(b: Buffer): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x5c || c === 0x22) s += `\\${String.fromCharCode(c)}`;
    else if (c === 0x0a) s += '\\n';
    else if (c === 0x0d) s += '\\r';
    else if (c === 0x09) s += '\\t';
    else if (c === 0x07) s += '\\a';
    else if (c === 0x08) s += '\\b';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return `${s}"`;
}

/** A reply as `redis-cli --no-raw` prints it (cliFormatReplyTTY), without the last newline. */
export function cliFormat(v: TsharkValue, prefix = ''): string {
  return format(v, prefix).replace(/\n$/, '');
}

function format(v: TsharkValue, prefix: string): string {
  switch (v.t) {
    case 'simple':
      return `${v.text}\n`;
    case 'error':
      return `(error) ${v.text}\n`;
    case 'integer':
      return `(integer) ${v.text}\n`;
    case 'bulk':
      return v.bytes === null ? '(nil)\n' : `${repr(v.bytes)}\n`;
    case 'array': {
      if (v.items === null) return '(nil)\n';
      if (v.items.length === 0) return '(empty array)\n';
      const idxlen = String(v.length).length;
      const inner = prefix + ' '.repeat(idxlen + 2);
      return v.items.map((item, i) => `${i === 0 ? '' : prefix}${String(i + 1).padStart(idxlen)}) ${format(item, inner)}`).join('');
    }
  }
}

/** A command as the entries render it: each word quoted, space-separated (as MONITOR shows commands). */
export function commandText(v: TsharkValue): string {
  if (v.t !== 'array' || v.items === null) return '';
  return v.items.map((i) => (i.t === 'bulk' && i.bytes !== null ? repr(i.bytes) : '?')).join(' ');
}

const CONFIRMS = new Set(['subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe', 'ssubscribe', 'sunsubscribe']);
const word = (v: TsharkValue | undefined) => (v?.t === 'bulk' && v.bytes ? v.bytes.toString('utf8').toLowerCase() : '');

/**
 * tshark's messages of one client port as exchanges, by RESP's rules: each command answered by
 * the next server message in order; a subscription command by one confirmation per channel; a
 * pub/sub message (`message`, `pmessage`) on a subscribed connection answers nothing. Rows:
 * `command → reply` (replies of one command a line apart) and `push → message`.
 */
export function tsharkRows(messages: TsharkMessage[], clientPort: number): { commands: string[]; pushes: string[]; partial: Set<number> } {
  const mine = messages.filter((m) => m.clientPort === clientPort);
  const waiting: Array<{ text: string; replies: string[]; expect: number; partial: boolean }> = [];
  const done: Array<{ text: string; replies: string[]; partial: boolean }> = [];
  const pushes: string[] = [];
  let subscribed = false;
  for (const m of mine) {
    if (m.fromClient) {
      const text = commandText(m.value);
      const name = text.split(' ', 1)[0].replace(/"/g, '').toLowerCase();
      const channels = m.value.t === 'array' && m.value.items ? m.value.items.length - 1 : 0;
      // An argument-less (P)UNSUBSCRIBE is confirmed once per subscription it ends: it takes them all.
      const expect = CONFIRMS.has(name) ? (channels > 0 ? channels : name.endsWith('unsubscribe') ? Infinity : 1) : 1;
      waiting.push({ text, replies: [], expect, partial: false });
      continue;
    }
    const v = m.value;
    const kind = v.t === 'array' && v.items ? word(v.items[0]) : '';
    const head0 = waiting[0];
    if (head0 && head0.expect === Infinity && head0.replies.length > 0 && kind !== head0.text.split(' ', 1)[0].replace(/"/g, '').toLowerCase()) {
      done.push(waiting.shift()!);
    }
    if (subscribed && (kind === 'message' || kind === 'pmessage')) {
      pushes.push(`push → ${cliFormat(v)}`);
      continue;
    }
    if (CONFIRMS.has(kind) && v.t === 'array' && v.items) {
      const n = v.items[2];
      subscribed = n?.t === 'integer' && Number(n.text) > 0;
    }
    const head = waiting[0];
    if (!head) continue;
    head.replies.push(cliFormat(v));
    head.partial ||= partial(v);
    if (head.replies.length >= head.expect) done.push(waiting.shift()!);
  }
  const all = [...done, ...waiting];
  return {
    commands: all.map((x) => `${x.text} → ${x.replies.length === 0 ? 'unanswered' : x.replies.join('\n')}`),
    pushes,
    partial: new Set(all.flatMap((x, i) => (x.partial ? [i] : []))),
  };
}

/** tshark shows fewer items than an array declares (a big reply beyond its tree's limits). */
function partial(v: TsharkValue): boolean {
  return v.t === 'array' && v.items !== null && (v.items.length < v.length || v.items.some(partial));
}

/** The entries of one client port as the same rows. */
export function entryRows(entries: Entry[], clientPort: number): { commands: string[]; pushes: string[] } {
  const mine = entries.filter((e) => e.src.port === clientPort).sort((a, b) => a.startUs - b.startUs);
  const text = (b: { bytes: Buffer }) => b.bytes.toString('latin1');
  return {
    commands: mine.filter((e) => e.fields['redis.push'] !== 1).map((e) => `${text(e.requestBody)} → ${e.unanswered ? 'unanswered' : text(e.responseBody)}`),
    pushes: mine.filter((e) => e.fields['redis.push'] === 1).map((e) => `push → ${text(e.responseBody)}`),
  };
}
