/**
 * Kubernetes for the agent in one call: find the cluster, start the metadata cache, target the pods
 * to tap. Outside a cluster it still returns an enricher (a no-op that says so once) and no targets,
 * so the agent captures what it was told to and entries keep their IPs.
 */
import { existsSync } from 'node:fs';
import { createLogger, type Logger } from '../log.js';
import { NoopEnricher, type Enricher } from './enricher.js';
import { KubeError } from './errors.js';
import type { KubeMetadata } from './metadata.js';
import { readRoutes } from './routes.js';
import { resolveTapTargets, TapTargets, type TapTargetOptions } from './targeting.js';

export {
  addTapTargetOptions,
  buildTapFilter,
  resolveTapTargets,
  tapTargetOptionsFrom,
  TapTargets,
  type TapChange,
  type TapTargetOptions,
} from './targeting.js';
export type { KubeMetadata } from './metadata.js';
export { KubeEnricher, NoopEnricher, type Enricher } from './enricher.js';
export { IpResolver } from './resolver.js';
export { KubeError } from './errors.js';

export interface KubeSetupOptions extends TapTargetOptions {
  /** Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then the pod's service account). */
  kubeconfig?: string;
  context?: string;
  /** How long deleted pods stay resolvable (default: $TAPLINE_K8S_GRACE_SECONDS or 120 s). */
  graceMs?: number;
  /** How long to wait for the first full list before capturing anyway (default 10 s). */
  syncTimeoutMs?: number;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Home directory holding .kube/config (default: the user's). */
  home?: string;
}

export interface KubeSetup {
  enricher: Enricher;
  /** null outside a cluster. */
  metadata: KubeMetadata | null;
  /** The pods to tap and the capture filter; null outside a cluster (capture as configured). */
  targets: TapTargets | null;
  stop(): Promise<void>;
}

/**
 * Starts Kubernetes support for an agent. Throws KubeError for bad options or a broken kubeconfig;
 * an API server that does not answer in time only gives a warning (names arrive once it does).
 */
export async function setupKube(opts: KubeSetupOptions = {}): Promise<KubeSetup> {
  // @kubernetes/client-node takes most of a second to load: only commands that use it pay for it.
  const { contextNamespace, loadKubeConfig } = await import('./kubeconfig.js');
  const { createKubeMetadata } = await import('./metadata.js');
  const log = opts.log ?? createLogger('k8s');
  const env = opts.env ?? process.env;
  const kc = loadKubeConfig({ kubeconfigPath: opts.kubeconfig, context: opts.context, env, home: opts.home });
  if (kc === null) {
    return {
      enricher: new NoopEnricher(log, 'no kubeconfig and no in-cluster service account'),
      metadata: null,
      targets: null,
      stop: async () => {},
    };
  }
  const spec = resolveTapTargets(opts, contextNamespace(kc));
  const graceSeconds = Number(env.TAPLINE_K8S_GRACE_SECONDS);
  const graceMs = opts.graceMs ?? (graceSeconds > 0 ? graceSeconds * 1000 : undefined);
  // Every namespace is watched, not only the tapped ones: the peers of tapped pods need names too.
  const metadata = createKubeMetadata({ kubeConfig: kc, graceMs, log });
  let routesFailed = false;
  const routes = () => {
    try {
      return readRoutes();
    } catch (err) {
      if (!routesFailed) log.warn(`cannot read the routing table (${(err as Error).message}); no per-pod interfaces, the BPF filter still applies`);
      routesFailed = true;
      return [];
    }
  };
  const isBridge = (iface: string) => existsSync(`/sys/class/net/${iface}/bridge`);
  const targets = new TapTargets(metadata, spec, spec.nodeName !== null ? { routes, isBridge } : {});
  try {
    await metadata.waitForSync(opts.syncTimeoutMs ?? 10_000);
  } catch (err) {
    if (!(err instanceof KubeError)) throw err;
    log.warn(`${err.message}; capturing anyway, names follow once the API server answers`);
  }
  return {
    enricher: metadata.enricher,
    metadata,
    targets,
    stop: async () => {
      targets.stop();
      await metadata.stop();
    },
  };
}
