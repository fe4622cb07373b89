// The root CA publisher (upstream's pkg/controller/certificates/rootcacertpublisher):
// a ConfigMap kube-root-ca.crt in every namespace holding the cluster CA (data
// `ca.crt`), so pods can verify the apiserver through the projected service-account
// volume. Recreated when deleted, put back when edited.
//
// The CA does not travel in the ControllerContext: whoever starts the controller
// manager passes it here (the apiserver's ClusterPKI.caCertPem, or the CA file of the
// kubeconfig the manager runs with).

import { isStatusError } from '../../api/errors.ts';
import type { KObject } from '../../api/object.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { namespaceTerminating } from '../endpoints/controller.ts';

export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
export const DESCRIPTION_ANNOTATION = 'kubernetes.io/description';
export const ROOT_CA_DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

export interface RootCACertPublisherOptions {
  /** The cluster CA certificate(s), PEM: what ca.crt holds. Required. */
  rootCA: string;
}

/**
 * The root CA publisher (--controllers name root-ca-cert-publisher). start() builds a
 * fresh instance for each term of the manager's leadership. Throws at once without a CA.
 */
export function rootCACertPublisher(opts: RootCACertPublisherOptions): Controller {
  if (!opts?.rootCA) throw new Error('root-ca-cert-publisher: the cluster CA (rootCA) is required');
  return { name: 'root-ca-cert-publisher', start: (ctx, signal) => new RootCACertPublisher(ctx, opts).run(signal) };
}

export class RootCACertPublisher {
  private readonly ctx: ControllerContext;
  private readonly rootCA: string;
  private readonly queue = new RateLimitingQueue<string>({ name: 'root_ca_cert_publisher' });
  private readonly namespaces: Informer;
  private readonly configmaps: Informer;

  /** Registers informers and handlers on ctx.factory (synchronously, as the contract asks). */
  constructor(ctx: ControllerContext, opts: RootCACertPublisherOptions) {
    if (!opts?.rootCA) throw new Error('root-ca-cert-publisher: the cluster CA (rootCA) is required');
    this.ctx = ctx;
    this.rootCA = opts.rootCA;
    this.namespaces = ctx.factory.informerFor(ref.namespaces);
    this.configmaps = ctx.factory.informerFor(ref.configmaps);
    const q = this.queue;
    this.namespaces.addEventHandler({
      onAdd: (n) => q.add(n.metadata.name!),
      onUpdate: (_o, n) => q.add(n.metadata.name!),
    });
    const ours = (cm: KObject) => {
      if (cm.metadata.name === ROOT_CA_CONFIGMAP) q.add(cm.metadata.namespace!);
    };
    this.configmaps.addEventHandler({ onUpdate: (_o, cm) => ours(cm), onDelete: ours });
  }

  async run(signal: AbortSignal): Promise<void> {
    const synced = await Promise.all([this.namespaces.waitForSync(signal), this.configmaps.waitForSync(signal)]);
    if (!synced.every(Boolean)) return;
    await runWorkers(this.queue, this.ctx.workers, (ns, sig) => this.syncNamespace(ns, sig), signal, { log: this.ctx.log });
  }

  private async syncNamespace(ns: string, signal: AbortSignal): Promise<void> {
    const { client } = this.ctx;
    const n = this.namespaces.lister.get(undefined, ns);
    if (!n || n.metadata.deletionTimestamp) return;
    const data = { 'ca.crt': this.rootCA };
    const cm = this.configmaps.lister.get(ns, ROOT_CA_CONFIGMAP);
    if (!cm) {
      try {
        await client.create(
          ref.configmaps,
          ns,
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ROOT_CA_CONFIGMAP, namespace: ns, annotations: { [DESCRIPTION_ANNOTATION]: ROOT_CA_DESCRIPTION } }, data },
          { signal },
        );
      } catch (e) {
        // No retry into a namespace that is gone or going.
        if ((isStatusError(e) && e.code === 404) || namespaceTerminating(e)) return;
        throw e;
      }
      return;
    }
    const same = Object.keys(cm.data ?? {}).length === 1 && cm.data?.['ca.crt'] === this.rootCA;
    if (same && cm.metadata.annotations?.[DESCRIPTION_ANNOTATION]) return;
    const next = structuredClone(cm);
    next.data = data;
    next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [DESCRIPTION_ANNOTATION]: ROOT_CA_DESCRIPTION };
    await client.update(ref.configmaps, ns, next, { signal });
  }
}
