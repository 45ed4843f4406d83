/**
 * UUIDv7 entry ids (RFC 9562): 48-bit Unix milliseconds, then 74 random bits from the system's
 * CSPRNG, so ids sort by time and are unique across agents. Random bytes come from a pool; the
 * text is written as hex digits into one reused 36-byte buffer (the time part only when the
 * millisecond changes) and decoded once, so an id is one flat string and no intermediate ones.
 */
import { randomFillSync } from 'node:crypto';

const POOL = 16 * 1024;
const pool = Buffer.allocUnsafe(POOL);
let poolPos = POOL;
const DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx, dashes in place. */
const text = Buffer.alloc(36, '-');
let textMs = -1;

function hexByte(b: number, at: number): void {
  text[at] = DIGITS[b >> 4];
  text[at + 1] = DIGITS[b & 15];
}

/** A UUIDv7 for time `ms` (milliseconds since the epoch). */
export function uuidv7(ms: number): string {
  if (poolPos + 10 > POOL) {
    randomFillSync(pool);
    poolPos = 0;
  }
  const r = poolPos;
  poolPos += 10;
  const t = Math.max(0, Math.floor(ms));
  if (t !== textMs) {
    textMs = t;
    const hi = Math.floor(t / 0x10000); // top 32 bits of the 48-bit time
    const lo = t % 0x10000;
    for (let i = 0; i < 8; i++) text[i] = DIGITS[(hi >>> (28 - 4 * i)) & 15];
    for (let i = 0; i < 4; i++) text[9 + i] = DIGITS[(lo >>> (12 - 4 * i)) & 15];
  }
  text[14] = 0x37; // version 7
  text[15] = DIGITS[pool[r] & 0x0f];
  hexByte(pool[r + 1], 16);
  hexByte((pool[r + 2] & 0x3f) | 0x80, 19); // variant 10
  hexByte(pool[r + 3], 21);
  for (let k = 0; k < 6; k++) hexByte(pool[r + 4 + k], 24 + 2 * k);
  return text.toString('latin1', 0, 36);
}
