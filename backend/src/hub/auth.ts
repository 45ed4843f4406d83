/** Bearer-token auth: required when the hub listens beyond loopback. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { ApiError, HubConfigError } from './errors.js';

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

export function checkListenConfig(host: string, token: string | undefined): void {
  if (!isLoopback(host) && !token) {
    throw new HubConfigError(
      `refusing to listen on ${host} without a token: pass --token (or TAPLINE_TOKEN), or listen on 127.0.0.1`,
    );
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Returns a check that throws `unauthorized` unless the header carries the token. */
export function bearerCheck(token: string): (authorization: string | undefined) => void {
  const expected = digest(token);
  return (authorization) => {
    const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (!m) throw new ApiError(401, 'unauthorized', 'this hub needs "Authorization: Bearer <token>"');
    if (!timingSafeEqual(digest(m[1].trim()), expected)) throw new ApiError(401, 'unauthorized', 'wrong token');
  };
}
