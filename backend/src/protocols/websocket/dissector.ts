/**
 * WebSocket (RFC 6455), reached only by HTTP/1.1's hand-off after `101 Switching Protocols` with
 * `Upgrade: websocket` (frames carry no marker a detector could find mid-stream). The handshake
 * stays an HTTP entry; each message is an entry of its own pointing to it (`websocket.handshake`).
 *
 * Entries: a text or binary message (its frames reassembled, decompressed when permessage-deflate
 * was negotiated) is one-way; a ping is paired with the other side's next pong; a close with the
 * other side's close, its code the outcome. Control frames inside a fragmented message are
 * entries of their own, in the order they ended.
 */
import { emptyBody, HeaderList, Outcome, type Body, type Entry } from '../../entries/entry.js';
import type { Direction, EndReason, StreamConsumer } from '../../net/stream.js';
import { Detection, type Dissector, type DissectorContext, type Exchange, type Section } from '../dissector.js';
import { maskJsonMembers } from '../graphql/redact.js';
import { DECODE_FACTOR } from '../http/body.js';
import { InOrderPairing } from '../pairing.js';
import { fieldsTable, side, table } from '../represent.js';
import { Inflater, negotiatedDeflate } from './deflate.js';
import { FrameParser, Opcode, opcodeName, payloadOf, type WsMessage } from './frame.js';

const F = {
  opcode: 'websocket.opcode',
  direction: 'websocket.direction',
  closeCode: 'websocket.close_code',
  handshake: 'websocket.handshake',
  frames: 'websocket.frames',
  compressed: 'websocket.compressed',
} as const;

/** Close codes (RFC 6455 §7.4.1) the sender blames on its peer's messages. */
const CLIENT_ERROR_CODES = new Set([1002, 1003, 1007, 1008, 1009, 1010]);

/** The outcome of a close code, whichever side sent it. */
export function closeOutcome(code: number): Outcome {
  if (code === 0 || code === 1000 || code === 1001 || (code >= 3000 && code <= 4999)) return Outcome.ok;
  if (CLIENT_ERROR_CODES.has(code)) return Outcome.clientError;
  if (code >= 1011 && code <= 1015) return Outcome.serverError;
  // 1004–1006 and 1016–2999 must not be sent: the sender broke the protocol.
  return Outcome.clientError;
}

function wsOutcome(x: Exchange): Outcome {
  const op = x.fields[F.opcode];
  if (op === Opcode.close) return closeOutcome(x.status);
  if (op === Opcode.ping) return x.unanswered ? Outcome.none : Outcome.ok;
  return Outcome.oneWay;
}

interface Sent {
  msg: WsMessage;
  dir: Direction;
  endUs: number;
}

const NO_ATTRIBUTES = HeaderList.of([]);
/** The attributes of a close's reply (the other side's close frame). */
export const CLOSE_CODE = 'code';
export const CLOSE_REASON = 'reason';

/** A close frame's code and reason (RFC 6455 §5.5.1), null when it has no payload. */
function closeFrame(m: WsMessage): [code: number, reason: string] | null {
  if (m.kept < 2) return null;
  const payload = payloadOf(m);
  return [payload.readUInt16BE(0), payload.toString('utf8', 2)];
}

class WsConnection implements StreamConsumer {
  private readonly parsers: [FrameParser, FrameParser];
  /** Per sender direction; null when permessage-deflate was not negotiated. */
  private readonly inflaters: [Inflater | null, Inflater | null] = [null, null];
  /** Pings by sender direction, answered by the other side's pongs in order. */
  private readonly pings: [InOrderPairing<Sent, Sent>, InOrderPairing<Sent, Sent>];
  /** A close waiting for the other side's. */
  private closing: Sent | null = null;
  private readonly handshakeId: string;
  private readonly target: string;
  private readonly host: string;

  constructor(
    private readonly ctx: DissectorContext,
    private readonly clientDir: Direction,
  ) {
    const hs = ctx.handshake;
    this.handshakeId = hs?.entryId ?? '';
    this.target = hs?.target ?? '';
    this.host = hs?.host ?? '';
    const deflate = negotiatedDeflate(hs?.responseHeaders.get('sec-websocket-extensions') ?? '');
    const limits = ctx.limits;
    if (deflate) {
      const cap = limits.maxBodyBytes * DECODE_FACTOR;
      const client = new Inflater(!deflate.clientNoContextTakeover, deflate.clientMaxWindowBits, cap);
      const server = new Inflater(!deflate.serverNoContextTakeover, deflate.serverMaxWindowBits, cap);
      this.inflaters[clientDir] = client;
      this.inflaters[1 - clientDir] = server;
    }
    const parser = (dir: Direction) =>
      new FrameParser(dir === clientDir, deflate !== null, limits.maxBodyBytes, {
        message: (msg) => this.message(dir, msg),
        parseError: () => ctx.counters.parseErrors++,
      });
    this.parsers = [parser(0), parser(1)];
    const pairing = () => new InOrderPairing<Sent, Sent>(limits, (ping, pong) => this.emit(ping, pong));
    this.pings = [pairing(), pairing()];
  }

  data(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    this.parsers[dir].data(buf, start, end, tsUs);
  }

  gap(dir: Direction, _bytes: number, tsUs: number): void {
    this.parsers[dir].stop(tsUs);
  }

  fin(dir: Direction, tsUs: number): void {
    this.parsers[dir].stop(tsUs);
  }

  end(_reason: EndReason, tsUs: number): void {
    this.parsers[0].stop(tsUs);
    this.parsers[1].stop(tsUs);
    this.pings[0].end();
    this.pings[1].end();
    if (this.closing) this.emit(this.closing, null);
    this.closing = null;
  }

  tick(nowUs: number): void {
    this.pings[0].tick(nowUs);
    this.pings[1].tick(nowUs);
  }

  private message(dir: Direction, msg: WsMessage): void {
    const sent: Sent = { msg, dir, endUs: msg.endUs };
    switch (msg.opcode) {
      case Opcode.ping:
        this.pings[dir].request(sent);
        return;
      case Opcode.pong:
        // A pong nobody asked for is a heartbeat of its own (RFC 6455 §5.5.3).
        if (!this.pings[1 - dir].response(sent)) this.emit(sent, null);
        return;
      case Opcode.close: {
        const first = this.closing;
        if (first === null || first.dir === dir) {
          if (first) this.emit(first, null);
          this.closing = sent;
          return;
        }
        this.closing = null;
        this.emit(first, sent);
        return;
      }
      default:
        this.emit(sent, null);
    }
  }

  /** The message's payload as the entry keeps it: decompressed when it was compressed. */
  private body(s: Sent): Body {
    const m = s.msg;
    const raw = m.kept === 0 ? Buffer.alloc(0) : payloadOf(m);
    const base: Body = { bytes: raw, wireSize: m.wireSize, size: m.size, truncated: m.cut || m.incomplete, encoding: '' };
    const inflater = this.inflaters[s.dir];
    if (!m.compressed || inflater === null) return base;
    const out = inflater.inflate(raw, !m.cut && !m.incomplete);
    if (out === null) {
      this.ctx.counters.parseErrors++;
      return { ...base, truncated: true };
    }
    const limit = this.ctx.limits.maxBodyBytes;
    return {
      bytes: out.bytes.length > limit ? out.bytes.subarray(0, limit) : out.bytes,
      wireSize: m.wireSize,
      size: out.bytes.length,
      truncated: !out.complete || out.bytes.length > limit,
      encoding: 'permessage-deflate',
    };
  }

  private emit(s: Sent, reply: Sent | null): void {
    const m = s.msg;
    const counters = this.ctx.counters;
    counters.exchanges++;
    const control = m.opcode >= Opcode.close;
    const answerable = m.opcode === Opcode.ping || m.opcode === Opcode.close;
    if (answerable && reply === null) counters.unanswered++;
    const fields: Record<string, string | number> = {
      [F.opcode]: m.opcode,
      [F.direction]: s.dir === this.clientDir ? 'client' : 'server',
      [F.handshake]: this.handshakeId,
      [F.frames]: m.frames,
      [F.compressed]: m.compressed ? 1 : 0,
    };
    let body: Body;
    let status = 0;
    let statusText = '';
    let replyAttributes = NO_ATTRIBUTES;
    if (m.opcode === Opcode.close) {
      const close = closeFrame(m);
      if (close) {
        [status, statusText] = close;
        fields[F.closeCode] = status;
      }
      body = emptyBody();
      const echo = reply && closeFrame(reply.msg);
      if (echo) replyAttributes = HeaderList.of([[CLOSE_CODE, String(echo[0])], [CLOSE_REASON, echo[1]]]);
    } else body = control ? this.controlBody(m) : this.body(s);
    this.ctx.emit({
      clientDir: this.clientDir,
      protocolVersion: '13',
      startUs: m.startUs,
      endUs: reply ? reply.msg.endUs : m.endUs,
      durationUs: reply ? Math.max(0, reply.msg.endUs - m.startUs) : 0,
      operation: opcodeName(m.opcode),
      target: this.target,
      query: '',
      host: this.host,
      status,
      statusText,
      requestHeaders: NO_ATTRIBUTES,
      responseHeaders: replyAttributes,
      requestBody: body,
      responseBody: reply && reply.msg.opcode === Opcode.pong ? this.controlBody(reply.msg) : emptyBody(),
      fields,
      unanswered: answerable && reply === null,
      incomplete: m.incomplete || (reply !== null && reply.msg.incomplete),
    });
  }

  private controlBody(m: WsMessage): Body {
    return { bytes: m.kept === 0 ? Buffer.alloc(0) : payloadOf(m), wireSize: m.wireSize, size: m.size, truncated: m.cut || m.incomplete, encoding: '' };
  }
}

const QUOTE = 0x22;

/**
 * Secrets in text messages: JSON members named like credentials (`"token": "…"`, `"password"`,
 * graphql-ws's `"authorization"`… as GraphQL's redaction names them), masked by pattern (a parse
 * of every message would cost more than the dissection).
 */
function redactMessage(e: Entry, extraNames: ReadonlySet<string>): void {
  const body = e.requestBody;
  if (e.fields[F.opcode] !== Opcode.text || body.bytes.indexOf(QUOTE) < 0) return;
  const masked = maskJsonMembers(body.bytes.toString('utf8'), extraNames);
  if (masked !== null) e.requestBody = { ...body, bytes: Buffer.from(masked, 'utf8') };
}

function represent(e: Entry): Section[] {
  const op = e.fields[F.opcode];
  const sections: Section[] = [
    table('Message', [
      ['Type', e.operation],
      ['Sent by', String(e.fields[F.direction] ?? '')],
      ['Path', e.target],
      ['Host', e.host],
      ...(op === Opcode.close ? ([['Close code', e.fields[F.closeCode] ?? ''], ['Reason', e.statusText]] as Array<[string, string | number]>) : []),
    ]),
    ...fieldsTable(e, websocketDissector),
    ...side(e, 'response', { attributes: 'Reply close frame', payload: 'Pong payload', contentType: 'application/octet-stream' }),
  ];
  const contentType = op === Opcode.text ? 'text/plain; charset=utf-8' : 'application/octet-stream';
  if (e.requestBody.size > 0) sections.push({ kind: 'body', title: op === Opcode.ping ? 'Ping payload' : 'Payload', body: e.requestBody, contentType });
  return sections;
}

export const websocketDissector: Dissector = {
  protocol: 'websocket',
  longName: 'WebSocket',
  abbr: 'WS',
  color: '#7b3fa0',
  // Reached by HTTP's hand-off only: no port of its own.
  ports: [],
  fields: [
    { name: F.opcode, aliases: ['ws.opcode'], type: 'int', doc: 'the message opcode: 1 text, 2 binary, 8 close, 9 ping, 10 pong' },
    { name: F.direction, aliases: ['ws.direction'], type: 'string', labels: true, doc: 'who sent the message: "client" or "server"' },
    { name: F.closeCode, aliases: ['ws.close_code'], type: 'int', doc: 'a close frame\'s status code (1000 normal, 1001 going away, 1002 protocol error…)' },
    { name: F.handshake, aliases: ['ws.handshake'], type: 'string', doc: 'the id of the HTTP entry of the handshake (the 101 Switching Protocols)' },
    { name: F.frames, aliases: ['ws.frames'], type: 'int', doc: 'frames the message came in (more than 1: fragmented)' },
    { name: F.compressed, aliases: ['ws.compressed'], type: 'bool', doc: '1 when the message was compressed (permessage-deflate)' },
  ],
  outcomes: {
    ok: 'close 1000/1001 or an application code (3000–4999); a ping answered by a pong',
    clientError: 'close 1002, 1003, 1007, 1008, 1009, 1010, or a code no one may send',
    serverError: 'close 1011–1015',
    oneWay: 'text and binary messages, unsolicited pongs',
    none: 'a ping without a pong',
  },
  secrets: ['JSON members of text messages named like credentials (token, password, api_key, accessToken…)'],
  stream: {
    detect: () => Detection.No,
    open: (ctx, clientDir) => new WsConnection(ctx, clientDir),
  },
  outcome: wsOutcome,
  redact: redactMessage,
  represent,
};
