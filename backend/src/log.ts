/**
 * The one logger factory: pino, JSON lines on stderr (stdout stays free for command output).
 * Modules take a `Logger` from their caller and fall back to `createLogger(name)`.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Level from TAPLINE_LOG_LEVEL (default 'info'; 'silent' in tests that do not want noise). */
export function createLogger(name: string, level = process.env.TAPLINE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level }, pino.destination(2));
}
