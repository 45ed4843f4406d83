/**
 * Host-side interfaces of pods, from the node's IPv4 routing table (/proc/net/route): CNIs such as
 * kindnet, Calico and Cilium route each local pod IP (/32) to its veth; bridge CNIs route the pod
 * subnet to the bridge. The longest matching prefix names the interface to capture on. The default
 * route never counts: a pod reached through it is not local.
 */
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';

export interface Route {
  iface: string;
  /** Destination and mask as unsigned 32-bit numbers in network order. */
  dest: number;
  mask: number;
  prefix: number;
}

/** Parses /proc/net/route (hex little-endian addresses, as the kernel prints them). */
export function parseProcNetRoute(text: string): Route[] {
  const routes: Route[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = leHex(f[1]);
    const mask = leHex(f[7]);
    const flags = parseInt(f[3], 16);
    if (Number.isNaN(dest) || Number.isNaN(mask) || !(flags & 1)) continue; // RTF_UP
    routes.push({ iface: f[0], dest, mask, prefix: popcount(mask) });
  }
  return routes;
}

/** The interface of the most specific non-default route to `ip`, or undefined. */
export function routeInterface(routes: Route[], ip: string): string | undefined {
  if (!isIPv4(ip)) return undefined;
  const addr = ipv4Number(ip);
  let best: Route | undefined;
  for (const r of routes) {
    if (r.prefix === 0 || ((addr & r.mask) >>> 0) !== r.dest) continue;
    if (!best || r.prefix > best.prefix) best = r;
  }
  return best?.iface;
}

/** Reads the routing table of this process's network namespace. */
export function readRoutes(path = '/proc/net/route'): Route[] {
  return parseProcNetRoute(readFileSync(path, 'utf8'));
}

function leHex(h: string): number {
  if (!/^[0-9A-Fa-f]{8}$/.test(h)) return NaN;
  const n = parseInt(h, 16);
  // The kernel prints the in-memory (network-order) word as a little-endian host integer: swap bytes.
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
}

function ipv4Number(ip: string): number {
  const p = ip.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n >>> 0; x; x >>>= 1) c += x & 1;
  return c;
}
