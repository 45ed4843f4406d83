/**
 * An EntrySink writing one JSON object per line (the hub's full-entry shape: bodies as `text`
 * when valid UTF-8, else `base64`). For `--json` and for tests.
 */
import type { Writable } from 'node:stream';
import type { Body, Entry, EntrySink } from '../entries/entry.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface JsonBody {
  text?: string;
  base64?: string;
  size: number;
  wireSize: number;
  truncated: boolean;
  encoding: string;
}

export type JsonEntry = Omit<Entry, 'requestBody' | 'responseBody'> & { requestBody: JsonBody; responseBody: JsonBody };

export function bodyToJson(b: Body): JsonBody {
  const base = { size: b.size, wireSize: b.wireSize, truncated: b.truncated, encoding: b.encoding };
  try {
    return { text: utf8.decode(b.bytes), ...base };
  } catch {
    return { base64: b.bytes.toString('base64'), ...base };
  }
}

export function entryToJson(e: Entry): JsonEntry {
  return { ...e, requestBody: bodyToJson(e.requestBody), responseBody: bodyToJson(e.responseBody) };
}

export class JsonLinesSink implements EntrySink {
  written = 0;

  constructor(private readonly out: Writable) {}

  push(entry: Entry): boolean {
    this.written++;
    return this.out.write(`${JSON.stringify(entryToJson(entry))}\n`);
  }

  drained(): Promise<void> {
    if (!this.out.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.out.once('drain', resolve));
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
