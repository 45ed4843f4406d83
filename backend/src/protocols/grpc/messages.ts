/**
 * gRPC's wire format over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md): each DATA stream is a sequence of
 * length-prefixed messages (1 byte compressed flag, 4 bytes big-endian length, the message), the
 * status comes in trailers (or in a trailers-only response's headers).
 */
import { messageBody } from '../http/body.js';
import { newMessage } from '../http/message.js';

const GRPC_MESSAGE_HEADER = 5;

/** Status code names (grpc/doc/statuscodes.md). */
const STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED',
  'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

export function grpcStatusName(code: number): string {
  return STATUS_NAMES[code] ?? `CODE_${code}`;
}

/** Counts the messages of one direction's DATA as it arrives, whatever was kept of it. */
export class MessageCounter {
  messages = 0;
  /** A message had its compressed flag set. */
  compressed = false;
  /** Bytes of the current message's 5-byte prefix still to come (0: inside a message's body). */
  private headerLeft = GRPC_MESSAGE_HEADER;
  /** The prefix's length field, as read so far. */
  private length = 0;
  private bodyLeft = 0;

  feed(buf: Buffer, start: number, end: number): void {
    let at = start;
    while (at < end) {
      if (this.headerLeft > 0) {
        const b = buf[at++];
        if (this.headerLeft === GRPC_MESSAGE_HEADER) {
          if (b & 1) this.compressed = true;
          this.length = 0;
        } else this.length = this.length * 256 + b;
        if (--this.headerLeft === 0) {
          this.messages++;
          this.bodyLeft = this.length;
          if (this.bodyLeft === 0) this.headerLeft = GRPC_MESSAGE_HEADER;
        }
        continue;
      }
      const n = Math.min(this.bodyLeft, end - at);
      at += n;
      this.bodyLeft -= n;
      if (this.bodyLeft === 0) this.headerLeft = GRPC_MESSAGE_HEADER;
    }
  }
}

/** One message of the kept bytes. */
export interface GrpcMessage {
  /** The message as sent (decompressed when it was compressed with a known encoding). */
  bytes: Buffer;
  /** Its length on the wire (the prefix's length field). */
  length: number;
  compressed: boolean;
  /** Not all of it was kept (the body limit), or it could not be decompressed. */
  cut: boolean;
}

/** Messages a kept body holds, each at most `maxBytes` decompressed. */
export function splitMessages(body: Buffer, encoding: string, maxBytes: number): GrpcMessage[] {
  const out: GrpcMessage[] = [];
  let at = 0;
  while (body.length - at >= GRPC_MESSAGE_HEADER) {
    const compressed = (body[at] & 1) === 1;
    const length = body.readUInt32BE(at + 1);
    const start = at + GRPC_MESSAGE_HEADER;
    const end = Math.min(body.length, start + length);
    let bytes = body.subarray(start, end);
    let cut = end - start < length;
    if (compressed && !cut) {
      // HTTP/1's content decoding, bounded the same way (a message is a body of its own).
      const wire = newMessage(0);
      wire.bodyParts.push(bytes);
      wire.bodyKept = wire.bodyLength = wire.bodyWireLength = bytes.length;
      wire.contentEncoding = encoding;
      const decoded = messageBody(wire, maxBytes);
      cut = decoded.encoding === '' || decoded.truncated;
      bytes = decoded.bytes;
    }
    out.push({ bytes, length, compressed, cut });
    at = start + length;
  }
  return out;
}
