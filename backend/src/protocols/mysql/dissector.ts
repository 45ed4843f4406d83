/**
 * MySQL and MariaDB (client/server protocol 10). One entry per command: the login (handshake
 * response → OK/ERR, through auth switches), each COM_QUERY, each prepared statement's prepare,
 * execute (showing the statement's text, kept per connection by id), fetch, reset and close, and
 * the other commands (PING, INIT_DB…). A result set is read packet by packet as its command says
 * it must be shaped (column count, definitions, EOF or not, rows, more results); its first rows
 * are kept as `mariadb --batch` prints them. The compressed protocol is followed from the login's
 * OK; after an SSLRequest the connection is TLS and is not read further.
 *
 * Found by content: the server's greeting (protocol 10 and a version), or, picked up mid-connection,
 * a client's COM_QUERY / COM_STMT_PREPARE. Auth responses are skipped unread: never kept, even
 * with redaction off.
 */
import { emptyBody, HeaderList, Outcome, REDACTED, type Body, type Entry, type ProtocolFields } from '../../entries/entry.js';
import type { Direction, EndReason, StreamConsumer } from '../../net/stream.js';
import { Detection, type Dissector, type DissectorContext, type Exchange, type Section } from '../dissector.js';
import { InOrderPairing, type Timed } from '../pairing.js';
import { fieldsTable, side, table } from '../represent.js';
import { sqlFields, SQL_FAMILY } from '../sql/fields.js';
import { statementShape } from '../sql/shape.js';
import { sqlstateOutcome } from '../sql/sqlstate.js';
import {
  binaryRow,
  headerRow,
  Cap,
  Command,
  commandName,
  MariaCap,
  parameters,
  parseChangeUser,
  parseColumn,
  parseErr,
  parseGreeting,
  parseLogin,
  parseOk,
  Reader,
  ServerStatus,
  RowWriter,
  textRow,
  type Column,
  type Greeting,
  type Login,
} from './message.js';
import { CompressedFramer, MAX_PACKET, PacketFramer, type PacketSink, type Resync } from './packet.js';

const MYSQL_PORT = 3306;
/** Prepared statements remembered per connection (the oldest is forgotten beyond). */
export const MAX_STATEMENTS = 1024;
/** Column definitions kept per result (to decode binary rows); wider results are counted only. */
const MAX_COLUMNS = 4096;
/** The login's operation (no command byte of its own). */
const LOGIN = -1;
/** Commands the server does not answer. */
const ONE_WAY = new Set<number>([Command.quit, Command.stmtClose, Command.stmtSendLongData]);
/** The option to `--redact-param` that drops prepared statements' bound values. */
export const PARAMETERS_REDACTION = 'parameters';
export const PARAMETER_PREFIX = 'param ';

/** MySQL error numbers (SQLSTATE HY000, the catch-all) that are the server's own trouble. */
const SERVER_ERRNOS = new Set([
  1021, // disk full
  1030, // got error from storage engine
  1037, 1038, 1041, // out of memory
  1040, // too many connections
  1053, // server shutdown in progress
  1114, // table is full
  1135, // can't create a thread
  1152, 1153, 1154, 1155, 1156, 1157, 1158, 1159, 1160, 1161, // aborted connection, network read/write errors
  1180, 1181, // commit / rollback failed
  1205, // lock wait timeout
  1206, // lock table full
  1317, // query interrupted
  1927, // connection killed (MariaDB)
  3024, // max execution time exceeded
]);

const enum Phase {
  Greeting,
  Auth,
  Command,
  Tls,
}

const enum State {
  First,
  Auth,
  Columns,
  AfterColumns,
  Rows,
  FieldList,
  PrepareDefinitions,
  Infile,
}

interface Statement {
  text: string;
  /** Its shape and main table, computed once for every execution. */
  shape: string;
  target: string;
  params: number;
  columns: Column[];
  /** The parameter types last sent (a client may send them on the first execution only). */
  types: number[];
}

interface Request extends Timed {
  command: number;
  seq: number;
  startUs: number;
  text: string;
  shape: string;
  /** The statement as sent (a copy, cut at the body limit). */
  textBytes: Buffer | null;
  textLength: number;
  stmtId: number;
  statement: Statement | undefined;
  params: string[];
  target: string;
  database: string;
  login: Login | null;
  wireSize: number;
  infileBytes: number;
  incomplete: boolean;
}

class Reply {
  state = State.First;
  endUs: number;
  lastSeq = -1;
  errno = 0;
  sqlstate = '';
  message = '';
  affectedRows = 0;
  insertId = 0;
  warnings = 0;
  rows = 0;
  results = 0;
  columnCount = 0;
  columns: Column[] = [];
  /** Definitions still to come (columns; or a prepare's parameters then columns). */
  left = 0;
  paramsLeft = 0;
  prepared: Statement | null = null;
  /** The rendered rows, taken from the connection's writer when the reply ends. */
  body: Buffer | null = null;
  bodyCut = false;
  wireSize = 0;
  infile = '';
  authPlugin = '';
  incomplete = false;
  /** The login (or change of user) was accepted. */
  loggedIn = false;
  /** The reply's last packet was read (not cut by a gap or the end of the connection). */
  complete = false;

  constructor(readonly startUs: number) {
    this.endUs = startUs;
  }
}

/** The connection's state both directions share. */
interface Session {
  greeting: Greeting | null;
  capabilities: number;
  mariaCapabilities: number;
  /** null until the handshake says (mid-connection pickups: EOF packets are told apart by length). */
  deprecateEof: boolean | null;
  user: string;
  database: string;
  compressed: '' | 'zlib' | 'zstd';
}

/** The sequence id of a payload's last packet (every packet but the last is 16 MiB - 1 long). */
const lastSeq = (seq: number, length: number) => (seq + Math.floor(length / MAX_PACKET)) & 0xff;

const u24 = (b: Buffer, i: number) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
/** A chunk that can start a command (framing resumes there after a gap in the client's direction). */
const resyncClient: Resync = (b, s, e) => e - s >= 5 && b[s + 3] === 0 && commandName(b[s + 4]) !== undefined && u24(b, s) > 0 && (u24(b, s) + 4 <= e - s || e - s >= 1024);
/** A chunk that can start a response (sequence id 1). */
const resyncServer: Resync = (b, s, e) => e - s >= 5 && b[s + 3] === 1 && (u24(b, s) + 4 <= e - s || e - s >= 1024);

/** One direction's framing: plain packets, then (after a compressed login) compressed frames. */
class Side {
  plain: PacketFramer;
  compressed: CompressedFramer | null = null;

  constructor(
    private readonly sink: PacketSink,
    private readonly keep: number,
    private readonly ctx: DissectorContext,
    private readonly resync: Resync,
  ) {
    this.plain = new PacketFramer(sink, keep, ctx.counters, resync);
  }

  data(buf: Buffer, start: number, end: number, tsUs: number): void {
    if (this.compressed) return this.compressed.push(buf, start, end, tsUs);
    const stopped = this.plain.push(buf, start, end, tsUs);
    if (stopped < end && this.compressed) (this.compressed as CompressedFramer).push(buf, stopped, end, tsUs);
  }

  /** From the next packet on, frames are compressed (the current packet, if any, is the last plain one). */
  compress(kind: 'zlib' | 'zstd'): void {
    this.plain.halt = true;
    this.compressed = new CompressedFramer(new PacketFramer(this.sink, this.keep, this.ctx.counters, this.resync), kind, this.ctx.counters);
  }

  gap(): void {
    if (this.compressed) this.compressed.gap();
    else this.plain.gap();
  }

  get midPacket(): boolean {
    return this.compressed ? this.compressed.midPacket : this.plain.midPacket;
  }
}

function firstKeyword(shape: string): string {
  const m = /^[(\s]*([A-Za-z_]+)/.exec(shape);
  return m ? m[1].toUpperCase() : '';
}

const TABLE_AFTER = /\b(?:FROM|INTO(?:\s+TABLE)?|UPDATE|TABLE|JOIN)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?((?:`[^`]*`|[\w$]+)(?:\.(?:`[^`]*`|[\w$]+))?)/i;

/** The statement's main table when its text names it plainly (FROM, INTO, UPDATE, TABLE), else ''. */
export function mainTable(shape: string): string {
  const m = TABLE_AFTER.exec(shape);
  return m ? m[1].replace(/`/g, '') : '';
}

export function mysqlOutcome(x: Pick<Exchange, 'unanswered' | 'status' | 'fields'>): Outcome {
  if (x.unanswered) return Outcome.none;
  if (x.fields['mysql.one_way'] === 1) return Outcome.oneWay;
  if (x.status === 0) return Outcome.ok;
  const sqlstate = String(x.fields['sql.error'] ?? '');
  // HY000 is MySQL's "general error": it says nothing, the error number does.
  if (sqlstate === '' || sqlstate === 'HY000') return SERVER_ERRNOS.has(x.status) ? Outcome.serverError : Outcome.clientError;
  return sqlstateOutcome(sqlstate);
}

class MysqlConnection implements StreamConsumer {
  private readonly session: Session = {
    greeting: null,
    capabilities: 0,
    mariaCapabilities: 0,
    deprecateEof: null,
    user: '',
    database: '',
    compressed: '',
  };
  private phase = Phase.Greeting;
  private readonly sides: [Side, Side];
  private readonly pairing: InOrderPairing<Request, Reply>;
  private reply: Reply | null = null;
  private readonly statements = new Map<number, Statement>();
  private readonly reader = new Reader();
  /** The client is sending a LOCAL INFILE's contents. */
  private infile = false;
  /** A prepare's reply may end with an EOF (unknown until the handshake is seen): take it if it comes. */
  private absorbEof = false;
  /** An orphan response was counted; its further packets are not. */
  private orphan = false;
  private cut = false;
  private readonly keep: number;
  /** The reply being read renders its rows here (one reply at a time per connection). */
  private readonly rows: RowWriter;

  constructor(
    private readonly ctx: DissectorContext,
    private readonly clientDir: Direction,
  ) {
    // The body limit, plus room for a command's fixed fields before its statement.
    this.keep = Math.max(ctx.limits.maxBodyBytes, 4096) + 64;
    this.rows = new RowWriter(ctx.limits.maxBodyBytes);
    const client: PacketSink = { packet: (...a) => this.clientPacket(...a) };
    const server: PacketSink = { packet: (...a) => this.serverPacket(...a) };
    const sides: Side[] = [];
    sides[clientDir] = new Side(client, this.keep, ctx, resyncClient);
    sides[1 - clientDir] = new Side(server, this.keep, ctx, resyncServer);
    this.sides = sides as [Side, Side];
    this.pairing = new InOrderPairing(ctx.limits, (req, res) => this.settle(req, res));
  }

  data(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void {
    if (this.phase === Phase.Tls) return;
    this.sides[dir].data(buf, start, end, tsUs);
  }

  gap(dir: Direction): void {
    if (this.phase === Phase.Tls) return;
    this.sides[dir].gap();
    if (dir === this.clientDir) return;
    // The bytes lost are (part of) the reply to the oldest request: it is settled as cut.
    const req = this.pairing.oldest;
    if (req === undefined) return;
    const x = this.reply ?? new Reply(req.endUs);
    x.incomplete = true;
    if (this.reply) this.takeRows(x);
    this.reply = null;
    this.pairing.response(x);
  }

  fin(): void {}

  end(reason: EndReason): void {
    this.cut = reason === 'rst' || reason === 'evicted';
    if (this.sides[0].midPacket || this.sides[1].midPacket) this.ctx.counters.parseErrors++;
    if (this.reply) {
      this.reply.incomplete = true;
      const x = this.reply;
      this.takeRows(x);
      this.reply = null;
      this.pairing.response(x);
    }
    this.pairing.end();
  }

  tick(nowUs: number): void {
    // A reply being read is an answer, however long its rows take.
    if (this.reply === null) this.pairing.tick(nowUs);
  }

  private request(command: number, seq: number, startUs: number, endUs: number, length: number): Request {
    return {
      command,
      seq,
      startUs,
      endUs,
      text: '',
      shape: '',
      textBytes: null,
      textLength: 0,
      stmtId: -1,
      statement: undefined,
      params: [],
      target: '',
      database: this.session.database,
      login: null,
      wireSize: length + 4,
      infileBytes: 0,
      incomplete: false,
    };
  }

  private clientPacket(seq: number, b: Buffer, s: number, e: number, length: number, startUs: number, endUs: number): void {
    const r = this.reader.at(b, s, e);
    const session = this.session;
    if (this.phase === Phase.Greeting) {
      if (seq === 1 && session.greeting !== null) return this.login(r, seq, length, startUs, endUs);
      this.phase = Phase.Command; // picked up after the login
    }
    if (this.phase === Phase.Auth) {
      // Auth data (switch responses, passwords sent in the clear by some plugins): counted, never read.
      const req = this.pairing.oldest;
      if (req) req.wireSize += length + 4;
      if (this.reply) this.reply.lastSeq = lastSeq(seq, length);
      return;
    }
    if (this.phase === Phase.Tls) return;
    if (this.infile) {
      const req = this.pairing.oldest;
      if (req) {
        req.infileBytes += length;
        req.wireSize += length + 4;
      }
      if (length === 0) this.infile = false;
      // The server's answer continues the sequence after the file's packets.
      if (this.reply) this.reply.lastSeq = lastSeq(seq, length);
      return;
    }
    const command = b[s];
    const name = commandName(command);
    if (seq !== 0 || e === s || name === undefined) {
      this.ctx.counters.parseErrors++;
      return;
    }
    this.orphan = false;
    const req = this.request(command, lastSeq(seq, length), startUs, endUs, length);
    r.skip(1);
    switch (command) {
      case Command.query:
        if (session.capabilities & Cap.queryAttributes) {
          // MySQL 8 query attributes: a count and a set count first (values, when any, are not read).
          const count = r.lenenc();
          r.lenenc();
          if (count !== 0) req.incomplete = true;
        }
        this.statementText(req, r, length - (r.pos - s));
        break;
      case Command.stmtPrepare:
        this.statementText(req, r, length - 1);
        break;
      case Command.stmtExecute:
      case Command.stmtBulkExecute:
      case Command.stmtFetch:
      case Command.stmtReset:
      case Command.stmtClose:
      case Command.stmtSendLongData: {
        req.stmtId = r.u32();
        const stmt = this.statements.get(req.stmtId);
        req.statement = stmt;
        if (stmt) {
          req.text = stmt.text;
          req.shape = stmt.shape;
          req.target = stmt.target;
          req.textLength = Buffer.byteLength(stmt.text);
          req.textBytes = Buffer.from(stmt.text);
        }
        if (command === Command.stmtExecute && stmt) {
          r.skip(1 + 4); // flags, iteration count
          req.params = parameters(r, stmt.params, stmt.types);
        }
        if (command === Command.stmtClose) this.statements.delete(req.stmtId);
        break;
      }
      case Command.initDb:
        req.target = r.rest();
        req.database = req.target;
        break;
      case Command.fieldList:
        req.target = r.nul();
        break;
      case Command.changeUser:
        req.login = parseChangeUser(r, session.capabilities);
        req.database = req.login.database;
        this.phase = Phase.Auth;
        break;
    }
    if (req.text !== '' && req.statement === undefined) {
      req.shape = statementShape(req.text, 'mysql');
      req.target = mainTable(req.shape);
    }
    if (ONE_WAY.has(command)) {
      this.ctx.counters.exchanges++;
      this.ctx.emit(this.exchange(req, null, true));
      return;
    }
    this.pairing.request(req);
  }

  /** The statement text of a query or prepare: kept (a copy) up to the body limit. */
  private statementText(req: Request, r: Reader, length: number): void {
    let end = Math.min(r.end, r.pos + this.ctx.limits.maxBodyBytes);
    // Some C clients (mysqlslap) send the string's terminating NUL too: not part of the statement.
    if (end === r.pos + length) {
      while (end > r.pos && r.buf[end - 1] === 0) end--;
      length = end - r.pos;
    }
    req.textLength = length;
    const bytes = Buffer.from(r.buf.subarray(r.pos, end));
    req.textBytes = bytes;
    req.text = bytes.toString('utf8');
    req.incomplete ||= bytes.length < length && bytes.length < this.ctx.limits.maxBodyBytes;
  }

  private login(r: Reader, seq: number, length: number, startUs: number, endUs: number): void {
    const session = this.session;
    const greeting = session.greeting!;
    const req = this.request(LOGIN, lastSeq(seq, length), startUs, endUs, length);
    const caps = r.left >= 4 ? r.buf.readUInt32LE(r.pos) : 0;
    if (length === 32 && caps & Cap.ssl) {
      // SSLRequest: a TLS handshake follows; what the connection carries is not readable.
      this.phase = Phase.Tls;
      const x = new Reply(endUs);
      x.complete = true;
      this.ctx.counters.exchanges++;
      this.ctx.emit(this.exchange(req, x, false, true));
      return;
    }
    const login = parseLogin(r);
    req.login = login;
    session.capabilities = (login.capabilities & greeting.capabilities) >>> 0;
    session.mariaCapabilities = (login.mariaCapabilities & greeting.mariaCapabilities) >>> 0;
    session.deprecateEof = (session.capabilities & Cap.deprecateEof) !== 0;
    session.user = login.user;
    session.database = login.database;
    req.database = login.database;
    this.phase = Phase.Auth;
    this.pairing.request(req);
  }

  private serverPacket(seq: number, b: Buffer, s: number, e: number, length: number, startUs: number, endUs: number): void {
    const r = this.reader.at(b, s, e);
    if (this.phase === Phase.Greeting) {
      if (seq === 0 && b[s] === 10 && this.session.greeting === null) {
        this.session.greeting = parseGreeting(r);
        return;
      }
      if (seq === 0 && b[s] === 0xff && this.session.greeting === null) {
        // Refused before any greeting (too many connections, host blocked): a login that failed.
        const req = this.request(LOGIN, 0, startUs, endUs, length);
        const x = new Reply(startUs);
        x.endUs = endUs;
        x.complete = this.err(x, r);
        this.ctx.counters.exchanges++;
        this.ctx.emit(this.exchange(req, x, false));
        return;
      }
      if (seq !== 0 || this.session.greeting !== null) this.phase = Phase.Command;
    }
    const req = this.pairing.oldest;
    if (req === undefined) {
      if (this.absorbEof && length === 5 && b[s] === 0xfe) {
        this.absorbEof = false;
        return;
      }
      if (!this.orphan) this.ctx.counters.orphanResponses++;
      this.orphan = true;
      return;
    }
    this.absorbEof = false;
    let x = this.reply;
    if (x === null) {
      x = this.reply = new Reply(startUs);
      this.rows.reset();
      if (req.command === LOGIN || req.command === Command.changeUser) x.state = State.Auth;
      x.lastSeq = req.seq;
    }
    if (seq !== ((x.lastSeq + 1) & 0xff)) this.ctx.counters.parseErrors++;
    x.lastSeq = lastSeq(seq, length);
    x.wireSize += length + 4;
    x.endUs = endUs;
    if (!this.step(req, x, r, length)) return;
    x.complete = true;
    this.takeRows(x);
    this.reply = null;
    this.pairing.response(x);
    if (x.loggedIn) this.loggedIn(req);
  }

  private loggedIn(req: Request): void {
    const session = this.session;
    this.phase = Phase.Command;
    if (req.login) {
      session.user = req.login.user;
      session.database = req.login.database;
    }
    if (req.command === LOGIN && session.capabilities & Cap.compress) {
      session.compressed = session.capabilities & Cap.zstd ? 'zstd' : 'zlib';
      for (const side of this.sides) side.compress(session.compressed);
    }
  }

  /** One packet of the reply to `req`; true when the reply is complete. */
  private step(req: Request, x: Reply, r: Reader, length: number): boolean {
    const b = r.buf;
    const h = length === 0 ? -1 : b[r.pos];
    switch (x.state) {
      case State.Auth:
        if (h === 0x00) {
          r.skip(1);
          this.ok(x, r);
          x.loggedIn = true;
          return true;
        }
        if (h === 0xff) return this.err(x, r);
        if (h === 0xfe) {
          // AuthSwitchRequest: the plugin the client must now use (its data is a scramble: not kept).
          r.skip(1);
          x.authPlugin = r.nul();
        }
        return false; // AuthMoreData (0x01) and switches: the exchange goes on
      case State.First:
        return this.first(req, x, r, h, length);
      case State.Columns:
        if (x.columns.length < MAX_COLUMNS) x.columns.push(parseColumn(r, (this.session.mariaCapabilities & MariaCap.extendedMetadata) !== 0));
        if (--x.left <= 0) this.columnsRead(x);
        return false;
      case State.AfterColumns:
        x.state = State.Rows;
        if (h === 0xfe && length === 5) {
          r.skip(1 + 2);
          // A cursor was opened: rows come with COM_STMT_FETCH.
          return (r.u16() & ServerStatus.cursorExists) !== 0;
        }
        return this.row(req, x, r, h, length);
      case State.Rows:
        return this.row(req, x, r, h, length);
      case State.FieldList:
        if (h === 0xff) return this.err(x, r);
        if (h === 0xfe && length < 9) return true;
        x.columnCount++;
        return false;
      case State.PrepareDefinitions:
        if (h === 0xfe && length === 5) return x.left + x.paramsLeft <= 0;
        if (x.paramsLeft > 0) x.paramsLeft--;
        else {
          if (x.prepared && x.prepared.columns.length < MAX_COLUMNS) x.prepared.columns.push(parseColumn(r, (this.session.mariaCapabilities & MariaCap.extendedMetadata) !== 0));
          x.left--;
        }
        if (x.left + x.paramsLeft > 0 || this.session.deprecateEof === false) return false;
        this.absorbEof = this.session.deprecateEof === null;
        return true;
      case State.Infile:
        if (h === 0xff) return this.err(x, r);
        if (h === 0x00) {
          r.skip(1);
          this.ok(x, r);
          x.rows += x.affectedRows;
        }
        return true;
    }
  }

  private first(req: Request, x: Reply, r: Reader, h: number, length: number): boolean {
    if (h === 0xff) return this.err(x, r);
    switch (req.command) {
      case Command.stmtPrepare: {
        if (h !== 0x00 || length < 12) return true;
        r.skip(1);
        const id = r.u32();
        const columns = r.u16();
        const params = r.u16();
        r.skip(1);
        x.warnings = r.u16();
        req.stmtId = id;
        const stmt: Statement = { text: req.text, shape: req.shape, target: req.target, params, columns: [], types: [] };
        if (this.statements.size >= MAX_STATEMENTS && !this.statements.has(id)) this.statements.delete(this.statements.keys().next().value!);
        this.statements.set(id, stmt);
        x.prepared = stmt;
        x.paramsLeft = params;
        x.left = columns;
        x.state = State.PrepareDefinitions;
        return params + columns === 0;
      }
      case Command.fieldList:
        if (h === 0xfe && length < 9) return true;
        x.state = State.FieldList;
        x.columnCount = 1;
        return false;
      case Command.query:
      case Command.stmtExecute:
      case Command.stmtBulkExecute:
      case Command.stmtFetch:
        if (h === 0x00 && req.command !== Command.stmtFetch) {
          r.skip(1);
          const more = this.ok(x, r) & ServerStatus.moreResults;
          x.results++;
          x.rows += x.affectedRows;
          return more === 0;
        }
        if (h === 0xfe && length < 9) return true;
        if (h === 0xfb && req.command === Command.query) {
          // LOCAL INFILE: the client sends the file, then an empty packet; the server answers OK/ERR.
          r.skip(1);
          x.infile = r.rest();
          x.state = State.Infile;
          this.infile = true;
          return false;
        }
        if (req.command === Command.stmtFetch) {
          x.columns = req.statement?.columns ?? [];
          x.state = State.Rows;
          return this.row(req, x, r, h, length);
        }
        return this.resultSet(req, x, r);
      default:
        if (h === 0x00) {
          r.skip(1);
          this.ok(x, r);
          if (req.command === Command.initDb) this.session.database = req.target;
          if (req.command === Command.resetConnection) this.statements.clear();
        } else if (h !== 0xfe) {
          // COM_STATISTICS answers with a bare string.
          x.message = r.rest().slice(0, 1024);
        }
        return true;
    }
  }

  /** A column count starts a result set. */
  private resultSet(req: Request, x: Reply, r: Reader): boolean {
    const n = r.lenenc();
    let metadata = true;
    if (r.left > 0 && (this.session.capabilities & Cap.optionalMetadata || this.session.mariaCapabilities & MariaCap.cacheMetadata)) metadata = r.u8() !== 0;
    x.columnCount = Math.max(0, n);
    x.columns = [];
    if (metadata && n > 0) {
      x.left = n;
      x.state = State.Columns;
    } else {
      // Metadata skipped: the client has it from the prepare.
      x.columns = req.statement?.columns ?? [];
      this.columnsRead(x);
    }
    return false;
  }

  private columnsRead(x: Reply): void {
    x.state = State.AfterColumns;
    headerRow(x.columns, this.rows);
  }

  private row(req: Request, x: Reply, r: Reader, h: number, length: number): boolean {
    if (h === 0xff) return this.err(x, r);
    // 0xfe ends the rows (EOF, or OK under DEPRECATE_EOF): a row starting so is at least 16 MiB long.
    if (h === 0xfe && length < MAX_PACKET) {
      r.skip(1);
      let status: number;
      if (length === 5) {
        x.warnings = r.u16();
        status = r.u16();
      } else status = this.ok(x, r);
      x.results++;
      if ((status & ServerStatus.moreResults) === 0) return true;
      x.state = State.First;
      return false;
    }
    x.rows++;
    if (this.rows.full) this.rows.cut = true;
    else {
      if (req.command === Command.query) textRow(r, x.columnCount, this.rows);
      else binaryRow(r, x.columns, this.rows);
      if (r.short) this.rows.cut = true; // the row is longer than the bytes kept
    }
    return false;
  }

  private takeRows(x: Reply): void {
    if (this.rows.length > 0) x.body = this.rows.take();
    x.bodyCut = this.rows.cut;
  }

  /** Reads an OK after its header byte; returns its status flags. */
  private ok(x: Reply, r: Reader): number {
    const ok = parseOk(r);
    x.affectedRows = ok.affectedRows;
    x.insertId = ok.insertId;
    x.warnings = ok.warnings;
    return ok.status;
  }

  private err(x: Reply, r: Reader): true {
    r.skip(1);
    const err = parseErr(r);
    x.errno = err.errno;
    x.sqlstate = err.sqlstate;
    x.message = err.message.slice(0, 4096);
    return true;
  }

  private settle(req: Request, x: Reply | null): void {
    this.ctx.counters.exchanges++;
    if (x === null) this.ctx.counters.unanswered++;
    this.ctx.emit(this.exchange(req, x, false));
  }

  private exchange(req: Request, x: Reply | null, oneWay: boolean, tls = false): Exchange {
    const session = this.session;
    const name = req.command === LOGIN ? 'LOGIN' : commandName(req.command)!;
    const fields: Record<string, string | number> = { 'mysql.command': name };
    if (session.user !== '' || req.login) fields['sql.user'] = req.login?.user ?? session.user;
    fields['sql.database'] = req.database;
    if (session.greeting) {
      fields['mysql.server_version'] = session.greeting.version;
      fields['mysql.connection_id'] = session.greeting.connectionId;
    }
    let operation = name;
    if (req.text !== '') {
      const shape = req.shape;
      fields['sql.statement'] = req.text;
      fields['sql.shape'] = shape;
      if (req.command === Command.query || req.command === Command.stmtExecute || req.command === Command.stmtBulkExecute) {
        operation = firstKeyword(shape) || name;
      }
    }
    if (req.stmtId >= 0) fields['mysql.statement_id'] = req.stmtId;
    if (oneWay) fields['mysql.one_way'] = 1;
    if (req.command === LOGIN) {
      fields['mysql.tls'] = tls ? 1 : 0;
      fields['mysql.compressed'] = session.compressed !== '' || (session.capabilities & Cap.compress) !== 0 ? 1 : 0;
      fields['mysql.auth_plugin'] = x?.authPlugin || req.login?.authPlugin || session.greeting?.authPlugin || '';
    }
    let status = 0;
    let statusText = '';
    if (x) {
      status = x.errno;
      statusText = tls ? 'TLS' : x.errno !== 0 ? x.sqlstate || 'ERR' : x.complete ? 'OK' : '';
      fields['mysql.errno'] = x.errno;
      fields['sql.error'] = x.errno !== 0 ? x.sqlstate : '';
      fields['sql.message'] = x.message;
      fields['sql.rows'] = x.rows;
      fields['mysql.warnings'] = x.warnings;
      if (x.insertId > 0) fields['mysql.insert_id'] = x.insertId;
      if (x.columnCount > 0) fields['mysql.columns'] = x.columnCount;
      if (x.results > 1) fields['mysql.results'] = x.results;
      if (x.infile !== '') {
        fields['mysql.infile'] = x.infile;
        fields['mysql.infile_bytes'] = req.infileBytes;
      }
    }
    const request: Array<[string, string]> = req.login ? [...req.login.attributes] : req.params.map((v, i) => [`${PARAMETER_PREFIX}${i + 1}`, v]);
    return {
      clientDir: this.clientDir,
      protocolVersion: '',
      startUs: req.startUs,
      endUs: x ? x.endUs : req.endUs,
      durationUs: x && !oneWay ? Math.max(0, x.endUs - req.startUs) : 0,
      operation,
      target: req.command === LOGIN ? req.database : req.target,
      query: '',
      host: '',
      status,
      statusText,
      requestHeaders: HeaderList.of(request),
      responseHeaders: HeaderList.of([]),
      requestBody: this.requestBody(req),
      responseBody: x ? this.responseBody(x) : emptyBody(),
      fields: fields as ProtocolFields,
      unanswered: x === null && !oneWay,
      incomplete: req.incomplete || (x !== null && x.incomplete) || (x === null && this.cut),
    };
  }

  private requestBody(req: Request): Body {
    const bytes = req.textBytes;
    if (bytes === null) return emptyBody(); // no statement: nothing to show as a payload
    return { bytes, wireSize: req.wireSize - 4, size: req.textLength, truncated: bytes.length < req.textLength, encoding: '' };
  }

  private responseBody(x: Reply): Body {
    // The size of what was rendered: rows past the limit are counted (sql.rows), not rendered.
    if (x.body === null) return { ...emptyBody(), wireSize: x.wireSize, truncated: x.bodyCut };
    return { bytes: x.body, wireSize: x.wireSize, size: x.body.length, truncated: x.bodyCut, encoding: '' };
  }
}

/** Printable ASCII (a server version, the start of a statement). */
const printable = (c: number) => c >= 0x20 && c < 0x7f;

function detect(buf: Buffer, start: number, end: number): Detection {
  if (end - start < 5) return Detection.More;
  const len = u24(buf, start);
  const seq = buf[start + 3];
  const first = buf[start + 4];
  if (seq === 0 && first === 10 && len >= 30 && len < 1024) {
    // The greeting: protocol 10, then a NUL-terminated version starting with a digit.
    if (end - start < 7) return Detection.More;
    if (!(buf[start + 5] >= 0x30 && buf[start + 5] <= 0x39)) return Detection.No;
    for (let i = start + 5; i < Math.min(end, start + 4 + len); i++) {
      if (buf[i] === 0) return i - start - 5 >= 3 ? Detection.FromServer : Detection.No;
      if (!printable(buf[i])) return Detection.No;
    }
    return end - start < 4 + len ? Detection.More : Detection.No;
  }
  if (seq === 0 && first === 0xff && len >= 4 && len < 512) {
    // Refused before the greeting: ERR with a server error number and a printable message, alone in its segment.
    if (end - start < 4 + len) return Detection.More;
    const errno = buf.readUInt16LE(start + 5);
    if (end - start !== 4 + len || errno < 1000 || errno > 2999) return Detection.No;
    for (let i = start + 7; i < end; i++) if (!printable(buf[i])) return Detection.No;
    return Detection.FromServer;
  }
  if (seq === 0 && (first === Command.query || first === Command.stmtPrepare) && len >= 7 && len < MAX_PACKET) {
    // Picked up mid-connection: a statement, its first bytes printable and starting with a letter.
    const c = buf[start + 5];
    if (end - start < 12) return Detection.More;
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x28 || c === 0x2f)) return Detection.No;
    for (let i = start + 5; i < start + 12; i++) if (!printable(buf[i]) && buf[i] !== 10 && buf[i] !== 9 && buf[i] !== 13) return Detection.No;
    return Detection.FromClient;
  }
  return Detection.No;
}

/** Drops every bound parameter value when the user asks (`--redact-param parameters`). */
function redactParameters(entry: Entry): void {
  const list = entry.requestHeaders;
  for (let i = 0; i < list.count; i++) if (list.name(i).startsWith(PARAMETER_PREFIX)) list.redact(i);
}

/**
 * Passwords written into statements (CREATE USER … IDENTIFIED BY '…', SET PASSWORD = '…',
 * PASSWORD('…')): the literal is replaced, in the statement field and in the request payload.
 */
const PASSWORD_LITERAL = /(IDENTIFIED\s+(?:WITH\s+[\w`'"]+\s+)?(?:BY|AS)\s+(?:PASSWORD\s*\(?\s*)?|PASSWORD\s*\(\s*|SET\s+PASSWORD\b[^=]*=\s*(?:PASSWORD\s*\(\s*)?)('(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.|"")*"?)/gi;

export function redactStatement(text: string): string {
  return text.replace(PASSWORD_LITERAL, (_m, before: string) => `${before}'${REDACTED}'`);
}

function redact(entry: Entry, extraNames: ReadonlySet<string>): void {
  if (extraNames.has(PARAMETERS_REDACTION)) redactParameters(entry);
  const statement = entry.fields['sql.statement'];
  if (typeof statement !== 'string' || !/PASSWORD|IDENTIFIED/i.test(statement)) return;
  const redacted = redactStatement(statement);
  if (redacted === statement) return;
  entry.fields = { ...entry.fields, 'sql.statement': redacted };
  const bytes = Buffer.from(redactStatement(entry.requestBody.bytes.toString('utf8')));
  entry.requestBody = { ...entry.requestBody, bytes, size: bytes.length };
}

function represent(e: Entry): Section[] {
  const f = e.fields;
  const login = f['mysql.command'] === 'LOGIN';
  const sections: Section[] = [
    table(login ? 'Login' : 'Command', [
      ['Command', f['mysql.command'] ?? ''],
      ['User', f['sql.user'] ?? ''],
      ['Database', f['sql.database'] ?? ''],
      ['Statement id', f['mysql.statement_id'] ?? ''],
      ['Server', f['mysql.server_version'] ?? ''],
      ['Connection id', f['mysql.connection_id'] ?? ''],
      ['Auth plugin', f['mysql.auth_plugin'] ?? ''],
    ]),
    ...side(e, 'request', { attributes: login ? 'Connection attributes' : 'Parameters', payload: 'Statement', contentType: 'application/sql' }),
  ];
  if (!e.unanswered && f['mysql.one_way'] !== 1) {
    sections.push(
      table('Result', [
        ['Status', e.status === 0 ? e.statusText : `${e.status} ${e.statusText}`],
        ['Message', f['sql.message'] ?? ''],
        ['Rows', f['sql.rows'] ?? ''],
        ['Columns', f['mysql.columns'] ?? ''],
        ['Results', f['mysql.results'] ?? ''],
        ['Insert id', f['mysql.insert_id'] ?? ''],
        ['Warnings', f['mysql.warnings'] ?? ''],
        ['LOCAL INFILE', f['mysql.infile'] ?? ''],
      ]),
      ...side(e, 'response', { attributes: 'Response', payload: 'Rows', contentType: 'text/tab-separated-values' }),
    );
  }
  return [...sections, ...fieldsTable(e, mysqlDissector)];
}

export const mysqlDissector: Dissector = {
  protocol: 'mysql',
  longName: 'MySQL / MariaDB client/server protocol',
  abbr: 'MySQL',
  color: '#00758f',
  ports: [MYSQL_PORT],
  fieldFamilies: [SQL_FAMILY],
  fields: [
    ...sqlFields,
    { name: 'mysql.command', type: 'string', labels: true, doc: 'the command: QUERY, STMT_PREPARE, STMT_EXECUTE, STMT_CLOSE, PING, INIT_DB, QUIT… or LOGIN for the handshake' },
    { name: 'mysql.errno', type: 'int', doc: 'the error number of an ERR reply (1146 no such table, 1045 access denied…), 0 when OK' },
    { name: 'mysql.statement_id', type: 'int', doc: 'the prepared statement id (prepare, execute, fetch, reset, close)' },
    { name: 'mysql.server_version', type: 'string', labels: true, doc: "the server's version from its greeting (10.11.19-MariaDB-0+deb12u1)" },
    { name: 'mysql.connection_id', type: 'int', doc: "the server's connection (thread) id from its greeting" },
    { name: 'mysql.warnings', type: 'int', doc: 'warnings the reply reported' },
    { name: 'mysql.insert_id', type: 'int', doc: 'the last insert id of an OK reply, when not 0' },
    { name: 'mysql.columns', type: 'int', doc: 'columns of the (last) result set' },
    { name: 'mysql.results', type: 'int', doc: 'result sets of a multi-statement or CALL reply, when more than one' },
    { name: 'mysql.infile', type: 'string', doc: 'the file a LOAD DATA LOCAL INFILE asked the client for' },
    { name: 'mysql.infile_bytes', type: 'int', doc: 'bytes of the file the client sent for a LOCAL INFILE' },
    { name: 'mysql.auth_plugin', type: 'string', labels: true, doc: 'LOGIN: the auth plugin used in the end (mysql_native_password, caching_sha2_password…)' },
    { name: 'mysql.tls', type: 'bool', doc: 'LOGIN: the client asked for TLS (SSLRequest); the rest of the connection is not read' },
    { name: 'mysql.compressed', type: 'bool', doc: 'LOGIN: both sides agreed on the compressed protocol' },
    { name: 'mysql.one_way', type: 'bool', doc: 'a command the server does not answer (STMT_CLOSE, STMT_SEND_LONG_DATA, QUIT)' },
  ],
  outcomes: {
    ok: 'OK, EOF or a result set; a command the server does not answer is one-way',
    clientError: 'ERR with a SQLSTATE of the statement (42xxx syntax or missing table, 23xxx constraint, 28000 access denied…); HY000 by error number',
    serverError: 'ERR of SQLSTATE class 08, 40, 53, 57, 58 or XX; HY000 with a server error number (out of memory, too many connections, lock wait timeout…)',
    none: 'no reply before the timeout or the end of the connection',
  },
  secrets: [
    'auth responses (scrambles, and passwords some plugins send in the clear) are never read or kept',
    "password literals in statements (IDENTIFIED BY '…', SET PASSWORD, PASSWORD('…'))",
    'with --redact-param parameters: the values bound to prepared statements',
  ],
  stream: {
    detect,
    open: (ctx, clientDir) => new MysqlConnection(ctx, clientDir),
  },
  outcome: mysqlOutcome,
  redact,
  represent,
};
