/**
 * Network-namespace "hosts" on a bridge for end-to-end tests (NOTES.md: test hosts): each host is a
 * netns with an eth0 whose veth peer is a port of the bridge; the root namespace has the bridge's
 * address (it plays the node). Names carry the test's pid; destroy() removes everything it made and
 * never throws, so it belongs in `after` (it also runs after a half-built setup).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';

export interface NetnsHost {
  /** The namespace's name (`ip netns exec NAME …`). */
  ns: string;
  ip: string;
  /** The host-side veth, a port of the bridge. */
  veth: string;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

export class NetnsLab {
  readonly hosts: NetnsHost[] = [];
  private bridgeUp = false;
  private readonly etcDirs: string[] = [];

  /** `bridge` at most 15 characters; `nodeIp` is given to the bridge in a /24. */
  constructor(
    readonly bridge: string,
    readonly nodeIp: string,
  ) {}

  up(): void {
    ip('link', 'add', this.bridge, 'type', 'bridge');
    this.bridgeUp = true;
    ip('addr', 'add', `${this.nodeIp}/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
  }

  /** A host `ns` with `addr`/24 on eth0; `veth` (≤ 15 characters) is its bridge port. */
  addHost(ns: string, addr: string, veth: string): NetnsHost {
    ip('netns', 'add', ns);
    const host = { ns, ip: addr, veth };
    this.hosts.push(host);
    ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('link', 'set', veth, 'master', this.bridge, 'up');
    ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    return host;
  }

  /** Runs `ip …` (e.g. `-n NS addr add …`). */
  ip(...args: string[]): string {
    return ip(...args);
  }

  /** /etc/hosts inside `ns` (`ip netns exec` mounts /etc/netns/NS/hosts over it), e.g. for a Service's DNS name. */
  hostsFile(ns: string, text: string): void {
    const dir = `/etc/netns/${ns}`;
    mkdirSync(dir, { recursive: true });
    this.etcDirs.push(dir);
    writeFileSync(`${dir}/hosts`, text);
  }

  /** Runs a command in `ns` to its end; its stdout. */
  exec(ns: string, cmd: string, args: string[], timeoutMs = 10_000): string {
    return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs }).toString();
  }

  destroy(): void {
    const quietly = (f: () => void) => {
      try {
        f();
      } catch {
        // already gone, or never made
      }
    };
    for (const h of this.hosts.splice(0)) quietly(() => ip('netns', 'del', h.ns));
    if (this.bridgeUp) quietly(() => ip('link', 'del', this.bridge));
    this.bridgeUp = false;
    for (const dir of this.etcDirs.splice(0)) {
      quietly(() => rmSync(dir, { recursive: true, force: true }));
      quietly(() => rmdirSync('/etc/netns')); // only when no one else uses it (not empty: it stays)
    }
  }
}
