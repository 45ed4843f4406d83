/**
 * Both-ways keys of transport 4-tuples, shared by the TCP connection table and the UDP flow table:
 * A→B and B→A find the same entry. An IPv4 endpoint is a number (ip * 65536 + port, exact below
 * 2^48) and the table a map of maps, so IPv4 lookups build no string; IPv6 endpoints are
 * 18-character latin1 strings (address and port), the key both of them, lower first.
 */
import type { Transport } from '../entries/entry.js';
import type { Segment } from './ip.js';
import type { LruLinks } from './lru.js';
import type { ConnectionInfo, Direction } from './stream.js';

/**
 * What the connection table and the flow table keep of every entry alike: its identity and key,
 * its endpoints, who the client is, when it was last seen and its place in the LRU list.
 */
export abstract class TupleEntry<Self> implements ConnectionInfo, LruLinks<Self> {
  abstract readonly transport: Transport;
  clientDir: Direction | undefined = undefined;
  midStream = false;
  tunnel = '';
  lastSeenUs = 0;
  /** LRU list links (older ← → newer). */
  older: Self | null = null;
  newer: Self | null = null;

  constructor(
    readonly id: number,
    readonly key: number | string,
    readonly subKey: number,
    readonly ip: readonly [string, string],
    readonly port: readonly [number, number],
    /** Which endpoint (the lower-keyed one, or the other) is direction 0's sender. */
    readonly lowIsDir0: boolean,
  ) {}
}

/** Where a packet's tuple falls, filled in place by `tupleKey` (one reused object per table). */
export interface TupleKey {
  v6: boolean;
  /** The sender is the lower endpoint. */
  srcIsLow: boolean;
  /**
   * IPv4: the lower and the higher endpoint. Numbers only, never a string: a field of one
   * representation is overwritten in place, a mixed one would box a number on every packet.
   */
  low: number;
  high: number;
  /** IPv6: both endpoints, lower first ('' for IPv4). */
  key6: string;
}

export function newTupleKey(): TupleKey {
  return { v6: false, srcIsLow: true, low: 0, high: 0, key6: '' };
}

export function tupleKey(seg: Segment, k: TupleKey): void {
  k.v6 = seg.v6;
  if (!seg.v6) {
    const src = seg.src4 * 65536 + seg.srcPort;
    const dst = seg.dst4 * 65536 + seg.dstPort;
    const srcIsLow = src <= dst;
    k.srcIsLow = srcIsLow;
    k.low = srcIsLow ? src : dst;
    k.high = srcIsLow ? dst : src;
  } else {
    const src = seg.buf.toString('latin1', seg.src6, seg.src6 + 16) + String.fromCharCode(seg.srcPort >> 8, seg.srcPort & 255);
    const dst = seg.buf.toString('latin1', seg.dst6, seg.dst6 + 16) + String.fromCharCode(seg.dstPort >> 8, seg.dstPort & 255);
    const srcIsLow = src <= dst;
    k.srcIsLow = srcIsLow;
    k.key6 = srcIsLow ? src + dst : dst + src;
  }
}

/**
 * Values by both-ways tuple. An entry remembers its tuple as (`storedKey(k)`, `k.high`): the IPv4
 * lower endpoint or the IPv6 key, and the IPv4 higher endpoint; `delete` takes those.
 */
export class TupleMap<T> {
  private readonly v4 = new Map<number, Map<number, T>>();
  private readonly v6 = new Map<string, T>();

  get(k: TupleKey): T | undefined {
    return k.v6 ? this.v6.get(k.key6) : this.v4.get(k.low)?.get(k.high);
  }

  set(k: TupleKey, value: T): void {
    if (k.v6) {
      this.v6.set(k.key6, value);
      return;
    }
    let inner = this.v4.get(k.low);
    if (!inner) this.v4.set(k.low, (inner = new Map()));
    inner.set(k.high, value);
  }

  /** Removes the tuple's value if it is `value` (a newer value of the same tuple stays). */
  delete(key: number | string, high: number, value: T): void {
    if (typeof key === 'number') {
      const inner = this.v4.get(key);
      if (inner?.get(high) === value) {
        inner.delete(high);
        if (inner.size === 0) this.v4.delete(key);
      }
    } else if (this.v6.get(key) === value) this.v6.delete(key);
  }
}

/** What an entry of the tuple `k` keeps for `TupleMap.delete`: the IPv4 lower endpoint or the IPv6 key. */
export function storedKey(k: TupleKey): number | string {
  return k.v6 ? k.key6 : k.low;
}
