/**
 * MQTT 3.1, 3.1.1 and 5.0 control packets read from captured bytes (the `mqtt` npm package parses
 * a live client's socket and throws on what it does not expect; a capture starts mid-stream, is
 * cut at a size limit and carries garbage, so this reader bounds-checks every read and says what
 * it could not read instead).
 */
import { ByteReader } from '../byte-reader.js';
import { Detection } from '../dissector.js';
import { FRAME_INVALID, FRAME_MORE } from '../frames.js';

export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  AUTH: 15,
} as const;

export const PACKET_NAMES: readonly string[] = [
  'RESERVED', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP',
  'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH',
];

/** Protocol levels as CONNECT sends them. */
export const Level = { v31: 3, v311: 4, v5: 5 } as const;

export function versionText(level: number): string {
  return level === Level.v5 ? '5.0' : level === Level.v31 ? '3.1' : '3.1.1';
}

/**
 * The whole length of the packet at buf[start]: fixed header (type and flags, then a remaining
 * length of at most four 7-bit bytes) plus what it announces. A remaining length whose fourth
 * byte still says "more", or a reserved type, cannot be MQTT.
 */
export function packetLength(buf: Buffer, start: number, end: number): number {
  if (end - start < 2) return FRAME_MORE;
  const first = buf[start];
  if (first >> 4 === 0 || !flagsValid(first)) return FRAME_INVALID;
  let len = 0;
  for (let i = 0; i < 4; i++) {
    if (start + 1 + i >= end) return FRAME_MORE;
    const b = buf[start + 1 + i];
    len += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return 2 + i + len;
  }
  return FRAME_INVALID;
}

/** Fixed-header flags as the spec fixes them: PUBREL, SUBSCRIBE and UNSUBSCRIBE carry 0b0010, PUBLISH QoS 0–2, others 0. */
function flagsValid(first: number): boolean {
  const type = first >> 4;
  const flags = first & 0x0f;
  if (type === PacketType.PUBLISH) return (flags & 0x06) !== 0x06;
  if (type === PacketType.PUBREL || type === PacketType.SUBSCRIBE || type === PacketType.UNSUBSCRIBE) return flags === 0x02;
  return flags === 0;
}

/** Offset of the variable header: after the type byte and the remaining length. */
function bodyStart(buf: Buffer, start: number): number {
  let p = start + 1;
  while (buf[p] & 0x80) p++;
  return p + 1;
}

/** MQTT's variable byte integer: 7 bits a byte, at most four. */
function varint(r: ByteReader): number {
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const b = r.u8();
    v += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return v;
  }
  r.skip(r.left + 1);
  return 0;
}

/** A 2-byte length, then that many bytes (a view). */
function binary(r: ByteReader): Buffer {
  return r.bytes(r.u16());
}

function utf8(r: ByteReader): string {
  return binary(r).toString('utf8');
}

const EMPTY = Buffer.alloc(0);

/** Property ids and how their values are sent (MQTT 5.0 §2.2.2.2). */
const enum PropKind {
  Byte,
  Two,
  Four,
  Varint,
  Utf8,
  Binary,
  Pair,
}

const PROPERTIES = new Map<number, [name: string, kind: PropKind]>([
  [0x01, ['Payload Format Indicator', PropKind.Byte]],
  [0x02, ['Message Expiry Interval', PropKind.Four]],
  [0x03, ['Content Type', PropKind.Utf8]],
  [0x08, ['Response Topic', PropKind.Utf8]],
  [0x09, ['Correlation Data', PropKind.Binary]],
  [0x0b, ['Subscription Identifier', PropKind.Varint]],
  [0x11, ['Session Expiry Interval', PropKind.Four]],
  [0x12, ['Assigned Client Identifier', PropKind.Utf8]],
  [0x13, ['Server Keep Alive', PropKind.Two]],
  [0x15, ['Authentication Method', PropKind.Utf8]],
  [0x16, ['Authentication Data', PropKind.Binary]],
  [0x17, ['Request Problem Information', PropKind.Byte]],
  [0x18, ['Will Delay Interval', PropKind.Four]],
  [0x19, ['Request Response Information', PropKind.Byte]],
  [0x1a, ['Response Information', PropKind.Utf8]],
  [0x1c, ['Server Reference', PropKind.Utf8]],
  [0x1f, ['Reason String', PropKind.Utf8]],
  [0x21, ['Receive Maximum', PropKind.Two]],
  [0x22, ['Topic Alias Maximum', PropKind.Two]],
  [0x23, ['Topic Alias', PropKind.Two]],
  [0x24, ['Maximum QoS', PropKind.Byte]],
  [0x25, ['Retain Available', PropKind.Byte]],
  [0x26, ['User Property', PropKind.Pair]],
  [0x27, ['Maximum Packet Size', PropKind.Four]],
  [0x28, ['Wildcard Subscription Available', PropKind.Byte]],
  [0x29, ['Subscription Identifier Available', PropKind.Byte]],
  [0x2a, ['Shared Subscription Available', PropKind.Byte]],
]);

export const TOPIC_ALIAS = 'Topic Alias';
/** Enhanced authentication data (SASL-like exchanges): a secret, redacted by default. */
export const AUTHENTICATION_DATA = 'Authentication Data';

/** Properties as name/value attributes; user properties under their own names. A property that cannot be read ends the list. */
function readProperties(r: ByteReader, out: Array<[string, string]>): void {
  const len = varint(r);
  const end = Math.min(r.pos + len, r.end);
  if (r.pos + len > r.end) r.short = true;
  while (r.pos < end && !r.short) {
    const id = varint(r);
    const known = PROPERTIES.get(id);
    if (known === undefined) {
      // The kind of an unknown property, and so its length, is unknown: the rest cannot be read.
      out.push([`Property 0x${id.toString(16)}`, '']);
      r.short = true;
      break;
    }
    const [name, kind] = known;
    switch (kind) {
      case PropKind.Byte:
        out.push([name, String(r.u8())]);
        break;
      case PropKind.Two:
        out.push([name, String(r.u16())]);
        break;
      case PropKind.Four:
        out.push([name, String(r.u32())]);
        break;
      case PropKind.Varint:
        out.push([name, String(varint(r))]);
        break;
      case PropKind.Utf8:
        out.push([name, utf8(r)]);
        break;
      case PropKind.Binary:
        out.push([name, binary(r).toString('hex')]);
        break;
      case PropKind.Pair: {
        const key = utf8(r);
        out.push([key, utf8(r)]);
        break;
      }
    }
  }
  r.pos = Math.max(r.pos, end);
}

export interface Subscription {
  filter: string;
  /** SUBSCRIBE: the requested QoS (v5: and options); UNSUBSCRIBE: unused. */
  options: number;
}

/** One packet, as far as it could be read. Fields a type does not have keep their defaults. */
export interface Packet {
  type: number;
  /** PUBLISH flags. */
  qos: number;
  retain: boolean;
  dup: boolean;
  packetId: number;
  /** PUBLISH topic; CONNECT client id. */
  topic: string;
  /** The reason (v5) or return code (CONNACK) of an acknowledgement, 0 when it carries none. */
  reason: number;
  /** SUBACK / UNSUBACK: a code per filter. */
  reasons: number[];
  subscriptions: Subscription[];
  /** Attributes: CONNECT's flags and credentials, v5 properties. */
  attributes: Array<[string, string]>;
  /** PUBLISH payload, CONNECT will message: a view into the frame. */
  payload: Buffer;
  /** The payload's length as sent (the frame may be cut). */
  payloadWire: number;
  /** CONNECT: the protocol level. */
  level: number;
  /** CONNACK: session present. */
  sessionPresent: boolean;
  /** Part of the packet could not be read (the frame was cut, or a length inside lies). */
  short: boolean;
}

/** Shared by the packets that have none (most): a list is made only for a packet that fills it. */
const NONE: never[] = [];

function newPacket(type: number): Packet {
  return {
    type, qos: 0, retain: false, dup: false, packetId: 0, topic: '', reason: 0, reasons: NONE, subscriptions: NONE,
    attributes: NONE, payload: EMPTY, payloadWire: 0, level: 0, sessionPresent: false, short: false,
  };
}

/**
 * Reads the packet buf[start, end) (`wireLength` long on the wire) of a connection at protocol
 * `level` (properties exist from level 5 on).
 */
export function readPacket(buf: Buffer, start: number, end: number, wireLength: number, level: number): Packet {
  const first = buf[start];
  const p = newPacket(first >> 4);
  const body = bodyStart(buf, start);
  const r = new ByteReader(buf, body, end);
  const v5 = level === Level.v5;
  if (v5 || p.type === PacketType.CONNECT) p.attributes = [];
  switch (p.type) {
    case PacketType.CONNECT:
      readConnect(r, p);
      break;
    case PacketType.CONNACK:
      p.sessionPresent = (r.u8() & 1) === 1;
      p.reason = r.u8();
      if (v5 && r.left > 0) readProperties(r, p.attributes);
      break;
    case PacketType.PUBLISH: {
      p.qos = (first >> 1) & 3;
      p.retain = (first & 1) === 1;
      p.dup = (first & 8) !== 0;
      p.topic = utf8(r);
      if (p.qos > 0) p.packetId = r.u16();
      if (v5) readProperties(r, p.attributes);
      const payloadStart = Math.min(r.pos, end);
      p.payload = buf.subarray(payloadStart, end);
      p.payloadWire = Math.max(0, wireLength - (payloadStart - start));
      break;
    }
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP:
      p.packetId = r.u16();
      // v5: the reason code and properties may be left out (success, none).
      if (v5 && r.left > 0) p.reason = r.u8();
      if (v5 && r.left > 0) readProperties(r, p.attributes);
      break;
    case PacketType.SUBSCRIBE:
    case PacketType.UNSUBSCRIBE:
      p.packetId = r.u16();
      if (v5) readProperties(r, p.attributes);
      p.subscriptions = [];
      while (r.left > 0 && !r.short) {
        const filter = utf8(r);
        const options = p.type === PacketType.SUBSCRIBE ? r.u8() : 0;
        if (!r.short) p.subscriptions.push({ filter, options });
      }
      break;
    case PacketType.SUBACK:
    case PacketType.UNSUBACK:
      p.packetId = r.u16();
      if (v5) readProperties(r, p.attributes);
      // 3.1.1 UNSUBACK has no codes; the others one a filter.
      p.reasons = [];
      while (r.left > 0 && !r.short) p.reasons.push(r.u8());
      for (const c of p.reasons) p.reason = Math.max(p.reason, c);
      break;
    case PacketType.DISCONNECT:
    case PacketType.AUTH:
      if (v5 && r.left > 0) p.reason = r.u8();
      if (v5 && r.left > 0) readProperties(r, p.attributes);
      break;
    default: // PINGREQ, PINGRESP: nothing after the fixed header
      break;
  }
  p.short = r.short || end - start < wireLength;
  return p;
}

const ConnectFlag = { username: 0x80, password: 0x40, willRetain: 0x20, will: 0x04, cleanSession: 0x02 } as const;

/** The attribute the CONNECT password is kept under (redacted by default). */
export const PASSWORD = 'password';

function readConnect(r: ByteReader, p: Packet): void {
  const name = utf8(r);
  p.level = r.u8();
  const flags = r.u8();
  const keepAlive = r.u16();
  const a = p.attributes;
  a.push(['protocol', `${name} ${versionText(p.level)}`]);
  a.push([p.level === Level.v5 ? 'clean start' : 'clean session', String((flags & ConnectFlag.cleanSession) !== 0)]);
  a.push(['keep alive', String(keepAlive)]);
  const v5 = p.level === Level.v5;
  if (v5) readProperties(r, a);
  p.topic = utf8(r);
  if (flags & ConnectFlag.will) {
    if (v5) readProperties(r, a);
    a.push(['will topic', utf8(r)]);
    a.push(['will qos', String((flags >> 3) & 3)]);
    a.push(['will retain', String((flags & ConnectFlag.willRetain) !== 0)]);
    p.payload = binary(r);
    p.payloadWire = p.payload.length;
  }
  if (flags & ConnectFlag.username) a.push(['username', utf8(r)]);
  if (flags & ConnectFlag.password) a.push([PASSWORD, binary(r).toString('utf8')]);
}

/** Detection: does buf[start, end) start like a CONNECT (the client's first packet)? */
export function detectConnect(buf: Buffer, start: number, end: number): Detection {
  if (end - start < 2) return Detection.More;
  if (buf[start] !== 0x10) return Detection.No;
  const len = packetLength(buf, start, end);
  if (len === FRAME_INVALID) return Detection.No;
  if (len === FRAME_MORE) return Detection.More;
  const body = bodyStart(buf, start);
  // "\0\x04MQTT" + level 4 or 5, or "\0\x06MQIsdp" + level 3.
  if (end - body < 9) return Detection.More;
  const nameLen = buf.readUInt16BE(body);
  const name = buf.toString('latin1', body + 2, body + 2 + nameLen);
  const level = buf[body + 2 + nameLen];
  const mqtt = (name === 'MQTT' && (level === Level.v311 || level === Level.v5)) || (name === 'MQIsdp' && level === Level.v31);
  return mqtt ? Detection.FromClient : Detection.No;
}
