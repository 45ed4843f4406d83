/**
 * Pairing requests with responses, as most protocols need it: in order (Redis, PostgreSQL,
 * MySQL and HTTP/1.1 answer first come, first served) or by a key the messages carry (DNS ids,
 * Kafka correlation ids, HTTP/2 stream ids). Both bound the requests waiting (the oldest is given
 * up as unanswered beyond `maxPending`), give up on requests unanswered past the timeout (capture
 * time, on `tick`), and end every waiting request when the connection ends.
 *
 * `settle(request, response)` receives each request with its response, or with null when none
 * came; it counts nothing itself (the dissector does, in its ProtocolCounters).
 */
import type { DissectorLimits } from './dissector.js';

/** What pairing needs of a request: when its last byte was seen (for the unanswered timeout). */
export interface Timed {
  endUs: number;
}

export type Settle<Req, Res> = (request: Req, response: Res | null) => void;

type PairingLimits = Pick<DissectorLimits, 'maxPendingRequests' | 'unansweredTimeoutUs'>;

/** Responses answer the oldest request still waiting. */
export class InOrderPairing<Req extends Timed, Res> {
  private readonly pending: Req[] = [];

  constructor(
    private readonly limits: PairingLimits,
    private readonly settle: Settle<Req, Res>,
  ) {}

  get waiting(): number {
    return this.pending.length;
  }

  /** The request the next response answers (protocols whose responses span several messages add to it). */
  get oldest(): Req | undefined {
    return this.pending[0];
  }

  request(req: Req): void {
    this.pending.push(req);
    if (this.pending.length > this.limits.maxPendingRequests) this.settle(this.pending.shift()!, null);
  }

  /** Pairs the response with the oldest waiting request; false when none waits (an orphan). */
  response(res: Res): boolean {
    const req = this.pending.shift();
    if (req === undefined) return false;
    this.settle(req, res);
    return true;
  }

  tick(nowUs: number): void {
    const before = nowUs - this.limits.unansweredTimeoutUs;
    while (this.pending.length > 0 && this.pending[0].endUs < before) this.settle(this.pending.shift()!, null);
  }

  /** The connection ended: every waiting request is unanswered. */
  end(): void {
    while (this.pending.length > 0) this.settle(this.pending.shift()!, null);
  }
}

/** Responses answer the request with the same key; a repeated key replaces (retransmits) nothing. */
export class KeyedPairing<K, Req extends Timed, Res> {
  /** Insertion order is age order: the first entry is the oldest. */
  private readonly pending = new Map<K, Req>();

  constructor(
    private readonly limits: PairingLimits,
    private readonly settle: Settle<Req, Res>,
  ) {}

  get waiting(): number {
    return this.pending.size;
  }

  /** Returns false when a request with this key already waits (a retransmission: the first is kept). */
  request(key: K, req: Req): boolean {
    if (this.pending.has(key)) return false;
    this.pending.set(key, req);
    if (this.pending.size > this.limits.maxPendingRequests) this.giveUpOldest();
    return true;
  }

  /** Pairs the response with its request; false when none waits under that key (an orphan). */
  response(key: K, res: Res): boolean {
    const req = this.pending.get(key);
    if (req === undefined) return false;
    this.pending.delete(key);
    this.settle(req, res);
    return true;
  }

  tick(nowUs: number): void {
    const before = nowUs - this.limits.unansweredTimeoutUs;
    for (const [key, req] of this.pending) {
      if (req.endUs >= before) continue;
      this.pending.delete(key);
      this.settle(req, null);
    }
  }

  end(): void {
    for (const req of this.pending.values()) this.settle(req, null);
    this.pending.clear();
  }

  private giveUpOldest(): void {
    const [key, req] = this.pending.entries().next().value as [K, Req];
    this.pending.delete(key);
    this.settle(req, null);
  }
}
