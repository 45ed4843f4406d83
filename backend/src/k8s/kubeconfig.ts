/**
 * Finding the cluster: an explicit kubeconfig file, $KUBECONFIG or ~/.kube/config, else the pod's
 * service account. `null` means "outside a cluster": the agent then runs without names.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeError } from './errors.js';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubeConfigSource {
  /** A kubeconfig file; when absent: $KUBECONFIG, ~/.kube/config, then the in-cluster service account. */
  kubeconfigPath?: string;
  /** The context to use instead of the file's current-context. */
  context?: string;
  /** Environment to read (tests pass their own). */
  env?: NodeJS.ProcessEnv;
  /** Home directory to look for .kube/config in. */
  home?: string;
  /** The service account token file that marks "inside a pod". */
  serviceAccountTokenPath?: string;
}

/** Loads the cluster's configuration, or returns null when there is none to be had. */
export function loadKubeConfig(src: KubeConfigSource = {}): KubeConfig | null {
  const env = src.env ?? process.env;
  const kc = new KubeConfig();
  const file =
    src.kubeconfigPath ?? (env.KUBECONFIG ? env.KUBECONFIG.split(':').find(Boolean) : undefined) ?? join(src.home ?? homedir(), '.kube', 'config');
  try {
    if (existsSync(file)) {
      kc.loadFromFile(file);
    } else if (src.kubeconfigPath) {
      throw new Error('no such file');
    } else if (existsSync(src.serviceAccountTokenPath ?? SERVICE_ACCOUNT_TOKEN) && env.KUBERNETES_SERVICE_HOST) {
      kc.loadFromCluster();
    } else {
      return null;
    }
  } catch (err) {
    throw new KubeError('kubeconfig_invalid', `cannot load kubeconfig ${file}: ${(err as Error).message}`);
  }
  if (src.context) {
    if (!kc.getContextObject(src.context)) {
      throw new KubeError('kubeconfig_invalid', `kubeconfig ${file} has no context "${src.context}"`);
    }
    kc.setCurrentContext(src.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new KubeError('kubeconfig_invalid', `kubeconfig ${file}: context "${kc.getCurrentContext()}" names no cluster`);
  }
  return kc;
}

/** The current context's namespace ("default" when it names none), as kubectl and kubeshark use it. */
export function contextNamespace(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
}
