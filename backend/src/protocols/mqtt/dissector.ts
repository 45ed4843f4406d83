/**
 * MQTT 3.1, 3.1.1 and 5.0 over TCP. Found by content: the client's CONNECT (1883 is only a hint).
 * Each direction is split into control packets (frames.ts); exchanges are:
 * - CONNECT with its CONNACK, PINGREQ with its PINGRESP (in order);
 * - SUBSCRIBE / UNSUBSCRIBE with their SUBACK / UNSUBACK, by packet id;
 * - PUBLISH: QoS 0 one-way; QoS 1 with its PUBACK; QoS 2 the whole PUBREC / PUBREL / PUBCOMP flow
 *   as one entry, its latency to the PUBCOMP. Packet ids are the sender's: a PUBLISH the broker
 *   delivers to a subscriber is keyed apart from the client's own;
 * - DISCONNECT (and 5.0 AUTH) one-way.
 * An exchange's source is its sender: a PUBLISH the broker delivers is an entry from the broker to
 * the subscriber (`mqtt.direction` "to client"), its acknowledgement the subscriber's reply.
 */
import { HeaderList, emptyBody, Outcome, type Body, type Entry, type ProtocolFields } from '../../entries/entry.js';
import type { Direction } from '../../net/stream.js';
import { type Dissector, type DissectorContext, type Exchange, type Section } from '../dissector.js';
import { FramedConnection } from '../frames.js';
import { InOrderPairing, KeyedPairing } from '../pairing.js';
import { fieldsTable, side, table } from '../represent.js';
import {
  AUTHENTICATION_DATA,
  detectConnect,
  Level,
  PACKET_NAMES,
  packetLength,
  PacketType,
  PASSWORD,
  readPacket,
  TOPIC_ALIAS,
  versionText,
  type Packet,
} from './packet.js';
import { reasonName, reasonOutcome } from './reason.js';

const MQTT_PORT = 1883;
/** Topic aliases remembered per direction (5.0): the broker's Topic Alias Maximum is far lower in practice. */
const MAX_TOPIC_ALIASES = 1024;
export const TO_BROKER = 'to broker';
export const TO_CLIENT = 'to client';

/** A packet as sent; a QoS 2 PUBLISH waiting for its PUBCOMP keeps the steps of its flow. */
interface Sent {
  packet: Packet;
  dir: Direction;
  startUs: number;
  endUs: number;
  /** The payload, copied up to the body limit. */
  body: Body;
  pubrec: Sent | null;
  pubrel: Sent | null;
}

/** Operations that expect no reply. */
const ONE_WAY = new Set(['DISCONNECT', 'AUTH']);

function isOneWay(operation: string, qos: number | string | undefined): boolean {
  return ONE_WAY.has(operation) || (operation === 'PUBLISH' && qos === 0);
}

export function mqttOutcome(x: Pick<Exchange, 'unanswered' | 'status' | 'operation' | 'protocolVersion' | 'fields'>): Outcome {
  const type = PACKET_NAMES.indexOf(x.operation);
  const v5 = x.protocolVersion === '5.0';
  if (isOneWay(x.operation, x.fields['mqtt.qos'])) return x.status >= 0x80 ? reasonOutcome(x.status, type, v5) : Outcome.oneWay;
  if (x.unanswered) return Outcome.none;
  return reasonOutcome(x.status, type, v5);
}

/** The replies that settle each keyed request (PUBREC only steps a QoS 2 flow, unless it refuses it). */
function answers(request: Packet, reply: number): boolean {
  switch (request.type) {
    case PacketType.PUBLISH:
      return request.qos === 1 ? reply === PacketType.PUBACK : reply === PacketType.PUBCOMP || reply === PacketType.PUBREC;
    case PacketType.SUBSCRIBE:
      return reply === PacketType.SUBACK;
    default:
      return reply === PacketType.UNSUBACK;
  }
}

class MqttConnection extends FramedConnection {
  private level: number = Level.v311;
  private clientId = '';
  private readonly connects: InOrderPairing<Sent, Sent>;
  private readonly pings: InOrderPairing<Sent, Sent>;
  /** PUBLISH (QoS 1, 2), SUBSCRIBE, UNSUBSCRIBE by sender and packet id: `dir * 65536 + id`. */
  private readonly keyed: KeyedPairing<number, Sent, Sent>;
  private readonly inFlight = new Map<number, Sent>();
  private readonly aliases: [Map<number, string>, Map<number, string>] = [new Map(), new Map()];

  constructor(
    ctx: DissectorContext,
    private readonly clientDir: Direction,
  ) {
    super(ctx);
    const settle = (req: Sent, res: Sent | null) => this.settle(req, res);
    this.connects = new InOrderPairing(ctx.limits, settle);
    this.pings = new InOrderPairing(ctx.limits, settle);
    this.keyed = new KeyedPairing(ctx.limits, (req, res) => {
      this.inFlight.delete(req.dir * 65536 + req.packet.packetId);
      this.settle(req, res);
    });
  }

  protected ended(): void {
    this.connects.end();
    this.pings.end();
    this.keyed.end();
  }

  tick(nowUs: number): void {
    this.connects.tick(nowUs);
    this.pings.tick(nowUs);
    this.keyed.tick(nowUs);
  }

  length(buf: Buffer, start: number, end: number): number {
    return packetLength(buf, start, end);
  }

  /** After a gap: a packet whole in this chunk (with no end marker, the best MQTT offers). */
  startsFrame(buf: Buffer, start: number, end: number): boolean {
    const len = packetLength(buf, start, end);
    return len > 0 && len <= end - start;
  }

  frame(buf: Buffer, start: number, end: number, wireLength: number, startUs: number, endUs: number): void {
    const dir = this.dir;
    const p = readPacket(buf, start, end, wireLength, this.level);
    if (p.short && end - start === wireLength) this.ctx.counters.parseErrors++;
    const sent: Sent = { packet: p, dir, startUs, endUs, body: this.body(p), pubrec: null, pubrel: null };
    const replyKey = (1 - dir) * 65536 + p.packetId;
    switch (p.type) {
      case PacketType.CONNECT:
        this.level = p.level;
        this.clientId = p.topic;
        this.connects.request(sent);
        break;
      case PacketType.CONNACK:
      case PacketType.PINGRESP:
        if (!(p.type === PacketType.CONNACK ? this.connects : this.pings).response(sent)) this.ctx.counters.orphanResponses++;
        break;
      case PacketType.PINGREQ:
        this.pings.request(sent);
        break;
      case PacketType.PUBLISH:
        this.resolveAlias(p, dir);
        if (p.qos === 0) this.settle(sent, null);
        else this.keyedSent(sent);
        break;
      case PacketType.SUBSCRIBE:
      case PacketType.UNSUBSCRIBE:
        this.keyedSent(sent);
        break;
      case PacketType.PUBREL: {
        // The sender's step of its own QoS 2 flow: keyed by its own direction.
        const flow = this.inFlight.get(dir * 65536 + p.packetId);
        if (flow) flow.pubrel = sent;
        else this.ctx.counters.orphanResponses++;
        break;
      }
      case PacketType.PUBREC: {
        const flow = this.inFlight.get(replyKey);
        if (flow && p.reason < 0x80 && flow.packet.qos === 2) flow.pubrec = sent;
        else this.reply(replyKey, sent);
        break;
      }
      case PacketType.PUBACK:
      case PacketType.PUBCOMP:
      case PacketType.SUBACK:
      case PacketType.UNSUBACK:
        this.reply(replyKey, sent);
        break;
      default: // DISCONNECT, AUTH
        this.settle(sent, null);
    }
  }

  private keyedSent(req: Sent): void {
    const key = req.dir * 65536 + req.packet.packetId;
    // A packet id in use is a resend (DUP) of the request waiting: counted there, not an entry.
    if (this.keyed.request(key, req)) this.inFlight.set(key, req);
  }

  private reply(key: number, res: Sent): void {
    const req = this.inFlight.get(key);
    if (req === undefined || !answers(req.packet, res.packet.type) || !this.keyed.response(key, res)) this.ctx.counters.orphanResponses++;
  }

  /** 5.0 topic aliases: a PUBLISH that names a topic and an alias sets it; one with the alias alone uses it. */
  private resolveAlias(p: Packet, dir: Direction): void {
    const alias = p.attributes.find(([n]) => n === TOPIC_ALIAS);
    if (alias === undefined) return;
    const n = Number(alias[1]);
    const map = this.aliases[dir];
    if (p.topic !== '') {
      if (map.size < MAX_TOPIC_ALIASES || map.has(n)) map.set(n, p.topic);
    } else p.topic = map.get(n) ?? '';
  }

  private body(p: Packet): Body {
    if (p.payloadWire === 0) return emptyBody();
    const bytes = Buffer.from(p.payload.subarray(0, this.ctx.limits.maxBodyBytes));
    return { bytes, wireSize: p.payloadWire, size: p.payloadWire, truncated: bytes.length < p.payloadWire, encoding: '' };
  }

  private settle(req: Sent, res: Sent | null): void {
    const c = this.ctx.counters;
    c.exchanges++;
    const oneWay = isOneWay(PACKET_NAMES[req.packet.type], req.packet.qos);
    if (res === null && !oneWay) c.unanswered++;
    this.ctx.emit(this.exchange(req, res, oneWay));
  }

  private exchange(req: Sent, res: Sent | null, oneWay: boolean): Exchange {
    const p = req.packet;
    const v5 = this.level === Level.v5;
    const fields: Record<string, string | number> = {
      'mqtt.client_id': this.clientId,
      'mqtt.direction': req.dir === this.clientDir ? TO_BROKER : TO_CLIENT,
    };
    let target = '';
    if (p.type === PacketType.CONNECT) target = p.topic;
    else if (p.type === PacketType.PUBLISH) {
      target = p.topic;
      fields['mqtt.qos'] = p.qos;
      fields['mqtt.retain'] = p.retain ? 1 : 0;
      fields['mqtt.dup'] = p.dup ? 1 : 0;
    } else if (p.type === PacketType.SUBSCRIBE || p.type === PacketType.UNSUBSCRIBE) target = p.subscriptions.map((s) => s.filter).join(', ');
    if (target !== '' && p.type !== PacketType.CONNECT) fields['mqtt.topic'] = target;
    if (p.packetId !== 0) fields['mqtt.packet_id'] = p.packetId;
    const request: Array<[string, string]> = [...p.attributes];
    if (p.type === PacketType.SUBSCRIBE) for (const s of p.subscriptions) request.push([s.filter, subscriptionText(s.options, v5)]);
    // A refused QoS 2 PUBLISH ends at its PUBREC; an unfinished flow reports the PUBREC it got.
    const last = res ?? req.pubrec;
    const response: Array<[string, string]> = [];
    let status = 0;
    let statusText = '';
    if (last) {
      const r = last.packet;
      if (r.type === PacketType.CONNACK) response.push(['session present', String(r.sessionPresent)]);
      if (req.pubrec && res) response.push(['PUBREC', reasonName(req.pubrec.packet.reason, p.type, v5)]);
      if (req.pubrel) response.push(['PUBREL', reasonName(req.pubrel.packet.reason, p.type, v5)]);
      response.push(...r.attributes);
      r.reasons.forEach((code, i) => response.push([p.subscriptions[i]?.filter ?? `#${i + 1}`, reasonName(code, p.type, v5)]));
      status = r.reason;
      // PINGRESP carries no code at all.
      statusText = r.type === PacketType.PINGRESP ? '' : reasonName(status, p.type, v5);
    } else if (oneWay && p.type !== PacketType.PUBLISH) {
      status = p.reason;
      statusText = reasonName(status, p.type, v5);
    }
    if (statusText !== '') fields['mqtt.reason'] = status;
    const answered = res !== null;
    return {
      clientDir: req.dir,
      protocolVersion: versionText(this.level),
      startUs: req.startUs,
      endUs: res ? res.endUs : req.endUs,
      durationUs: res ? Math.max(0, res.endUs - req.startUs) : 0,
      operation: PACKET_NAMES[p.type],
      target,
      query: '',
      host: '',
      status,
      statusText,
      requestHeaders: HeaderList.of(request),
      responseHeaders: HeaderList.of(response),
      requestBody: req.body,
      responseBody: emptyBody(),
      fields: fields as ProtocolFields,
      unanswered: !answered && !oneWay,
      incomplete: p.short || (last !== null && last.packet.short) || (!answered && !oneWay && this.cut),
    };
  }
}

/** SUBSCRIBE options: the QoS asked for, and 5.0's no-local, retain-as-published and retain handling. */
function subscriptionText(options: number, v5: boolean): string {
  const qos = `qos ${options & 3}`;
  if (!v5) return qos;
  const parts = [qos];
  if (options & 4) parts.push('no local');
  if (options & 8) parts.push('retain as published');
  parts.push(`retain handling ${(options >> 4) & 3}`);
  return parts.join(', ');
}

function represent(e: Entry): Section[] {
  const f = e.fields;
  const summary = table('MQTT', [
    ['Packet', e.operation],
    ['Version', e.protocolVersion],
    ['Client id', f['mqtt.client_id'] ?? ''],
    ['Topic', f['mqtt.topic'] ?? ''],
    ['QoS', f['mqtt.qos'] ?? ''],
    ['Direction', f['mqtt.direction'] ?? ''],
    ['Reason', e.statusText === '' ? '' : `${e.status} ${e.statusText}`],
  ]);
  return [
    summary,
    ...side(e, 'request', { attributes: 'Request', payload: e.operation === 'CONNECT' ? 'Will message' : 'Payload' }),
    ...side(e, 'response', { attributes: 'Reply', payload: 'Reply payload' }),
    ...fieldsTable(e, mqttDissector),
  ];
}

/** CONNECT's password and 5.0's authentication data are secrets. */
function redact(entry: Entry): void {
  const list = entry.requestHeaders;
  for (let i = 0; i < list.count; i++) if (list.nameIs(i, PASSWORD) || list.nameIs(i, AUTHENTICATION_DATA.toLowerCase())) list.redact(i);
  const res = entry.responseHeaders;
  for (let i = 0; i < res.count; i++) if (res.nameIs(i, AUTHENTICATION_DATA.toLowerCase())) res.redact(i);
}

export const mqttDissector: Dissector = {
  protocol: 'mqtt',
  longName: 'Message Queuing Telemetry Transport',
  abbr: 'MQTT',
  color: '#660066',
  ports: [MQTT_PORT],
  fields: [
    { name: 'mqtt.topic', type: 'string', doc: 'PUBLISH: the topic (5.0 topic aliases resolved); SUBSCRIBE / UNSUBSCRIBE: the topic filters, joined by ", "', labels: true },
    { name: 'mqtt.qos', type: 'int', doc: 'PUBLISH: the QoS it was sent with (0, 1, 2)' },
    { name: 'mqtt.retain', type: 'bool', doc: 'PUBLISH: the retain flag' },
    { name: 'mqtt.dup', type: 'bool', doc: 'PUBLISH: the DUP flag (a redelivery)' },
    { name: 'mqtt.packet_id', type: 'int', doc: 'the packet identifier that paired request and acknowledgement' },
    { name: 'mqtt.client_id', type: 'string', doc: "the client identifier the connection's CONNECT sent (on every entry of the connection)", labels: true },
    { name: 'mqtt.reason', type: 'int', doc: 'the reply\'s reason code (5.0), CONNACK return code (3.1.1), SUBACK: the highest code (0x80 = 128 failure); DISCONNECT / AUTH: their own' },
    { name: 'mqtt.direction', type: 'string', doc: `"${TO_BROKER}" (the client sent it) or "${TO_CLIENT}" (the broker delivered it to a subscriber)`, labels: true },
  ],
  outcomes: {
    ok: 'acknowledged with a success code (< 0x80; CONNACK 0)',
    clientError: 'a reason code the client caused (bad credentials, not authorized, invalid topic, 3.1.1 CONNACK 1, 2, 4, 5…)',
    serverError: 'a broker failure (0x80 unspecified error, server unavailable / busy / shutting down, 3.1.1 CONNACK 3…)',
    oneWay: 'PUBLISH at QoS 0, DISCONNECT and AUTH (unless their reason code reports a failure)',
    none: 'no acknowledgement before the timeout or the end of the connection',
  },
  secrets: ['the CONNECT password', '5.0 Authentication Data'],
  stream: {
    detect: detectConnect,
    open: (ctx, clientDir) => new MqttConnection(ctx, clientDir),
  },
  outcome: mqttOutcome,
  redact,
  represent,
};
