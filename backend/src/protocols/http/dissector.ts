/**
 * HTTP/1.0 and 1.1: a request parser on the client's direction, a response parser on the
 * server's, and pairing in order (keep-alive and pipelining answer requests first come, first
 * served). Interim 1xx responses are skipped; 101 and CONNECT 2xx end HTTP on the connection.
 */
import { emptyBody, NO_FIELDS, Outcome, type Entry } from '../../entries/entry.js';
import { HeaderList } from '../../entries/headers.js';
import type { Direction, EndReason, StreamConsumer } from '../../net/stream.js';
import type { Dissector, DissectorContext, Exchange, Section } from '../dissector.js';
import { side, table } from '../represent.js';
import { messageBody } from './body.js';
import type { HttpMessage } from './message.js';
import { BodyKind, HttpParser } from './parser.js';
import { redactQuery } from './redact.js';
import { detectStartLine } from './start-line.js';

/** Outcome by status: 5xx the server's failure, 4xx the client's. */
export function httpOutcome(x: Pick<Exchange, 'unanswered' | 'status'>): Outcome {
  if (x.unanswered) return Outcome.none;
  if (x.status >= 500) return Outcome.serverError;
  if (x.status >= 400) return Outcome.clientError;
  return Outcome.ok;
}

/** HTTP's sections of an entry (also what a protocol carried by HTTP shows of its HTTP side). */
export function representHttp(e: Entry): Section[] {
  return [
    table('Request', [
      ['Method', e.operation],
      ['Path', e.target],
      ['Query', e.query],
      ['Host', e.host],
      ['Version', `HTTP/${e.protocolVersion}`],
    ]),
    ...side(e, 'request', { attributes: 'Request headers', payload: 'Request body', contentType: e.requestHeaders.get('content-type') ?? '' }),
    ...(e.unanswered ? [] : [table('Response', [['Status', `${e.status} ${e.statusText}`.trim()]])]),
    ...side(e, 'response', { attributes: 'Response headers', payload: 'Response body', contentType: e.responseHeaders.get('content-type') ?? '' }),
  ];
}

export const httpDissector: Dissector = {
  protocol: 'http',
  longName: 'Hypertext Transfer Protocol',
  abbr: 'HTTP',
  color: '#205cc0',
  ports: [80, 8080, 8000, 3000, 5000, 9090],
  // Method, path, query, host, status and headers are columns of every entry (query/fields.ts).
  fields: [],
  outcomes: { ok: '1xx, 2xx, 3xx', clientError: '4xx', serverError: '5xx', none: 'no response seen' },
  secrets: ['credential headers (Authorization, Cookie, Set-Cookie, API keys and tokens)', 'credential query parameters (access_token, api_key, password, signature…)'],
  stream: {
    detect: detectStartLine,
    open: (ctx, clientDir) => new HttpConnection(ctx, clientDir),
  },
  outcome: httpOutcome,
  redact: redactQuery,
  represent: representHttp,
};

interface Pending {
  request: HttpMessage;
  /** The request's last byte has been seen. */
  done: boolean;
  response: HttpMessage | null;
  /** The id of its entry, once emitted. */
  entryId: string;
}

/** Upgrade tokens (RFC 9110 §7.8) → the protocol that takes the connection over, when it is registered. */
const UPGRADE_PROTOCOLS: Readonly<Record<string, string>> = { h2c: 'http2', websocket: 'websocket' };

/** Client bytes held after an upgrade request until the response accepts or refuses it. */
const MAX_HELD_TUNNEL_BYTES = 64 * 1024;

class HttpConnection implements StreamConsumer {
  private readonly requests: HttpParser;
  private readonly responses: HttpParser;
  /** The protocol an accepted upgrade handed the connection to. */
  private next: StreamConsumer | null = null;
  /** Client bytes sent after an upgrade request, before its response (the new protocol's, if accepted). */
  private held: Array<{ bytes: Buffer; tsUs: number }> = [];
  private heldBytes = 0;
  /** Requests in the order sent, waiting for their responses. */
  private readonly pending: Pending[] = [];
  /** The request currently being received (head seen, body not finished). */
  private receiving: Pending | null = null;

  constructor(
    private readonly ctx: DissectorContext,
    private readonly clientDir: Direction,
  ) {
    const parseError = () => ctx.counters.parseErrors++;
    const serverDir = (1 - clientDir) as Direction;
    this.requests = new HttpParser(
      true,
      {
        head: (msg) => this.requestHead(msg),
        message: (msg) => this.requestDone(msg),
        parseError,
        tunnel: (buf, start, end, tsUs) => this.clientTunnel(buf, start, end, tsUs),
        tunnelGap: (bytes, tsUs) => this.next?.gap(clientDir, bytes, tsUs),
      },
      ctx.limits,
    );
    this.responses = new HttpParser(
      false,
      {
        head: (msg) => this.responseHead(msg),
        headless: () => this.unanswered()?.request.version === '0.9',
        message: (msg) => this.responseDone(msg),
        parseError,
        tunnel: (buf, start, end, tsUs) => this.next?.data(serverDir, buf, start, end, tsUs),
        tunnelGap: (bytes, tsUs) => this.next?.gap(serverDir, bytes, tsUs),
      },
      ctx.limits,
    );
  }

  private clientTunnel(buf: Buffer, start: number, end: number, tsUs: number): void {
    if (this.next) return this.next.data(this.clientDir, buf, start, end, tsUs);
    // The upgrade's response has not come yet: keep the bytes (bounded) until it says.
    if (this.unanswered() === undefined || this.heldBytes + end - start > MAX_HELD_TUNNEL_BYTES) return;
    this.held.push({ bytes: Buffer.from(buf.subarray(start, end)), tsUs });
    this.heldBytes += end - start;
  }

  /** An accepted upgrade: the protocol it names takes over, with the client bytes held so far. */
  private handOff(p: Pending, response: HttpMessage): void {
    const token = (response.headers.get('upgrade') ?? '').split(',')[0].trim().toLowerCase();
    const name = UPGRADE_PROTOCOLS[token] ?? token;
    const target = p.request.target;
    const q = target.indexOf('?');
    const handshake = {
      entryId: p.entryId,
      target: q < 0 ? target : target.slice(0, q),
      host: p.request.host,
      requestHeaders: p.request.headers,
      responseHeaders: response.headers,
    };
    this.next = name === '' ? null : this.ctx.handOff(name, this.clientDir, handshake);
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    if (this.next) for (const h of held) this.next.data(this.clientDir, h.bytes, 0, h.bytes.length, h.tsUs);
  }

  data(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    (dir === this.clientDir ? this.requests : this.responses).data(buf, start, end, tsUs);
  }

  gap(dir: Direction, bytes: number, tsUs: number): void {
    (dir === this.clientDir ? this.requests : this.responses).gap(bytes, tsUs);
  }

  fin(dir: Direction, tsUs: number): void {
    (dir === this.clientDir ? this.requests : this.responses).finish();
    this.next?.fin(dir, tsUs);
  }

  end(reason: EndReason, tsUs: number): void {
    this.requests.finish();
    this.responses.finish();
    this.next?.end(reason, tsUs);
    const cut = reason === 'rst' || reason === 'evicted';
    while (this.pending.length > 0) {
      const p = this.pending.shift()!;
      if (cut) p.request.incomplete = true;
      this.emit(p.request, p.response);
    }
  }

  tick(nowUs: number): void {
    this.next?.tick(nowUs);
    // A response on its way (head seen, body arriving) answers the oldest: no timeout then.
    if (this.responses.inMessage()) return;
    const before = nowUs - this.ctx.limits.unansweredTimeoutUs;
    while (this.pending.length > 0 && this.pending[0].done && this.pending[0].request.endUs < before) {
      this.emit(this.pending.shift()!.request, null);
    }
  }

  private requestHead(msg: HttpMessage): BodyKind {
    const p: Pending = { request: msg, done: false, response: null, entryId: '' };
    this.pending.push(p);
    this.receiving = p;
    if (this.pending.length > this.ctx.limits.maxPendingRequests) {
      const oldest = this.pending.shift()!;
      if (!oldest.done) oldest.request.incomplete = true;
      this.emit(oldest.request, oldest.response);
    }
    // CONNECT has no content (RFC 9110 §9.3.6), whatever its headers say: what follows is the tunnel's.
    if (msg.method === 'CONNECT') return BodyKind.Tunnel;
    if (msg.version === '0.9') return BodyKind.None;
    if (msg.upgrade) {
      // What follows may be another protocol: wait for the response to say (101/2xx or not).
      return msg.chunked ? BodyKind.Chunked : msg.contentLength !== -1 ? BodyKind.Length : BodyKind.Tunnel;
    }
    if (msg.chunked) return BodyKind.Chunked;
    if (msg.contentLength !== -1) return BodyKind.Length;
    return BodyKind.None;
  }

  private requestDone(msg: HttpMessage): void {
    const p = this.receiving;
    this.receiving = null;
    if (!p || p.request !== msg) return;
    p.done = true;
    if (p.response) this.settle();
  }

  private responseHead(msg: HttpMessage): BodyKind {
    const method = this.unanswered()?.request.method ?? '';
    const s = msg.status;
    if (s === 101) return BodyKind.Tunnel;
    if (method === 'CONNECT' && s >= 200 && s < 300) return BodyKind.Tunnel;
    if ((s >= 100 && s < 200) || s === 204 || s === 304 || method === 'HEAD') return BodyKind.None;
    if (msg.chunked) return BodyKind.Chunked;
    if (msg.contentLength !== -1) return BodyKind.Length;
    return BodyKind.UntilClose;
  }

  private responseDone(msg: HttpMessage): void {
    if (msg.status >= 100 && msg.status < 200 && msg.status !== 101) return; // interim: the real answer follows
    const p = this.unanswered();
    if (!p) {
      // Its request was not captured (capture started between them, one direction only): the
      // response is still an entry, with no request, marked incomplete.
      this.ctx.counters.orphanResponses++;
      this.emit(null, msg);
      return;
    }
    p.response = msg;
    const upgraded = msg.status === 101 || (p.request.method === 'CONNECT' && msg.status >= 200 && msg.status < 300);
    if (upgraded) {
      this.requests.tunnel();
    } else if (p.request.method === 'CONNECT' || p.request.upgrade) {
      this.held = [];
      this.heldBytes = 0;
      this.requests.resume();
    }
    if (!p.done && upgraded) p.done = true;
    this.settle();
    // After settling: the new protocol's entries can point to the handshake's.
    if (msg.status === 101) this.handOff(p, msg);
  }

  /** The oldest request still waiting for its response. */
  private unanswered(): Pending | undefined {
    const pending = this.pending;
    for (let i = 0; i < pending.length; i++) if (pending[i].response === null) return pending[i];
    return undefined;
  }

  /** Emits answered exchanges in order, as soon as both sides of the oldest are complete. */
  private settle(): void {
    while (this.pending.length > 0 && this.pending[0].done && this.pending[0].response) {
      const p = this.pending.shift()!;
      p.entryId = this.emit(p.request, p.response);
    }
  }

  /** One exchange, and its entry's id; `req` null for a response whose request was not captured (an orphan). */
  private emit(req: HttpMessage | null, res: HttpMessage | null): string {
    const counters = this.ctx.counters;
    counters.exchanges++;
    if (!res) counters.unanswered++;
    const target = req?.target ?? '';
    const q = target.indexOf('?');
    let path = q < 0 ? target : target.slice(0, q);
    // Absolute form (proxies): the path alone; the host is the target's authority (RFC 9112
    // §3.2.2: it overrides Host), without its userinfo, which is a credential.
    const scheme = path === '' || path.charCodeAt(0) === 47 ? null : /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/]*)/.exec(path);
    if (scheme) path = path.slice(scheme[0].length) || '/';
    const authority = scheme ? scheme[1].slice(scheme[1].lastIndexOf('@') + 1) : '';
    const limit = this.ctx.limits.maxBodyBytes;
    const start = req ?? res!;
    const exchange: Exchange = {
      clientDir: this.clientDir,
      protocolVersion: start.version,
      startUs: start.startUs,
      endUs: res ? res.endUs : start.endUs,
      // An orphan's request time is unknown: no latency rather than a made-up one.
      durationUs: res && req ? Math.max(0, res.endUs - req.startUs) : 0,
      operation: req?.method ?? '',
      target: path,
      query: q < 0 ? '' : target.slice(q + 1),
      host: authority !== '' ? authority : req?.host ?? '',
      status: res?.status ?? 0,
      statusText: res?.statusText ?? '',
      requestHeaders: req?.headers ?? HeaderList.of([]),
      responseHeaders: res?.headers ?? HeaderList.of([]),
      requestBody: req ? messageBody(req, limit) : emptyBody(),
      responseBody: res ? messageBody(res, limit) : emptyBody(),
      fields: NO_FIELDS,
      unanswered: !res,
      incomplete: req === null || req.incomplete || req.headTruncated || (res !== null && (res.incomplete || res.headTruncated)),
    };
    return this.ctx.emit(exchange);
  }
}
