/**
 * Two small protocols that exist only in the tests, to prove that a protocol is a descriptor and
 * nothing else: registered at run time, they go through capture, the store, the hub, the filter
 * language, the live stream and the drawer without a line of theirs anywhere in src/.
 *
 * - `tline` over TCP: the client sends lines `REQ <verb> <key> [arg…]\r\n`, the server answers each
 *   in order with `RES <code> <text>\r\n` (code < 400 ok, 400–499 the client's fault, 500+ the
 *   server's). `REQ AUTH <password>` carries a secret: redacted by the descriptor.
 * - `tquery` over UDP: a datagram `Q <id> <name>` is answered by `A <id> <rcode> [cached]`, paired by
 *   id (rcode 0 ok, 3 no such name: the client's, anything else the server's).
 */
import {
  emptyBody,
  HeaderList,
  Outcome,
  REDACTED,
  type Entry,
  type ProtocolFields,
} from '../../backend/src/entries/entry.js';
import type { Direction, EndReason, StreamConsumer } from '../../backend/src/net/stream.js';
import {
  Detection,
  type DatagramConsumer,
  type Dissector,
  type DissectorContext,
  type Exchange,
} from '../../backend/src/protocols/dissector.js';
import { InOrderPairing, KeyedPairing } from '../../backend/src/protocols/pairing.js';
import { fieldsTable, side, table } from '../../backend/src/protocols/represent.js';

const MAX_LINE = 4096;

interface Message {
  startUs: number;
  endUs: number;
  words: string[];
}

/** Splits one direction's bytes into lines (bounded: a longer line is dropped and counted). */
class Lines {
  private text = '';
  private startUs = 0;
  constructor(
    private readonly line: (m: Message) => void,
    private readonly tooLong: () => void,
  ) {}

  data(buf: Buffer, start: number, end: number, tsUs: number): void {
    if (this.text === '') this.startUs = tsUs;
    this.text += buf.toString('latin1', start, end);
    let nl: number;
    while ((nl = this.text.indexOf('\n')) >= 0) {
      const line = this.text.slice(0, nl).replace(/\r$/, '');
      this.text = this.text.slice(nl + 1);
      this.line({ startUs: this.startUs, endUs: tsUs, words: line.split(' ') });
      this.startUs = tsUs;
    }
    if (this.text.length > MAX_LINE) {
      this.text = '';
      this.tooLong();
    }
  }

  /** A gap: the partial line cannot be completed. */
  reset(): void {
    this.text = '';
  }
}

function tlineExchange(clientDir: Direction, req: Message, res: Message | null): Exchange {
  const [, verb = '', key = '', ...args] = req.words;
  const code = res ? Number(res.words[1]) || 0 : 0;
  const fields: ProtocolFields = res ? { 'tline.key': key, 'tline.args': args.length, 'tline.code': code } : { 'tline.key': key, 'tline.args': args.length };
  return {
    clientDir,
    protocolVersion: '1',
    startUs: req.startUs,
    endUs: res ? res.endUs : req.endUs,
    durationUs: res ? res.endUs - req.startUs : 0,
    operation: verb,
    target: key,
    query: '',
    host: '',
    status: code,
    statusText: res ? res.words.slice(2).join(' ') : '',
    // Arguments are the request's attributes, the reply's text its payload.
    requestHeaders: HeaderList.of(args.map((a, i) => [`arg${i + 1}`, a])),
    responseHeaders: HeaderList.of([]),
    requestBody: emptyBody(),
    responseBody: res ? textBody(res.words.slice(2).join(' ')) : emptyBody(),
    fields,
    unanswered: res === null,
    incomplete: false,
  };
}

function textBody(text: string) {
  const bytes = Buffer.from(text);
  return { bytes, size: bytes.length, wireSize: bytes.length, truncated: false, encoding: '' };
}

class TlineConnection implements StreamConsumer {
  private readonly pairing: InOrderPairing<Message, Message>;
  private readonly lines: [Lines, Lines];

  constructor(
    private readonly ctx: DissectorContext,
    private readonly clientDir: Direction,
  ) {
    this.pairing = new InOrderPairing(ctx.limits, (req, res) => {
      ctx.counters.exchanges++;
      if (!res) ctx.counters.unanswered++;
      ctx.emit(tlineExchange(clientDir, req, res));
    });
    const bad = () => ctx.counters.parseErrors++;
    const request = new Lines((m) => (m.words[0] === 'REQ' ? this.pairing.request(m) : bad()), bad);
    const response = new Lines((m) => {
      if (m.words[0] !== 'RES') return bad();
      if (!this.pairing.response(m)) ctx.counters.orphanResponses++;
    }, bad);
    this.lines = clientDir === 0 ? [request, response] : [response, request];
  }

  data(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    this.lines[dir].data(buf, start, end, tsUs);
  }
  gap(dir: Direction): void {
    this.lines[dir].reset();
  }
  fin(): void {}
  end(_reason: EndReason): void {
    this.pairing.end();
  }
  tick(nowUs: number): void {
    this.pairing.tick(nowUs);
  }
}

const startsWith = (buf: Buffer, start: number, end: number, word: string) =>
  end - start >= word.length ? buf.toString('latin1', start, start + word.length) === word : word.startsWith(buf.toString('latin1', start, end));

export const tlineDissector: Dissector = {
  protocol: 'tline',
  longName: 'Test line protocol',
  abbr: 'TLINE',
  color: '#8e44ad',
  ports: [7379],
  fields: [
    { name: 'tline.key', type: 'string', doc: 'the key a request names', labels: true },
    { name: 'tline.args', type: 'int', doc: 'arguments after the key' },
    { name: 'tline.code', type: 'int', doc: 'the reply code' },
  ],
  outcomes: { ok: 'RES code below 400', clientError: 'RES 400–499', serverError: 'RES 500 and above', none: 'no RES line' },
  secrets: ['the password of REQ AUTH'],
  stream: {
    detect(buf, start, end) {
      const n = Math.min(end - start, 4);
      if (startsWith(buf, start, end, 'REQ ')) return n < 4 ? Detection.More : Detection.FromClient;
      if (startsWith(buf, start, end, 'RES ')) return n < 4 ? Detection.More : Detection.FromServer;
      return Detection.No;
    },
    open: (ctx, clientDir) => new TlineConnection(ctx, clientDir),
  },
  outcome(x) {
    if (x.unanswered) return Outcome.none;
    return x.status >= 500 ? Outcome.serverError : x.status >= 400 ? Outcome.clientError : Outcome.ok;
  },
  redact(entry: Entry) {
    if (entry.operation !== 'AUTH') return;
    // The key position holds the password: AUTH has no key.
    entry.target = REDACTED;
    entry.fields = { ...entry.fields, 'tline.key': REDACTED };
    for (let i = 0; i < entry.requestHeaders.count; i++) entry.requestHeaders.redact(i);
  },
  represent: (e) => [
    table('Request', [
      ['Verb', e.operation],
      ['Key', e.target],
    ]),
    ...side(e, 'request', { attributes: 'Arguments', payload: 'Request payload' }),
    ...(e.unanswered ? [] : [table('Reply', [['Code', e.status], ['Text', e.statusText]])]),
    ...fieldsTable(e, tlineDissector),
  ],
};

interface Query {
  startUs: number;
  endUs: number;
  name: string;
}

class TqueryFlow implements DatagramConsumer {
  private readonly pairing: KeyedPairing<string, Query, { endUs: number; rcode: number; cached: boolean }>;

  constructor(
    private readonly ctx: DissectorContext,
    private readonly clientDir: Direction,
  ) {
    this.pairing = new KeyedPairing(ctx.limits, (q, a) => {
      ctx.counters.exchanges++;
      if (!a) ctx.counters.unanswered++;
      const fields: ProtocolFields = a ? { 'tquery.name': q.name, 'tquery.rcode': a.rcode, 'tquery.cached': a.cached ? 1 : 0 } : { 'tquery.name': q.name };
      ctx.emit({
        clientDir,
        protocolVersion: '1',
        startUs: q.startUs,
        endUs: a ? a.endUs : q.endUs,
        durationUs: a ? a.endUs - q.startUs : 0,
        operation: 'Q',
        target: q.name,
        query: '',
        host: '',
        status: a ? a.rcode : 0,
        statusText: a ? (a.rcode === 0 ? 'OK' : a.rcode === 3 ? 'NONAME' : 'FAIL') : '',
        requestHeaders: HeaderList.of([]),
        responseHeaders: HeaderList.of([]),
        requestBody: emptyBody(),
        responseBody: emptyBody(),
        fields,
        unanswered: !a,
        incomplete: false,
      });
    });
  }

  datagram(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    const words = buf.toString('latin1', start, end).split(' ');
    if (dir === this.clientDir && words[0] === 'Q' && words.length === 3) {
      this.pairing.request(words[1], { startUs: tsUs, endUs: tsUs, name: words[2] });
    } else if (dir !== this.clientDir && words[0] === 'A' && words.length >= 3) {
      const answer = { endUs: tsUs, rcode: Number(words[2]) || 0, cached: words[3] === 'cached' };
      if (!this.pairing.response(words[1], answer)) this.ctx.counters.orphanResponses++;
    } else this.ctx.counters.parseErrors++;
  }
  end(): void {
    this.pairing.end();
  }
  tick(nowUs: number): void {
    this.pairing.tick(nowUs);
  }
}

export const tqueryDissector: Dissector = {
  protocol: 'tquery',
  longName: 'Test query protocol',
  abbr: 'TQ',
  color: '#16a085',
  ports: [5399],
  fields: [
    { name: 'tquery.name', type: 'string', doc: 'the name asked', labels: true },
    { name: 'tquery.rcode', type: 'int', doc: 'the answer code' },
    { name: 'tquery.cached', type: 'bool', doc: 'the answer came from a cache' },
  ],
  outcomes: { ok: 'rcode 0', clientError: 'rcode 3 (no such name)', serverError: 'any other rcode', none: 'no answer' },
  secrets: [],
  datagram: {
    detect(buf, start, end) {
      const head = buf.toString('latin1', start, Math.min(end, start + 2));
      return head === 'Q ' ? Detection.FromClient : head === 'A ' ? Detection.FromServer : Detection.No;
    },
    open: (ctx, clientDir) => new TqueryFlow(ctx, clientDir),
  },
  outcome(x) {
    if (x.unanswered) return Outcome.none;
    return x.status === 0 ? Outcome.ok : x.status === 3 ? Outcome.clientError : Outcome.serverError;
  },
  represent: (e) => [table('Query', [['Name', e.target], ['Answer', e.statusText]]), ...fieldsTable(e, tqueryDissector)],
};
