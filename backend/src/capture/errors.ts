import { TaplineError } from '../errors.js';

/** Errors of the packet sources, with a machine-readable code and, for files, the byte offset. */
export type CaptureErrorCode =
  | 'FILE_OPEN' // the file cannot be opened or read
  | 'BAD_FILE_HEADER' // not a pcap/pcapng file, or an unsupported version
  | 'BAD_RECORD' // a record header that cannot be right (length out of range)
  | 'TRUNCATED' // the file ends inside a record
  | 'LIVE_OPEN' // libpcap refused the interface or the filter
  | 'UNSUPPORTED_LINK'; // a link type we cannot decode

export class CaptureError extends TaplineError {
  override readonly code: CaptureErrorCode;
  /** Byte offset in the file where the problem was found, when reading a file. */
  readonly offset: number | undefined;

  constructor(code: CaptureErrorCode, message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.code = code;
    this.offset = offset;
  }
}
