/**
 * The few fields Tapline reads from Kubernetes objects, typed loosely on purpose: informers hand
 * over deserialized objects after a list (dates as Date) but raw JSON from watch events (dates as
 * strings), so readers here accept both and never trust a field to be present.
 */

export interface OwnerRef {
  kind?: string;
  name?: string;
  controller?: boolean;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  ownerReferences?: OwnerRef[];
  creationTimestamp?: Date | string;
  deletionTimestamp?: Date | string;
}

export interface PodLike {
  metadata?: ObjectMeta;
  spec?: {
    nodeName?: string;
    hostNetwork?: boolean;
    containers?: Array<{ ports?: Array<{ containerPort?: number; hostPort?: number; protocol?: string }> }>;
  };
  status?: { phase?: string; podIP?: string; podIPs?: Array<{ ip?: string }>; startTime?: Date | string };
}

export interface ServiceLike {
  metadata?: ObjectMeta;
  spec?: { clusterIP?: string; clusterIPs?: string[]; externalIPs?: string[]; type?: string };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } };
}

export interface EndpointSliceLike {
  metadata?: ObjectMeta;
  endpoints?: Array<{ addresses?: string[] }>;
  ports?: Array<{ port?: number }> | null;
}

export interface NodeLike {
  metadata?: ObjectMeta;
  status?: { addresses?: Array<{ type?: string; address?: string }> };
}

export interface ReplicaSetLike {
  metadata?: ObjectMeta;
}

/** Microseconds since the epoch of a Kubernetes timestamp (Date or RFC 3339 text); NaN if absent. */
export function timeUs(v: Date | string | undefined): number {
  if (v instanceof Date) return v.getTime() * 1000;
  if (typeof v === 'string') return Date.parse(v) * 1000;
  return NaN;
}

/** The controlling owner reference (the one with controller: true), if any. */
export function controllerOf(meta: ObjectMeta | undefined): OwnerRef | undefined {
  return meta?.ownerReferences?.find((o) => o.controller) ?? undefined;
}

/** A pod's IPs: status.podIPs (dual-stack), else status.podIP. */
export function podIPs(pod: PodLike): string[] {
  const ips: string[] = [];
  for (const p of pod.status?.podIPs ?? []) if (p.ip && !ips.includes(p.ip)) ips.push(p.ip);
  const single = pod.status?.podIP;
  if (single && !ips.includes(single)) ips.push(single);
  return ips;
}

/** Ports a hostNetwork pod listens on (its containers' declared ports; hostPort equals containerPort there). */
export function podPorts(pod: PodLike): number[] {
  const ports: number[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      const port = p.hostPort || p.containerPort;
      if (port && !ports.includes(port)) ports.push(port);
    }
  }
  return ports;
}

/**
 * Cuts an object the informer keeps down to what Tapline reads. client-node's informer caches
 * every object as received (managedFields, annotations, env, volumes, conditions: often 5-10 KB a
 * pod) and only compares resourceVersions afterwards, so trimming its copy in place from our
 * callback keeps its cache small without changing what it does.
 */
export function slimObject(obj: { metadata?: ObjectMeta & { managedFields?: unknown; annotations?: unknown } }): void {
  if (obj.metadata) {
    delete obj.metadata.managedFields;
    delete obj.metadata.annotations;
  }
}

export function slimPod(pod: PodLike): void {
  slimObject(pod);
  const spec = pod.spec;
  if (spec) {
    pod.spec = {
      nodeName: spec.nodeName,
      hostNetwork: spec.hostNetwork,
      // Only hostNetwork pods' ports are read.
      containers: spec.hostNetwork ? (spec.containers ?? []).map((c) => ({ ports: c.ports })) : [],
    };
  }
  const status = pod.status;
  if (status) pod.status = { phase: status.phase, podIP: status.podIP, podIPs: status.podIPs, startTime: status.startTime };
}

/** Nodes: the addresses (node status also lists every image on the node: often 100 KB). */
export function slimNode(node: NodeLike & { spec?: unknown }): void {
  slimObject(node);
  delete node.spec;
  if (node.status) node.status = { addresses: node.status.addresses };
}

/** ReplicaSets: the owner references (the spec carries a whole pod template). */
export function slimReplicaSet(rs: ReplicaSetLike & { spec?: unknown; status?: unknown }): void {
  slimObject(rs);
  delete rs.spec;
  delete rs.status;
}
