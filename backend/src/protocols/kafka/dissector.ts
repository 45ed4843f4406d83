/**
 * Kafka over TCP (https://kafka.apache.org/protocol): size-prefixed requests and responses, paired
 * by correlation id. Responses carry no API key, so each request's key and version are kept until
 * its response comes: they say how to read it (and whether its header has tagged fields). Found by
 * content: a request header with a known API key and version; port 9092 only as a hint.
 *
 * An acks=0 Produce expects no response: it is an entry of its own at once, one-way. Requests of
 * API keys this dissector does not parse are entries too, with their key and version. Messages are
 * kept up to MAX_KEPT_MESSAGE_BYTES (the rest is skipped, the entry marked incomplete); a length
 * that cannot be (negative, beyond MAX_FRAME_BYTES) loses the direction's framing, which resumes at
 * a segment that starts a plausible message (a request header, or a response to a waiting request).
 *
 * SASL: SaslAuthenticate's bytes are never read, only counted. After a SaslHandshake v0 the client
 * sends raw SASL tokens without a Kafka header (the pre-KIP-152 flow): they become one-way "SASL
 * token" entries holding their length only, until a frame looks like a request again.
 */
import { emptyBody, HeaderList, Outcome, type Body, type Entry, type ProtocolFields } from '../../entries/entry.js';
import type { Direction, EndReason, StreamConsumer } from '../../net/stream.js';
import { Detection, type Dissector, type DissectorContext, type Exchange, type Section } from '../dissector.js';
import { KeyedPairing } from '../pairing.js';
import { fieldsTable, side, table } from '../represent.js';
import { ApiKey, apiName, errorName, errorOutcome, isFlexible, isKnownApi, parseRequest, parseResponse, responseHeaderFlexible, Side } from './apis.js';
import type { KeptRecord } from './records.js';
import { Reader } from './wire.js';

/** Kafka's default socket.request.max.bytes is 100 MiB: a longer length is not Kafka's. */
const MAX_FRAME_BYTES = 128 << 20;
/** Bytes of one message kept for parsing (the first topics, partitions and batches of a large one). */
const MAX_KEPT_MESSAGE_BYTES = 1 << 20;
/** api key, version, correlation id, client id length: the v1 request header without the id. */
const REQUEST_HEADER_MIN = 10;
/** How far ahead of the last a correlation id may be and still be taken for a request's (after raw SASL). */
const CORRELATION_WINDOW = 1024;
const SASL_TOKEN = 'SASL token';
const CONTROLLED_SHUTDOWN = 7;
/** Requests waiting for their responses on one connection, at least (beyond, the oldest is unanswered). */
const MAX_IN_FLIGHT = 4096;

interface Request {
  key: number;
  version: number;
  correlationId: number;
  clientId: string;
  side: Side;
  parsed: boolean;
  cut: boolean;
  startUs: number;
  endUs: number;
}

interface Response {
  side: Side;
  parsed: boolean;
  cut: boolean;
  endUs: number;
}

/**
 * The request header's fields at `buf[start, end)` (after the length), or null when they are not
 * a request's. `strict` (detection, resynchronisation) wants a known API and a printable client
 * id; inside a connection any API key is a request (an entry with its key and version).
 */
function requestHeader(buf: Buffer, start: number, end: number, strict: boolean): { key: number; version: number; correlationId: number } | null {
  if (end - start < REQUEST_HEADER_MIN) return null;
  const key = buf.readInt16BE(start);
  const version = buf.readInt16BE(start + 2);
  const correlationId = buf.readInt32BE(start + 4);
  const idLength = buf.readInt16BE(start + 8);
  if (key < 0 || version < 0 || idLength < -1) return null;
  if (!strict) return { key, version, correlationId };
  if (!isKnownApi(key, version) || correlationId < 0) return null;
  const idEnd = start + REQUEST_HEADER_MIN + Math.max(0, idLength);
  // The whole client id must be there to be believed: a first request is one segment, and a
  // cut one (an HTTP/2 SETTINGS frame read as Produce v0) says nothing.
  if (idEnd > end) return null;
  for (let i = start + REQUEST_HEADER_MIN; i < idEnd; i++) if (buf[i] < 0x20 || buf[i] > 0x7e) return null;
  return { key, version, correlationId };
}

const probe = new Reader();

function detect(buf: Buffer, start: number, end: number): Detection {
  if (end - start < 4) return Detection.More;
  const length = buf.readInt32BE(start);
  if (length < REQUEST_HEADER_MIN || length > MAX_FRAME_BYTES) return Detection.No;
  if (end - start < 4 + REQUEST_HEADER_MIN) return Detection.More;
  const h = requestHeader(buf, start + 4, end, true);
  if (h === null || 4 + REQUEST_HEADER_MIN + buf.readInt16BE(start + 12) > 4 + length) return Detection.No;
  if (end - start >= 4 + length) {
    // The whole first message is here: it must read as its API's request (a response's bytes rarely do).
    const r = probe.reset(buf, start + 4 + 8, start + 4 + length);
    r.str(false);
    if (isFlexible(h.key, h.version)) r.tags(true);
    parseRequest(h.key, r, h.version, new Side(0));
    if (r.cut) return Detection.No;
  }
  return Detection.FromClient;
}

/** What one direction's framer hands its messages to. */
interface MessageSink {
  /** `buf[start, end)`: a message without its length; `cut` when only its first bytes were kept. */
  message(buf: Buffer, start: number, end: number, cut: boolean, startUs: number, endUs: number): void;
  validLength(length: number): boolean;
  /** After lost framing: does `buf[start, end)` start a message of this direction? */
  starts(buf: Buffer, start: number, end: number): boolean;
}

/**
 * Splits one direction into size-prefixed messages. A message in one chunk is handed over in
 * place; one spanning chunks is copied into a buffer of its size (at most MAX_KEPT_MESSAGE_BYTES),
 * the rest skipped.
 */
class Framer {
  private held: Buffer | null = null;
  private heldLength = 0;
  /** The held message's size with its prefix; 0 while the prefix itself is incomplete. */
  private total = 0;
  /** Bytes of the current message beyond those kept, still to come. */
  private skipping = 0;
  private startUs = 0;
  private lost = false;

  constructor(
    private readonly sink: MessageSink,
    private readonly ctx: DissectorContext,
  ) {}

  data(buf: Buffer, start: number, end: number, tsUs: number): void {
    let s = start;
    if (this.lost) {
      // Messages start at segment boundaries in practice: resume at a chunk that starts one.
      if (!this.sink.starts(buf, s, end)) return;
      this.lost = false;
    }
    while (s < end) {
      if (this.skipping > 0) {
        const n = Math.min(this.skipping, end - s);
        this.skipping -= n;
        s += n;
        continue;
      }
      if (this.held === null) {
        this.startUs = tsUs;
        this.total = 0;
        if (end - s >= 4) {
          const length = buf.readInt32BE(s);
          if (!this.sink.validLength(length)) return this.lose();
          if (end - s >= 4 + length) {
            this.sink.message(buf, s + 4, s + 4 + length, false, tsUs, tsUs);
            s += 4 + length;
            continue;
          }
          this.total = 4 + length;
        }
        this.held = Buffer.allocUnsafe(this.total === 0 ? 4 : Math.min(this.total, MAX_KEPT_MESSAGE_BYTES));
        this.heldLength = 0;
      }
      const n = Math.min(this.held.length - this.heldLength, end - s);
      buf.copy(this.held, this.heldLength, s, s + n);
      this.heldLength += n;
      s += n;
      if (this.heldLength < this.held.length) return;
      if (this.total === 0) {
        const length = this.held.readInt32BE(0);
        if (!this.sink.validLength(length)) return this.lose();
        this.total = 4 + length;
        const grown = Buffer.allocUnsafe(Math.min(this.total, MAX_KEPT_MESSAGE_BYTES));
        this.held.copy(grown, 0, 0, 4);
        this.held = grown;
        if (this.heldLength < grown.length) continue;
      }
      const held = this.held;
      this.held = null;
      this.skipping = this.total - held.length;
      this.sink.message(held, 4, held.length, this.skipping > 0, this.startUs, tsUs);
    }
  }

  gap(bytes: number): void {
    if (this.skipping >= bytes) {
      // Lost bytes that would have been skipped anyway: the framing holds.
      this.skipping -= bytes;
      return;
    }
    if (this.held !== null || this.skipping > 0) this.ctx.counters.parseErrors++;
    this.lose();
  }

  private lose(): void {
    if (!this.lost && this.held === null && this.skipping === 0) this.ctx.counters.parseErrors++;
    this.held = null;
    this.skipping = 0;
    this.lost = true;
  }
}

/** The attribute name of a kept record's part: `orders[0] @5 key`. */
function recordRowName(r: KeptRecord, part: string): string {
  return `${r.topic}[${r.partition}] @${r.offset} ${part}`;
}

/** A side's attribute rows, then its kept records' key, value and header rows. */
function rowsOf(s: Side): Array<[string, string]> {
  const rows = s.rows;
  for (const r of s.tally?.kept ?? []) {
    rows.push([recordRowName(r, 'key'), r.key], [recordRowName(r, 'value'), r.value]);
    for (const [name, value] of r.headers) rows.push([recordRowName(r, `header ${name}`), value]);
  }
  return rows;
}

/** The first record's value as the side's payload. */
function firstValue(s: Side): Body {
  const r = s.tally?.kept[0];
  if (!r || r.body === null) return emptyBody();
  const codec = s.tally!.compression;
  return { bytes: r.body, wireSize: r.valueSize, size: r.valueSize, truncated: r.body.length < r.valueSize, encoding: codec === 'none' ? '' : codec };
}

/** The topics named (the request's, else the response's), or the group for group APIs. */
function target(req: Side, res: Side | null): string {
  const named = req.topics.length > 0 || res === null ? req : res;
  if (named.topics.length === 0) return req.group;
  return named.topics.join(',') + (named.moreTopics ? ',…' : '');
}

function exchange(q: Request, res: Response | null, clientDir: Direction, connectionCut: boolean): Exchange {
  const api = q.key === -1 ? SASL_TOKEN : apiName(q.key);
  // A response to an API without a parser here says nothing but that it came.
  const rs = res !== null && res.parsed ? res.side : null;
  const fields: Record<string, string | number> = {
    'kafka.api': api,
    'kafka.api_key': q.key,
    'kafka.api_version': q.version,
    'kafka.correlation_id': q.correlationId,
    'kafka.client_id': q.clientId,
  };
  const req = q.side;
  const topic = req.topics[0] ?? rs?.topics[0];
  if (topic !== undefined) fields['kafka.topic'] = topic;
  const topics = req.topicCount || rs?.topicCount || 0;
  if (topics > 0) fields['kafka.topics'] = topics;
  const group = req.group || rs?.group || '';
  if (group) fields['kafka.group'] = group;
  if (req.acks !== -2) fields['kafka.acks'] = req.acks;
  const partition = rs !== null && rs.error !== 0 && rs.errorPartition >= 0 ? rs.errorPartition : req.partition >= 0 ? req.partition : (rs?.partition ?? -1);
  if (partition >= 0) fields['kafka.partition'] = partition;
  const partitions = Math.max(req.partitions, rs?.partitions ?? 0);
  if (partitions > 0) fields['kafka.partitions'] = partitions;
  if (rs) {
    fields['kafka.error'] = rs.error;
    fields['kafka.error_name'] = errorName(rs.error);
  }
  const tally = req.tally ?? rs?.tally ?? null;
  if (tally) {
    fields['kafka.records'] = tally.records;
    if (tally.compression) fields['kafka.compression'] = tally.compression;
    fields['kafka.undecoded'] = tally.undecoded;
  }
  if (!q.parsed) fields['kafka.unparsed'] = 1;
  // Client id and correlation id are fields (the fields table shows them), not attributes again.
  const requestRows = rowsOf(req);
  const responseRows: Array<[string, string]> = rs ? rowsOf(rs) : [];
  if (rs && rs.errors.length > 1) responseRows.push(['error codes', rs.errors.join(' ')]);
  const oneWay = isOneWay(q);
  return {
    clientDir,
    protocolVersion: String(q.version),
    startUs: q.startUs,
    endUs: res ? res.endUs : q.endUs,
    durationUs: res ? Math.max(0, res.endUs - q.startUs) : 0,
    operation: q.key === -1 ? SASL_TOKEN : `${api} v${q.version}`,
    target: target(req, rs),
    query: '',
    host: '',
    status: rs ? rs.error : 0,
    statusText: rs ? errorName(rs.error) : '',
    requestHeaders: HeaderList.of(requestRows),
    responseHeaders: HeaderList.of(responseRows),
    requestBody: firstValue(req),
    responseBody: rs ? firstValue(rs) : emptyBody(),
    fields: fields as ProtocolFields,
    unanswered: res === null && !oneWay,
    incomplete: q.cut || (res !== null && res.cut) || (res === null && !oneWay && connectionCut),
  };
}

/** Produce with acks=0 and raw SASL tokens expect no Kafka response. */
function isOneWay(q: Pick<Request, 'key' | 'side'>): boolean {
  return (q.key === ApiKey.Produce && q.side.acks === 0) || q.key === -1;
}

class KafkaConnection implements StreamConsumer {
  private readonly pairing: KeyedPairing<number, Request, Response>;
  /** The requests the pairing holds, by correlation id: a response is read by its request's key and version. */
  private readonly waiting = new Map<number, Request>();
  private readonly framers: [Framer, Framer];
  private readonly reader = new Reader();
  /** After a SaslHandshake v0: frames without a Kafka header (raw SASL tokens) come until a request does. */
  private rawSasl = false;
  private lastCorrelationId = -1;
  /** The client id of the last request: a raw SASL token has no header to carry one. */
  private lastClientId = '';
  private cut = false;

  constructor(
    private readonly ctx: DissectorContext,
    private readonly clientDir: Direction,
  ) {
    // librdkafka keeps up to a million requests in flight on a connection (max.in.flight): a Kafka
    // connection may have many more waiting than an HTTP/1.1 pipeline.
    const limits = { ...ctx.limits, maxPendingRequests: Math.max(ctx.limits.maxPendingRequests, MAX_IN_FLIGHT) };
    this.pairing = new KeyedPairing(limits, (q, res) => {
      this.waiting.delete(q.correlationId);
      this.settle(q, res);
    });
    const requests: MessageSink = {
      message: (buf, start, end, cut, startUs, endUs) => this.request(buf, start, end, cut, startUs, endUs),
      validLength: (n) => n <= MAX_FRAME_BYTES && n >= (this.rawSasl ? 0 : REQUEST_HEADER_MIN),
      starts: (buf, start, end) => detect(buf, start, end) === Detection.FromClient,
    };
    const responses: MessageSink = {
      message: (buf, start, end, cut, _startUs, endUs) => this.response(buf, start, end, cut, endUs),
      validLength: (n) => n <= MAX_FRAME_BYTES && n >= (this.rawSasl ? 0 : 4),
      starts: (buf, start, end) => end - start >= 8 && this.waiting.has(buf.readInt32BE(start + 4)),
    };
    const client = new Framer(requests, ctx);
    const server = new Framer(responses, ctx);
    this.framers = clientDir === 0 ? [client, server] : [server, client];
  }

  private settle(q: Request, res: Response | null): void {
    this.ctx.counters.exchanges++;
    if (res === null && !isOneWay(q)) this.ctx.counters.unanswered++;
    this.ctx.emit(exchange(q, res, this.clientDir, this.cut));
  }

  private request(buf: Buffer, start: number, end: number, cut: boolean, startUs: number, endUs: number): void {
    const header = requestHeader(buf, start, end, this.rawSasl);
    if (this.rawSasl) {
      const c = header?.correlationId ?? -1;
      if (header === null || c <= this.lastCorrelationId || c > this.lastCorrelationId + CORRELATION_WINDOW) {
        const side = new Side(0);
        side.row('auth bytes', `${end - start} bytes, not kept`);
        this.settle({ key: -1, version: 0, correlationId: -1, clientId: this.lastClientId, side, parsed: true, cut, startUs, endUs }, null);
        return;
      }
      this.rawSasl = false;
    }
    if (header === null) {
      this.ctx.counters.parseErrors++;
      return;
    }
    const { key, version, correlationId } = header;
    const r = this.reader.reset(buf, start + 8, end);
    // Request header v0 (ControlledShutdown v0 alone) has no client id; v1 and v2 do.
    const clientId = key === CONTROLLED_SHUTDOWN && version === 0 ? '' : r.str(false);
    if (isFlexible(key, version)) r.tags(true);
    const side = new Side(this.ctx.limits.maxBodyBytes);
    const parsed = !r.cut && parseRequest(key, r, version, side);
    // A whole message that did not parse is a lie about its contents; a cut one just ends early.
    if (r.cut && !cut) this.ctx.counters.parseErrors++;
    const q: Request = { key, version, correlationId, clientId, side, parsed, cut: cut || r.cut, startUs, endUs };
    this.lastCorrelationId = correlationId;
    this.lastClientId = clientId;
    if (isOneWay(q)) return this.settle(q, null);
    if (this.pairing.request(correlationId, q)) this.waiting.set(correlationId, q);
    else {
      // The same id while one waits (a client bug, or a restarted count): the newcomer gets no answer to claim.
      this.settle(q, null);
    }
  }

  private response(buf: Buffer, start: number, end: number, cut: boolean, endUs: number): void {
    if (end - start < 4) {
      if (!this.rawSasl) this.ctx.counters.parseErrors++;
      return;
    }
    const correlationId = buf.readInt32BE(start);
    const q = this.waiting.get(correlationId);
    if (q === undefined) {
      // While raw SASL tokens flow, the server's answers to them have no correlation id.
      if (!this.rawSasl) this.ctx.counters.orphanResponses++;
      return;
    }
    const r = this.reader.reset(buf, start + 4, end);
    if (responseHeaderFlexible(q.key, q.version)) r.tags(true);
    const side = new Side(this.ctx.limits.maxBodyBytes);
    const parsed = !r.cut && parseResponse(q.key, r, q.version, side);
    if (r.cut && !cut) this.ctx.counters.parseErrors++;
    if (q.key === ApiKey.SaslHandshake && q.version === 0 && side.error === 0) this.rawSasl = true;
    this.pairing.response(correlationId, { side, parsed, cut: cut || r.cut, endUs });
  }

  data(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    this.framers[dir].data(buf, start, end, tsUs);
  }

  gap(dir: Direction, bytes: number): void {
    this.framers[dir].gap(bytes);
  }

  fin(): void {}

  end(reason: EndReason): void {
    this.cut = reason === 'rst' || reason === 'evicted';
    this.pairing.end();
  }

  tick(nowUs: number): void {
    this.pairing.tick(nowUs);
  }
}

function kafkaOutcome(x: Pick<Exchange, 'unanswered' | 'status' | 'fields' | 'operation'>): Outcome {
  if (x.operation === SASL_TOKEN || (x.fields['kafka.api_key'] === ApiKey.Produce && x.fields['kafka.acks'] === 0)) return Outcome.oneWay;
  if (x.unanswered) return Outcome.none;
  return errorOutcome(x.status);
}

function represent(e: Entry): Section[] {
  const f = e.fields;
  const sections: Section[] = [
    table('Request', [
      ['API', `${f['kafka.api'] ?? ''} (key ${f['kafka.api_key'] ?? ''}) v${e.protocolVersion}`],
      ['Target', e.target],
      ['Group', f['kafka.group'] ?? ''],
      ['Records', f['kafka.records'] ?? ''],
      ['Compression', f['kafka.compression'] ?? ''],
    ]),
  ];
  if (!e.unanswered && f['kafka.error'] !== undefined) sections.push(table('Response', [['Error', `${e.status} ${e.statusText}`]]));
  return [
    ...sections,
    ...side(e, 'request', { attributes: 'Request fields', payload: 'First record value' }),
    ...side(e, 'response', { attributes: 'Response fields', payload: 'First fetched record value' }),
    ...fieldsTable(e, kafkaDissector),
  ];
}

export const kafkaDissector: Dissector = {
  protocol: 'kafka',
  longName: 'Apache Kafka',
  abbr: 'Kafka',
  color: '#231f20',
  ports: [9092],
  fields: [
    { name: 'kafka.api', type: 'string', doc: 'the API called: Produce, Fetch, Metadata, JoinGroup… (`ApiKey <n>` for keys Tapline does not name)', labels: true },
    { name: 'kafka.api_key', type: 'int', doc: 'the numeric API key of the request header' },
    { name: 'kafka.api_version', type: 'int', doc: 'the API version of the request header' },
    { name: 'kafka.topic', type: 'string', doc: 'the first topic the request names (the response\'s when the request names none, as a Metadata request for all topics)', labels: true },
    { name: 'kafka.topics', type: 'int', doc: 'topics the request (or else the response) names' },
    { name: 'kafka.partition', type: 'int', doc: 'the partition of the worst error, else the first partition named' },
    { name: 'kafka.partitions', type: 'int', doc: 'partitions named by the request or the response (the larger count)' },
    { name: 'kafka.error', type: 'int', doc: 'the worst error code of the response (server errors over client errors, the first of its kind); 0 none' },
    { name: 'kafka.error_name', type: 'string', doc: 'the name of kafka.error: NONE, UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER…', labels: true },
    { name: 'kafka.client_id', type: 'string', doc: 'the client id of the request header', labels: true },
    { name: 'kafka.group', type: 'string', doc: 'the consumer group (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch) or FindCoordinator\'s key', labels: true },
    { name: 'kafka.correlation_id', type: 'int', doc: 'the correlation id that paired request and response' },
    { name: 'kafka.acks', type: 'int', doc: 'a Produce request\'s acks: 0 (no response: one-way), 1, -1 (all)' },
    { name: 'kafka.records', type: 'int', doc: 'records in a Produce request\'s or a Fetch response\'s batches (from the batch headers, compressed or not)' },
    { name: 'kafka.compression', type: 'string', doc: 'the codec of the first record batch: none, gzip, snappy, lz4, zstd', labels: true },
    { name: 'kafka.undecoded', type: 'int', doc: 'batches whose records could not be read (corrupt or cut compressed data, an unknown codec): counted, not shown' },
    { name: 'kafka.unparsed', type: 'bool', doc: 'the API (or its version) has no parser here: only the header was read' },
  ],
  outcomes: {
    ok: 'error code 0 (NONE) everywhere in the response',
    clientError: 'the worst error is the request\'s or the client\'s to act on: UNKNOWN_TOPIC_OR_PARTITION, *_AUTHORIZATION_FAILED, OFFSET_OUT_OF_RANGE, REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, UNSUPPORTED_VERSION, TOPIC_ALREADY_EXISTS, SASL_AUTHENTICATION_FAILED…',
    serverError: 'the worst error is the broker\'s (mostly retriable): UNKNOWN_SERVER_ERROR, NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS, REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS, KAFKA_STORAGE_ERROR, and codes Tapline does not name',
    oneWay: 'a Produce with acks=0 (the broker sends no response), a raw SASL token after SaslHandshake v0',
    none: 'no response before the timeout or the end of the connection',
  },
  secrets: ['SASL authentication bytes (SaslAuthenticate requests and responses, raw SASL tokens after SaslHandshake v0: PLAIN passwords, SCRAM proofs) are never read: only their length is kept'],
  stream: {
    detect: (buf, start, end) => detect(buf, start, end),
    open: (ctx, clientDir) => new KafkaConnection(ctx, clientDir),
  },
  outcome: kafkaOutcome,
  represent,
};
