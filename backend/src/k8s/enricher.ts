/**
 * Enrichment: the last step before an entry leaves the agent names both of its endpoints after
 * Kubernetes pods, services, workloads and nodes, in place.
 */
import type { Logger } from '../log.js';
import type { Entry } from '../entries/entry.js';
import type { IpResolver } from './resolver.js';

export interface Enricher {
  /** Fills entry.src and entry.dst pod/namespace/service/workload/node where the IPs are known. */
  enrich(entry: Entry): void;
}

/** Names endpoints from the metadata cache, as of the entry's start time. */
export class KubeEnricher implements Enricher {
  constructor(private readonly resolver: IpResolver) {}

  enrich(entry: Entry): void {
    this.resolver.resolveEndpoint(entry.src, entry.startUs);
    // Before kube-proxy's DNAT the destination is a ClusterIP (named after its service), after it a
    // pod IP (named after the pod and the service whose endpoints list it): both give the service.
    this.resolver.resolveEndpoint(entry.dst, entry.startUs);
  }
}

/** Outside a cluster: entries keep their bare IPs. Says so once, when created. */
export class NoopEnricher implements Enricher {
  constructor(log: Pick<Logger, 'warn'>, reason: string) {
    log.warn(`Kubernetes names are unavailable (${reason}); entries will carry IP addresses only`);
  }

  enrich(_entry: Entry): void {}
}
