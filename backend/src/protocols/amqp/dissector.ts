/**
 * AMQP 0-9-1 over TCP (RabbitMQ and the rest). Found by content: the client's protocol header
 * "AMQP\0\0\x09\x01" (5672 is only a hint). Each direction is split into frames (frames.ts),
 * the frame-end octet checked; entries, per channel:
 * - a synchronous method with its -Ok reply (Connection.*, Channel.Open, Exchange / Queue.Declare,
 *   Bind, Basic.Qos, Consume, Get with Get-Ok or Get-Empty, Confirm.Select, Tx.*…), one waiting per
 *   channel and sender as the spec allows; sent with nowait it is one-way;
 * - Channel.Close / Connection.Close with their Close-Ok; a close from the peer also ends the
 *   request it interrupts (the declare a broker refuses with 406 gets the 406);
 * - Basic.Publish with its content header (properties) and body as one entry: one-way, unless the
 *   channel is in confirm mode (Confirm.Select): then paired with the broker's Basic.Ack / Nack by
 *   sequence number (multiple acks settle every publish up to their tag);
 * - Basic.Deliver and Basic.Return (broker → client, with their content), Basic.Ack / Nack /
 *   Reject / Recover-Async and the other one-way methods, as entries of their own.
 * An entry's source is the sender of its first method: Connection.Start and Basic.Deliver come
 * from the broker. Heartbeats are no entries.
 */
import { HeaderList, emptyBody, Outcome, type Body, type Entry, type ProtocolFields } from '../../entries/entry.js';
import type { Direction } from '../../net/stream.js';
import { type Dissector, type DissectorContext, type Exchange, type Section } from '../dissector.js';
import { FramedConnection } from '../frames.js';
import { KeyedPairing } from '../pairing.js';
import { fieldsTable, side, table } from '../represent.js';
import { expectsReply, isReply, Method, methodName, methodSpec, replyCodeName, SERVER_REPLY_CODES } from './methods.js';
import {
  detectProtocolHeader,
  FRAME_HEADER_BYTES,
  frameLength,
  FrameType,
  readContentHeader,
  readMethod,
  startsFrame,
  tableEntries,
  type MethodFrame,
} from './wire.js';

const AMQP_PORT = 5672;
const EXCHANGE_CLASS = 40;
const QUEUE_CLASS = 50;
const VERSION = '0-9-1';
/** Channels with a message being assembled or in confirm mode, per connection: more than RabbitMQ's channel_max (2047). */
const MAX_CHANNEL_STATES = 4096;
/** The attributes that carry credentials: Start-Ok / Secure-Ok responses, Update-Secret's secret. */
const SECRET_ATTRIBUTES = ['response', 'new_secret'];

interface Content {
  properties: Array<[string, string]>;
  headerSeen: boolean;
  bodySize: number;
  received: number;
  kept: Buffer[];
  keptBytes: number;
}

/** One method (with its content, when it carries one) as sent on a channel. */
interface Call {
  channel: number;
  dir: Direction;
  method: MethodFrame;
  startUs: number;
  endUs: number;
  content: Content | null;
  /** Part of it was not captured or could not be read. */
  cut: boolean;
  /** Confirm mode: the publish's sequence number on its channel. */
  seq: number;
}

/** A channel in confirm mode: the next publish's number and the publishes not yet confirmed. */
interface Confirms {
  next: number;
  pending: Set<number>;
}

const channelKey = (channel: number, dir: Direction) => channel * 2 + dir;
const confirmKey = (channel: number, seq: number) => channel * 2 ** 32 + seq;

function str(m: MethodFrame | undefined, name: string): string {
  const v = m?.values.get(name);
  return typeof v === 'string' ? v : '';
}

function num(m: MethodFrame | undefined, name: string): number | undefined {
  const v = m?.values.get(name);
  return typeof v === 'number' ? v : undefined;
}

const isClose = (key: number) => key === Method.channelClose || key === Method.connectionClose;

export function amqpOutcome(x: Pick<Exchange, 'unanswered' | 'status' | 'operation' | 'fields' | 'requestHeaders'>): Outcome {
  if (x.fields['amqp.confirm'] === 'nack') return Outcome.serverError;
  if (x.status !== 0 && x.status !== 200) return SERVER_REPLY_CODES.has(x.status) ? Outcome.serverError : Outcome.clientError;
  const confirmed = x.fields['amqp.confirm'] !== undefined;
  if (!confirmed && (!expectsReply(x.operation) || x.requestHeaders.get('nowait') === 'true')) return Outcome.oneWay;
  return x.unanswered ? Outcome.none : Outcome.ok;
}

class AmqpConnection extends FramedConnection {
  /** Synchronous requests by channel and sender; one waits per key. */
  private readonly calls: KeyedPairing<number, Call, Call>;
  private readonly waiting = new Map<number, Call>();
  /** Publishes waiting for their confirm, by channel and sequence number. */
  private readonly confirmed: KeyedPairing<number, Call, Call>;
  /** Confirm-mode channels by channel and the publisher's direction. */
  private readonly confirms = new Map<number, Confirms>();
  /** Content-carrying methods still taking their header and body, by channel and sender. */
  private readonly assembling = new Map<number, Call>();

  constructor(ctx: DissectorContext) {
    super(ctx);
    this.calls = new KeyedPairing(ctx.limits, (req, res) => {
      this.waiting.delete(channelKey(req.channel, req.dir));
      this.settle(req, res);
    });
    this.confirmed = new KeyedPairing(ctx.limits, (req, res) => {
      this.confirms.get(channelKey(req.channel, req.dir))?.pending.delete(req.seq);
      this.settle(req, res);
    });
  }

  protected ended(): void {
    for (const call of [...this.assembling.values()]) this.contentDone(call, true);
    this.calls.end();
    this.confirmed.end();
  }

  tick(nowUs: number): void {
    this.calls.tick(nowUs);
    this.confirmed.tick(nowUs);
  }

  length(buf: Buffer, start: number, end: number): number {
    return frameLength(buf, start, end);
  }

  startsFrame(buf: Buffer, start: number, end: number): boolean {
    return startsFrame(buf, start, end);
  }

  frame(buf: Buffer, start: number, end: number, wireLength: number, startUs: number, endUs: number): void {
    const type = buf[start];
    if (wireLength === 8 || type === FrameType.heartbeat) return; // the protocol header, a heartbeat
    const dir = this.dir;
    const channel = buf.readUInt16BE(start + 1);
    const whole = end - start === wireLength;
    // The payload without the end octet (a cut frame: what was kept of it).
    const payloadEnd = whole ? end - 1 : end;
    const payload = start + FRAME_HEADER_BYTES;
    if (type === FrameType.method) this.method(channel, dir, readMethod(buf, payload, payloadEnd), !whole, startUs, endUs);
    else if (type === FrameType.header) this.contentHeader(channel, dir, buf, payload, payloadEnd, !whole, endUs);
    else this.body(channel, dir, buf, payload, payloadEnd, wireLength - FRAME_HEADER_BYTES - 1, endUs);
  }

  private method(channel: number, dir: Direction, m: MethodFrame, cut: boolean, startUs: number, endUs: number): void {
    const key = channelKey(channel, dir);
    const unfinished = this.assembling.get(key);
    if (unfinished) this.contentDone(unfinished, true);
    if (m.short && !cut) this.ctx.counters.parseErrors++;
    const call: Call = { channel, dir, method: m, startUs, endUs, content: null, cut: cut || m.short, seq: 0 };
    const spec = methodSpec(m.key);
    if (spec?.content) {
      if (this.assembling.size >= MAX_CHANNEL_STATES) {
        this.ctx.counters.parseErrors++;
        call.cut = true;
        this.contentDone(call, true);
        return;
      }
      call.content = { properties: [], headerSeen: false, bodySize: 0, received: 0, kept: [], keptBytes: 0 };
      this.assembling.set(key, call);
      return;
    }
    if (isClose(m.key)) this.interrupt(call);
    if (isReply(m.key)) return this.reply(call);
    if (m.key === Method.confirmSelect && m.values.get('nowait') === true) this.confirmMode(channel, dir);
    if ((m.key === Method.basicAck || m.key === Method.basicNack) && this.confirms.has(channelKey(channel, (1 - dir) as Direction))) {
      return this.confirm(call);
    }
    if (spec !== undefined && spec.replies.length > 0 && m.values.get('nowait') !== true) {
      if (this.calls.request(key, call)) this.waiting.set(key, call);
      else this.settle(call, null); // the spec allows one at a time: this one cannot be paired
      return;
    }
    this.settle(call, null);
  }

  /** A reply: to the other side's request waiting on this channel, when it is the one that answers it. */
  private reply(call: Call): void {
    const key = channelKey(call.channel, (1 - call.dir) as Direction);
    const req = this.waiting.get(key);
    const spec = req && methodSpec(req.method.key);
    if (!req || !spec || req.method.key >>> 16 !== call.method.key >>> 16 || !spec.replies.includes(call.method.key & 0xffff)) {
      this.ctx.counters.orphanResponses++;
      return;
    }
    if (call.method.key === Method.confirmSelectOk) this.confirmMode(call.channel, req.dir);
    this.calls.response(key, call);
  }

  /** A Channel.Close (Connection.Close) ends the peer's request waiting on that channel (on every channel). */
  private interrupt(close: Call): void {
    const peer = (1 - close.dir) as Direction;
    const keys = close.method.key === Method.channelClose ? [channelKey(close.channel, peer)] : [...this.waiting.keys()].filter((k) => k % 2 === peer);
    for (const k of keys) {
      const req = this.waiting.get(k);
      if (req && !isClose(req.method.key)) this.calls.response(k, close);
    }
  }

  private confirmMode(channel: number, publisher: Direction): void {
    const key = channelKey(channel, publisher);
    if (!this.confirms.has(key) && this.confirms.size < MAX_CHANNEL_STATES) this.confirms.set(key, { next: 1, pending: new Set() });
  }

  /** The broker's Basic.Ack / Nack of publishes on a confirm-mode channel: its tag, or every one up to it. */
  private confirm(ack: Call): void {
    const state = this.confirms.get(channelKey(ack.channel, (1 - ack.dir) as Direction))!;
    const tag = num(ack.method, 'delivery_tag') ?? 0;
    if (ack.method.values.get('multiple') !== true) {
      if (state.pending.delete(tag)) this.confirmed.response(confirmKey(ack.channel, tag), ack);
      else this.ctx.counters.orphanResponses++;
      return;
    }
    let settled = 0;
    // In order of sequence number; deleting the element being visited is safe in a Set.
    for (const seq of state.pending) {
      if (tag !== 0 && seq > tag) break;
      settled++;
      state.pending.delete(seq);
      this.confirmed.response(confirmKey(ack.channel, seq), ack);
    }
    if (settled === 0) this.ctx.counters.orphanResponses++;
  }

  private contentHeader(channel: number, dir: Direction, buf: Buffer, start: number, end: number, cut: boolean, endUs: number): void {
    const call = this.assembling.get(channelKey(channel, dir));
    if (!call || call.content!.headerSeen) {
      this.ctx.counters.parseErrors++;
      return;
    }
    const h = readContentHeader(buf, start, end);
    const c = call.content!;
    c.headerSeen = true;
    c.properties = h.properties;
    c.bodySize = h.bodySize;
    call.cut ||= cut || h.short;
    call.endUs = endUs;
    if (c.bodySize === 0) this.contentDone(call, false);
  }

  private body(channel: number, dir: Direction, buf: Buffer, start: number, end: number, wireSize: number, endUs: number): void {
    const call = this.assembling.get(channelKey(channel, dir));
    if (!call || !call.content!.headerSeen) {
      this.ctx.counters.parseErrors++;
      return;
    }
    const c = call.content!;
    const room = this.ctx.limits.maxBodyBytes - c.keptBytes;
    if (room > 0) {
      const part = Buffer.from(buf.subarray(start, Math.min(end, start + room)));
      c.kept.push(part);
      c.keptBytes += part.length;
    }
    c.received += wireSize;
    call.endUs = endUs;
    if (c.received >= c.bodySize) this.contentDone(call, false);
  }

  /** A message is complete (or will never be): a one-way entry, a publish to confirm, a Get's reply. */
  private contentDone(call: Call, unfinished: boolean): void {
    this.assembling.delete(channelKey(call.channel, call.dir));
    call.cut ||= unfinished;
    const key = call.method.key;
    if (key === Method.basicGetOk) {
      const getKey = channelKey(call.channel, (1 - call.dir) as Direction);
      if (this.waiting.get(getKey)) this.calls.response(getKey, call);
      else this.ctx.counters.orphanResponses++;
      return;
    }
    const state = key === Method.basicPublish ? this.confirms.get(channelKey(call.channel, call.dir)) : undefined;
    if (state) {
      call.seq = state.next++;
      if (this.confirmed.request(confirmKey(call.channel, call.seq), call)) state.pending.add(call.seq);
      return;
    }
    this.settle(call, null);
  }

  private settle(req: Call, res: Call | null): void {
    const c = this.ctx.counters;
    c.exchanges++;
    const x = exchange(req, res, this.cut);
    if (x.unanswered) c.unanswered++;
    this.ctx.emit(x);
  }
}

function bodyOf(content: Content | null): Body {
  if (!content || content.received === 0) return emptyBody();
  const bytes = content.kept.length === 1 ? content.kept[0] : Buffer.concat(content.kept);
  return { bytes, wireSize: content.received, size: content.received, truncated: bytes.length < content.received, encoding: '' };
}

/** What a method acts on: its queue, exchange or routing key, the vhost it opens. */
function targetOf(m: MethodFrame, reply: MethodFrame | undefined): string {
  const classId = m.key >>> 16;
  if (classId === QUEUE_CLASS || m.key === Method.basicConsume || m.key === Method.basicGet) return str(m, 'queue') || str(reply, 'queue');
  if (classId === EXCHANGE_CLASS) return str(m, 'exchange') || str(m, 'destination');
  if (methodSpec(m.key)?.content) return str(m, 'routing_key') || str(m, 'exchange');
  return str(m, 'virtual_host');
}

/** A method's arguments, its tables' entries (`arguments.x-max-length`), the user it logs in as, its content's properties. */
function attributes(call: Call): Array<[string, string]> {
  const m = call.method;
  const out: Array<[string, string]> = [...m.args];
  if (m.tables) for (const [name, t] of m.tables) for (const [k, v] of t) out.push([`${name}.${k}`, v]);
  const user = userOf(m);
  if (user !== '') out.push(['username', user]);
  if (call.content) out.push(...call.content.properties);
  return out;
}

/** Credentials in Connection.Start-Ok: the user name, read from a PLAIN or AMQPLAIN response. */
function userOf(m: MethodFrame): string {
  const response = m.binary?.get('response');
  if (m.key !== Method.connectionStartOk || !response) return '';
  const mechanism = str(m, 'mechanism');
  if (mechanism === 'PLAIN') return response.toString('utf8').split('\0')[1] ?? '';
  if (mechanism === 'AMQPLAIN') return tableEntries(response).find(([k]) => k === 'LOGIN')?.[1] ?? '';
  return '';
}

function exchange(req: Call, res: Call | null, connectionCut: boolean): Exchange {
  const m = req.method;
  const r = res?.method;
  const operation = methodName(m.key);
  const fields: Record<string, string | number> = { 'amqp.method': operation, 'amqp.channel': req.channel };
  const exchangeName = m.values.has('exchange') ? str(m, 'exchange') : str(m, 'source');
  if (m.values.has('exchange') || m.values.has('source')) fields['amqp.exchange'] = exchangeName;
  const routingKey = str(m, 'routing_key');
  if (m.values.has('routing_key')) fields['amqp.routing_key'] = routingKey;
  const queue = str(m, 'queue') || str(r, 'queue');
  if (queue !== '') fields['amqp.queue'] = queue;
  const consumerTag = str(m, 'consumer_tag') || str(r, 'consumer_tag');
  if (consumerTag !== '') fields['amqp.consumer_tag'] = consumerTag;
  const deliveryTag = num(m, 'delivery_tag') ?? num(r, 'delivery_tag');
  if (deliveryTag !== undefined) fields['amqp.delivery_tag'] = deliveryTag;
  // The reply code: the close's own, the close that ended the request, a Return's.
  const closing = isClose(m.key) || m.key === Method.basicReturn ? m : r !== undefined && isClose(r.key) ? r : undefined;
  const status = num(closing, 'reply_code') ?? 0;
  if (closing) fields['amqp.reply_code'] = status;
  let statusText = closing ? str(closing, 'reply_text') || replyCodeName(status) : '';
  if (req.seq !== 0) {
    fields['amqp.confirm'] = r === undefined ? '' : r.key === Method.basicNack ? 'nack' : 'ack';
    if (r !== undefined) statusText = methodName(r.key);
  }
  const request = attributes(req);
  const response: Array<[string, string]> = res ? [['method', methodName(res.method.key)], ...attributes(res)] : [];
  return {
    clientDir: req.dir,
    protocolVersion: VERSION,
    startUs: req.startUs,
    endUs: res ? Math.max(res.endUs, req.endUs) : req.endUs,
    durationUs: res ? Math.max(0, res.endUs - req.startUs) : 0,
    operation,
    target: targetOf(m, r),
    query: '',
    host: '',
    status,
    statusText,
    requestHeaders: HeaderList.of(request),
    responseHeaders: HeaderList.of(response),
    requestBody: bodyOf(req.content),
    responseBody: bodyOf(res?.content ?? null),
    fields: fields as ProtocolFields,
    unanswered: res === null && (req.seq !== 0 || (expectsReply(operation) && m.values.get('nowait') !== true)),
    incomplete: req.cut || (res !== null && res.cut) || (res === null && connectionCut),
  };
}

function represent(e: Entry): Section[] {
  const f = e.fields;
  return [
    table('AMQP', [
      ['Method', e.operation],
      ['Channel', f['amqp.channel'] ?? ''],
      ['Exchange', f['amqp.exchange'] ?? ''],
      ['Routing key', f['amqp.routing_key'] ?? ''],
      ['Queue', f['amqp.queue'] ?? ''],
      ['Reply', e.statusText === '' ? '' : e.status === 0 ? e.statusText : `${e.status} ${e.statusText}`],
    ]),
    ...side(e, 'request', { attributes: 'Arguments', payload: 'Message', contentType: e.requestHeaders.get('content-type') ?? '' }),
    ...side(e, 'response', { attributes: 'Reply', payload: 'Reply message', contentType: e.responseHeaders.get('content-type') ?? '' }),
    ...fieldsTable(e, amqpDissector),
  ];
}

/** Start-Ok and Secure-Ok answer the broker's Start / Secure: their responses are on the reply side. */
function redact(entry: Entry): void {
  for (const list of [entry.requestHeaders, entry.responseHeaders]) {
    for (let i = 0; i < list.count; i++) for (const name of SECRET_ATTRIBUTES) if (list.nameIs(i, name)) list.redact(i);
  }
}

export const amqpDissector: Dissector = {
  protocol: 'amqp',
  longName: 'Advanced Message Queuing Protocol 0-9-1',
  abbr: 'AMQP',
  color: '#ff6600',
  ports: [AMQP_PORT],
  fields: [
    { name: 'amqp.method', type: 'string', doc: "the entry's first method: 'Basic.Publish', 'Queue.Declare', 'Channel.Close'…", labels: true },
    { name: 'amqp.channel', type: 'int', doc: 'the channel it was sent on (0: the connection)' },
    { name: 'amqp.exchange', type: 'string', doc: "the exchange published to, delivered from, declared or bound ('' is the default exchange)", labels: true },
    { name: 'amqp.routing_key', type: 'string', doc: 'the routing key of a publish, delivery, return or binding' },
    { name: 'amqp.queue', type: 'string', doc: 'the queue declared, bound, consumed or got from (a server-named queue as the reply names it)', labels: true },
    { name: 'amqp.reply_code', type: 'int', doc: 'the reply code of a Channel.Close / Connection.Close (the own or the one that ended the request) or Basic.Return: 200, 404 NOT_FOUND, 406 PRECONDITION_FAILED…' },
    { name: 'amqp.delivery_tag', type: 'int', doc: 'Basic.Deliver / Get-Ok / Ack / Nack / Reject: the delivery tag' },
    { name: 'amqp.consumer_tag', type: 'string', doc: 'Basic.Consume / Deliver / Cancel: the consumer tag (a server-named one as the reply names it)' },
    { name: 'amqp.confirm', type: 'string', doc: 'a publish on a confirm-mode channel: "ack" or "nack" from the broker, "" while none came' },
  ],
  outcomes: {
    ok: 'the -Ok reply came; a publisher confirm acked; a close with 200',
    clientError: 'a close or return with a client-side reply code (403 ACCESS_REFUSED, 404 NOT_FOUND, 406 PRECONDITION_FAILED, 312 NO_ROUTE, 5xx frame and command errors…)',
    serverError: 'a publisher confirm nacked; a close with 320 CONNECTION_FORCED, 506 RESOURCE_ERROR, 540 NOT_IMPLEMENTED, 541 INTERNAL_ERROR',
    oneWay: 'Basic.Publish without confirms, Basic.Deliver, Ack / Nack / Reject, methods sent with nowait',
    none: 'no reply (or confirm) before the timeout or the end of the connection',
  },
  secrets: ['Connection.Start-Ok / Secure-Ok responses (PLAIN, AMQPLAIN credentials)', 'Connection.Update-Secret'],
  stream: {
    detect: detectProtocolHeader,
    open: (ctx) => new AmqpConnection(ctx),
  },
  outcome: amqpOutcome,
  redact,
  represent,
};
