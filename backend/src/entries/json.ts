/** Bodies as JSON (the hub's entry detail, `--json` lines): text when valid UTF-8, else base64. */
import type { Body } from './entry.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface JsonBody {
  text?: string;
  base64?: string;
  size: number;
  wireSize: number;
  truncated: boolean;
  encoding: string;
}

export function bodyToJson(b: Body): JsonBody {
  const base = { size: b.size, wireSize: b.wireSize, truncated: b.truncated, encoding: b.encoding };
  try {
    return { text: utf8.decode(b.bytes), ...base };
  } catch {
    return { base64: b.bytes.toString('base64'), ...base };
  }
}
