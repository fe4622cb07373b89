// Fluent pod fixtures for kubelet tests: makePod('p').container('app', 'nginx').never().build().

import type { KObject } from '../../api/object.ts';

export class PodBuilder {
  private readonly pod: KObject;

  constructor(name: string) {
    this.pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default', uid: `uid-${name}`, annotations: {} },
      spec: { containers: [], restartPolicy: 'Always', nodeName: 'sim-0' },
      status: {
        phase: 'Pending',
        qosClass: 'BestEffort',
        conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: '2026-01-01T00:00:00Z' }],
      },
    };
  }

  container(name: string, image = 'nginx', extra: Record<string, unknown> = {}): this {
    this.pod.spec.containers.push({ name, image, ...extra });
    return this;
  }

  init(name: string, image = 'busybox', extra: Record<string, unknown> = {}): this {
    (this.pod.spec.initContainers ??= []).push({ name, image, ...extra });
    return this;
  }

  sidecar(name: string, image = 'envoy'): this {
    return this.init(name, image, { restartPolicy: 'Always' });
  }

  restartPolicy(p: 'Always' | 'OnFailure' | 'Never'): this {
    this.pod.spec.restartPolicy = p;
    return this;
  }

  annotate(key: string, value: string): this {
    this.pod.metadata.annotations![key] = value;
    return this;
  }

  readinessGate(conditionType: string): this {
    (this.pod.spec.readinessGates ??= []).push({ conditionType });
    return this;
  }

  condition(type: string, status: 'True' | 'False'): this {
    this.pod.status.conditions.push({ type, status, lastProbeTime: null, lastTransitionTime: '2026-01-01T00:00:00Z' });
    return this;
  }

  build(): KObject {
    return structuredClone(this.pod);
  }
}

export function makePod(name = 'p'): PodBuilder {
  return new PodBuilder(name);
}
