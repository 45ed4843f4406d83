/**
 * Bearer-token auth (required when the hub listens beyond loopback) and, without a token, the
 * Host / Origin check that keeps web pages out of a loopback hub (DNS rebinding).
 */
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

export interface HostCheckOptions {
  /** The host the hub listens on (`127.0.0.1`, `::1`, `localhost`, …). */
  listenHost: string;
  /** More names the hub answers to (`--allow-host`), e.g. a name in /etc/hosts. */
  allowHosts?: string[];
  /** Origins allowed by CORS (`--cors-origin`): their cross-origin requests are welcome. */
  corsOrigins?: string[];
}

/**
 * Without a token, the hub's only protection is that it listens on loopback, and DNS rebinding
 * gets around that: a web page on `rebind.evil.example` whose name then resolves to 127.0.0.1 sends
 * its requests with `Host: rebind.evil.example:8787`, from the page's origin. So a tokenless hub
 * answers only requests whose `Host` is one of its own names with its port (127.0.0.1, localhost,
 * [::1], the listen host and `allowHosts`) and, when an `Origin` is sent, only same-origin ones
 * (or from `corsOrigins`). Returns the check: it throws `403 forbidden` for anything else.
 */
export function hostCheck(options: HostCheckOptions): (host: string | undefined, origin: string | undefined, localPort: number | undefined) => void {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]', bracketed(options.listenHost), ...(options.allowHosts ?? []).map(bracketed)].map((n) => n.toLowerCase()));
  const origins = new Set(options.corsOrigins ?? []);
  const shown = [...names].join(', ');
  return (host, origin, localPort) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host ?? '');
    const port = m?.[2] !== undefined ? Number(m[2]) : 80;
    if (!m || !names.has(m[1].toLowerCase()) || (localPort !== undefined && port !== localPort)) {
      throw new ApiError(
        403,
        'forbidden',
        `this hub has no token, so it answers only requests addressed to it by its own names (${shown}, with its port), not Host ${JSON.stringify(host ?? '')}: ` +
          'this keeps web pages out (DNS rebinding). Use one of those names, start the hub with --allow-host NAME, or give it a --token',
      );
    }
    if (origin !== undefined && origin !== `http://${host}` && !origins.has(origin)) {
      throw new ApiError(
        403,
        'forbidden',
        `this hub has no token, so it answers no cross-origin request (Origin ${JSON.stringify(origin)}); allow a browser origin with --cors-origin, or give the hub a --token`,
      );
    }
  };
}

/** An IPv6 address as it appears in a Host header: `[::1]`. */
function bracketed(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
