/** What the connection table hands a connection's bytes to (a protocol dissector, in practice). */
import type { Transport } from '../entries/entry.js';

/** 0: the direction of the first packet seen on the connection; 1: the reverse. */
export type Direction = 0 | 1;

export type EndReason = 'fin' | 'rst' | 'timeout' | 'evicted' | 'shutdown';

export interface ConnectionInfo {
  /** Sequential id, unique within one table. */
  readonly id: number;
  /** TCP connections come from the connection table, UDP flows from the flow table. */
  readonly transport: Transport;
  /** Address and port that sent the packets of direction 0, and the peer's. */
  readonly ip: readonly [string, string];
  readonly port: readonly [number, number];
  /** The client's direction when the handshake was seen (SYN sender), else undefined. */
  clientDir: Direction | undefined;
  /** True when the capture started after the connection did (no SYN seen). */
  midStream: boolean;
  /** The tunnel its packets came through (`vxlan 10.0.0.1 > 10.0.0.2 id 42`); '' or absent when none. */
  tunnel?: string;
}

export interface StreamConsumer {
  /** In-order bytes buf[start, end) of one direction, captured at tsUs. Copy what you keep. */
  data(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void;
  /** `bytes` of one direction are missing (lost, beyond the snap length, or given up on). */
  gap(dir: Direction, bytes: number, tsUs: number): void;
  /** The direction ended with a FIN (all its bytes were delivered before). */
  fin(dir: Direction, tsUs: number): void;
  /** The connection is gone; no call follows. */
  end(reason: EndReason, tsUs: number): void;
  /** Periodic clock (capture time), for timeouts inside the consumer. */
  tick(nowUs: number): void;
}

/** What the flow table hands a UDP flow's datagrams to (a protocol dissector, in practice). */
export interface DatagramConsumer {
  /** One datagram's payload buf[start, end) of direction `dir`, captured at tsUs. Copy what you keep. */
  datagram(dir: Direction, buf: Buffer, start: number, end: number, tsUs: number): void;
  /** The flow is gone (idle timeout, eviction, shutdown); no call follows. */
  end(reason: EndReason, tsUs: number): void;
  /** Periodic clock (capture time). */
  tick(nowUs: number): void;
}

export type StreamConsumerFactory = (conn: ConnectionInfo) => StreamConsumer;
