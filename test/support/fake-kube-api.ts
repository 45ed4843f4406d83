/**
 * A loopback FAKE Kubernetes API server for tests: no real API server can run on the test machines,
 * so this speaks the parts of the real list/watch protocol that informers use, over plain HTTP:
 *
 * - list: `GET /api/v1/pods`, `/api/v1/namespaces/NS/pods`, `/apis/GROUP/VERSION/...` →
 *   `{kind: "PodList", apiVersion, metadata: {resourceVersion}, items}`; get one object by name;
 * - watch: `?watch=true&resourceVersion=N` → one JSON event a line (ADDED/MODIFIED/DELETED/BOOKMARK/
 *   ERROR), replaying every retained event newer than N, then live events. A resourceVersion older
 *   than the retained history gets the real server's answer: an ERROR event with a 410 `Status`
 *   ("too old resource version") and the end of the stream. `resourceVersion` empty or "0" starts
 *   with synthetic ADDED events for the current objects, as the real server does.
 *
 * The test drives it: seed/add/modify/remove objects (each change gets the next resourceVersion of
 * one cluster-wide counter, as etcd's revision), send BOOKMARKs, compact the history (older
 * resourceVersions then expire with 410), drop watch connections, stop and restart on the same port
 * (objects and history survive, as with etcd behind a restarted API server).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** The shape of any Kubernetes object this fake stores (a plain JSON object). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface StoredEvent {
  rv: number;
  type: WatchEventType;
  resource: string;
  namespace: string;
  /** JSON text of the object at that revision. */
  json: string;
}

interface Watcher {
  resource: string;
  /** '' = all namespaces. */
  namespace: string;
  res: ServerResponse;
}

/** A request the fake served, kept for assertions (e.g. "the informer relisted"). */
export interface RecordedRequest {
  verb: 'list' | 'watch' | 'get';
  resource: string;
  namespace: string;
  resourceVersion: string;
}

export interface FakeKubeApiOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** How many past events watches can replay before older resourceVersions expire (default 10000). */
  historyLimit?: number;
}

/** Resource names by kind, for the kinds Tapline reads (anything else: lowercase kind + 's'). */
const PLURALS: Record<string, string> = {
  Pod: 'pods',
  Service: 'services',
  Node: 'nodes',
  Namespace: 'namespaces',
  EndpointSlice: 'endpointslices',
  ReplicaSet: 'replicasets',
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
  Job: 'jobs',
};

/** The resource key a path names, e.g. "v1/pods" or "apps/v1/replicasets". */
function resourceKey(apiVersion: string, plural: string): string {
  return `${apiVersion}/${plural}`;
}

function keyOfObject(obj: KubeObject): string {
  if (!obj.kind || !obj.apiVersion) throw new Error('fake-kube-api: object needs kind and apiVersion');
  return resourceKey(obj.apiVersion, PLURALS[obj.kind] ?? `${obj.kind.toLowerCase()}s`);
}

function objectKey(resource: string, namespace: string, name: string): string {
  return `${resource}\u0000${namespace}\u0000${name}`;
}

interface ParsedPath {
  resource: string;
  namespace: string;
  name: string;
  apiVersion: string;
  plural: string;
}

/** Parses /api/v1[/namespaces/NS]/PLURAL[/NAME] and /apis/G/V[/namespaces/NS]/PLURAL[/NAME]. */
function parsePath(pathname: string): ParsedPath | null {
  const parts = pathname.split('/').filter(Boolean);
  let apiVersion: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    apiVersion = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    apiVersion = `${parts[1]}/${parts[2]}`;
    rest = parts.slice(3);
  } else return null;
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 2) return null;
  const plural = rest[0];
  return { resource: resourceKey(apiVersion, plural), namespace, name: rest[1] ?? '', apiVersion, plural };
}

export class FakeKubeApi {
  private server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly objects = new Map<string, { resource: string; namespace: string; json: string }>();
  private readonly history: StoredEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private revision = 1;
  /** Events with rv <= compactedRv can no longer be replayed: watching from there gets 410. */
  private compactedRv = 1;
  private readonly historyLimit: number;
  private listenPort: number;
  private readonly recorded: RecordedRequest[] = [];
  private failures: Array<{ status: number; reason: string; message: string }> = [];

  private constructor(opts: FakeKubeApiOptions) {
    this.historyLimit = opts.historyLimit ?? 10_000;
    this.listenPort = opts.port ?? 0;
    this.server = this.makeServer();
  }

  /** Starts a fake API server on 127.0.0.1 (a random free port unless `port` is given). */
  static async start(opts: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
    const api = new FakeKubeApi(opts);
    await api.listen();
    return api;
  }

  get port(): number {
    return this.listenPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.listenPort}`;
  }

  /** The current resourceVersion (the last change's). */
  get resourceVersion(): string {
    return String(this.revision);
  }

  /**
   * Options for `KubeConfig.loadFromOptions()` that point at this server (plain HTTP needs
   * skipTLSVerify), with `namespace` as the context's namespace.
   */
  kubeConfigOptions(namespace = 'default') {
    return {
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake-user', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake-user', namespace }],
      currentContext: 'fake',
    };
  }

  /**
   * A kubeconfig file's text pointing at this server (for code that takes --kubeconfig), with
   * `namespace` as the context's namespace.
   */
  kubeconfigYaml(namespace = 'default'): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: fake, cluster: {server: "${this.url}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: fake-user, user: {token: fake-token}}]',
      `contexts: [{name: fake, context: {cluster: fake, user: fake-user, namespace: ${namespace}}}]`,
      'current-context: fake',
      '',
    ].join('\n');
  }

  /** Requests served so far (lists, watches, gets), oldest first. */
  requests(filter: Partial<RecordedRequest> = {}): RecordedRequest[] {
    return this.recorded.filter(
      (r) =>
        (filter.verb === undefined || r.verb === filter.verb) &&
        (filter.resource === undefined || r.resource === filter.resource) &&
        (filter.namespace === undefined || r.namespace === filter.namespace),
    );
  }

  /** Open watch connections, optionally for one resource ("v1/pods"). */
  watcherCount(resource?: string): number {
    let n = 0;
    for (const w of this.watchers) if (resource === undefined || w.resource === resource) n++;
    return n;
  }

  /** Adds objects (ADDED events). Same as add() for each. */
  seed(objs: KubeObject[]): void {
    for (const o of objs) this.add(o);
  }

  /** Creates an object; fails if it exists. Returns the stored copy (with resourceVersion, uid). */
  add(obj: KubeObject): KubeObject {
    const resource = keyOfObject(obj);
    const ns = obj.metadata.namespace ?? '';
    const key = objectKey(resource, ns, obj.metadata.name);
    if (this.objects.has(key)) throw new Error(`fake-kube-api: ${resource} ${ns}/${obj.metadata.name} exists`);
    const stored = structuredClone(obj);
    stored.metadata.uid ??= `uid-${resource}-${ns}-${obj.metadata.name}-${this.revision + 1}`;
    stored.metadata.creationTimestamp ??= new Date().toISOString();
    return this.commit('ADDED', resource, ns, key, stored);
  }

  /** Replaces an existing object (MODIFIED event); keeps its uid and creationTimestamp. */
  modify(obj: KubeObject): KubeObject {
    const resource = keyOfObject(obj);
    const ns = obj.metadata.namespace ?? '';
    const key = objectKey(resource, ns, obj.metadata.name);
    const old = this.objects.get(key);
    if (!old) throw new Error(`fake-kube-api: ${resource} ${ns}/${obj.metadata.name} does not exist`);
    const prev = JSON.parse(old.json) as KubeObject;
    const stored = structuredClone(obj);
    stored.metadata.uid = prev.metadata.uid;
    stored.metadata.creationTimestamp = prev.metadata.creationTimestamp;
    return this.commit('MODIFIED', resource, ns, key, stored);
  }

  /** Deletes an object (DELETED event carrying its last state). */
  remove(kind: string, apiVersion: string, namespace: string, name: string): void {
    const resource = resourceKey(apiVersion, PLURALS[kind] ?? `${kind.toLowerCase()}s`);
    const key = objectKey(resource, namespace, name);
    const old = this.objects.get(key);
    if (!old) throw new Error(`fake-kube-api: ${resource} ${namespace}/${name} does not exist`);
    const stored = JSON.parse(old.json) as KubeObject;
    this.commit('DELETED', resource, namespace, key, stored);
  }

  /** The stored object, or undefined. */
  get(kind: string, apiVersion: string, namespace: string, name: string): KubeObject | undefined {
    const resource = resourceKey(apiVersion, PLURALS[kind] ?? `${kind.toLowerCase()}s`);
    const o = this.objects.get(objectKey(resource, namespace, name));
    return o ? (JSON.parse(o.json) as KubeObject) : undefined;
  }

  /** Sends a BOOKMARK with the current resourceVersion to every open watch. */
  bookmark(): void {
    for (const w of this.watchers) {
      const kind = this.kindOf(w.resource);
      const ev = {
        type: 'BOOKMARK',
        object: { kind, apiVersion: this.apiVersionOf(w.resource), metadata: { resourceVersion: String(this.revision) } },
      };
      w.res.write(`${JSON.stringify(ev)}\n`);
    }
  }

  /** Forgets all history: watching from any resourceVersion before now gets 410 Gone. */
  compact(): void {
    this.history.length = 0;
    this.compactedRv = this.revision;
  }

  /**
   * Ends every open watch the way a real server does when it expires a watcher: an ERROR event
   * with a 410 Status, then the end of the stream. Informers must relist.
   */
  expireWatches(): void {
    for (const w of this.watchers) this.endWith410(w.res, 'watch expired by the test');
    this.watchers.clear();
  }

  /**
   * Answers the next `count` requests (lists, watches, gets) with an HTTP error `Status`, e.g. 403
   * Forbidden for missing RBAC or 500 for an overloaded server.
   */
  failNext(count: number, status = 500, reason = 'InternalError', message = 'injected by the test'): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, reason, message });
  }

  /** Cuts every open watch connection without a word (a network drop or an API server restart). */
  dropConnections(): void {
    for (const w of this.watchers) w.res.socket?.destroy();
    this.watchers.clear();
  }

  /** Stops listening and cuts every connection. Objects and history are kept for restart(). */
  async stop(): Promise<void> {
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (!this.server.listening) return;
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  /** Listens again on the same port after stop(). */
  async restart(): Promise<void> {
    if (this.server.listening) await this.stop();
    this.server = this.makeServer();
    await this.listen();
  }

  private async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.listenPort, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address();
    if (addr && typeof addr === 'object') this.listenPort = addr.port;
  }

  private makeServer(): Server {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    return server;
  }

  private commit(type: WatchEventType, resource: string, ns: string, key: string, obj: KubeObject): KubeObject {
    this.revision++;
    obj.metadata.resourceVersion = String(this.revision);
    const json = JSON.stringify(obj);
    if (type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, { resource, namespace: ns, json });
    const ev: StoredEvent = { rv: this.revision, type, resource, namespace: ns, json };
    this.history.push(ev);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compactedRv = dropped.rv;
    }
    const line = `{"type":"${type}","object":${json}}\n`;
    for (const w of this.watchers) {
      if (w.resource === resource && (w.namespace === '' || w.namespace === ns)) w.res.write(line);
    }
    return JSON.parse(json) as KubeObject;
  }

  private kindOf(resource: string): string {
    const plural = resource.slice(resource.lastIndexOf('/') + 1);
    for (const [kind, p] of Object.entries(PLURALS)) if (p === plural) return kind;
    return plural;
  }

  private apiVersionOf(resource: string): string {
    return resource.slice(0, resource.lastIndexOf('/'));
  }

  private sendStatus(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  }

  private endWith410(res: ServerResponse, message: string): void {
    const status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Expired', code: 410 };
    res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const parsed = parsePath(url.pathname);
    if (req.method !== 'GET') return this.sendStatus(res, 405, 'MethodNotAllowed', `fake-kube-api serves GET only, got ${req.method}`);
    if (!parsed) return this.sendStatus(res, 404, 'NotFound', `fake-kube-api: no route for ${url.pathname}`);
    // Selectors are not implemented: refuse them loudly rather than answer wrongly.
    for (const p of ['labelSelector', 'fieldSelector']) {
      if (url.searchParams.get(p)) return this.sendStatus(res, 400, 'BadRequest', `fake-kube-api does not support ${p}`);
    }
    const failure = this.failures.shift();
    if (failure) return this.sendStatus(res, failure.status, failure.reason, failure.message);
    const rvParam = url.searchParams.get('resourceVersion') ?? '';
    const { resource, namespace, name } = parsed;
    if (name) {
      this.recorded.push({ verb: 'get', resource, namespace, resourceVersion: rvParam });
      const o = this.objects.get(objectKey(resource, namespace, name));
      if (!o) return this.sendStatus(res, 404, 'NotFound', `${parsed.plural} "${name}" not found`);
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(o.json);
    }
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
      this.recorded.push({ verb: 'watch', resource, namespace, resourceVersion: rvParam });
      return this.watch(res, resource, namespace, rvParam);
    }
    this.recorded.push({ verb: 'list', resource, namespace, resourceVersion: rvParam });
    const items: string[] = [];
    for (const o of this.objects.values()) {
      if (o.resource === resource && (namespace === '' || o.namespace === namespace)) items.push(o.json);
    }
    const kind = `${this.kindOf(resource)}List`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      `{"kind":"${kind}","apiVersion":"${parsed.apiVersion}","metadata":{"resourceVersion":"${this.revision}"},"items":[${items.join(',')}]}`,
    );
  }

  private watch(res: ServerResponse, resource: string, namespace: string, rvParam: string): void {
    const matches = (r: string, ns: string) => r === resource && (namespace === '' || ns === namespace);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    if (rvParam === '' || rvParam === '0') {
      for (const o of this.objects.values()) {
        if (matches(o.resource, o.namespace)) res.write(`{"type":"ADDED","object":${o.json}}\n`);
      }
    } else {
      const from = Number(rvParam);
      if (!Number.isInteger(from) || from < 0) {
        return this.endWith410(res, `invalid resource version: ${rvParam}`);
      }
      if (from < this.compactedRv) {
        return this.endWith410(res, `too old resource version: ${from} (${this.compactedRv + 1})`);
      }
      for (const ev of this.history) {
        if (ev.rv > from && matches(ev.resource, ev.namespace)) res.write(`{"type":"${ev.type}","object":${ev.json}}\n`);
      }
    }
    const w: Watcher = { resource, namespace, res };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }
}

/** Builders for the objects Tapline reads, with only the fields that matter filled. */
export const kube = {
  pod(
    namespace: string,
    name: string,
    ip: string,
    opts: {
      node?: string;
      labels?: Record<string, string>;
      owner?: { kind: string; name: string };
      hostNetwork?: boolean;
      ports?: number[];
      startTime?: string;
      phase?: string;
    } = {},
  ): KubeObject {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace,
        labels: opts.labels ?? {},
        ...(opts.owner
          ? {
              ownerReferences: [
                { apiVersion: 'apps/v1', kind: opts.owner.kind, name: opts.owner.name, uid: `uid-${opts.owner.name}`, controller: true },
              ],
            }
          : {}),
      },
      spec: {
        nodeName: opts.node ?? 'node-1',
        hostNetwork: opts.hostNetwork ?? false,
        containers: [{ name: 'main', image: 'nginx', ports: (opts.ports ?? []).map((p) => ({ containerPort: p, protocol: 'TCP' })) }],
      },
      status: {
        phase: opts.phase ?? 'Running',
        ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}),
        ...(opts.startTime ? { startTime: opts.startTime } : {}),
      },
    };
  },

  service(namespace: string, name: string, clusterIP: string, ports: Array<{ port: number; targetPort?: number }> = [{ port: 80 }]): KubeObject {
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace },
      spec: {
        type: 'ClusterIP',
        clusterIP,
        clusterIPs: clusterIP === 'None' ? ['None'] : [clusterIP],
        ports: ports.map((p) => ({ protocol: 'TCP', port: p.port, targetPort: p.targetPort ?? p.port })),
      },
    };
  },

  endpointSlice(namespace: string, name: string, service: string, ips: string[], ports: number[] = [80]): KubeObject {
    return {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service } },
      addressType: 'IPv4',
      endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
      ports: ports.map((p) => ({ port: p, protocol: 'TCP' })),
    };
  },

  node(name: string, internalIP: string): KubeObject {
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name },
      status: { addresses: [{ type: 'InternalIP', address: internalIP }, { type: 'Hostname', address: name }] },
    };
  },

  replicaSet(namespace: string, name: string, owner?: { kind: string; name: string }): KubeObject {
    return {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name,
        namespace,
        ...(owner
          ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: `uid-${owner.name}`, controller: true }] }
          : {}),
      },
      spec: { replicas: 1 },
    };
  },
};
