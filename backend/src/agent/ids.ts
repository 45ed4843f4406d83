/**
 * UUIDv7 entry ids (RFC 9562): 48-bit Unix milliseconds, then 74 random bits from the system's
 * CSPRNG, so ids sort by time and are unique across agents. Random bytes come from a pool to
 * keep the per-entry cost at a few string operations.
 */
import { randomFillSync } from 'node:crypto';

const POOL = 16 * 1024;
const pool = Buffer.allocUnsafe(POOL);
let poolPos = POOL;
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A UUIDv7 for time `ms` (milliseconds since the epoch). */
export function uuidv7(ms: number): string {
  if (poolPos + 10 > POOL) {
    randomFillSync(pool);
    poolPos = 0;
  }
  const r = poolPos;
  poolPos += 10;
  const t = Math.max(0, Math.floor(ms));
  const hi = Math.floor(t / 0x10000); // top 32 bits of the 48-bit time
  const lo = t % 0x10000;
  const time = hi.toString(16).padStart(8, '0') + '-' + lo.toString(16).padStart(4, '0');
  const ver = '7' + HEX[pool[r] & 0x0f].slice(1) + HEX[pool[r + 1]];
  const variant = HEX[(pool[r + 2] & 0x3f) | 0x80] + HEX[pool[r + 3]];
  const node = HEX[pool[r + 4]] + HEX[pool[r + 5]] + HEX[pool[r + 6]] + HEX[pool[r + 7]] + HEX[pool[r + 8]] + HEX[pool[r + 9]];
  return `${time}-${ver}-${variant}-${node}`;
}
