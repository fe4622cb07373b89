// DefaultBinder: binds through the pods/binding subresource (the apiserver sets
// spec.nodeName and PodScheduled=True in one write).

import { ref } from '../../client/resources.ts';
import type { BindPlugin, CycleState, Handle } from '../framework/interface.ts';
import { errorStatus, type Status } from '../framework/status.ts';
import type { PodInfo } from '../framework/types.ts';
import { names } from './names.ts';

export class DefaultBinder implements BindPlugin {
  readonly name = names.DefaultBinder;
  private readonly handle: Handle;

  constructor(_args: unknown, handle: Handle) {
    this.handle = handle;
  }

  async bind(_state: CycleState, pi: PodInfo, nodeName: string, signal: AbortSignal): Promise<Status | undefined> {
    const client = this.handle.client;
    if (!client) return errorStatus(new Error('DefaultBinder: no client'));
    try {
      await client.create(
        ref.pods,
        pi.namespace,
        { apiVersion: 'v1', kind: 'Binding', metadata: { name: pi.name, namespace: pi.namespace, uid: pi.pod.metadata.uid }, target: { kind: 'Node', name: nodeName } },
        { subresource: 'binding', name: pi.name, signal },
      );
      return undefined;
    } catch (e) {
      return errorStatus(e);
    }
  }
}
