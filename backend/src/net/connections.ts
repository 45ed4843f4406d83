/**
 * The connection table: finds each TCP segment's connection by its 4-tuple, reassembles both
 * directions in sequence order and feeds a StreamConsumer. Out-of-order segments are buffered
 * (copied) within per-connection and global byte budgets; past a budget, or when the peer's ACK
 * shows a hole will never be filled, the hole is skipped and reported as a gap.
 *
 * Memory: at most `maxConnections` connections (least recently used evicted) and at most
 * `maxBufferedBytes` of out-of-order data in all (least recently used flushed first).
 * Time is capture time, so offline imports behave like live capture.
 */
import { LruList } from './lru.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, ipv4Text, ipv6Text, type Segment } from './ip.js';
import type { NetCounters } from './counters.js';
import type { Direction, EndReason, StreamConsumer, StreamConsumerFactory } from './stream.js';
import { newTupleKey, storedKey, tupleKey, TupleEntry, TupleMap, type TupleKey } from './tuple.js';
import { tunnelText } from './tunnel.js';

export interface ConnectionLimits {
  maxConnections: number;
  /** Out-of-order bytes one direction may hold. */
  maxBufferedPerDirection: number;
  maxBufferedBytes: number;
  /** A connection without packets for this long is ended. */
  idleTimeoutUs: number;
  /** How long a closed connection's tuple is remembered, so late retransmissions are ignored. */
  closedLingerUs: number;
}

export const defaultConnectionLimits: ConnectionLimits = {
  maxConnections: 100_000,
  maxBufferedPerDirection: 1 << 20,
  maxBufferedBytes: 256 << 20,
  idleTimeoutUs: 120e6,
  closedLingerUs: 5e6,
};

/** Signed distance a - b in 32-bit sequence space. */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

interface QueuedSegment {
  seq: number;
  data: Buffer;
  /** Sequence space the segment covers (> data.length when the snap length cut it). */
  segLen: number;
  tsUs: number;
}

class HalfStream {
  started = false;
  nextSeq = 0;
  /** The initial sequence number of the SYN, -1 when no SYN was seen. */
  isn = -1;
  /** Sequence number of the FIN, once seen. */
  finSeq = -1;
  finished = false;
  queue: QueuedSegment[] = [];
  queuedBytes = 0;
}

class Connection extends TupleEntry<Connection> {
  readonly transport = 'tcp';
  closed = false;
  readonly halves: [HalfStream, HalfStream] = [new HalfStream(), new HalfStream()];
  consumer: StreamConsumer | null = null;
}

export class ConnectionTable {
  private readonly conns = new TupleMap<Connection>();
  private readonly key = newTupleKey();
  /** Oldest (least recently seen) first. */
  private readonly lru = new LruList<Connection>();
  private nextId = 1;

  constructor(
    private readonly open: StreamConsumerFactory,
    private readonly counters: NetCounters,
    private readonly limits: ConnectionLimits = defaultConnectionLimits,
  ) {}

  /** Handles one decoded TCP segment captured at tsUs. */
  segment(seg: Segment, tsUs: number): void {
    const k = this.key;
    tupleKey(seg, k);
    const srcIsLow = k.srcIsLow;
    let conn = this.conns.get(k);
    const syn = (seg.flags & TCP_SYN) !== 0;
    if (conn) {
      const dir: Direction = srcIsLow === conn.lowIsDir0 ? 0 : 1;
      const half = conn.halves[dir];
      // The closed connection's own SYN again: a copy of it (a mirror that sends each packet once
      // per VLAN, a late retransmission), not a new connection; it and what follows are duplicates.
      if (syn && conn.closed && half.isn === seg.seq) {
        this.counters.duplicateBytes += seg.segLen;
        return;
      }
      // A new SYN on a known tuple after it closed, or with a new initial sequence: port reuse.
      if (syn && (seg.flags & TCP_ACK) === 0 && (conn.closed || (half.started && half.nextSeq !== ((seg.seq + 1) >>> 0)))) {
        this.close(conn, 'fin', tsUs);
        this.remove(conn);
        conn = undefined;
      } else if (conn.closed) {
        return; // late retransmissions and ACKs of a finished connection
      }
    }
    if (!conn) {
      // Stray ACKs, FINs and RSTs of connections we never saw start nothing.
      if (!syn && seg.segLen === 0) {
        this.counters.strays++;
        return;
      }
      conn = this.create(seg, k);
    }
    this.touch(conn, tsUs);
    const dir: Direction = srcIsLow === conn.lowIsDir0 ? 0 : 1;
    this.process(conn, dir, seg, tsUs);
  }

  /** Advances the clock: ends idle connections, forgets closed ones, lets consumers time out. */
  tick(nowUs: number): void {
    const idleBefore = nowUs - this.limits.idleTimeoutUs;
    const lingerBefore = nowUs - this.limits.closedLingerUs;
    const horizon = Math.max(idleBefore, lingerBefore);
    let c = this.lru.oldest;
    while (c && c.lastSeenUs < horizon) {
      const next = c.newer;
      if (c.closed) {
        if (c.lastSeenUs < lingerBefore) this.remove(c);
      }
      else if (c.lastSeenUs < idleBefore) {
        this.counters.timedOut++;
        this.close(c, 'timeout', nowUs);
        this.remove(c);
      }
      c = next;
    }
    for (let x = this.lru.oldest; x; x = x.newer) x.consumer?.tick(nowUs);
  }

  /** Ends every connection (end of file, shutdown): buffered data is delivered with its gaps. */
  closeAll(reason: EndReason, nowUs: number): void {
    for (let c = this.lru.oldest; c; ) {
      const next = c.newer;
      if (!c.closed) this.close(c, reason, nowUs);
      this.remove(c);
      c = next;
    }
  }

  private create(seg: Segment, k: TupleKey): Connection {
    if (this.counters.currentConnections >= this.limits.maxConnections && this.lru.oldest) {
      const victim = this.lru.oldest;
      if (!victim.closed) {
        this.counters.evicted++;
        this.close(victim, 'evicted', victim.lastSeenUs);
      }
      this.remove(victim);
    }
    const srcIp = seg.v6 ? ipv6Text(seg.buf, seg.src6) : ipv4Text(seg.src4);
    const dstIp = seg.v6 ? ipv6Text(seg.buf, seg.dst6) : ipv4Text(seg.dst4);
    const conn = new Connection(this.nextId++, storedKey(k), k.high, [srcIp, dstIp], [seg.srcPort, seg.dstPort], k.srcIsLow);
    if (seg.tunnel) conn.tunnel = tunnelText(seg.tunnel);
    this.conns.set(k, conn);
    this.counters.connections++;
    this.counters.currentConnections++;
    conn.consumer = this.open(conn);
    return conn;
  }

  private process(conn: Connection, dir: Direction, seg: Segment, tsUs: number): void {
    const half = conn.halves[dir];
    const flags = seg.flags;
    if (flags & TCP_SYN) {
      if (!half.started) {
        half.started = true;
        half.isn = seg.seq;
        half.nextSeq = (seg.seq + 1) >>> 0;
        if (conn.clientDir === undefined) conn.clientDir = flags & TCP_ACK ? ((1 - dir) as Direction) : dir;
      }
      // TCP Fast Open (RFC 7413): data on a SYN (or SYN-ACK) comes right after the SYN's number.
      if (seg.segLen > 0) {
        seg.seq = (seg.seq + 1) >>> 0;
        this.data(conn, dir, seg, tsUs);
      }
      return;
    }
    if (!half.started) {
      half.started = true;
      half.nextSeq = seg.seq;
      if (!conn.midStream) {
        conn.midStream = true;
        if (conn.clientDir === undefined) this.counters.midStream++;
      }
    }
    if (flags & TCP_ACK) this.skipAckedHole(conn, (1 - dir) as Direction, seg.ack, tsUs);
    if (seg.segLen > 0) this.data(conn, dir, seg, tsUs);
    if (conn.closed) return;
    if (flags & TCP_RST) {
      this.counters.closedRst++;
      this.close(conn, 'rst', tsUs);
      return;
    }
    if (flags & TCP_FIN && half.finSeq < 0) half.finSeq = (seg.seq + seg.segLen) >>> 0;
    this.checkFin(conn, dir, tsUs);
  }

  private data(conn: Connection, dir: Direction, seg: Segment, tsUs: number): void {
    const half = conn.halves[dir];
    const rel = seqDiff(seg.seq, half.nextSeq);
    if (rel <= 0) {
      this.deliver(conn, dir, seg.buf, seg.payloadStart, seg.payloadEnd, seg.segLen, -rel, tsUs);
      this.drain(conn, dir);
      return;
    }
    // A hole before this segment: keep a copy while the budgets allow.
    this.counters.outOfOrder++;
    if (rel > 1 << 30) {
      // Not a hole but a jump (garbage or a capture that lost a gigabyte): start over there.
      this.flush(conn, dir);
      const r = seqDiff(seg.seq, half.nextSeq);
      this.gap(conn, dir, r, tsUs);
      this.deliver(conn, dir, seg.buf, seg.payloadStart, seg.payloadEnd, seg.segLen, Math.max(0, -r), tsUs);
      return;
    }
    const q = half.queue;
    let i = q.length;
    while (i > 0 && seqDiff(q[i - 1].seq, seg.seq) > 0) i--;
    if (i > 0 && q[i - 1].seq === seg.seq && q[i - 1].segLen >= seg.segLen) {
      this.counters.duplicateBytes += seg.segLen;
      return;
    }
    const captured = seg.payloadEnd - seg.payloadStart;
    const data = Buffer.allocUnsafe(captured);
    seg.buf.copy(data, 0, seg.payloadStart, seg.payloadEnd);
    q.splice(i, 0, { seq: seg.seq, data, segLen: seg.segLen, tsUs });
    half.queuedBytes += captured;
    this.counters.currentBufferedBytes += captured;
    if (this.counters.currentBufferedBytes > this.counters.peakBufferedBytes) {
      this.counters.peakBufferedBytes = this.counters.currentBufferedBytes;
    }
    if (half.queuedBytes > this.limits.maxBufferedPerDirection) {
      this.counters.forcedFlushes++;
      this.flush(conn, dir);
    }
    if (this.counters.currentBufferedBytes > this.limits.maxBufferedBytes) this.relieve();
  }

  /**
   * Hands over the bytes of a segment from `skip` on (the bytes before were delivered already);
   * bytes the snap length cut off become a gap.
   */
  private deliver(conn: Connection, dir: Direction, buf: Buffer, start: number, end: number, segLen: number, skip: number, tsUs: number): void {
    const half = conn.halves[dir];
    if (skip >= segLen) {
      this.counters.duplicateBytes += segLen;
      return;
    }
    this.counters.duplicateBytes += skip;
    const from = start + skip;
    if (from < end) conn.consumer?.data(dir, buf, from, end, tsUs);
    const deliveredTo = Math.max(from, end) - start; // offset in the segment up to which bytes went out
    half.nextSeq = (half.nextSeq + (deliveredTo - skip)) >>> 0;
    if (deliveredTo < segLen) this.gap(conn, dir, segLen - deliveredTo, tsUs);
  }

  private gap(conn: Connection, dir: Direction, bytes: number, tsUs: number): void {
    if (bytes <= 0) return;
    const half = conn.halves[dir];
    half.nextSeq = (half.nextSeq + bytes) >>> 0;
    this.counters.gaps++;
    this.counters.gapBytes += bytes;
    conn.consumer?.gap(dir, bytes, tsUs);
  }

  /** Delivers queued segments that have become in order. */
  private drain(conn: Connection, dir: Direction): void {
    const half = conn.halves[dir];
    const q = half.queue;
    while (q.length > 0 && seqDiff(q[0].seq, half.nextSeq) <= 0) {
      const s = q.shift()!;
      half.queuedBytes -= s.data.length;
      this.counters.currentBufferedBytes -= s.data.length;
      this.deliver(conn, dir, s.data, 0, s.data.length, s.segLen, -seqDiff(s.seq, half.nextSeq), s.tsUs);
    }
  }

  /** Gives up on every hole in one direction: queued data is delivered with gaps between. */
  private flush(conn: Connection, dir: Direction): void {
    const half = conn.halves[dir];
    while (half.queue.length > 0) {
      const first = half.queue[0];
      this.gap(conn, dir, seqDiff(first.seq, half.nextSeq), first.tsUs);
      this.drain(conn, dir);
    }
  }

  /** The peer acknowledged bytes we never saw: the hole is in our capture, not on the wire. */
  private skipAckedHole(conn: Connection, dir: Direction, ack: number, tsUs: number): void {
    const half = conn.halves[dir];
    if (half.queue.length === 0 || seqDiff(ack, half.nextSeq) <= 0) return;
    const first = half.queue[0].seq;
    this.gap(conn, dir, Math.min(seqDiff(ack, half.nextSeq), seqDiff(first, half.nextSeq)), tsUs);
    this.drain(conn, dir);
    this.checkFin(conn, dir, tsUs);
  }

  /** Over the global budget: flush the least recently used connections' buffers. */
  private relieve(): void {
    for (let c = this.lru.oldest; c && this.counters.currentBufferedBytes > this.limits.maxBufferedBytes; c = c.newer) {
      for (const dir of [0, 1] as const) {
        if (c.halves[dir].queue.length > 0) {
          this.counters.forcedFlushes++;
          this.flush(c, dir);
          this.checkFin(c, dir, c.lastSeenUs);
        }
      }
    }
  }

  private checkFin(conn: Connection, dir: Direction, tsUs: number): void {
    const half = conn.halves[dir];
    if (conn.closed || half.finished || half.finSeq < 0 || half.nextSeq !== half.finSeq) return;
    half.finished = true;
    half.nextSeq = (half.nextSeq + 1) >>> 0;
    conn.consumer?.fin(dir, tsUs);
    const other = conn.halves[1 - dir];
    if (other.finished || !other.started) {
      this.counters.closedFin++;
      this.close(conn, 'fin', tsUs);
    }
  }

  /** Ends a connection: buffered data goes out with gaps, then the consumer ends. */
  private close(conn: Connection, reason: EndReason, tsUs: number): void {
    if (conn.closed) return;
    this.flush(conn, 0);
    this.flush(conn, 1);
    conn.closed = true;
    const consumer = conn.consumer;
    conn.consumer = null;
    consumer?.end(reason, tsUs);
  }

  private remove(conn: Connection): void {
    this.conns.delete(conn.key, conn.subKey, conn);
    this.lru.remove(conn);
    this.counters.currentConnections--;
  }

  private touch(conn: Connection, tsUs: number): void {
    conn.lastSeenUs = tsUs;
    this.lru.touch(conn);
  }

}
