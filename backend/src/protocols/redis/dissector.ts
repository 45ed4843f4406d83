/**
 * Redis (RESP2 and RESP3) over TCP. Found by content (a command array `*N\r\n$`, an inline command,
 * or a reply on a connection picked up mid-stream), port 6379 only as a hint.
 *
 * Commands are paired with replies in order (Redis answers first come, first served, pipelined or
 * not). What is not a reply is shown as what it is: a pub/sub message, a RESP3 push, a MONITOR line
 * or a subscription confirmation nobody asked for is a one-way entry; a (P|S)SUBSCRIBE is answered
 * by its confirmations, one per channel. Inside MULTI each command is answered QUEUED
 * (`redis.queued`); the EXEC entry lists the queued commands and shows their results, and fails
 * as its first failed command does.
 */
import { emptyBody, HeaderList, Outcome, REDACTED, type Body, type Entry, type ProtocolFields } from '../../entries/entry.js';
import type { Direction, EndReason, StreamConsumer } from '../../net/stream.js';
import { Detection, type Dissector, type DissectorContext, type Exchange, type Section } from '../dissector.js';
import { InOrderPairing } from '../pairing.js';
import { fieldsTable, side, table } from '../represent.js';
import { channelOf, firstKey, operationOf, SECRET_COMMANDS, secretArguments, secretReplyItems, type ItemText } from './commands.js';
import { parseCount, RespReader, T, typeName, type RespMessage } from './resp.js';

const REDIS_PORT = 6379;

/** Error prefixes that say the request was wrong as sent (or sent to the wrong node); the others are the server's failures. */
const CLIENT_ERRORS = new Set([
  'ERR', 'WRONGTYPE', 'NOAUTH', 'WRONGPASS', 'NOPERM', 'NOSCRIPT', 'NOGROUP', 'BUSYKEY', 'BUSYGROUP', 'EXECABORT',
  'CROSSSLOT', 'NOPROTO', 'MOVED', 'ASK', 'READONLY', 'NOTBUSY',
]);

/** Subscription confirmations, by the command (upper case) each confirms. */
const CONFIRMATIONS = new Map([
  ['subscribe', 'SUBSCRIBE'], ['unsubscribe', 'UNSUBSCRIBE'], ['psubscribe', 'PSUBSCRIBE'], ['punsubscribe', 'PUNSUBSCRIBE'],
  ['ssubscribe', 'SSUBSCRIBE'], ['sunsubscribe', 'SUNSUBSCRIBE'],
]);
/** Which subscriptions (channels, patterns, shard channels) each confirmation changes. */
const SUBSCRIPTION_KIND: Record<string, 0 | 1 | 2> = {
  SUBSCRIBE: 0, UNSUBSCRIBE: 0, PSUBSCRIBE: 1, PUNSUBSCRIBE: 1, SSUBSCRIBE: 2, SUNSUBSCRIBE: 2,
};
/** Channel names remembered per kind (to know how many confirmations an argument-less UNSUBSCRIBE gets). */
const MAX_SUBSCRIPTIONS = 4096;
/** Queued commands an EXEC entry lists. */
const MAX_QUEUED = 1024;
/** Replies whose text (error message, simple string) becomes the status text, cut here. */
const MAX_STATUS_TEXT = 512;

/** Commands whose replies carry secrets (redacted items): a queued one makes that EXEC item secret. */
const SECRET_REPLIES = new Set(['CONFIG GET', 'SENTINEL CONFIG', 'ACL GETUSER', 'ACL LIST']);

interface Command {
  msg: RespMessage;
  /** The command word, upper case. */
  name: string;
  operation: string;
  startUs: number;
  endUs: number;
}

/** What redaction needs of a body: where its items are, and how many there were. */
interface Items {
  operation: string;
  offsets: Int32Array;
  count: number;
  /** Reply item indexes known to be secret when the body was made (an EXEC's queued secret replies). */
  secret: number[];
}

/**
 * Bodies' item positions, kept beside the bodies for `redact` (which runs after emission, and only
 * when redaction is on): a body that is never redacted takes its positions with it.
 */
const bodyItems = new WeakMap<Body, Items>();

/** The attributes of every entry but an EXEC's: none (nothing writes into an empty list). */
const NO_ATTRIBUTES = HeaderList.of([]);

/** A command word, upper case (most arrive upper case already: no copy then). */
function upper(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) return s.toUpperCase();
  }
  return s;
}

function body(msg: RespMessage): Body {
  return { bytes: msg.rendering, wireSize: msg.wireBytes, size: msg.truncated ? msg.wireBytes : msg.rendering.length, truncated: msg.truncated, encoding: '' };
}

/** An error's prefix: its first word (`ERR`, `WRONGTYPE`, `MOVED`…). */
function errorPrefix(text: string): string {
  const sp = text.indexOf(' ');
  return sp < 0 ? text : text.slice(0, sp);
}

export function redisOutcome(x: Pick<Exchange, 'unanswered' | 'fields'>): Outcome {
  if (x.fields['redis.push'] === 1) return Outcome.oneWay;
  if (x.unanswered) return Outcome.none;
  const error = x.fields['redis.error'];
  if (error === undefined) return Outcome.ok;
  return CLIENT_ERRORS.has(error as string) ? Outcome.clientError : Outcome.serverError;
}

const cut = (s: string) => (s.length > MAX_STATUS_TEXT ? s.slice(0, MAX_STATUS_TEXT) : s);

/** Replies of one connection's commands, paired in order, with the connection's state (db, RESP version, MULTI, subscriptions). */
class RedisConnection implements StreamConsumer {
  private readonly pairing: InOrderPairing<Command, RespMessage>;
  private readonly readers: [RespReader, RespReader];
  private db: number | undefined;
  private resp: 2 | 3 | undefined;
  /** Commands queued since MULTI was answered OK (operation and key), null outside a transaction. */
  private queued: string[] | null = null;
  private queuedSecret: number[] = [];
  private queuedCount = 0;
  /** The subscription command answered by its first confirmation, waiting for the others. */
  private collecting: { cmd: Command; replies: RespMessage[]; remaining: number } | null = null;
  private readonly subscriptions: [Set<string>, Set<string>, Set<string>] = [new Set(), new Set(), new Set()];
  /** Subscriptions the server last confirmed (channels and patterns): in RESP2, a client with some only gets pushes. */
  private subscribed = 0;
  private monitoring = false;
  /** Replies still to come for commands given up (over the pending limit, or timed out): skipped, to keep the order. */
  private skipReplies = 0;
  /** After the client's bytes were lost: replies before the next command answer lost commands. */
  private resyncing = false;
  /** Set while the pairing gives up requests because the connection (or a direction) was cut. */
  private cutting = false;

  constructor(
    private readonly ctx: DissectorContext,
    private readonly clientDir: Direction,
  ) {
    this.db = ctx.conn.midStream ? undefined : 0;
    this.resp = ctx.conn.midStream ? undefined : 2;
    this.pairing = new InOrderPairing(ctx.limits, (cmd, reply) => this.settle(cmd, reply));
    const error = () => ctx.counters.parseErrors++;
    const max = ctx.limits.maxBodyBytes;
    // Item offsets only where redaction may look: secret-bearing commands, and the replies to those with secret replies.
    const client = new RespReader(true, max, (m) => this.command(m), error, (m) => SECRET_COMMANDS.has(upper(m.items[0] ?? '')));
    const server = new RespReader(false, max, (m) => this.reply(m), error, () => this.secretReplyNext());
    this.readers = clientDir === 0 ? [client, server] : [server, client];
  }

  data(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    this.readers[dir].data(buf, start, end, tsUs);
  }

  gap(dir: Direction): void {
    this.readers[dir].gap();
    // Which commands the lost bytes held, or which replies, is unknown: what waits is given up.
    this.giveUp();
    if (dir === this.clientDir) this.resyncing = true;
  }

  fin(): void {}

  end(reason: EndReason): void {
    if (reason === 'rst' || reason === 'evicted') this.giveUp();
    this.flush();
    this.pairing.end();
  }

  tick(nowUs: number): void {
    if (this.collecting !== null && this.collecting.replies[this.collecting.replies.length - 1].endUs < nowUs - this.ctx.limits.unansweredTimeoutUs) this.flush();
    this.pairing.tick(nowUs);
  }

  private giveUp(): void {
    this.flush();
    this.cutting = true;
    this.pairing.end();
    this.cutting = false;
    this.skipReplies = 0;
  }

  private command(msg: RespMessage): void {
    if (msg.items.length === 0) return;
    const name = upper(msg.items[0]);
    this.pairing.request({ msg, name, operation: operationOf(name, msg.items), startUs: msg.startUs, endUs: msg.endUs });
  }

  /** The next reply may carry secrets: it answers a command whose reply does (or an EXEC, which may hold one). */
  private secretReplyNext(): boolean {
    const op = this.pairing.oldest?.operation;
    return op !== undefined && (SECRET_REPLIES.has(op) || op === 'EXEC');
  }

  private reply(msg: RespMessage): void {
    const kind = msg.type === T.array || msg.type === T.push ? (msg.items[0] ?? '').toLowerCase() : '';
    // A confirmation is [kind, channel, count]: the count, an integer, tells it from a reply of three strings.
    const confirms = msg.itemCount === 3 && msg.itemTypes[2] === T.integer ? CONFIRMATIONS.get(kind) : undefined;
    if (confirms !== undefined) return this.confirmation(msg, confirms);
    if (this.isPush(msg, kind)) return this.oneWay(msg, kind === '' ? 'PUSH' : kind.toUpperCase());
    if (this.monitoring && msg.type === T.simple && this.pairing.waiting === 0) return this.oneWay(msg, 'MONITOR');
    this.flush();
    if (this.skipReplies > 0) {
      this.skipReplies--;
      return;
    }
    const oldest = this.pairing.oldest;
    if (this.resyncing) {
      if (oldest === undefined || msg.startUs < oldest.startUs) {
        this.ctx.counters.orphanResponses++;
        return;
      }
      this.resyncing = false;
    }
    if (!this.pairing.response(msg)) this.ctx.counters.orphanResponses++;
  }

  /** A RESP3 push, or a RESP2 pub/sub message (to a client that has subscriptions, or that waits for nothing). */
  private isPush(msg: RespMessage, kind: string): boolean {
    if (msg.type === T.push) return true;
    if (msg.type !== T.array) return false;
    const shaped = ((kind === 'message' || kind === 'smessage') && msg.itemCount === 3) || (kind === 'pmessage' && msg.itemCount === 4);
    return shaped && (this.subscribed > 0 || this.pairing.waiting === 0);
  }

  private confirmation(msg: RespMessage, command: string): void {
    const set = this.subscriptions[SUBSCRIPTION_KIND[command]];
    const channel = msg.items[1];
    if (command.includes('UNSUB')) set.delete(channel);
    else if (set.size < MAX_SUBSCRIPTIONS) set.add(channel);
    this.subscribed = Number(msg.items[2]) || 0;
    const c = this.collecting;
    if (c !== null && c.cmd.operation === command && c.remaining > 0) {
      c.replies.push(msg);
      if (--c.remaining === 0) this.flush();
      return;
    }
    this.flush();
    if (this.pairing.oldest?.operation === command && this.skipReplies === 0) this.pairing.response(msg);
    else this.oneWay(msg, command);
  }

  /** The subscription command being answered is done: emitted with the confirmations it got. */
  private flush(): void {
    const c = this.collecting;
    if (c === null) return;
    this.collecting = null;
    this.emit(c.cmd, c.replies);
  }

  private settle(cmd: Command, reply: RespMessage | null): void {
    if (reply === null) {
      // Given up while its reply is still to come (limit, timeout): that reply must not answer the next command.
      if (!this.cutting) this.skipReplies++;
      return this.emit(cmd, null);
    }
    const kind = SUBSCRIPTION_KIND[cmd.operation];
    if (kind !== undefined && reply.type !== T.error) {
      const channels = cmd.msg.count - 1;
      const expected = channels > 0 ? channels : Math.max(1, this.subscriptions[kind].size + 1);
      if (expected > 1) {
        this.collecting = { cmd, replies: [reply], remaining: expected - 1 };
        return;
      }
    }
    this.emit(cmd, [reply]);
  }

  /** The connection's state after a command's reply, and the command's exchange. */
  private emit(cmd: Command, replies: RespMessage[] | null): void {
    const reply = replies?.[0] ?? null;
    const ok = reply !== null && reply.type !== T.error && reply.type !== T.bulkError;
    const op = cmd.operation;
    if (reply !== null && reply.type !== T.simple && reply.type !== T.error && reply.type !== T.integer && reply.type !== T.bulk && reply.type !== T.array) this.resp = 3;
    let queuedInto = false;
    let exec: { queued: string[]; secret: number[]; count: number } | null = null;
    if (ok && op === 'MULTI') this.startTransaction();
    else if (op === 'EXEC' || op === 'DISCARD') {
      if (this.queued !== null && op === 'EXEC') exec = { queued: this.queued, secret: this.queuedSecret, count: this.queuedCount };
      this.queued = null;
    } else if (this.queued !== null && reply?.type === T.simple && reply.items[0] === 'QUEUED') {
      queuedInto = true;
      if (SECRET_REPLIES.has(op)) this.queuedSecret.push(this.queuedCount);
      if (this.queued.length < MAX_QUEUED) {
        const key = firstKey(cmd.name, op, cmd.msg.items, cmd.msg.count);
        this.queued.push(key === '' ? op : `${op} ${key}`);
      }
      this.queuedCount++;
    }
    if (ok && op === 'SELECT') this.db = Number(cmd.msg.items[1]) || 0;
    if (ok && op === 'HELLO' && (cmd.msg.items[1] === '2' || cmd.msg.items[1] === '3')) this.resp = cmd.msg.items[1] === '3' ? 3 : 2;
    if (ok && op === 'MONITOR') this.monitoring = true;
    if (ok && op === 'RESET') {
      this.db = 0;
      this.resp = 2;
      this.queued = null;
      this.monitoring = false;
      this.subscribed = 0;
      for (const s of this.subscriptions) s.clear();
    }
    this.ctx.counters.exchanges++;
    if (reply === null) this.ctx.counters.unanswered++;
    this.ctx.emit(this.exchange(cmd, replies, queuedInto, exec));
  }

  private startTransaction(): void {
    this.queued = [];
    this.queuedSecret = [];
    this.queuedCount = 0;
  }

  private exchange(cmd: Command, replies: RespMessage[] | null, queued: boolean, exec: { queued: string[]; secret: number[]; count: number } | null): Exchange {
    const m = cmd.msg;
    const op = cmd.operation;
    const channel = channelOf(cmd.name, m.items);
    const key = channel === '' ? firstKey(cmd.name, op, m.items, m.count) : '';
    const fields: Record<string, string | number> = { 'redis.command': op, 'redis.args': Math.max(0, m.count - 1) };
    if (key !== '') fields['redis.key'] = key;
    if (channel !== '') fields['redis.channel'] = channel;
    if (this.db !== undefined) fields['redis.db'] = this.db;
    if (m.type === 0) fields['redis.inline'] = 1;
    if (queued) fields['redis.queued'] = 1;
    const reply = replies?.[0] ?? null;
    let statusText = '';
    let responseBody = emptyBody();
    let endUs = cmd.endUs;
    if (reply !== null) {
      fields['redis.reply'] = typeName(reply.type, reply.count);
      if (reply.type === T.array || reply.type === T.map || reply.type === T.set || reply.type === T.push) {
        if (reply.count >= 0) fields['redis.elements'] = reply.type === T.map ? reply.count / 2 : reply.count;
      }
      const error = reply.firstError !== '' ? reply.firstError : '';
      if (error !== '') {
        fields['redis.error'] = errorPrefix(error);
        statusText = cut(error);
      } else if (reply.type === T.simple) statusText = cut(reply.items[0] ?? '');
      responseBody = replies!.length === 1 ? body(reply) : joined(replies!);
      endUs = replies![replies!.length - 1].endUs;
      const secret = exec?.secret ?? [];
      if (reply.offsets.length > 0 || secret.length > 0) {
        bodyItems.set(responseBody, { operation: op, offsets: reply.offsets, count: reply.itemCount, secret: replies!.length === 1 ? secret : [] });
      }
    }
    const requestBody = body(m);
    if (m.offsets.length > 0) bodyItems.set(requestBody, { operation: op, offsets: m.offsets, count: m.count, secret: [] });
    return {
      clientDir: this.clientDir,
      protocolVersion: this.resp === undefined ? '' : String(this.resp),
      startUs: cmd.startUs,
      endUs,
      durationUs: reply !== null ? Math.max(0, endUs - cmd.startUs) : 0,
      operation: op,
      target: channel !== '' ? channel : key,
      query: '',
      host: '',
      status: 0,
      statusText,
      requestHeaders: exec === null ? NO_ATTRIBUTES : HeaderList.of(exec.queued.map((q, i) => [String(i + 1), q])),
      responseHeaders: NO_ATTRIBUTES,
      requestBody,
      responseBody,
      fields: fields as ProtocolFields,
      unanswered: reply === null,
      incomplete: reply === null && this.cutting,
    };
  }

  /** A message the server sent unasked: a pub/sub message, a push, a MONITOR line, a stray confirmation. */
  private oneWay(msg: RespMessage, operation: string): void {
    const kind = operation.toLowerCase();
    const channel = kind === 'pmessage' ? (msg.items[2] ?? '') : kind === 'message' || kind === 'smessage' || CONFIRMATIONS.has(kind) ? (msg.items[1] ?? '') : '';
    const fields: Record<string, string | number> = { 'redis.command': operation, 'redis.push': 1, 'redis.reply': typeName(msg.type, msg.count) };
    if (channel !== '') fields['redis.channel'] = channel;
    if (kind === 'pmessage') fields['redis.pattern'] = msg.items[1] ?? '';
    if (this.db !== undefined) fields['redis.db'] = this.db;
    this.ctx.counters.exchanges++;
    this.ctx.emit({
      clientDir: this.clientDir,
      protocolVersion: this.resp === undefined ? '' : String(this.resp),
      startUs: msg.startUs,
      endUs: msg.endUs,
      durationUs: 0,
      operation,
      target: channel,
      query: '',
      host: '',
      status: 0,
      statusText: '',
      requestHeaders: NO_ATTRIBUTES,
      responseHeaders: NO_ATTRIBUTES,
      requestBody: emptyBody(),
      responseBody: body(msg),
      fields: fields as ProtocolFields,
      unanswered: false,
      incomplete: false,
    });
  }
}

/** Several replies (a subscription's confirmations) as one body, a line apart. */
function joined(replies: RespMessage[]): Body {
  const bytes = Buffer.concat(replies.flatMap((r, i) => (i === 0 ? [r.rendering] : [NEWLINE, r.rendering])));
  const wire = replies.reduce((n, r) => n + r.wireBytes, 0);
  const truncated = replies.some((r) => r.truncated);
  return { bytes, wireSize: wire, size: truncated ? wire : bytes.length, truncated, encoding: '' };
}

const NEWLINE = Buffer.from('\n');

/** Item i of a rendering as text (its quotes removed), undefined when not recorded or cut. */
function itemReader(bytes: Buffer, offsets: Int32Array, truncated: boolean): ItemText {
  return (i) => {
    if (2 * i + 1 >= offsets.length) return undefined;
    const s = offsets[2 * i];
    const e = offsets[2 * i + 1];
    if (e > bytes.length || (truncated && e === bytes.length)) return undefined;
    const quoted = e - s >= 2 && bytes[s] === 0x22 && bytes[e - 1] === 0x22;
    return bytes.toString('utf8', quoted ? s + 1 : s, quoted ? e - 1 : e);
  };
}

/** Replaces items of `b` (indexes; one past the recorded ones: everything from there) by REDACTED, in place. */
function redactItems(b: Body, items: Items, secret: number[]): void {
  if (secret.length === 0) return;
  const { offsets } = items;
  const recorded = offsets.length / 2;
  const parts: Buffer[] = [];
  let at = 0;
  const marker = Buffer.from(REDACTED);
  for (const i of [...new Set(secret)].sort((x, y) => x - y)) {
    if (i >= recorded) {
      // Not recorded: from the end of the last recorded item on, everything.
      const from = recorded === 0 ? 0 : Math.min(b.bytes.length, offsets[2 * recorded - 1]);
      if (from >= at) {
        parts.push(b.bytes.subarray(at, from), marker);
        at = b.bytes.length;
      }
      break;
    }
    const s = Math.min(offsets[2 * i], b.bytes.length);
    const e = Math.min(offsets[2 * i + 1], b.bytes.length);
    if (s < at) continue;
    parts.push(b.bytes.subarray(at, s), marker);
    at = e;
  }
  parts.push(b.bytes.subarray(at));
  b.bytes = Buffer.concat(parts);
  b.size = b.truncated ? b.size : b.bytes.length;
}

function redact(entry: Entry, extraNames: ReadonlySet<string>): void {
  const req = bodyItems.get(entry.requestBody);
  if (req !== undefined) {
    const b = entry.requestBody;
    redactItems(b, req, secretArguments(entry.operation, itemReader(b.bytes, req.offsets, b.truncated), req.count, extraNames));
    bodyItems.delete(b);
  }
  const res = bodyItems.get(entry.responseBody);
  if (res !== undefined) {
    const b = entry.responseBody;
    redactItems(b, res, [...res.secret, ...secretReplyItems(entry.operation, itemReader(b.bytes, res.offsets, b.truncated), res.count, extraNames)]);
    bodyItems.delete(b);
  }
}

function represent(e: Entry): Section[] {
  const f = e.fields;
  const push = f['redis.push'] === 1;
  return [
    table(push ? 'Push' : 'Command', [
      ['Command', e.operation],
      ['Key', f['redis.key'] ?? ''],
      ['Channel', f['redis.channel'] ?? ''],
      ['Pattern', f['redis.pattern'] ?? ''],
      ['Arguments', f['redis.args'] ?? ''],
      ['Database', f['redis.db'] ?? ''],
      ['RESP', e.protocolVersion],
      ['Queued in MULTI', f['redis.queued'] === 1 ? 'yes' : ''],
    ]),
    ...side(e, 'request', { attributes: 'Queued commands', payload: 'Command', contentType: 'text/plain' }),
    ...(e.unanswered ? [] : [table('Reply', [['Type', f['redis.reply'] ?? ''], ['Elements', f['redis.elements'] ?? ''], ['Error', e.statusText !== '' && f['redis.error'] !== undefined ? e.statusText : '']])]),
    ...side(e, 'response', { attributes: 'Reply attributes', payload: push ? 'Message' : 'Reply', contentType: 'text/plain' }),
    ...fieldsTable(e, redisDissector),
  ];
}

/** Commands recognised as the first words of a connection sent inline (telnet style), on any port. */
const INLINE_DETECT = new Set(['PING', 'INFO', 'AUTH', 'HELLO', 'SELECT', 'ECHO', 'DBSIZE', 'CLIENT', 'CONFIG', 'MULTI', 'MONITOR', 'SUBSCRIBE', 'PSUBSCRIBE', 'KEYS', 'SCAN', 'FLUSHALL', 'FLUSHDB']);

function detect(buf: Buffer, start: number, end: number, hinted: boolean, midStream: boolean): Detection {
  const nl = buf.indexOf(0x0a, start);
  const lineEnd = nl < 0 || nl >= end ? -1 : nl;
  const c = buf[start];
  if (c === T.array) {
    if (lineEnd < 0) return end - start < 16 ? Detection.More : Detection.No;
    const n = parseCount(buf, start + 1, buf[lineEnd - 1] === 0x0d ? lineEnd - 1 : lineEnd);
    if (n === null || n < 1) return midStream && n !== null ? Detection.FromServer : Detection.No;
    if (lineEnd + 1 >= end) return Detection.More;
    if (buf[lineEnd + 1] === T.bulk) return Detection.FromClient;
    return midStream ? Detection.FromServer : Detection.No;
  }
  if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) {
    if (lineEnd < 0) return end - start < 64 ? Detection.More : Detection.No;
    const line = buf.toString('latin1', start, lineEnd).trimEnd();
    if (/ HTTP\/\d/.test(line) || !/^[A-Za-z]+( [^\r\n]*)?$/.test(line)) return Detection.No;
    const word = line.split(' ', 1)[0].toUpperCase();
    return INLINE_DETECT.has(word) || hinted ? Detection.FromClient : Detection.No;
  }
  // A reply first: only on a connection picked up mid-stream (a Redis server never speaks first).
  if (!midStream || (c !== T.simple && c !== T.error && c !== T.integer && c !== T.bulk)) return Detection.No;
  if (lineEnd < 0) return end - start < 64 ? Detection.More : Detection.No;
  const e = buf[lineEnd - 1] === 0x0d ? lineEnd - 1 : lineEnd;
  if (c === T.integer || c === T.bulk) return parseCount(buf, start + 1, e) === null ? Detection.No : Detection.FromServer;
  return /^[\x20-\x7e]+$/.test(buf.toString('latin1', start + 1, e)) ? Detection.FromServer : Detection.No;
}

export const redisDissector: Dissector = {
  protocol: 'redis',
  longName: 'Redis Serialization Protocol',
  abbr: 'Redis',
  color: '#dc382d',
  ports: [REDIS_PORT, 6380, 26379],
  fields: [
    { name: 'redis.command', type: 'string', doc: 'the command, upper case; a container command with its subcommand (`CONFIG GET`, `CLIENT SETNAME`)', labels: true },
    { name: 'redis.key', type: 'string', doc: 'the first key the command names (none for commands without keys)' },
    { name: 'redis.channel', type: 'string', doc: 'the channel (or pattern) of a pub/sub command, or the channel a message was published to' },
    { name: 'redis.pattern', type: 'string', doc: 'the pattern a pmessage matched' },
    { name: 'redis.error', type: 'string', doc: 'the error prefix of the reply: ERR, WRONGTYPE, MOVED, NOAUTH… (an EXEC: of its first failed command)', labels: true },
    { name: 'redis.args', type: 'int', doc: 'arguments after the command name (Redis argc − 1)' },
    { name: 'redis.db', type: 'int', doc: 'the database selected when the command ran (a SELECT: the one it selected); absent when the connection was picked up mid-stream before a SELECT' },
    { name: 'redis.reply', type: 'string', doc: 'the reply type: simple, error, integer, bulk, null, array, map, set, double, boolean, bignum, verbatim, push', labels: true },
    { name: 'redis.elements', type: 'int', doc: 'elements of an aggregate reply (a map: its pairs)' },
    { name: 'redis.queued', type: 'bool', doc: 'the command was queued inside MULTI (answered QUEUED; its result is in the EXEC entry)' },
    { name: 'redis.push', type: 'bool', doc: 'a one-way message from the server: a pub/sub message, a RESP3 push, a MONITOR line, an unasked confirmation' },
    { name: 'redis.inline', type: 'bool', doc: 'the command was sent inline (a line of words, telnet style)' },
  ],
  outcomes: {
    ok: 'every reply that is not an error (nil included)',
    clientError: 'errors that say the request was wrong as sent or sent to the wrong node: ERR, WRONGTYPE, NOAUTH, WRONGPASS, NOPERM, NOSCRIPT, NOGROUP, BUSYKEY, BUSYGROUP, EXECABORT, CROSSSLOT, NOPROTO, MOVED, ASK, READONLY, NOTBUSY',
    serverError: 'errors where the server could not serve a valid request: LOADING, BUSY, OOM, MISCONF, MASTERDOWN, CLUSTERDOWN, TRYAGAIN, NOREPLICAS, UNBLOCKED and any other prefix',
    oneWay: 'pub/sub messages, RESP3 pushes, MONITOR lines and confirmations no command asked for',
    none: 'no reply before the timeout or the end of the connection',
  },
  secrets: [
    'AUTH passwords (the username is kept)',
    'HELLO … AUTH username password: the password',
    'MIGRATE … AUTH password / AUTH2 username password: the password',
    'CONFIG SET and SENTINEL SET / SENTINEL CONFIG SET values of requirepass, masterauth and every parameter whose name contains "pass" (and the extra names given)',
    'CONFIG GET replies: the values of those parameters',
    'ACL SETUSER password rules (>pw, <pw, #hash, !hash), ACL GETUSER passwords, ACL LIST rules',
  ],
  stream: {
    detect: (buf, start, end, conn) =>
      detect(buf, start, end, conn.port[0] === REDIS_PORT || conn.port[1] === REDIS_PORT, conn.midStream),
    open: (ctx, clientDir) => new RedisConnection(ctx, clientDir),
  },
  outcome: redisOutcome,
  redact,
  represent,
};
