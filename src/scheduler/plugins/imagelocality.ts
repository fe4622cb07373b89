// ImageLocality: nodes that already have the pod's images score higher, by image size
// scaled by how many nodes have the image (to avoid piling pods onto the few nodes that
// pulled it first). Sizes below 23 MB count as nothing; the score saturates at 1000 MB
// per container.

import type { CycleState, Handle, ScorePlugin } from '../framework/interface.ts';
import { MAX_NODE_SCORE } from '../framework/status.ts';
import type { ImageState, NodeInfo, PodInfo } from '../framework/types.ts';
import { idiv } from './helper.ts';
import { names } from './names.ts';

const MB = 1024 * 1024;
export const MIN_THRESHOLD = 23 * MB;
export const MAX_CONTAINER_THRESHOLD = 1000 * MB;

/** The CRI name of an image reference: ":latest" added when it has no tag or digest. */
export function normalizedImageName(name: string): string {
  if (name.lastIndexOf(':') <= name.lastIndexOf('/')) return name + ':latest';
  return name;
}

function scaledImageScore(s: ImageState, totalNumNodes: number): number {
  const spread = s.nodes.size / totalNumNodes;
  return Math.trunc(s.size * spread);
}

export function calculatePriority(sumScores: number, numContainers: number): number {
  const maxThreshold = MAX_CONTAINER_THRESHOLD * numContainers;
  if (sumScores < MIN_THRESHOLD) sumScores = MIN_THRESHOLD;
  else if (sumScores > maxThreshold) sumScores = maxThreshold;
  return idiv(MAX_NODE_SCORE * (sumScores - MIN_THRESHOLD), maxThreshold - MIN_THRESHOLD);
}

export class ImageLocality implements ScorePlugin {
  readonly name = names.ImageLocality;
  private readonly handle: Handle | undefined;

  constructor(_args?: unknown, handle?: Handle) {
    this.handle = handle;
  }

  score(_state: CycleState, pi: PodInfo, nodeInfo: NodeInfo): number {
    const n = (pi.pod.spec.initContainers?.length ?? 0) + pi.pod.spec.containers.length;
    if (nodeInfo.imageCount === 0) return calculatePriority(0, n);
    const containers = [...(pi.pod.spec.initContainers ?? []), ...pi.pod.spec.containers];
    const total = this.handle?.snapshot().numNodes() ?? 1;
    let sum = 0;
    for (const c of containers) {
      if (!c.image) continue;
      const s = nodeInfo.imageStates.get(normalizedImageName(c.image));
      if (s) sum += scaledImageScore(s, total);
    }
    return calculatePriority(sum, containers.length);
  }
}
