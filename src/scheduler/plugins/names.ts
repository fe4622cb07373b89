// Plugin names, as upstream's framework/plugins/names: configuration files name plugins by these.

export const names = {
  PrioritySort: 'PrioritySort',
  SchedulingGates: 'SchedulingGates',
  DefaultBinder: 'DefaultBinder',
  DefaultPreemption: 'DefaultPreemption',
  ImageLocality: 'ImageLocality',
  InterPodAffinity: 'InterPodAffinity',
  NodeAffinity: 'NodeAffinity',
  NodeName: 'NodeName',
  NodePorts: 'NodePorts',
  NodeResourcesBalancedAllocation: 'NodeResourcesBalancedAllocation',
  NodeResourcesFit: 'NodeResourcesFit',
  NodeUnschedulable: 'NodeUnschedulable',
  PodTopologySpread: 'PodTopologySpread',
  TaintToleration: 'TaintToleration',
  VolumeBinding: 'VolumeBinding',
  // Upstream defaults Skiff does not implement yet; configurations may still name them.
  VolumeRestrictions: 'VolumeRestrictions',
  NodeVolumeLimits: 'NodeVolumeLimits',
  VolumeZone: 'VolumeZone',
} as const;
