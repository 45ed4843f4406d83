/**
 * The IP resolver: Kubernetes objects in, O(1) "who is this IP (and port) at time t" out.
 *
 * It sits on the per-entry path, so lookups are a few Map gets and a scan of a tiny array, and fill
 * the entry's Endpoint in place without allocating. Updates (from informers) may allocate.
 *
 * Time awareness: each IP keeps the list of pods that held it (a "holding" per pod and IP, ordered
 * by when the pod got it). An entry's start time picks the holder of that moment, so an IP reused
 * by a new pod names the new pod from its start on, while late entries of the old pod keep the
 * old name. Deleted pods, ended holdings and deleted services stay resolvable for `graceMs`.
 */
import type { Endpoint } from '../entries/entry.js';
import {
  controllerOf,
  podIPs,
  podPorts,
  timeUs,
  type EndpointSliceLike,
  type NodeLike,
  type PodLike,
  type ReplicaSetLike,
  type ServiceLike,
} from './objects.js';

/** What the cache knows about one pod. */
export interface PodRecord {
  uid: string;
  name: string;
  namespace: string;
  /** Owning Deployment/StatefulSet/DaemonSet/Job (ReplicaSets resolved), else the pod's own name. */
  workload: string;
  node: string;
  labels: Readonly<Record<string, string>>;
  hostNetwork: boolean;
  phase: string;
  /** IPs the pod holds now (empty once deleted or finished). */
  ips: string[];
  /** Ports a hostNetwork pod serves (it shares the node's IP, so only IP+port names it). */
  hostPorts: number[];
  /** The last service whose endpoints listed this pod: names late entries after the slice changed. */
  lastService: string;
  /** ReplicaSet that controls the pod, as "namespace/name", '' when none. */
  replicaSetKey: string;
  /** When the pod was deleted (µs), Infinity while it exists. */
  deletedUs: number;
  /** Whether the pod ever had an IP (its first one dates from its start time). */
  hadIp: boolean;
}

interface Holding {
  pod: PodRecord;
  /** Since when (µs) the pod holds the IP. */
  fromUs: number;
  /** Until when (µs); Infinity while it still holds it. */
  untilUs: number;
}

interface ServiceRecord {
  name: string;
  namespace: string;
  ips: string[];
  deletedUs: number;
}

interface SliceRecord {
  service: string;
  namespace: string;
  ips: string[];
  ports: number[];
}

interface Expiry {
  atUs: number;
  run: () => void;
}

export interface ResolverOptions {
  /** How long deleted pods and services, and IPs a pod gave up, stay resolvable (default 120 s). */
  graceMs?: number;
  /** Clock in µs since the epoch (tests pass their own). */
  nowUs?: () => number;
}

export interface ResolverStats {
  pods: number;
  ips: number;
  services: number;
  endpointIps: number;
  nodes: number;
  replicaSets: number;
  pendingExpiries: number;
}

const FINISHED_PHASES = new Set(['Succeeded', 'Failed']);

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export class IpResolver {
  private readonly graceUs: number;
  private readonly nowUs: () => number;
  /** Pods by "namespace/name". */
  private readonly pods = new Map<string, PodRecord>();
  /** Everything known about an IP, behind one Map lookup (the per-entry path does one get). */
  private readonly slots = new Map<string, IpSlot>();
  /** Pod IP → holders, oldest first. */
  private readonly holdings = new SlotField(this.slots, 'holdings');
  /** Node IP → port → hostNetwork pod. */
  private readonly hostPorts = new SlotField(this.slots, 'hostPorts');
  private readonly services = new Map<string, ServiceRecord>();
  private readonly clusterIps = new SlotField(this.slots, 'service');
  private readonly slices = new Map<string, SliceRecord>();
  /** Endpoint IP → the slices that list it. */
  private readonly endpointIps = new SlotField(this.slots, 'slices');
  private readonly nodes = new Map<string, string[]>();
  private readonly nodeIps = new SlotField(this.slots, 'node');
  /** ReplicaSet "namespace/name" → its controller's name ('' when it has none). */
  private readonly replicaSets = new Map<string, string>();
  private readonly podsByReplicaSet = new Map<string, Set<PodRecord>>();
  /** Clean-ups due after the grace period, in the order they were scheduled (times ascend). */
  private expiries: Expiry[] = [];
  private expiryHead = 0;

  constructor(opts: ResolverOptions = {}) {
    this.graceUs = (opts.graceMs ?? 120_000) * 1000;
    this.nowUs = opts.nowUs ?? (() => Date.now() * 1000);
  }

  // ---- lookups (hot path) ----

  /**
   * Names `ep` in place from its ip and port as of `tUs` (an entry's startUs; 0 = now). Sets pod,
   * namespace, service, workload and node (to '' where not applicable) and returns true when the IP
   * is known; leaves `ep` untouched and returns false otherwise.
   */
  resolveEndpoint(ep: Endpoint, tUs: number): boolean {
    const slot = this.slots.get(ep.ip);
    if (slot === undefined) return false;
    const held = slot.holdings;
    if (held !== undefined) {
      const h = pickHolding(held, tUs);
      const pod = h.pod;
      ep.pod = pod.name;
      ep.namespace = pod.namespace;
      ep.workload = pod.workload;
      ep.node = pod.node;
      // Only the current holder may use today's endpoint slices; earlier holders keep theirs.
      const current = h === held[held.length - 1] && h.untilUs === Infinity;
      ep.service = (current && serviceOfSlices(slot.slices, ep.port)) || pod.lastService;
      return true;
    }
    const svc = slot.service;
    if (svc !== undefined) {
      ep.pod = '';
      ep.namespace = svc.namespace;
      ep.service = svc.name;
      ep.workload = '';
      ep.node = '';
      return true;
    }
    const hostPod = slot.hostPorts?.get(ep.port);
    if (hostPod !== undefined) {
      ep.pod = hostPod.name;
      ep.namespace = hostPod.namespace;
      ep.workload = hostPod.workload;
      ep.node = hostPod.node;
      ep.service = serviceOfSlices(slot.slices, ep.port) || hostPod.lastService;
      return true;
    }
    const slices = slot.slices;
    if (slot.node === undefined && slices === undefined) return false;
    ep.pod = '';
    ep.workload = '';
    ep.node = slot.node ?? '';
    ep.service = serviceOfSlices(slices, ep.port);
    ep.namespace = slices !== undefined && ep.service !== '' ? slices[0].namespace : '';
    return true;
  }

  /** The pod that held `ip` at `tUs` (0 = now), if any (labels and all). */
  podAt(ip: string, tUs = 0): PodRecord | undefined {
    const held = this.holdings.get(ip);
    return held === undefined ? undefined : pickHolding(held, tUs).pod;
  }

  /** The service whose ClusterIP this is. */
  serviceByClusterIp(ip: string): { name: string; namespace: string } | undefined {
    return this.clusterIps.get(ip);
  }

  /** Names of the services whose endpoint slices list `ip` (first the one serving `port`). */
  servicesOfEndpoint(ip: string): string[] {
    const slices = this.endpointIps.get(ip);
    return slices === undefined ? [] : [...new Set(slices.map((s) => s.service))];
  }

  nodeByIp(ip: string): string | undefined {
    return this.nodeIps.get(ip);
  }

  /** The live pods (not deleted), for targeting. */
  livePods(): IterableIterator<PodRecord> {
    return this.pods.values();
  }

  stats(): ResolverStats {
    return {
      pods: this.pods.size,
      ips: this.holdings.size,
      services: this.services.size,
      endpointIps: this.endpointIps.size,
      nodes: this.nodes.size,
      replicaSets: this.replicaSets.size,
      pendingExpiries: this.expiries.length - this.expiryHead,
    };
  }

  /** The service of an endpoint IP: the slice serving `port`, else the first slice's. */
  private endpointService(ip: string, port: number): string {
    return serviceOfSlices(this.endpointIps.get(ip), port);
  }

  // ---- updates (from informers) ----

  upsertPod(obj: PodLike): PodRecord | undefined {
    const meta = obj.metadata;
    if (!meta?.name) return undefined;
    const namespace = meta.namespace ?? '';
    const key = keyOf(namespace, meta.name);
    const now = this.nowUs();
    let rec = this.pods.get(key);
    const uid = meta.uid ?? key;
    if (rec !== undefined && rec.uid !== uid) {
      // Same name, new pod (a StatefulSet replica recreated): the old one is gone.
      this.retirePod(rec, now);
      rec = undefined;
    }
    if (rec === undefined) {
      rec = {
        uid,
        name: meta.name,
        namespace,
        workload: meta.name,
        node: '',
        labels: {},
        hostNetwork: false,
        phase: '',
        ips: [],
        hostPorts: [],
        lastService: '',
        replicaSetKey: '',
        deletedUs: Infinity,
        hadIp: false,
      };
      this.pods.set(key, rec);
    }
    rec.labels = meta.labels ?? {};
    rec.node = obj.spec?.nodeName ?? '';
    rec.phase = obj.status?.phase ?? '';
    this.setOwner(rec, obj);

    const hostNetwork = obj.spec?.hostNetwork === true;
    const finished = FINISHED_PHASES.has(rec.phase);
    const ips = finished ? [] : podIPs(obj);
    const ports = hostNetwork ? podPorts(obj) : [];
    if (hostNetwork !== rec.hostNetwork) {
      this.releaseAll(rec, now);
      rec.hostNetwork = hostNetwork;
    }
    if (hostNetwork) {
      this.setHostPorts(rec, ips, ports, now);
    } else {
      // A pod's first IP dates from its start (the kubelet's startTime), not from when we heard of it.
      let started = timeUs(obj.status?.startTime);
      if (Number.isNaN(started)) started = timeUs(meta.creationTimestamp);
      const fromUs = !rec.hadIp && !Number.isNaN(started) ? Math.min(started, now) : now;
      for (const ip of rec.ips) if (!ips.includes(ip)) this.endHolding(ip, rec, now);
      for (const ip of ips) if (!rec.ips.includes(ip)) this.addHolding(ip, rec, fromUs);
      rec.ips = ips;
      if (ips.length > 0) rec.hadIp = true;
    }
    return rec;
  }

  deletePod(obj: PodLike): PodRecord | undefined {
    const meta = obj.metadata;
    if (!meta?.name) return undefined;
    const key = keyOf(meta.namespace ?? '', meta.name);
    const rec = this.pods.get(key);
    if (rec === undefined || (meta.uid !== undefined && rec.uid !== meta.uid)) return undefined;
    this.retirePod(rec, this.nowUs());
    return rec;
  }

  upsertService(obj: ServiceLike): void {
    const meta = obj.metadata;
    if (!meta?.name) return;
    const key = keyOf(meta.namespace ?? '', meta.name);
    // Every virtual IP that leads to the service: ClusterIP(s), external IPs, load balancer IPs.
    const ips = new Set<string>(obj.spec?.clusterIPs ?? []);
    if (obj.spec?.clusterIP) ips.add(obj.spec.clusterIP);
    for (const ip of obj.spec?.externalIPs ?? []) ips.add(ip);
    for (const ing of obj.status?.loadBalancer?.ingress ?? []) if (ing.ip) ips.add(ing.ip);
    ips.delete('None');
    ips.delete('');
    const old = this.services.get(key);
    if (old !== undefined) for (const ip of old.ips) if (this.clusterIps.get(ip) === old) this.clusterIps.delete(ip);
    const rec: ServiceRecord = { name: meta.name, namespace: meta.namespace ?? '', ips: [...ips], deletedUs: Infinity };
    this.services.set(key, rec);
    for (const ip of rec.ips) this.clusterIps.set(ip, rec);
  }

  deleteService(obj: ServiceLike): void {
    const meta = obj.metadata;
    if (!meta?.name) return;
    const key = keyOf(meta.namespace ?? '', meta.name);
    const rec = this.services.get(key);
    if (rec === undefined) return;
    this.services.delete(key);
    rec.deletedUs = this.nowUs();
    this.schedule(rec.deletedUs, () => {
      for (const ip of rec.ips) if (this.clusterIps.get(ip) === rec) this.clusterIps.delete(ip);
    });
  }

  upsertEndpointSlice(obj: EndpointSliceLike): void {
    const meta = obj.metadata;
    if (!meta?.name) return;
    const key = keyOf(meta.namespace ?? '', meta.name);
    this.removeSlice(key);
    const service = meta.labels?.['kubernetes.io/service-name'] ?? '';
    if (!service) return;
    const ips: string[] = [];
    for (const ep of obj.endpoints ?? []) for (const a of ep.addresses ?? []) if (!ips.includes(a)) ips.push(a);
    const ports: number[] = [];
    for (const p of obj.ports ?? []) if (p.port) ports.push(p.port);
    const rec: SliceRecord = { service, namespace: meta.namespace ?? '', ips, ports };
    this.slices.set(key, rec);
    for (const ip of ips) {
      const list = this.endpointIps.get(ip);
      if (list === undefined) this.endpointIps.set(ip, [rec]);
      else list.push(rec);
      const held = this.holdings.get(ip);
      const current = held?.[held.length - 1];
      if (current !== undefined && current.untilUs === Infinity) current.pod.lastService = service;
      const hostPods = this.hostPorts.get(ip);
      if (hostPods !== undefined) for (const p of ports) {
        const pod = hostPods.get(p);
        if (pod !== undefined) pod.lastService = service;
      }
    }
  }

  deleteEndpointSlice(obj: EndpointSliceLike): void {
    const meta = obj.metadata;
    if (!meta?.name) return;
    this.removeSlice(keyOf(meta.namespace ?? '', meta.name));
  }

  upsertNode(obj: NodeLike): void {
    const name = obj.metadata?.name;
    if (!name) return;
    this.deleteNode(obj);
    const ips: string[] = [];
    for (const a of obj.status?.addresses ?? []) {
      if ((a.type === 'InternalIP' || a.type === 'ExternalIP') && a.address) ips.push(a.address);
    }
    this.nodes.set(name, ips);
    for (const ip of ips) this.nodeIps.set(ip, name);
  }

  deleteNode(obj: NodeLike): void {
    const name = obj.metadata?.name;
    if (!name) return;
    for (const ip of this.nodes.get(name) ?? []) if (this.nodeIps.get(ip) === name) this.nodeIps.delete(ip);
    this.nodes.delete(name);
  }

  upsertReplicaSet(obj: ReplicaSetLike): void {
    const meta = obj.metadata;
    if (!meta?.name) return;
    const key = keyOf(meta.namespace ?? '', meta.name);
    const owner = controllerOf(meta)?.name ?? '';
    if (this.replicaSets.get(key) === owner) return;
    this.replicaSets.set(key, owner);
    for (const pod of this.podsByReplicaSet.get(key) ?? []) pod.workload = owner || meta.name;
  }

  deleteReplicaSet(obj: ReplicaSetLike): void {
    const meta = obj.metadata;
    if (!meta?.name) return;
    // Pods keep the workload they were given: their own deletion follows.
    this.replicaSets.delete(keyOf(meta.namespace ?? '', meta.name));
  }

  /** Runs the clean-ups whose grace period has passed. Called by a timer; cheap when idle. */
  sweep(): void {
    const now = this.nowUs();
    while (this.expiryHead < this.expiries.length && this.expiries[this.expiryHead].atUs + this.graceUs <= now) {
      this.expiries[this.expiryHead].run();
      this.expiryHead++;
    }
    if (this.expiryHead > 1024 && this.expiryHead * 2 > this.expiries.length) {
      this.expiries = this.expiries.slice(this.expiryHead);
      this.expiryHead = 0;
    }
  }

  // ---- internals ----

  private setOwner(rec: PodRecord, obj: PodLike): void {
    const owner = controllerOf(obj.metadata);
    const rsKey = owner?.kind === 'ReplicaSet' && owner.name ? keyOf(rec.namespace, owner.name) : '';
    if (rsKey !== rec.replicaSetKey) {
      if (rec.replicaSetKey) this.podsByReplicaSet.get(rec.replicaSetKey)?.delete(rec);
      if (rsKey) {
        let set = this.podsByReplicaSet.get(rsKey);
        if (set === undefined) this.podsByReplicaSet.set(rsKey, (set = new Set()));
        set.add(rec);
      }
      rec.replicaSetKey = rsKey;
    }
    if (!owner?.name) rec.workload = rec.name;
    else if (rsKey) {
      const rsOwner = this.replicaSets.get(rsKey);
      if (rsOwner !== undefined) rec.workload = rsOwner || owner.name;
      else rec.workload = stripTemplateHash(owner.name, rec.labels['pod-template-hash']);
    } else rec.workload = owner.name;
  }

  private retirePod(rec: PodRecord, now: number): void {
    const key = keyOf(rec.namespace, rec.name);
    if (this.pods.get(key) === rec) this.pods.delete(key);
    if (rec.replicaSetKey) {
      const set = this.podsByReplicaSet.get(rec.replicaSetKey);
      set?.delete(rec);
      if (set?.size === 0) this.podsByReplicaSet.delete(rec.replicaSetKey);
    }
    rec.deletedUs = now;
    this.releaseAll(rec, now);
  }

  private releaseAll(rec: PodRecord, now: number): void {
    if (rec.hostNetwork) this.setHostPorts(rec, [], [], now);
    else for (const ip of rec.ips) this.endHolding(ip, rec, now);
    rec.ips = [];
  }

  private addHolding(ip: string, pod: PodRecord, fromUs: number): void {
    const h: Holding = { pod, fromUs, untilUs: Infinity };
    const list = this.holdings.get(ip);
    if (list === undefined) {
      this.holdings.set(ip, [h]);
    } else {
      let i = list.length;
      while (i > 0 && list[i - 1].fromUs > fromUs) i--;
      list.splice(i, 0, h);
    }
    if (!pod.lastService) pod.lastService = this.endpointService(ip, -1);
  }

  private endHolding(ip: string, pod: PodRecord, now: number): void {
    const list = this.holdings.get(ip);
    const h = list?.find((x) => x.pod === pod && x.untilUs === Infinity);
    if (h === undefined) return;
    h.untilUs = now;
    this.schedule(now, () => {
      const l = this.holdings.get(ip);
      if (l === undefined) return;
      const i = l.indexOf(h);
      if (i >= 0) l.splice(i, 1);
      if (l.length === 0) this.holdings.delete(ip);
    });
  }

  private setHostPorts(rec: PodRecord, ips: string[], ports: number[], now: number): void {
    const oldIps = rec.ips;
    const oldPorts = rec.hostPorts;
    for (const ip of oldIps) {
      for (const port of oldPorts) {
        if (ips.includes(ip) && ports.includes(port)) continue;
        this.schedule(now, () => {
          const byPort = this.hostPorts.get(ip);
          if (byPort?.get(port) === rec) byPort.delete(port);
          if (byPort?.size === 0) this.hostPorts.delete(ip);
        });
      }
    }
    for (const ip of ips) {
      let byPort = this.hostPorts.get(ip);
      if (byPort === undefined) this.hostPorts.set(ip, (byPort = new Map()));
      for (const port of ports) byPort.set(port, rec);
    }
    rec.ips = ips;
    rec.hostPorts = ports;
  }

  private removeSlice(key: string): void {
    const old = this.slices.get(key);
    if (old === undefined) return;
    this.slices.delete(key);
    for (const ip of old.ips) {
      const list = this.endpointIps.get(ip);
      if (list === undefined) continue;
      const i = list.indexOf(old);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.endpointIps.delete(ip);
    }
  }

  private schedule(atUs: number, run: () => void): void {
    this.expiries.push({ atUs, run });
  }
}

/** The service of the slices listing an IP: the one serving `port`, else the first one's. */
function serviceOfSlices(slices: SliceRecord[] | undefined, port: number): string {
  if (slices === undefined) return '';
  for (let i = 0; i < slices.length; i++) {
    if (slices[i].ports.includes(port)) return slices[i].service;
  }
  return slices[0].service;
}

/** What one IP is: pod holdings, a ClusterIP's service, hostNetwork pods by port, a node, endpoint slices. */
interface IpSlot {
  holdings: Holding[] | undefined;
  service: ServiceRecord | undefined;
  hostPorts: Map<number, PodRecord> | undefined;
  node: string | undefined;
  slices: SliceRecord[] | undefined;
}

/** One field of the IP slots seen as its own map (the slot goes when its last field does). */
class SlotField<K extends keyof IpSlot> {
  size = 0;

  constructor(
    private readonly slots: Map<string, IpSlot>,
    private readonly key: K,
  ) {}

  get(ip: string): IpSlot[K] | undefined {
    return this.slots.get(ip)?.[this.key];
  }

  set(ip: string, value: NonNullable<IpSlot[K]>): void {
    let slot = this.slots.get(ip);
    if (slot === undefined) {
      // All fields present from the start: one object shape for every slot.
      slot = { holdings: undefined, service: undefined, hostPorts: undefined, node: undefined, slices: undefined };
      this.slots.set(ip, slot);
    }
    if (slot[this.key] === undefined) this.size++;
    slot[this.key] = value;
  }

  delete(ip: string): void {
    const slot = this.slots.get(ip);
    if (slot === undefined || slot[this.key] === undefined) return;
    slot[this.key] = undefined;
    this.size--;
    if (slot.holdings === undefined && slot.service === undefined && slot.hostPorts === undefined && slot.node === undefined && slot.slices === undefined) {
      this.slots.delete(ip);
    }
  }
}

/** The holder at tUs: the latest to get the IP at or before tUs; the earliest if tUs precedes all. */
function pickHolding(list: Holding[], tUs: number): Holding {
  if (tUs <= 0) return list[list.length - 1];
  for (let i = list.length - 1; i >= 0; i--) if (list[i].fromUs <= tUs) return list[i];
  return list[0];
}

/**
 * A ReplicaSet not (yet) in the cache: Deployments name theirs "<deployment>-<pod-template-hash>",
 * so stripping the hash gives the Deployment until the ReplicaSet arrives.
 */
function stripTemplateHash(rsName: string, hash: string | undefined): string {
  return hash && rsName.endsWith(`-${hash}`) ? rsName.slice(0, -hash.length - 1) : rsName;
}
