import { TaplineError } from '../errors.js';

/** Errors of the Kubernetes metadata layer, each with a stable code. */
export class KubeError extends TaplineError {
  constructor(
    override readonly code: 'kubeconfig_invalid' | 'target_options_invalid' | 'sync_timeout',
    message: string,
  ) {
    super(message);
  }
}
