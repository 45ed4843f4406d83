/**
 * One captured frame as every source hands it over. Sources reuse a single RawPacket object and
 * its buffer for every frame (no per-packet allocation), so a consumer must copy any bytes it keeps.
 */
export interface RawPacket {
  /** Holds the frame at [offset, offset + caplen). Reused: valid only during the callback. */
  buf: Buffer;
  offset: number;
  /** Bytes captured (may be less than wireLen when the snap length cut the frame). */
  caplen: number;
  /** Length of the frame on the wire. */
  wireLen: number;
  /** Capture time, microseconds since the Unix epoch. */
  tsUs: number;
  /** LINKTYPE_* number (see link.ts). */
  linkType: number;
}

export function newRawPacket(): RawPacket {
  return { buf: Buffer.alloc(0), offset: 0, caplen: 0, wireLen: 0, tsUs: 0, linkType: 0 };
}

/** Called once per frame, synchronously. */
export type PacketHandler = (pkt: RawPacket) => void;
