/** A pino logger whose lines a test can read (instead of stderr). */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface CapturedLog {
  logger: Logger;
  /** Parsed log lines so far. */
  lines: Array<{ level: number; msg: string; [k: string]: unknown }>;
  /** Messages so far. */
  messages(): string[];
}

export function captureLog(level = 'debug'): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: pino({ level }, sink), lines, messages: () => lines.map((l) => l.msg) };
}
