/**
 * An EntrySink writing one JSON object per line (the hub's full-entry shape: bodies as `text`
 * when valid UTF-8, else `base64`). For `--json` and for tests.
 */
import type { Writable } from 'node:stream';
import type { Entry, EntrySink } from '../entries/entry.js';
import { bodyToJson, type JsonBody } from '../entries/json.js';

export type JsonEntry = Omit<Entry, 'requestHeaders' | 'responseHeaders' | 'requestBody' | 'responseBody'> & {
  requestHeaders: Array<[name: string, value: string]>;
  responseHeaders: Array<[name: string, value: string]>;
  requestBody: JsonBody;
  responseBody: JsonBody;
};

export function entryToJson(e: Entry): JsonEntry {
  return {
    ...e,
    requestHeaders: e.requestHeaders.toPairs(),
    responseHeaders: e.responseHeaders.toPairs(),
    requestBody: bodyToJson(e.requestBody),
    responseBody: bodyToJson(e.responseBody),
  };
}

/**
 * Lines are batched into one write per 64 KiB (or per event-loop turn): a write per entry costs
 * more than encoding it. Full above `highWaterBytes` buffered (ours and the stream's).
 */
export class JsonLinesSink implements EntrySink {
  written = 0;
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;

  constructor(
    private readonly out: Writable,
    private readonly highWaterBytes = 8 << 20,
  ) {}

  push(entry: Entry): boolean {
    const line = `${JSON.stringify(entryToJson(entry))}\n`;
    this.written++;
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= 64 * 1024) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return this.buffered() < this.highWaterBytes;
  }

  drained(): Promise<void> {
    this.flush();
    // A stream that needs no drain (it wrote synchronously, e.g. to a file) will not emit one.
    if (this.buffered() < this.highWaterBytes / 2 || !this.out.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.out.once('drain', resolve));
  }

  /** Hands every pending line to the stream; resolves when the stream has written them. */
  async close(): Promise<void> {
    this.flush();
    if (this.out.writableNeedDrain) await new Promise((resolve) => this.out.once('drain', resolve));
  }

  private buffered(): number {
    return this.pendingBytes + this.out.writableLength;
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? this.pending[0] : this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.out.write(text);
  }
}

/** Keeps entries in memory: for tests and for callers that post-process. */
export class CollectingSink implements EntrySink {
  readonly entries: Entry[] = [];

  push(entry: Entry): boolean {
    this.entries.push(entry);
    return true;
  }

  drained(): Promise<void> {
    return Promise.resolve();
  }
}
