/**
 * Tap targeting, as `kubeshark tap` does it: which pods to capture (-n NS repeatable, default the
 * kubeconfig context's namespace; -A; --pod REGEX; --exclude-namespace; only this node's pods on a
 * node), and what that means for the capture: a BPF filter over the targeted pods' IPs and the
 * host-side interfaces that reach them. Kept up to date as pods come and go; a `change` event says
 * when the capture should follow.
 */
import { EventEmitter } from 'node:events';
import type { Command } from 'commander';
import { KubeError } from './errors.js';
import type { KubeMetadata } from './metadata.js';
import type { PodRecord } from './resolver.js';
import { routeInterface, type Route } from './routes.js';

/** What the user asked for on the command line (or in Helm values). */
export interface TapTargetOptions {
  /** -n/--namespace, repeatable. Default: the kubeconfig context's namespace. */
  namespaces?: string[];
  /** -A/--all-namespaces: every namespace (wins over -n). */
  allNamespaces?: boolean;
  /** --pod REGEX: only pods whose name matches. */
  pod?: string;
  /** --exclude-namespace, repeatable. */
  excludeNamespaces?: string[];
  /** Only pods scheduled on this node (an agent taps its own node). */
  nodeName?: string;
}

/** The options made definite. */
export interface TapTargetSpec {
  /** null = all namespaces. */
  namespaces: ReadonlySet<string> | null;
  excludeNamespaces: ReadonlySet<string>;
  pod: RegExp | null;
  nodeName: string | null;
}

/** A targeted pod, as far as capture cares. */
export interface TargetPod {
  namespace: string;
  name: string;
  node: string;
  ips: readonly string[];
  hostNetwork: boolean;
  hostPorts: readonly number[];
}

export interface TapChange {
  pods: TargetPod[];
  /** BPF filter selecting the targeted pods' traffic; null when no pod is targeted (capture nothing). */
  bpfFilter: string | null;
  /** Host-side interfaces that reach the targeted local pods (empty when unknown or not on a node). */
  interfaces: string[];
  /**
   * Capture on `interfaces` in promiscuous mode: one of them is a bridge, which passes the frames
   * it forwards between its ports up to its own device only then.
   */
  promiscuous: boolean;
}

/** Checks the options and fills the defaults: `contextNamespace` is the kubeconfig context's namespace. */
export function resolveTapTargets(opts: TapTargetOptions, contextNamespace: string): TapTargetSpec {
  let pod: RegExp | null = null;
  if (opts.pod !== undefined && opts.pod !== '') {
    try {
      pod = new RegExp(opts.pod);
    } catch (err) {
      throw new KubeError('target_options_invalid', `--pod: not a regular expression: ${opts.pod} (${(err as Error).message})`);
    }
  }
  for (const ns of [...(opts.namespaces ?? []), ...(opts.excludeNamespaces ?? [])]) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns) || ns.length > 63) {
      throw new KubeError('target_options_invalid', `not a namespace name: "${ns}" (lowercase letters, digits and '-', at most 63)`);
    }
  }
  const namespaces = opts.allNamespaces
    ? null
    : new Set(opts.namespaces && opts.namespaces.length > 0 ? opts.namespaces : [contextNamespace]);
  return { namespaces, excludeNamespaces: new Set(opts.excludeNamespaces ?? []), pod, nodeName: opts.nodeName || null };
}

export function isTargeted(pod: PodRecord, spec: TapTargetSpec): boolean {
  if (pod.ips.length === 0) return false;
  if (spec.namespaces !== null && !spec.namespaces.has(pod.namespace)) return false;
  if (spec.excludeNamespaces.has(pod.namespace)) return false;
  if (spec.nodeName !== null && pod.node !== spec.nodeName) return false;
  return spec.pod === null || spec.pod.test(pod.name);
}

/**
 * `host A or host B …` over the pods' IPs (sorted, without repeats). hostNetwork pods share their
 * node's IP, so they count only by their declared ports (`host N and (port P or …)`), and not at all
 * when they declare none (that would capture the whole node). null when nothing is to be captured.
 */
export function buildTapFilter(pods: Iterable<TargetPod>): string | null {
  const hosts = new Set<string>();
  const hostPorts = new Map<string, Set<number>>();
  for (const p of pods) {
    for (const ip of p.ips) {
      if (!p.hostNetwork) hosts.add(ip);
      else if (p.hostPorts.length > 0) {
        let set = hostPorts.get(ip);
        if (!set) hostPorts.set(ip, (set = new Set()));
        for (const port of p.hostPorts) set.add(port);
      }
    }
  }
  const terms = [...hosts].sort().map((ip) => `host ${ip}`);
  for (const ip of [...hostPorts.keys()].sort()) {
    const ports = [...(hostPorts.get(ip) ?? [])].sort((a, b) => a - b).map((p) => `port ${p}`);
    terms.push(`(host ${ip} and (${ports.join(' or ')}))`);
  }
  return terms.length > 0 ? terms.join(' or ') : null;
}

export interface TapTargetsOptions {
  /** Whether an interface is a bridge (default: none is). */
  isBridge?: (iface: string) => boolean;
  /** The node's routing table, read on each change (default: none, so no interfaces). */
  routes?: () => Route[];
}

/**
 * The targeted pods of a metadata cache, kept current. Emits `change` once synced and then each time
 * the BPF filter or the interface list changes (pod events are coalesced: a relist of thousands of
 * pods gives one change).
 */
export class TapTargets extends EventEmitter<{ change: [TapChange] }> {
  private current: TapChange = { pods: [], bpfFilter: null, interfaces: [], promiscuous: false };
  private scheduled = false;
  private emitted = false;
  private readonly onPod = () => this.schedule();

  constructor(
    private readonly md: KubeMetadata,
    private readonly spec: TapTargetSpec,
    private readonly opts: TapTargetsOptions = {},
  ) {
    super();
    md.on('pod', this.onPod);
    md.on('synced', this.onPod);
    if (md.synced) this.schedule();
  }

  /** The latest state (empty until the cache has synced). */
  get state(): TapChange {
    return this.current;
  }

  stop(): void {
    this.md.off('pod', this.onPod);
    this.md.off('synced', this.onPod);
  }

  private schedule(): void {
    if (this.scheduled || !this.md.synced) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.recompute();
    });
  }

  private recompute(): void {
    const pods: TargetPod[] = [];
    for (const p of this.md.resolver.livePods()) {
      if (!isTargeted(p, this.spec)) continue;
      pods.push({ namespace: p.namespace, name: p.name, node: p.node, ips: p.ips, hostNetwork: p.hostNetwork, hostPorts: p.hostPorts });
    }
    pods.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    const bpfFilter = buildTapFilter(pods);
    const interfaces = this.interfacesOf(pods);
    const same = bpfFilter === this.current.bpfFilter && interfaces.join() === this.current.interfaces.join();
    const isBridge = this.opts.isBridge;
    this.current = { pods, bpfFilter, interfaces, promiscuous: isBridge !== undefined && interfaces.some((i) => isBridge(i)) };
    if (same && this.emitted) return;
    this.emitted = true;
    this.emit('change', this.current);
  }

  private interfacesOf(pods: TargetPod[]): string[] {
    if (!this.opts.routes || this.spec.nodeName === null) return [];
    const routes = this.opts.routes();
    const set = new Set<string>();
    for (const p of pods) {
      if (p.hostNetwork) continue;
      for (const ip of p.ips) {
        const iface = routeInterface(routes, ip);
        if (iface) set.add(iface);
      }
    }
    return [...set].sort();
  }
}

/** Adds kubeshark's targeting options to a command (`tapline agent`): -n, -A, --pod, --exclude-namespace. */
export function addTapTargetOptions(cmd: Command): Command {
  const collect = (v: string, prev: string[] = []) => [...prev, v];
  return cmd
    .option('-n, --namespace <ns>', "namespace to tap (repeatable; default: the kubeconfig context's)", collect)
    .option('-A, --all-namespaces', 'tap every namespace')
    .option('--pod <regex>', 'tap only pods whose name matches')
    .option('--exclude-namespace <ns>', 'namespace not to tap (repeatable)', collect)
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, the service account)')
    .option('--context <name>', 'kubeconfig context')
    .option('--node-name <name>', 'tap only pods on this node (default: $NODE_NAME)');
}

/** Reads the options addTapTargetOptions() added from commander's parsed options. */
export function tapTargetOptionsFrom(o: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): TapTargetOptions {
  return {
    namespaces: (o.namespace as string[] | undefined) ?? [],
    allNamespaces: o.allNamespaces === true,
    pod: o.pod as string | undefined,
    excludeNamespaces: (o.excludeNamespace as string[] | undefined) ?? [],
    nodeName: (o.nodeName as string | undefined) ?? env.NODE_NAME,
  };
}
