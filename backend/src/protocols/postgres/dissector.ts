/**
 * PostgreSQL's v3 frontend/backend protocol over TCP. Found by content (a startup packet, or a
 * Query/Parse message when the capture starts inside a connection); 5432 only as a hint.
 *
 * One entry per statement executed: a simple Query with several statements gives one per
 * CommandComplete / EmptyQueryResponse / ErrorResponse, in order (an error ends the Query: the
 * rest never runs); in the extended protocol one per Execute, with the text its Parse gave the
 * statement (a bounded map name → text per connection), so a statement prepared once shows its
 * text on every execution. A Parse or Bind the server refuses is an entry too (the error of the
 * statement it was for); the messages the server then skips until Sync are not.
 *
 * Every message the client sends that expects an answer waits in order (InOrderPairing); the
 * server's messages add to the oldest waiting (rows, COPY data, notices) until the one that ends
 * it. Entries of a Query or of an extended batch are handed on at its ReadyForQuery, which gives
 * the transaction status. The startup (user, database, application name; authentication), an
 * SSLRequest/GSSENCRequest with the server's one-byte answer (encryption accepted: nothing more
 * is readable) and a CancelRequest are entries of their own; NotificationResponse (NOTIFY) is a
 * one-way entry. Passwords and SASL messages are request attributes the redaction blanks.
 */
import { emptyBody, HeaderList, Outcome, REDACTED, type Body, type Entry, type ProtocolFields } from '../../entries/entry.js';
import type { Direction, EndReason, StreamConsumer } from '../../net/stream.js';
import { Detection, type Dissector, type DissectorContext, type Exchange, type Section } from '../dissector.js';
import { InOrderPairing } from '../pairing.js';
import { fieldsTable, side, table } from '../represent.js';
import { SQL_FAMILY, sqlFields } from '../sql/fields.js';
import { statementShape } from '../sql/shape.js';
import { sqlstateOutcome } from '../sql/sqlstate.js';
import { splitStatements, statementTarget, statementVerb, tagRows } from './statement.js';
import { BodyReader, errorFields, Framer, rowDescription, startupAt, StartupCode, valueText, validMessage, type Column, type MessageHandler } from './wire.js';

/** Prepared statements remembered per connection (and their text in all); beyond, the oldest is forgotten. */
const MAX_STATEMENTS = 1024;
const MAX_STATEMENT_CHARS = 4 << 20;
/** Portals remembered per connection (most clients use the unnamed one). */
const MAX_PORTALS = 64;
/** Notices kept on one statement's entry. */
const MAX_NOTICES = 32;
/** Statement texts whose reading (verb, target, shape) is remembered per connection. */
const MAX_READINGS = 64;
/** A bind parameter is kept up to this many characters. */
const MAX_PARAM_CHARS = 256;
/** Response attributes (ParameterStatus values, authentication steps) kept on a startup entry. */
const MAX_SERVER_PARAMS = 64;

/** Request attributes that carry credentials (redacted by default). */
const SECRET_ATTRIBUTES = ['password', 'sasl initial response', 'sasl response', 'gss response'];
const SECRET_SET = new Set(SECRET_ATTRIBUTES);

/** Operations of the entries that are not statements. */
export const Op = {
  startup: 'STARTUP',
  ssl: 'SSLREQUEST',
  gssenc: 'GSSENCREQUEST',
  cancel: 'CANCEL',
  notification: 'NOTIFICATION',
  functionCall: 'FUNCTION CALL',
} as const;

const TRANSACTION: Record<string, string> = { I: 'idle', T: 'in transaction', E: 'failed transaction' };

const enum Kind {
  Startup,
  Encryption,
  Query,
  Parse,
  Bind,
  Describe,
  Execute,
  Close,
  Sync,
  Function,
}

/** Bytes gathered for a payload: kept up to the body limit, counted beyond. */
class Gathered {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private wireSize = 0;
  private size = 0;
  private truncated = false;

  constructor(private readonly limit: number) {}

  /**
   * Adds `bytes` of a part `size` bytes long (longer when only its start was read) that took
   * `wireBytes` on the wire; `owned`: `bytes` is a buffer of our own (kept as is, not copied).
   */
  add(bytes: Buffer, wireBytes: number, size = bytes.length, owned = false): void {
    this.wireSize += wireBytes;
    this.size += size;
    if (bytes.length < size) this.truncated = true;
    const room = this.limit - this.kept;
    const part = bytes.length > room ? bytes.subarray(0, Math.max(0, room)) : bytes;
    if (part.length < bytes.length) this.truncated = true;
    if (part.length === 0) return;
    this.chunks.push(owned ? part : Buffer.from(part));
    this.kept += part.length;
  }

  /** Whether the limit is reached (what follows is only counted). */
  get full(): boolean {
    return this.kept >= this.limit;
  }

  body(): Body {
    if (this.size === 0 && this.chunks.length === 0) return emptyBody();
    return { bytes: this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks), wireSize: this.wireSize, size: this.size, truncated: this.truncated, encoding: '' };
  }
}

/** What the server answered one statement so far. */
interface Result {
  columns: Column[] | null;
  rows: number;
  /** DataRows as text (tab between values, a line a row, NULL as \N; a first line of column names), or COPY data. */
  payload: Gathered | null;
  copy: 'in' | 'out' | '';
  copyIn: Gathered | null;
  copyFail: string;
  notices: string[];
}

interface Portal {
  statementName: string;
  text: string;
  params: Array<[string, string]>;
  columns: Column[] | null;
}

interface Pending {
  kind: Kind;
  startUs: number;
  endUs: number;
  /** The statement text (a Query's whole text; a Parse's; an Execute's through its portal). */
  text: string;
  /** Query: its statements, the next to complete, and when that one started. */
  statements: string[];
  index: number;
  stepStartUs: number;
  statementName: string;
  portal: string;
  params: Array<[string, string]>;
  /** Execute: its portal (a Describe answered after the Execute was sent gives it its columns). */
  source: Portal | null;
  /** Describe: of a statement ('S') or a portal ('P'); SSLRequest/GSSENCRequest: its request code. */
  variant: number;
  result: Result;
  /** Startup: request and response attributes. */
  request: Array<[string, string]>;
  response: Array<[string, string]>;
  /** Part of the exchange was lost (a gap in either direction while it waited). */
  incomplete: boolean;
}

/**
 * How a waiting message ended: answered (ReadyForQuery's transaction status for a Sync/Query),
 * skipped (after an error, as the protocol says), or lost (its answer never seen: a gap).
 */
interface Done {
  skipped: boolean;
  lost: boolean;
  transaction: string;
}
const EMPTY = Buffer.alloc(0);
const SKIPPED: Done = { skipped: true, lost: false, transaction: '' };
const LOST: Done = { skipped: true, lost: true, transaction: '' };
const ANSWERED: Done = { skipped: false, lost: false, transaction: '' };

function newResult(): Result {
  return { columns: null, rows: 0, payload: null, copy: '', copyIn: null, copyFail: '', notices: [] };
}

/** A Map that forgets its oldest key beyond `max`. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as string);
}

interface StatementReading {
  verb: string;
  target: string;
  shape: string;
}

function errorText(f: Map<string, string>): string {
  return `${f.get('V') ?? f.get('S') ?? ''} ${f.get('C') ?? ''} ${f.get('M') ?? ''}`.trim();
}

/** The error details a person reads, as response attributes. */
const ERROR_DETAILS: ReadonlyArray<[string, string]> = [
  ['D', 'detail'],
  ['H', 'hint'],
  ['P', 'position'],
  ['W', 'where'],
  ['s', 'schema'],
  ['t', 'table'],
  ['c', 'column'],
  ['n', 'constraint'],
];

class PgConnection implements StreamConsumer {
  private readonly framers: [Framer, Framer];
  private readonly pairing: InOrderPairing<Pending, Done>;
  private readonly statements = new Map<string, { text: string; columns: Column[] | null }>();
  private readonly portals = new Map<string, Portal>();
  private readonly readings = new Map<string, StatementReading>();
  /** Characters of the statement texts remembered. */
  private statementChars = 0;
  /** Entries of the Query or batch under way, handed on at ReadyForQuery. */
  private batch: Exchange[] = [];
  /** After an error in the extended protocol the server ignores messages until Sync. */
  private discardUntilSync = false;
  /** The server's bytes had a gap: answers may be lost, so a ParseComplete/BindComplete/CloseComplete finds its own kind of request. */
  private realign = false;
  /** An error happened since the last ReadyForQuery: what got no answer was skipped, not lost. */
  private batchFailed = false;
  private sawClient = false;
  private authCode = -1;
  /** A gap or a reset happened: requests settled from now on without an answer are incomplete. */
  private cut = false;
  private user = '';
  private database = '';
  private application = '';
  private readonly keep: number;

  constructor(
    private readonly ctx: DissectorContext,
    private readonly clientDir: Direction,
  ) {
    this.keep = Math.max(ctx.limits.maxBodyBytes, ctx.limits.maxHeaderBytes) + 1024;
    const handler = (fromClient: boolean): MessageHandler => ({
      message: (type, body, bodyBytes, startUs, endUs) => (fromClient ? this.client(type, body, bodyBytes, startUs, endUs) : this.fromServer(type, body, bodyBytes, endUs)),
      answerByte: (byte, tsUs) => this.encryptionAnswer(byte, tsUs),
      garbage: () => this.ctx.counters.parseErrors++,
    });
    const client = new Framer(true, this.keep, handler(true));
    const server = new Framer(false, this.keep, handler(false));
    // Picked up inside the connection: the server's first bytes may be inside a message.
    if (ctx.conn.midStream) server.lost = true;
    this.framers = clientDir === 0 ? [client, server] : [server, client];
    this.pairing = new InOrderPairing(ctx.limits, (p, done) => this.settle(p, done));
  }

  data(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    if (dir === this.clientDir && !this.sawClient) {
      this.sawClient = true;
      if (startupAt(buf, start, end)) this.framers[dir].expectStartup();
    }
    this.framers[dir].data(buf, start, end, tsUs);
  }

  gap(dir: Direction): void {
    this.framers[dir].gap();
    this.markIncomplete();
    if (dir !== this.clientDir) this.realign = true;
  }

  fin(): void {}

  end(reason: EndReason): void {
    if (reason === 'rst' || reason === 'evicted') this.markIncomplete();
    this.pairing.end();
    this.flush('');
  }

  tick(nowUs: number): void {
    this.pairing.tick(nowUs);
  }

  /** Everything waiting has lost part of its exchange. */
  private markIncomplete(): void {
    // The oldest is what a gap hurts first; what follows it is marked when it settles unanswered.
    const oldest = this.pairing.oldest;
    if (oldest) oldest.incomplete = true;
    this.cut = true;
  }

  // ---- the client's messages -------------------------------------------------------------

  private pending(kind: Kind, startUs: number, endUs: number, text = ''): Pending {
    return {
      kind, startUs, endUs, text, statements: [], index: 0, stepStartUs: startUs, statementName: '', portal: '', params: [], source: null,
      variant: 0, result: newResult(), request: [], response: [], incomplete: false,
    };
  }

  private client(type: number, body: Buffer, bodyBytes: number, startUs: number, endUs: number): void {
    if (type === 0) return this.startup(body, startUs, endUs);
    const r = new BodyReader(body);
    if (this.discardUntilSync && type !== 0x53 /* S */) return;
    switch (type) {
      case 0x51: { // Q Query
        const p = this.pending(Kind.Query, startUs, endUs, r.cstring());
        p.statements = splitStatements(p.text);
        return this.pairing.request(p);
      }
      case 0x50: { // P Parse
        const name = r.cstring();
        const p = this.pending(Kind.Parse, startUs, endUs, r.cstring());
        p.statementName = name;
        this.rememberStatement(name, p.text);
        return this.pairing.request(p);
      }
      case 0x42: return this.bind(r, startUs, endUs);
      case 0x44: { // D Describe
        const p = this.pending(Kind.Describe, startUs, endUs);
        p.variant = r.byte();
        const name = r.cstring();
        if (p.variant === 0x53) p.statementName = name;
        else p.portal = name;
        p.text = (p.variant === 0x53 ? this.statements.get(name)?.text : this.portals.get(name)?.text) ?? '';
        return this.pairing.request(p);
      }
      case 0x45: { // E Execute
        const name = r.cstring();
        const portal = this.portals.get(name);
        const p = this.pending(Kind.Execute, startUs, endUs, portal?.text ?? '');
        p.portal = name;
        p.statementName = portal?.statementName ?? '';
        p.params = portal?.params ?? [];
        p.source = portal ?? null;
        return this.pairing.request(p);
      }
      case 0x43: { // C Close
        const which = r.byte();
        const name = r.cstring();
        if (which === 0x53) this.forgetStatement(name);
        else this.portals.delete(name);
        return this.pairing.request(this.pending(Kind.Close, startUs, endUs));
      }
      case 0x53: // S Sync
        this.discardUntilSync = false;
        return this.pairing.request(this.pending(Kind.Sync, startUs, endUs));
      case 0x46: { // F FunctionCall
        const p = this.pending(Kind.Function, startUs, endUs);
        p.text = String(r.int32() >>> 0);
        return this.pairing.request(p);
      }
      case 0x70: return this.authMessage(body);
      case 0x64: // d CopyData
        return this.copyTarget()?.copyIn?.add(body, bodyBytes, bodyBytes);
      case 0x66: { // f CopyFail
        const result = this.copyTarget();
        if (result) result.copyFail = r.cstring();
        return;
      }
      default: // H Flush, X Terminate, c CopyDone: nothing to answer or keep
    }
  }

  private copyTarget(): Result | undefined {
    const p = this.pairing.oldest;
    return p && p.result.copy === 'in' ? p.result : undefined;
  }

  private bind(r: BodyReader, startUs: number, endUs: number): void {
    const portal = r.cstring();
    const statementName = r.cstring();
    const formats: number[] = [];
    for (let i = 0, n = r.int16(); i < n && r.left > 0; i++) formats.push(r.int16());
    const params: Array<[string, string]> = [];
    let chars = 0;
    for (let i = 0, n = r.int16(); i < n && r.left > 0; i++) {
      const len = r.int32();
      const binary = (formats.length === 1 ? formats[0] : formats[i]) === 1;
      const value = len < 0 ? 'NULL' : valueText(r.bytes(len), binary, MAX_PARAM_CHARS);
      chars += value.length;
      if (chars > this.ctx.limits.maxHeaderBytes) break;
      params.push([`$${i + 1}`, value]);
    }
    const statement = this.statements.get(statementName);
    remember(this.portals, portal, { statementName, text: statement?.text ?? '', params, columns: statement?.columns ?? null }, MAX_PORTALS);
    const p = this.pending(Kind.Bind, startUs, endUs, statement?.text ?? '');
    p.portal = portal;
    p.statementName = statementName;
    p.params = params;
    this.pairing.request(p);
  }

  private startup(body: Buffer, startUs: number, endUs: number): void {
    const r = new BodyReader(body);
    const code = r.int32() >>> 0;
    if (code === StartupCode.Ssl || code === StartupCode.Gssenc) {
      const p = this.pending(Kind.Encryption, startUs, endUs);
      p.variant = code;
      this.pairing.request(p);
      this.serverFramer.expectAnswerByte();
      this.clientFramer.expectStartup();
      return;
    }
    if (code === StartupCode.Cancel) {
      const pid = r.int32();
      // The secret key is what lets a cancel through: never kept.
      return this.emit(this.exchange({ operation: Op.cancel, startUs, endUs, request: [['backend pid', String(pid)]] }));
    }
    const p = this.pending(Kind.Startup, startUs, endUs);
    p.request.push(['protocol', `${code >>> 16}.${code & 0xffff}`]);
    while (r.left > 1) {
      const name = r.cstring();
      const value = r.cstring();
      if (name === '') break;
      p.request.push([name, value]);
      if (name === 'user') this.user = value;
      else if (name === 'database') this.database = value;
      else if (name === 'application_name') this.application = value;
    }
    if (this.database === '') this.database = this.user; // the server's default
    this.pairing.request(p);
  }

  /** PasswordMessage, SASLInitialResponse, SASLResponse, GSSResponse: which one the last Authentication request says. */
  private authMessage(body: Buffer): void {
    const p = this.pairing.oldest;
    if (!p || p.kind !== Kind.Startup) return;
    const r = new BodyReader(body);
    if (this.authCode === 10) {
      p.request.push(['sasl mechanism', r.cstring()]);
      p.request.push(['sasl initial response', r.bytes(r.int32()).toString('latin1')]);
    } else if (this.authCode === 11) p.request.push(['sasl response', body.toString('latin1')]);
    else if (this.authCode === 7 || this.authCode === 8) p.request.push(['gss response', body.toString('base64')]);
    else p.request.push(['password', r.cstring()]);
  }

  private get serverFramer(): Framer {
    return this.framers[1 - this.clientDir];
  }

  private get clientFramer(): Framer {
    return this.framers[this.clientDir];
  }

  private encryptionAnswer(byte: number, tsUs: number): void {
    const p = this.pairing.oldest;
    if (!p || p.kind !== Kind.Encryption) {
      this.ctx.counters.orphanResponses++;
      return;
    }
    const accepted = byte === 0x53 || (byte === 0x47 && p.variant === StartupCode.Gssenc);
    const operation = p.variant === StartupCode.Ssl ? Op.ssl : Op.gssenc;
    this.pairing.response(ANSWERED);
    this.emit(this.exchange({ operation, startUs: p.startUs, endUs: tsUs, statusText: String.fromCharCode(byte), response: [['encryption', accepted ? 'accepted: encrypted from here' : 'refused']] }));
    if (accepted) {
      // TLS or GSS follows: nothing more can be read.
      this.serverFramer.stop();
      this.clientFramer.stop();
      this.pairing.end();
    }
  }

  // ---- the server's messages -------------------------------------------------------------

  private fromServer(type: number, body: Buffer, bodyBytes: number, endUs: number): void {
    const p = this.pairing.oldest;
    const r = new BodyReader(body);
    switch (type) {
      case 0x44: // D DataRow
        if (p && (p.kind === Kind.Query || p.kind === Kind.Execute)) {
          p.result.columns ??= p.source?.columns ?? null;
          this.dataRow(p.result, body, bodyBytes);
        }
        return;
      case 0x43: // C CommandComplete
      case 0x49: // I EmptyQueryResponse
      case 0x73: // s PortalSuspended
        return this.completion(p, type === 0x43 ? r.cstring() : type === 0x49 ? 'EmptyQueryResponse' : 'PortalSuspended', null, endUs);
      case 0x45: return this.error(p, errorFields(body), endUs);
      case 0x5a: return this.ready(p, String.fromCharCode(r.byte()), endUs);
      case 0x54: { // T RowDescription
        const columns = rowDescription(body);
        if (p?.kind === Kind.Describe) this.described(p, columns);
        else if (p) p.result.columns = columns;
        return;
      }
      case 0x31: return this.answered(p, Kind.Parse);
      case 0x32: return this.answered(p, Kind.Bind);
      case 0x33: return this.answered(p, Kind.Close);
      case 0x6e: // n NoData
        if (p?.kind === Kind.Describe) this.answered(p, Kind.Describe);
        return;
      case 0x74: return; // t ParameterDescription: a RowDescription or NoData follows
      case 0x47: // G CopyInResponse
      case 0x48: // H CopyOutResponse
      case 0x57: // W CopyBothResponse
        if (p) {
          p.result.copy = type === 0x47 ? 'in' : 'out';
          if (type === 0x47) p.result.copyIn = new Gathered(this.ctx.limits.maxBodyBytes);
          else p.result.payload = new Gathered(this.ctx.limits.maxBodyBytes);
        }
        return;
      case 0x64: // d CopyData
        if (p?.result.copy === 'out') p.result.payload!.add(body, bodyBytes, bodyBytes);
        return;
      case 0x4e: // N NoticeResponse
        if (p && p.result.notices.length < MAX_NOTICES) p.result.notices.push(errorText(errorFields(body)));
        return;
      case 0x41: return this.notification(r, endUs);
      case 0x52: return this.authentication(p, r);
      case 0x53: { // S ParameterStatus
        const name = r.cstring();
        const value = r.cstring();
        if (name === 'application_name') this.application = value;
        if (p?.kind === Kind.Startup) this.startupAnswer(p, name, value);
        return;
      }
      case 0x4b: // K BackendKeyData (the key is the cancel credential: not kept)
        if (p?.kind === Kind.Startup) this.startupAnswer(p, 'backend pid', String(r.int32()));
        return;
      case 0x76: // v NegotiateProtocolVersion
        if (p?.kind === Kind.Startup) this.startupAnswer(p, 'negotiated minor version', String(r.int32()));
        return;
      case 0x56: // V FunctionCallResponse
        // Its ReadyForQuery follows.
        if (p?.kind === Kind.Function && p.index === 0) {
          this.statementEntry(p, p.startUs, endUs, p.text, { tag: '', error: null });
          p.index = 1;
        } else this.ctx.counters.orphanResponses++;
        return;
      default: // c CopyDone: the CommandComplete follows
    }
  }

  /** A DataRow: counted; as text (after a first line of column names) while the body limit allows, else at its wire size. */
  private dataRow(result: Result, body: Buffer, bodyBytes: number): void {
    result.rows++;
    const limit = this.ctx.limits.maxBodyBytes;
    let payload = result.payload;
    if (payload === null) {
      payload = result.payload = new Gathered(limit);
      if (result.columns) {
        const head = Buffer.from(result.columns.map((c) => c.name).join('\t') + '\n');
        payload.add(head, 0, head.length, true);
      }
    }
    if (payload.full) return payload.add(EMPTY, bodyBytes, bodyBytes);
    const r = new BodyReader(body);
    const values: string[] = [];
    for (let i = 0, n = r.int16(); i < n && r.left > 0; i++) {
      const len = r.int32();
      // Whole values (the framer bounds the body), so the row's size counts them all.
      values.push(len < 0 ? '\\N' : valueText(r.bytes(len), result.columns?.[i]?.binary ?? false, 2 * this.keep));
    }
    const line = Buffer.from(values.join('\t') + '\n');
    payload.add(line, bodyBytes, body.length < bodyBytes ? line.length + bodyBytes - body.length : line.length, true);
  }

  private described(p: Pending, columns: Column[]): void {
    if (p.variant === 0x53) {
      const s = this.statements.get(p.statementName);
      if (s) s.columns = columns;
    } else {
      const portal = this.portals.get(p.portal);
      if (portal) portal.columns = columns;
    }
    this.pairing.response(ANSWERED);
  }

  /** A ParseComplete, BindComplete, CloseComplete or NoData: the oldest waiting message is answered. */
  private answered(p: Pending | undefined, kind: Kind): void {
    if (p?.kind !== kind && this.realign) {
      // The requests before the first of this kind were answered in the bytes the gap took.
      while (this.pairing.oldest !== undefined && this.pairing.oldest.kind !== kind) this.pairing.response(LOST);
      p = this.pairing.oldest;
    }
    if (p?.kind === kind) this.pairing.response(ANSWERED);
    else this.ctx.counters.orphanResponses++;
  }

  private completion(p: Pending | undefined, tag: string, error: Map<string, string> | null, endUs: number): void {
    if (p?.kind === Kind.Query) {
      if (p.index >= p.statements.length) {
        this.ctx.counters.orphanResponses++;
        return;
      }
      this.statementEntry(p, p.stepStartUs, endUs, p.statements[p.index++], { tag, error });
      p.stepStartUs = endUs;
      p.result = newResult();
      // An error ends the Query: its other statements never run.
      if (error) p.index = p.statements.length;
    } else if (p?.kind === Kind.Execute) {
      this.statementEntry(p, p.startUs, endUs, p.text, { tag, error });
      this.pairing.response(ANSWERED);
    } else this.ctx.counters.orphanResponses++;
  }

  private error(p: Pending | undefined, f: Map<string, string>, endUs: number): void {
    this.batchFailed = true;
    if (!p) {
      // A FATAL error while idle (the server shutting down, the session terminated).
      this.ctx.counters.orphanResponses++;
      return;
    }
    switch (p.kind) {
      case Kind.Query:
        return this.completion(p, '', f, endUs);
      case Kind.Startup:
        this.finishStartup(p, endUs, f);
        this.pairing.response(ANSWERED);
        return;
      case Kind.Sync:
        return; // an error at the implicit COMMIT of a Sync: its ReadyForQuery follows
      case Kind.Function:
        if (p.index === 0) this.statementEntry(p, p.startUs, endUs, p.text, { tag: '', error: f });
        p.index = 1;
        return; // its ReadyForQuery follows
      default:
        break;
    }
    // Extended protocol: the refused message's statement is the entry; the server skips what
    // follows until Sync.
    if (p.kind !== Kind.Close) this.statementEntry(p, p.startUs, endUs, p.text, { tag: '', error: f });
    this.pairing.response(ANSWERED);
    for (let next = this.pairing.oldest; next !== undefined && next.kind !== Kind.Sync; next = this.pairing.oldest) this.pairing.response(SKIPPED);
    if (this.pairing.oldest === undefined) this.discardUntilSync = true;
  }

  private ready(p: Pending | undefined, status: string, endUs: number): void {
    const transaction = TRANSACTION[status] ?? status;
    if (p?.kind === Kind.Startup) {
      this.finishStartup(p, endUs, null);
      this.pairing.response(ANSWERED);
      return;
    }
    // Messages before the Sync that got no answer were skipped (after an error) or lost.
    while (this.pairing.oldest !== undefined && !this.endsAtReady(this.pairing.oldest)) this.pairing.response(this.batchFailed ? SKIPPED : LOST);
    this.batchFailed = false;
    this.realign = false;
    if (this.pairing.oldest === undefined) {
      this.ctx.counters.orphanResponses++;
      this.flush(transaction);
      return;
    }
    this.pairing.response({ skipped: false, lost: false, transaction });
  }

  private endsAtReady(p: Pending): boolean {
    return p.kind === Kind.Query || p.kind === Kind.Sync || p.kind === Kind.Function;
  }

  /** A response attribute of the startup (server parameters, authentication steps), bounded. */
  private startupAnswer(p: Pending, name: string, value: string): void {
    if (p.response.length < MAX_SERVER_PARAMS) p.response.push([name, value]);
  }

  private rememberStatement(name: string, text: string): void {
    this.forgetStatement(name);
    this.statements.set(name, { text, columns: null });
    this.statementChars += text.length;
    while (this.statements.size > MAX_STATEMENTS || this.statementChars > MAX_STATEMENT_CHARS) this.forgetStatement(this.statements.keys().next().value as string);
  }

  private forgetStatement(name: string): void {
    const old = this.statements.get(name);
    if (old === undefined) return;
    this.statements.delete(name);
    this.statementChars -= old.text.length;
  }

  private authentication(p: Pending | undefined, r: BodyReader): void {
    const code = r.int32();
    this.authCode = code;
    if (p?.kind !== Kind.Startup) return;
    if (code === 0) {
      // AuthenticationOk: the startup's latency ends at the first ReadyForQuery; remember when it was ok.
      this.startupAnswer(p, 'authentication', 'ok');
      return;
    }
    const names: Record<number, string> = { 2: 'Kerberos V5', 3: 'cleartext password', 5: 'MD5 password', 7: 'GSSAPI', 8: 'GSSAPI continue', 9: 'SSPI', 11: 'SASL continue', 12: 'SASL final' };
    if (code === 10) {
      const mechanisms: string[] = [];
      for (let m = r.cstring(); m !== '' && mechanisms.length < 8; m = r.cstring()) mechanisms.push(m);
      this.startupAnswer(p, 'authentication', `SASL ${mechanisms.join(' ')}`);
    } else this.startupAnswer(p, 'authentication', names[code] ?? `method ${code}`);
  }

  private notification(r: BodyReader, tsUs: number): void {
    const pid = r.int32();
    const channel = r.cstring();
    const payload = r.cstring();
    const body = new Gathered(this.ctx.limits.maxBodyBytes);
    const bytes = Buffer.from(payload);
    body.add(bytes, bytes.length);
    const x = this.exchange({ operation: Op.notification, target: channel, startUs: tsUs, endUs: tsUs, response: [['channel', channel], ['sender pid', String(pid)]] });
    x.responseBody = body.body();
    this.emit(x);
  }

  // ---- entries ---------------------------------------------------------------------------

  private settle(p: Pending, done: Done | null): void {
    // A Query whose ReadyForQuery came while a statement of it was lost in a gap.
    const lostInGap = done !== null && !done.skipped && p.kind === Kind.Query && p.incomplete && p.index < p.statements.length;
    if (done === null || done.lost || lostInGap) {
      if (done?.lost) p.incomplete = true;
      if (p.kind === Kind.Query && p.index < p.statements.length) this.statementEntry(p, p.stepStartUs, p.endUs, p.statements[p.index], null);
      else if (p.kind === Kind.Execute || (p.kind === Kind.Function && p.index === 0)) this.statementEntry(p, p.startUs, p.endUs, p.text, null);
      else if (p.kind === Kind.Startup) this.finishStartup(p, -1, null);
      else if (p.kind === Kind.Encryption) this.emit(this.exchange({ operation: p.variant === StartupCode.Ssl ? Op.ssl : Op.gssenc, startUs: p.startUs, endUs: p.endUs, unanswered: true }));
      if (this.endsAtReady(p)) this.flush(done?.transaction ?? '');
      return;
    }
    if (!done.skipped && this.endsAtReady(p)) this.flush(done.transaction);
  }

  private flush(transaction: string): void {
    const batch = this.batch;
    this.batch = [];
    for (const x of batch) {
      // The fields are this dissector's own object until handed on.
      if (transaction !== '') (x.fields as Record<string, string | number>)['postgres.transaction'] = transaction;
      this.emit(x);
    }
  }

  private emit(x: Exchange): void {
    const c = this.ctx.counters;
    c.exchanges++;
    if (x.unanswered) c.unanswered++;
    this.ctx.emit(x);
  }

  /** An exchange with the connection's fields, for any message. */
  private exchange(o: {
    operation: string;
    target?: string;
    startUs: number;
    endUs: number;
    statusText?: string;
    request?: Array<[string, string]>;
    response?: Array<[string, string]>;
    fields?: Record<string, string | number>;
    unanswered?: boolean;
    incomplete?: boolean;
  }): Exchange {
    const fields: Record<string, string | number> = o.fields ?? {};
    fields['sql.user'] = this.user;
    fields['sql.database'] = this.database;
    if (this.application !== '') fields['postgres.application'] = this.application;
    const unanswered = o.unanswered ?? false;
    return {
      clientDir: this.clientDir,
      protocolVersion: '3.0',
      startUs: o.startUs,
      endUs: o.endUs,
      durationUs: unanswered ? 0 : Math.max(0, o.endUs - o.startUs),
      operation: o.operation,
      target: o.target ?? '',
      query: '',
      host: '',
      status: 0,
      statusText: o.statusText ?? '',
      requestHeaders: HeaderList.of(o.request ?? []),
      responseHeaders: HeaderList.of(o.response ?? []),
      requestBody: emptyBody(),
      responseBody: emptyBody(),
      fields: fields as ProtocolFields,
      unanswered,
      incomplete: o.incomplete ?? false,
    };
  }

  /**
   * What a statement's text says (verb, table, shape); `prepared`: remembered, as a prepared
   * statement repeats its text (a simple Query's text rarely does: its literals differ).
   */
  private read(statement: string, prepared: boolean): StatementReading {
    let r = prepared ? this.readings.get(statement) : undefined;
    if (r === undefined) {
      const verb = statementVerb(statement);
      r = { verb, target: statementTarget(verb, statement), shape: statementShape(statement, 'postgres') };
      if (prepared) remember(this.readings, statement, r, MAX_READINGS);
    }
    return r;
  }

  /** The entry of one statement: completed (`end`), refused (an error in `end`) or unanswered (null). */
  private statementEntry(p: Pending, startUs: number, endUs: number, text: string, end: { tag: string; error: Map<string, string> | null } | null): void {
    const statement = text.length > this.ctx.limits.maxBodyBytes ? text.slice(0, this.ctx.limits.maxBodyBytes) : text;
    const result = p.result;
    result.columns ??= p.source?.columns ?? null;
    const isFunction = p.kind === Kind.Function;
    const read = isFunction ? null : this.read(statement, p.kind !== Kind.Query);
    const operation = read?.verb ?? Op.functionCall;
    const fields: Record<string, string | number> = {
      'sql.statement': statement,
      'sql.shape': read?.shape ?? '',
      'postgres.query_protocol': p.kind === Kind.Query ? 'simple' : 'extended',
    };
    if (p.statementName !== '') fields['postgres.statement_name'] = p.statementName;
    if (p.portal !== '') fields['postgres.portal'] = p.portal;
    const request: Array<[string, string]> = [...p.params];
    if (result.copyFail !== '') request.push(['copy fail', result.copyFail]);
    const response: Array<[string, string]> = [];
    if (result.columns) for (const c of result.columns) response.push(['column', c.name]);
    if (result.copy !== '') response.push(['copy', result.copy]);
    for (const n of result.notices) response.push(['notice', n]);
    let statusText = '';
    if (end?.error) {
      const e = end.error;
      statusText = e.get('C') ?? '';
      fields['sql.error'] = statusText;
      fields['sql.message'] = e.get('M') ?? '';
      fields['postgres.severity'] = e.get('V') ?? e.get('S') ?? '';
      for (const [code, name] of ERROR_DETAILS) {
        const v = e.get(code);
        if (v !== undefined) response.push([name, v]);
      }
    } else if (end) {
      statusText = end.tag;
      fields['postgres.tag'] = end.tag;
    }
    if (end && !end.error) {
      const tagged = tagRows(end.tag);
      fields['sql.rows'] = tagged >= 0 ? tagged : result.rows;
    }
    const x = this.exchange({
      operation,
      target: read?.target ?? text,
      startUs,
      endUs,
      statusText,
      request,
      response,
      fields,
      unanswered: end === null,
      incomplete: p.incomplete || (end === null && this.cut),
    });
    if (result.copyIn) x.requestBody = result.copyIn.body();
    if (result.payload) x.responseBody = result.payload.body();
    this.batch.push(x);
    if (this.batch.length > this.ctx.limits.maxPendingRequests) this.flush('');
  }

  /** The startup's entry: at its first ReadyForQuery, at an ErrorResponse, or unanswered (endUs < 0). */
  private finishStartup(p: Pending, endUs: number, error: Map<string, string> | null): void {
    const fields: Record<string, string | number> = {};
    if (error) {
      fields['sql.error'] = error.get('C') ?? '';
      fields['sql.message'] = error.get('M') ?? '';
      fields['postgres.severity'] = error.get('V') ?? error.get('S') ?? '';
    }
    this.emit(
      this.exchange({
        operation: Op.startup,
        target: this.database,
        startUs: p.startUs,
        endUs: endUs < 0 ? p.endUs : endUs,
        statusText: error ? (error.get('C') ?? '') : endUs < 0 ? '' : 'OK',
        request: p.request,
        response: p.response,
        fields,
        unanswered: endUs < 0,
        incomplete: p.incomplete,
      }),
    );
  }
}

/** Whether buf[start, end) opens a Query or Parse message a client sends (a connection picked up mid-stream). */
function queryAt(buf: Buffer, start: number, end: number): Detection {
  if (end - start < 6) return Detection.More;
  const type = buf[start];
  const length = buf.readUInt32BE(start + 1);
  if ((type !== 0x51 && type !== 0x50) || length > 1 << 24 || !validMessage(true, type, length)) return Detection.No;
  const last = Math.min(end, start + 1 + length);
  for (let i = start + 5; i < last; i++) {
    const c = buf[i];
    if (c === 0) return type === 0x50 || i === start + length ? Detection.FromClient : Detection.No;
    if (c < 0x20 && c !== 9 && c !== 10 && c !== 13) return Detection.No;
  }
  return end - start >= 1 + length ? Detection.No : Detection.FromClient;
}

export function postgresOutcome(x: Pick<Exchange, 'unanswered' | 'operation' | 'fields'>): Outcome {
  if (x.operation === Op.notification || x.operation === Op.cancel) return Outcome.oneWay;
  if (x.unanswered) return Outcome.none;
  return sqlstateOutcome(String(x.fields['sql.error'] ?? ''));
}

function represent(e: Entry): Section[] {
  const f = e.fields;
  return [
    table('Statement', [
      ['Operation', e.operation],
      ['Target', e.target],
      ['Result', e.statusText],
      ['Rows', f['sql.rows'] ?? ''],
      ['Error', f['sql.message'] ?? ''],
    ]),
    ...(f['sql.statement'] ? [{ kind: 'body' as const, title: 'SQL', body: textBody(String(f['sql.statement'])), contentType: 'application/sql' }] : []),
    ...side(e, 'request', { attributes: e.operation === Op.startup ? 'Startup' : 'Parameters', payload: 'COPY data sent' }),
    ...side(e, 'response', { attributes: 'Response', payload: e.operation === Op.notification ? 'Payload' : 'Rows', contentType: 'text/tab-separated-values' }),
    ...fieldsTable(e, postgresDissector),
  ];
}

function textBody(text: string): Body {
  const bytes = Buffer.from(text);
  return { bytes, wireSize: bytes.length, size: bytes.length, truncated: false, encoding: '' };
}

export const postgresDissector: Dissector = {
  protocol: 'postgres',
  longName: 'PostgreSQL frontend/backend protocol',
  abbr: 'PG',
  color: '#336791',
  ports: [5432],
  fieldFamilies: [SQL_FAMILY],
  fields: [
    ...sqlFields,
    { name: 'postgres.tag', type: 'string', doc: 'the CommandComplete tag: "SELECT 3", "INSERT 0 1", "BEGIN" ("EmptyQueryResponse", "PortalSuspended")' },
    { name: 'postgres.severity', type: 'string', labels: true, doc: 'the severity of the error: ERROR, FATAL, PANIC' },
    { name: 'postgres.statement_name', type: 'string', doc: 'the prepared statement executed (extended protocol), "" when unnamed' },
    { name: 'postgres.portal', type: 'string', doc: 'the portal executed (extended protocol), "" when unnamed' },
    { name: 'postgres.query_protocol', type: 'string', labels: true, doc: '"simple" (a Query message) or "extended" (Parse/Bind/Execute)' },
    { name: 'postgres.application', type: 'string', labels: true, doc: 'application_name of the connection (from the startup or a later ParameterStatus)' },
    { name: 'postgres.transaction', type: 'string', labels: true, doc: 'the transaction status ReadyForQuery gave after the statement: idle, in transaction, failed transaction' },
  ],
  outcomes: {
    ok: 'CommandComplete, EmptyQueryResponse, a startup that reached ReadyForQuery, SQLSTATE classes 00–02',
    clientError: 'an ErrorResponse the statement provoked: syntax (42…), missing objects, constraints (23…), authentication (28…)',
    serverError: 'an ErrorResponse of the server\'s own trouble: SQLSTATE classes 08, 40, 53, 57, 58, XX',
    oneWay: 'NotificationResponse (NOTIFY), CancelRequest',
    none: 'no answer before the timeout or the end of the connection',
  },
  secrets: ['PasswordMessage (cleartext and MD5)', 'SASL (SCRAM) initial and continued responses', 'GSSAPI responses', 'the cancel key (never kept)'],
  stream: {
    detect(buf, start, end) {
      if (end - start < 8) {
        if (end - start >= 4 && buf.readUInt32BE(start) >= 8 && buf.readUInt32BE(start) <= 10_000) return Detection.More;
        return end - start < 6 ? Detection.More : queryAt(buf, start, end);
      }
      return startupAt(buf, start, end) ? Detection.FromClient : queryAt(buf, start, end);
    },
    open: (ctx, clientDir) => new PgConnection(ctx, clientDir),
  },
  outcome: postgresOutcome,
  redact(entry: Entry, extraNames: ReadonlySet<string>): void {
    const list = entry.requestHeaders;
    const params = extraNames.has('bind');
    for (let i = 0; i < list.count; i++) {
      const name = list.name(i);
      if (SECRET_SET.has(name) || (params && name.startsWith('$'))) list.redact(i);
    }
    if (entry.operation === Op.startup) return;
    // A statement that sets a password (ALTER ROLE … PASSWORD '…') keeps only its shape.
    const statement = entry.fields['sql.statement'];
    if (typeof statement === 'string' && /\bPASSWORD\b/i.test(statement)) entry.fields = { ...entry.fields, 'sql.statement': REDACTED };
  },
  represent,
};
