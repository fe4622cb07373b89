// The in-tree registry: plugin name → factory. Profiles name plugins; the framework
// builds each once per profile with its args (pluginConfig over the defaults).

import type { Handle, Plugin, PluginFactory } from '../framework/interface.ts';
import { DefaultBinder } from './defaultbinder.ts';
import { DefaultPreemption, type DefaultPreemptionArgs } from './defaultpreemption.ts';
import { ImageLocality } from './imagelocality.ts';
import { InterPodAffinity, type InterPodAffinityArgs } from './interpodaffinity.ts';
import { NodeAffinity, type NodeAffinityArgs } from './nodeaffinity.ts';
import { NodeName } from './nodename.ts';
import { NodePorts } from './nodeports.ts';
import { NodeResourcesBalancedAllocation, NodeResourcesFit, type NodeResourcesBalancedAllocationArgs, type NodeResourcesFitArgs } from './noderesources.ts';
import { NodeUnschedulable } from './nodeunschedulable.ts';
import { PodTopologySpread, type PodTopologySpreadArgs } from './podtopologyspread.ts';
import { PrioritySort } from './queuesort.ts';
import { SchedulingGates } from './schedulinggates.ts';
import { TaintToleration } from './tainttoleration.ts';
import { VolumeBinding, type VolumeBindingArgs } from './volumebinding.ts';
import { names } from './names.ts';

export type Registry = Map<string, PluginFactory>;

export function inTreeRegistry(): Registry {
  const r: Registry = new Map();
  const add = (name: string, f: (args: any, h: Handle) => Plugin) => r.set(name, f);
  add(names.PrioritySort, () => new PrioritySort());
  add(names.SchedulingGates, () => new SchedulingGates());
  add(names.NodeUnschedulable, () => new NodeUnschedulable());
  add(names.NodeName, () => new NodeName());
  add(names.TaintToleration, () => new TaintToleration());
  add(names.NodeAffinity, (a: NodeAffinityArgs, h) => new NodeAffinity(a, h));
  add(names.NodePorts, () => new NodePorts());
  add(names.NodeResourcesFit, (a: NodeResourcesFitArgs, h) => new NodeResourcesFit(a, h));
  add(names.NodeResourcesBalancedAllocation, (a: NodeResourcesBalancedAllocationArgs, h) => new NodeResourcesBalancedAllocation(a, h));
  add(names.VolumeBinding, (a: VolumeBindingArgs, h) => new VolumeBinding(a, h));
  add(names.PodTopologySpread, (a: PodTopologySpreadArgs, h) => new PodTopologySpread(a, h));
  add(names.InterPodAffinity, (a: InterPodAffinityArgs, h) => new InterPodAffinity(a, h));
  add(names.ImageLocality, (a: unknown, h) => new ImageLocality(a, h));
  add(names.DefaultPreemption, (a: DefaultPreemptionArgs, h) => new DefaultPreemption(a, h));
  add(names.DefaultBinder, (a: unknown, h) => new DefaultBinder(a, h));
  return r;
}

/** Upstream plugins Skiff does not have: a configuration may enable or disable them; they are left out with a log line. */
export const NOT_IMPLEMENTED: ReadonlySet<string> = new Set([names.VolumeRestrictions, names.NodeVolumeLimits, names.VolumeZone]);
