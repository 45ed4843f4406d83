/**
 * One resource kept in sync with client-node's informer, plus what it lacks: client-node relists by
 * itself after 410 Gone, but any other error (API server down, connection refused, 5xx) stops the
 * informer for good. Here every error restarts it after an exponential backoff (with jitter), and
 * `synced` says when the first full list has been applied.
 */
import { makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log.js';

export interface BackoffOptions {
  /** First delay after an error (default 500 ms). */
  initialMs?: number;
  /** Ceiling of the delay (default 30 s). */
  maxMs?: number;
}

export interface ResourceHandlers<T> {
  upsert(obj: T): void;
  remove(obj: T): void;
}

export interface ResourceSpec<T extends KubernetesObject> {
  /** For logs: "pods", "services in default", … */
  name: string;
  /** The watch path, e.g. /api/v1/pods or /api/v1/namespaces/NS/pods. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
}

export class WatchedResource<T extends KubernetesObject> {
  private informer: Informer<T> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = true;
  private syncedFlag = false;
  /** Times the informer was restarted after an error. */
  restarts = 0;
  /** Full lists applied (the first one, and each relist after 410 Gone or a restart). */
  lists = 0;
  lastError: string | undefined;

  constructor(
    private readonly kc: KubeConfig,
    private readonly spec: ResourceSpec<T>,
    private readonly handlers: ResourceHandlers<T>,
    private readonly log: Logger,
    private readonly backoff: Required<BackoffOptions>,
    private readonly onSynced: () => void,
  ) {}

  get synced(): boolean {
    return this.syncedFlag;
  }

  get name(): string {
    return this.spec.name;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const informer = makeInformer<T>(this.kc, this.spec.path, () => this.listOnce());
    informer.on('add', (o) => this.apply('upsert', o));
    informer.on('update', (o) => this.apply('upsert', o));
    informer.on('delete', (o) => this.apply('remove', o));
    informer.on('error', (err) => this.restartLater(err));
    this.informer = informer;
    informer.start().catch((err: unknown) => this.restartLater(err));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.informer?.stop();
  }

  private async listOnce(): Promise<KubernetesListObject<T>> {
    const list = await this.spec.list();
    // Stopped while listing: fail the list, or client-node would go on to open a watch.
    if (this.stopped) throw new Error(`${this.spec.name}: stopped`);
    this.attempt = 0;
    // The informer applies the items right after this promise settles; mark synced after that.
    setImmediate(() => {
      this.lists++;
      if (this.syncedFlag) return;
      this.syncedFlag = true;
      this.log.info({ resource: this.spec.name, items: list.items.length }, 'kubernetes resource synced');
      this.onSynced();
    });
    return list;
  }

  private apply(op: 'upsert' | 'remove', obj: T): void {
    this.attempt = 0;
    try {
      this.handlers[op](obj);
    } catch (err) {
      // One malformed object must not stop the informer: say which one and go on.
      const meta = obj.metadata;
      this.log.warn({ resource: this.spec.name, object: `${meta?.namespace ?? ''}/${meta?.name ?? '?'}`, err }, 'cannot index object');
    }
  }

  private restartLater(err: unknown): void {
    if (this.stopped || this.timer !== undefined) return;
    const base = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt++;
    this.lastError = describe(err);
    this.log.warn({ resource: this.spec.name, err: this.lastError, retryInMs: delay }, 'kubernetes watch failed; restarting');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped || !this.informer) return;
      this.restarts++;
      this.informer.start().catch((e: unknown) => this.restartLater(e));
    }, delay);
  }
}

/** A short reason: "HTTP 403: pods is forbidden: …" for API errors, the message (and code) otherwise. */
function describe(err: unknown): string {
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: unknown };
  const status = typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined) {
    let body = e.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        // not a Status document: keep the text
      }
    }
    const detail = body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string'
      ? (body as { message: string }).message
      : typeof body === 'string' ? body.slice(0, 200) : typeof e.message === 'string' ? e.message : '';
    return `HTTP ${status}${detail ? `: ${detail}` : ''}`;
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return code !== undefined ? `${err.message} (${String(code)})` : err.message;
  }
  return String(err);
}
