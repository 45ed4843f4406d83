/** Errors of the Kubernetes metadata layer, each with a stable code. */
export class KubeError extends Error {
  constructor(
    readonly code: 'kubeconfig_invalid' | 'target_options_invalid' | 'sync_timeout',
    message: string,
  ) {
    super(message);
    this.name = 'KubeError';
  }
}
