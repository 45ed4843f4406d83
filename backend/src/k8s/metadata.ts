/**
 * The Kubernetes metadata cache: informers on pods, services, endpointslices, replicasets (all
 * namespaces, or the listed ones) and nodes, feeding one IpResolver. Emits `pod` events for tap
 * targeting and `synced` once every informer has listed.
 */
import { EventEmitter } from 'node:events';
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { createLogger, type Logger } from '../log.js';
import { KubeEnricher, type Enricher } from './enricher.js';
import { KubeError } from './errors.js';
import { WatchedResource, type BackoffOptions, type ResourceHandlers } from './informer.js';
import { slimNode, slimObject, slimPod, slimReplicaSet, type EndpointSliceLike, type NodeLike, type PodLike, type ReplicaSetLike, type ServiceLike } from './objects.js';
import { IpResolver, type PodRecord } from './resolver.js';

export interface KubeMetadataOptions {
  kubeConfig: KubeConfig;
  /** Watch only these namespaces (pods, services, endpointslices, replicasets); default: all. */
  namespaces?: string[];
  /** How long deleted pods and services stay resolvable (default 120 s). */
  graceMs?: number;
  backoff?: BackoffOptions;
  log?: Logger;
}

export type PodChange = 'upsert' | 'delete';

export interface KubeMetadataEvents {
  pod: [pod: PodRecord, change: PodChange];
  synced: [];
}

export interface ResourceStatus {
  name: string;
  synced: boolean;
  lists: number;
  restarts: number;
  lastError?: string;
}

export class KubeMetadata extends EventEmitter<KubeMetadataEvents> {
  readonly resolver: IpResolver;
  readonly enricher: Enricher;
  private readonly resources: Array<WatchedResource<KubernetesObject>> = [];
  private readonly sweepTimer: NodeJS.Timeout;
  private syncedFlag = false;

  constructor(opts: KubeMetadataOptions) {
    super();
    const log = opts.log ?? createLogger('k8s');
    const graceMs = opts.graceMs ?? 120_000;
    this.resolver = new IpResolver({ graceMs });
    this.enricher = new KubeEnricher(this.resolver);
    const backoff = { initialMs: opts.backoff?.initialMs ?? 500, maxMs: opts.backoff?.maxMs ?? 30_000 };
    const kc = opts.kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    const r = this.resolver;

    const add = <T extends KubernetesObject>(
      name: string,
      path: string,
      list: () => Promise<KubernetesListObject<T>>,
      handlers: ResourceHandlers<T>,
    ) => {
      const res = new WatchedResource<T>(kc, { name, path, list }, handlers, log, backoff, () => this.checkSynced());
      this.resources.push(res as unknown as WatchedResource<KubernetesObject>);
    };
    const podHandlers: ResourceHandlers<PodLike & KubernetesObject> = {
      upsert: (o) => {
        slimPod(o);
        const rec = r.upsertPod(o);
        if (rec) this.emit('pod', rec, 'upsert');
      },
      remove: (o) => {
        const rec = r.deletePod(o);
        if (rec) this.emit('pod', rec, 'delete');
      },
    };
    const svcHandlers: ResourceHandlers<ServiceLike & KubernetesObject> = {
      upsert: (o) => {
        slimObject(o);
        r.upsertService(o);
      },
      remove: (o) => r.deleteService(o),
    };
    const sliceHandlers: ResourceHandlers<EndpointSliceLike & KubernetesObject> = {
      upsert: (o) => {
        slimObject(o);
        r.upsertEndpointSlice(o);
      },
      remove: (o) => r.deleteEndpointSlice(o),
    };
    const rsHandlers: ResourceHandlers<ReplicaSetLike & KubernetesObject> = {
      upsert: (o) => {
        slimReplicaSet(o);
        r.upsertReplicaSet(o);
      },
      remove: (o) => r.deleteReplicaSet(o),
    };
    const nodeHandlers: ResourceHandlers<NodeLike & KubernetesObject> = {
      upsert: (o) => {
        slimNode(o);
        r.upsertNode(o);
      },
      remove: (o) => r.deleteNode(o),
    };

    // ReplicaSets first, so pods find their Deployment on the first pass more often.
    add('nodes', '/api/v1/nodes', () => core.listNode(), nodeHandlers);
    const namespaces = opts.namespaces && opts.namespaces.length > 0 ? [...new Set(opts.namespaces)] : [undefined];
    for (const namespace of namespaces) {
      const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
      const where = namespace ? ` in ${namespace}` : '';
      add(
        `replicasets${where}`,
        `/apis/apps/v1${ns}/replicasets`,
        () => (namespace ? apps.listNamespacedReplicaSet({ namespace }) : apps.listReplicaSetForAllNamespaces()),
        rsHandlers,
      );
      add(
        `services${where}`,
        `/api/v1${ns}/services`,
        () => (namespace ? core.listNamespacedService({ namespace }) : core.listServiceForAllNamespaces()),
        svcHandlers,
      );
      add(
        `endpointslices${where}`,
        `/apis/discovery.k8s.io/v1${ns}/endpointslices`,
        () => (namespace ? discovery.listNamespacedEndpointSlice({ namespace }) : discovery.listEndpointSliceForAllNamespaces()),
        sliceHandlers,
      );
      add(
        `pods${where}`,
        `/api/v1${ns}/pods`,
        () => (namespace ? core.listNamespacedPod({ namespace }) : core.listPodForAllNamespaces()),
        podHandlers,
      );
    }
    this.sweepTimer = setInterval(() => this.resolver.sweep(), Math.max(100, Math.min(graceMs / 4, 10_000)));
    this.sweepTimer.unref();
  }

  /** True once every informer has applied its first full list. */
  get synced(): boolean {
    return this.syncedFlag;
  }

  start(): void {
    for (const r of this.resources) r.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    await Promise.all(this.resources.map((r) => r.stop()));
  }

  /** Resolves when synced; rejects with a KubeError after `timeoutMs`, naming what has not listed. */
  waitForSync(timeoutMs: number): Promise<void> {
    if (this.syncedFlag) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('synced', done);
        const missing = this.status().filter((s) => !s.synced);
        const detail = missing.map((s) => `${s.name}${s.lastError ? ` (${s.lastError})` : ''}`).join(', ');
        reject(new KubeError('sync_timeout', `Kubernetes metadata not synced after ${timeoutMs} ms: waiting for ${detail}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.once('synced', done);
    });
  }

  /** Per informer: synced, lists done, restarts after errors, last error. */
  status(): ResourceStatus[] {
    return this.resources.map((r) => ({
      name: r.name,
      synced: r.synced,
      lists: r.lists,
      restarts: r.restarts,
      ...(r.lastError ? { lastError: r.lastError } : {}),
    }));
  }

  private checkSynced(): void {
    if (this.syncedFlag || !this.resources.every((r) => r.synced)) return;
    this.syncedFlag = true;
    this.emit('synced');
  }
}

/** Creates the metadata cache and starts its informers. */
export function createKubeMetadata(opts: KubeMetadataOptions): KubeMetadata {
  const md = new KubeMetadata(opts);
  md.start();
  return md;
}
