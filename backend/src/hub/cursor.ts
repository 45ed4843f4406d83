/**
 * Cursors handed to clients: opaque base64url text of a position `(time µs, id)` in a total order
 * (entry pages: start time then id, newest first; the live stream: insert time then id). The id
 * `~` sorts after every real id: "everything at this time".
 */
import { ApiError } from './errors.js';

export interface Position {
  us: number;
  id: string;
}

export const AFTER_ALL_IDS = '~';

export function encodeCursor(p: Position): string {
  return Buffer.from(`${p.us}:${p.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): Position {
  const m = /^(\d{1,17}):([\w-]{1,64}|~)$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m || !Number.isSafeInteger(Number(m[1]))) throw new ApiError(400, 'bad_request', "'cursor' is not a cursor this hub gave out");
  return { us: Number(m[1]), id: m[2] };
}
