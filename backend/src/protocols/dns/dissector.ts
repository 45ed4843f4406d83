/**
 * DNS over UDP (a message a datagram) and TCP (messages with a 2-byte length prefix, several a
 * connection, RFC 7766). Found by content (a plausible header and a question that parses), ports
 * 53 and 5353 only as hints. Queries are paired with responses by id (per flow or connection):
 * a query sent again with the same id while the first waits is a retransmission, counted on the
 * entry (`dns.retransmits`), not a second entry; a response nobody asked is an orphan; a query
 * unanswered past the timeout becomes an unanswered entry. A truncated (TC) answer is an entry of
 * its own, marked `dns.truncated`; the client's retry over TCP is another entry, over TCP.
 */
import { emptyBody, HeaderList, Outcome, type Entry, type ProtocolFields } from '../../entries/entry.js';
import type { Direction, EndReason, StreamConsumer } from '../../net/stream.js';
import { Detection, type DatagramConsumer, type Dissector, type DissectorContext, type Exchange, type Section } from '../dissector.js';
import { KeyedPairing } from '../pairing.js';
import { fieldsTable, table } from '../represent.js';
import {
  className,
  ednsText,
  Flag,
  flagsText,
  HEADER_BYTES,
  looksLikeDns,
  opcodeName,
  parseMessage,
  rcodeName,
  recordText,
  typeName,
  type DnsMessage,
  type ResourceRecord,
} from './message.js';

const MDNS_PORT = 5353;

export interface Sent {
  msg: DnsMessage;
  dir: Direction;
  startUs: number;
  endUs: number;
}

export interface Query extends Sent {
  /** The same query (id) seen again while waiting for its answer. */
  retransmits: number;
}

/** What a response's attribute names start with, by section (answers: the owner name alone). */
export const AUTHORITY_PREFIX = 'authority ';
export const ADDITIONAL_PREFIX = 'additional ';

function recordPairs(records: ResourceRecord[], prefix: string): Array<[string, string]> {
  return records.map((r) => [prefix + r.name, recordText(r)]);
}

export function dnsOutcome(x: Pick<Exchange, 'unanswered' | 'status'>): Outcome {
  if (x.unanswered) return Outcome.none;
  switch (x.status) {
    case 0:
      return Outcome.ok;
    case 1: // FORMERR
    case 3: // NXDOMAIN
    case 5: // REFUSED
      return Outcome.clientError;
    default:
      return Outcome.serverError;
  }
}

/** One query and its response (or none) as an exchange; also what synthetic DNS entries are made by. */
export function dnsExchange(q: Query, res: Sent | null, incomplete: boolean): Exchange {
  const m = q.msg;
  const question = m.questions[0];
  const r = res?.msg ?? null;
  const request: Array<[string, string]> = [
    ['Opcode', opcodeName(m.opcode)],
    ['Class', question ? className(question.qclass) : ''],
    ['Flags', flagsText(m.flags)],
  ];
  if (m.edns) request.push(['EDNS', ednsText(m.edns)]);
  const fields: Record<string, string | number> = {
    'dns.id': m.id,
    'dns.qname': question?.name ?? '',
    'dns.qtype': question ? typeName(question.type) : '',
    'dns.retransmits': q.retransmits,
  };
  if (r) {
    fields['dns.rcode'] = r.rcode;
    fields['dns.answers'] = r.answersRead;
    fields['dns.truncated'] = (r.flags & Flag.tc) !== 0 ? 1 : 0;
    fields['dns.flags'] = flagsText(r.flags);
  }
  return {
    clientDir: q.dir,
    protocolVersion: '',
    startUs: q.startUs,
    endUs: res ? res.endUs : q.endUs,
    durationUs: res ? Math.max(0, res.endUs - q.startUs) : 0,
    operation: fields['dns.qtype'] as string,
    target: fields['dns.qname'] as string,
    query: '',
    host: '',
    status: r ? r.rcode : 0,
    statusText: r ? rcodeName(r.rcode) : '',
    requestHeaders: HeaderList.of(request),
    responseHeaders: r
      ? HeaderList.of([...recordPairs(r.answers, ''), ...recordPairs(r.authority, AUTHORITY_PREFIX), ...recordPairs(r.additional, ADDITIONAL_PREFIX)])
      : HeaderList.of([]),
    requestBody: emptyBody(),
    responseBody: emptyBody(),
    fields: fields as ProtocolFields,
    unanswered: res === null,
    incomplete: incomplete || m.cut || (r !== null && r.cut),
  };
}

/** Queries and responses of one flow or connection, paired by id. */
class Exchanges {
  private readonly pairing: KeyedPairing<number, Query, Sent>;
  /** The queries the pairing holds, by id (to count a retransmission on the one waiting). */
  private readonly waiting = new Map<number, Query>();
  /** The connection was cut (RST, eviction): what is still waiting is incomplete. */
  cut = false;

  constructor(private readonly ctx: DissectorContext) {
    this.pairing = new KeyedPairing(ctx.limits, (q, res) => {
      this.waiting.delete(q.msg.id);
      ctx.counters.exchanges++;
      if (!res) ctx.counters.unanswered++;
      ctx.emit(dnsExchange(q, res, res === null && this.cut));
    });
  }

  message(dir: Direction, buf: Buffer, start: number, end: number, startUs: number, endUs: number): void {
    const msg = parseMessage(buf, start, end);
    if (msg === null || (msg.questions.length === 0 && (msg.flags & Flag.qr) === 0)) {
      this.ctx.counters.parseErrors++;
      return;
    }
    if (msg.cut) this.ctx.counters.parseErrors++;
    if ((msg.flags & Flag.qr) === 0) {
      const q: Query = { msg, dir, startUs, endUs, retransmits: 0 };
      if (this.pairing.request(msg.id, q)) this.waiting.set(msg.id, q);
      else {
        const first = this.waiting.get(msg.id);
        if (first) first.retransmits++;
      }
    } else if (!this.pairing.response(msg.id, { msg, dir, startUs, endUs })) this.ctx.counters.orphanResponses++;
  }

  tick(nowUs: number): void {
    this.pairing.tick(nowUs);
  }

  end(reason: EndReason): void {
    this.cut = reason === 'rst' || reason === 'evicted';
    this.pairing.end();
  }
}

class DnsFlow implements DatagramConsumer {
  private readonly exchanges: Exchanges;
  constructor(ctx: DissectorContext) {
    this.exchanges = new Exchanges(ctx);
  }
  datagram(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    this.exchanges.message(dir, buf, start, end, tsUs, tsUs);
  }
  end(reason: EndReason): void {
    this.exchanges.end(reason);
  }
  tick(nowUs: number): void {
    this.exchanges.tick(nowUs);
  }
}

/** Splits one direction of a TCP connection into length-prefixed messages. */
class Framer {
  private buf = Buffer.alloc(0);
  private startUs = 0;
  /** After a gap the next message's start is unknown: wait for a chunk that starts one. */
  private lost = false;

  constructor(
    private readonly dir: Direction,
    private readonly exchanges: Exchanges,
    private readonly ctx: DissectorContext,
  ) {}

  data(chunk: Buffer, start: number, end: number, tsUs: number): void {
    if (this.lost) {
      // Messages start at segment boundaries in practice: resume at a chunk that starts one.
      if (end - start < 2 + HEADER_BYTES || chunk.readUInt16BE(start) < HEADER_BYTES || looksLikeDns(chunk, start + 2, end, false, false) === null) return;
      this.lost = false;
    }
    if (this.buf.length === 0) this.startUs = tsUs;
    let b: Buffer;
    let s: number;
    if (this.buf.length === 0) {
      b = chunk;
      s = start;
    } else {
      b = Buffer.concat([this.buf, chunk.subarray(start, end)]);
      s = 0;
      end = b.length;
    }
    while (end - s >= 2) {
      const len = b.readUInt16BE(s);
      if (len < HEADER_BYTES) {
        this.ctx.counters.parseErrors++;
        this.lose();
        return;
      }
      if (end - s - 2 < len) break;
      this.exchanges.message(this.dir, b, s + 2, s + 2 + len, this.startUs, tsUs);
      s += 2 + len;
      this.startUs = tsUs;
    }
    // What is left waits for more (at most one message: 64 KiB + 2), copied: the chunk is not ours.
    this.buf = s === end ? Buffer.alloc(0) : Buffer.from(b.subarray(s, end));
  }

  gap(): void {
    if (this.buf.length > 0) this.ctx.counters.parseErrors++;
    this.lose();
  }

  private lose(): void {
    this.buf = Buffer.alloc(0);
    this.lost = true;
  }
}

class DnsConnection implements StreamConsumer {
  private readonly exchanges: Exchanges;
  private readonly framers: [Framer, Framer];
  constructor(ctx: DissectorContext) {
    this.exchanges = new Exchanges(ctx);
    this.framers = [new Framer(0, this.exchanges, ctx), new Framer(1, this.exchanges, ctx)];
  }
  data(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    this.framers[dir].data(buf, start, end, tsUs);
  }
  gap(dir: Direction): void {
    this.framers[dir].gap();
  }
  fin(): void {}
  end(reason: EndReason): void {
    this.exchanges.end(reason);
  }
  tick(nowUs: number): void {
    this.exchanges.tick(nowUs);
  }
}

function detection(kind: 'query' | 'response' | 'more' | null): Detection {
  return kind === 'query' ? Detection.FromClient : kind === 'response' ? Detection.FromServer : kind === 'more' ? Detection.More : Detection.No;
}

function represent(e: Entry): Section[] {
  const f = e.fields;
  const req = e.requestHeaders;
  const sections: Section[] = [
    table('Query', [
      ['Name', e.target],
      ['Type', e.operation],
      ['Class', req.get('class') ?? ''],
      ['ID', f['dns.id'] ?? ''],
      ['Opcode', req.get('opcode') ?? ''],
      ['Flags', req.get('flags') ?? ''],
      ['EDNS', req.get('edns') ?? ''],
    ]),
  ];
  if (!e.unanswered) {
    sections.push(
      table('Response', [
        ['RCODE', `${e.status} ${e.statusText}`],
        ['Flags', f['dns.flags'] ?? ''],
        ['Answers', f['dns.answers'] ?? 0],
      ]),
    );
    const answers: Array<[string, string]> = [];
    const authority: Array<[string, string]> = [];
    const additional: Array<[string, string]> = [];
    for (const [name, value] of e.responseHeaders) {
      if (name.startsWith(AUTHORITY_PREFIX)) authority.push([name.slice(AUTHORITY_PREFIX.length), value]);
      else if (name.startsWith(ADDITIONAL_PREFIX)) additional.push([name.slice(ADDITIONAL_PREFIX.length), value]);
      else answers.push([name, value]);
    }
    for (const [title, rows] of [['Answers', answers], ['Authority', authority], ['Additional', additional]] as const) {
      if (rows.length > 0) sections.push({ kind: 'table', title, rows });
    }
  }
  return [...sections, ...fieldsTable(e, dnsDissector)];
}

export const dnsDissector: Dissector = {
  protocol: 'dns',
  longName: 'Domain Name System',
  abbr: 'DNS',
  color: '#d35400',
  ports: [53, MDNS_PORT],
  fields: [
    { name: 'dns.qname', type: 'string', doc: 'the name queried, without the trailing dot (the root as <Root>), as sent', labels: true },
    { name: 'dns.qtype', type: 'string', doc: 'the query type: A, AAAA, SRV, PTR… (TYPE<n> when unnamed)', labels: true },
    { name: 'dns.rcode', type: 'int', doc: 'the response code: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED… (with EDNS0 extended bits)' },
    { name: 'dns.answers', type: 'int', doc: 'records in the answer section of the response' },
    { name: 'dns.truncated', type: 'bool', doc: 'the response had TC set (too long for UDP: the client retries over TCP)' },
    { name: 'dns.id', type: 'int', doc: 'the message id that paired query and response' },
    { name: 'dns.flags', type: 'string', doc: 'the response header flags as dig shows them: qr aa tc rd ra ad cd' },
    { name: 'dns.retransmits', type: 'int', doc: 'times the query was sent again (same id) before its answer' },
  ],
  outcomes: {
    ok: 'NOERROR (with or without answers)',
    clientError: 'NXDOMAIN, REFUSED, FORMERR',
    serverError: 'SERVFAIL and every other RCODE',
    none: 'no response before the timeout or the end of the flow',
  },
  secrets: [],
  datagram: {
    detect: (buf, start, end, flow) => detection(looksLikeDns(buf, start, end, true, flow.port[0] === MDNS_PORT || flow.port[1] === MDNS_PORT)),
    open: (ctx) => new DnsFlow(ctx),
  },
  stream: {
    detect(buf, start, end) {
      if (end - start < 2) return Detection.More;
      const len = buf.readUInt16BE(start);
      if (len < HEADER_BYTES + 5) return Detection.No;
      const whole = end - start >= 2 + len;
      return detection(looksLikeDns(buf, start + 2, whole ? start + 2 + len : end, whole, false));
    },
    open: (ctx) => new DnsConnection(ctx),
  },
  outcome: dnsOutcome,
  represent,
};
