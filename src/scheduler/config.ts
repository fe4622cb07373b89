// KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1): reading, defaulting and
// validating it as kube-scheduler does.
//   - One profile per schedulerName (default: one "default-scheduler" profile).
//   - Each profile's plugins are upstream's defaults merged with the file's: per extension
//     point, `disabled` removes defaults ("*" all of them), an `enabled` entry naming a
//     default replaces it in place (e.g. a new weight), other entries are appended.
//     multiPoint enables a plugin at every point it implements (framework/runtime.ts).
//   - pluginConfig gives a plugin its args; missing fields take the plugin's defaults.
// Anything else in the file that Skiff does not support (extenders) is refused by name.

import { readFile } from 'node:fs/promises';
import { parse as parseYAML } from 'yaml';
import { names } from './plugins/names.ts';
import { DEFAULT_SCHEDULER_NAME } from './framework/api.ts';

export const CONFIG_API_VERSION = 'kubescheduler.config.k8s.io/v1';

export interface PluginRef {
  name: string;
  weight?: number;
}

export interface PluginSet {
  enabled?: PluginRef[];
  disabled?: { name: string }[];
}

export const EXTENSION_POINTS = [
  'preEnqueue',
  'queueSort',
  'preFilter',
  'filter',
  'postFilter',
  'preScore',
  'score',
  'reserve',
  'permit',
  'preBind',
  'bind',
  'postBind',
] as const;
export type ExtensionPoint = (typeof EXTENSION_POINTS)[number];

export type Plugins = { [P in ExtensionPoint | 'multiPoint']?: PluginSet };

export interface PluginConfig {
  name: string;
  args?: unknown;
}

export interface KubeSchedulerProfile {
  schedulerName?: string;
  percentageOfNodesToScore?: number;
  plugins?: Plugins;
  pluginConfig?: PluginConfig[];
}

export interface LeaderElectionConfiguration {
  leaderElect?: boolean;
  leaseDuration?: string;
  renewDeadline?: string;
  retryPeriod?: string;
  resourceLock?: string;
  resourceName?: string;
  resourceNamespace?: string;
}

export interface KubeSchedulerConfiguration {
  apiVersion?: string;
  kind?: string;
  parallelism?: number;
  percentageOfNodesToScore?: number;
  podInitialBackoffSeconds?: number;
  podMaxBackoffSeconds?: number;
  leaderElection?: LeaderElectionConfiguration;
  clientConnection?: { kubeconfig?: string; qps?: number; burst?: number; contentType?: string; acceptContentTypes?: string };
  profiles?: KubeSchedulerProfile[];
  extenders?: unknown[];
  [k: string]: unknown;
}

/** A configuration after defaulting: every field the scheduler reads is set. */
export interface ResolvedProfile {
  schedulerName: string;
  /** undefined: use the configuration-wide value. */
  percentageOfNodesToScore: number | undefined;
  plugins: Required<Plugins>;
  pluginConfig: Map<string, unknown>;
}

export interface ResolvedConfiguration {
  parallelism: number;
  /** 0: adaptive (50% − nodes/125, at least 5%). */
  percentageOfNodesToScore: number;
  podInitialBackoffSeconds: number;
  podMaxBackoffSeconds: number;
  leaderElection: { leaderElect: boolean; leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number; resourceName: string; resourceNamespace: string };
  kubeconfig: string | undefined;
  profiles: ResolvedProfile[];
}

/** v1's default plugins: everything through multiPoint, with upstream's score weights. */
export function defaultPlugins(): Required<Plugins> {
  const p = {} as Required<Plugins>;
  for (const e of EXTENSION_POINTS) p[e] = { enabled: [], disabled: [] };
  p.multiPoint = {
    enabled: [
      { name: names.SchedulingGates },
      { name: names.PrioritySort },
      { name: names.NodeUnschedulable },
      { name: names.NodeName },
      { name: names.TaintToleration, weight: 3 },
      { name: names.NodeAffinity, weight: 2 },
      { name: names.NodePorts },
      { name: names.NodeResourcesFit, weight: 1 },
      { name: names.VolumeBinding },
      { name: names.PodTopologySpread, weight: 2 },
      { name: names.InterPodAffinity, weight: 2 },
      { name: names.DefaultPreemption },
      { name: names.NodeResourcesBalancedAllocation, weight: 1 },
      { name: names.ImageLocality, weight: 1 },
      { name: names.DefaultBinder },
    ],
    disabled: [],
  };
  return p;
}

/** mergePluginSet: the defaults with the file's enable/disable applied. */
export function mergePluginSet(defaults: PluginSet, custom: PluginSet | undefined): PluginSet {
  if (!custom) return { enabled: [...(defaults.enabled ?? [])], disabled: [...(defaults.disabled ?? [])] };
  const disabled = [...(custom.disabled ?? []), ...(defaults.disabled ?? [])].map((d) => ({ name: d.name }));
  const disabledNames = new Set(disabled.map((d) => d.name));
  const customEnabled = custom.enabled ?? [];
  const replaced = new Set<number>();
  const enabled: PluginRef[] = [];
  if (!disabledNames.has('*')) {
    for (const d of defaults.enabled ?? []) {
      if (disabledNames.has(d.name)) continue;
      const i = customEnabled.findIndex((c) => c.name === d.name);
      if (i >= 0) {
        enabled.push(customEnabled[i]);
        replaced.add(i);
      } else enabled.push(d);
    }
  }
  customEnabled.forEach((c, i) => {
    if (!replaced.has(i)) enabled.push(c);
  });
  return { enabled, disabled };
}

export function mergePlugins(defaults: Required<Plugins>, custom: Plugins | undefined): Required<Plugins> {
  const out = {} as Required<Plugins>;
  for (const e of [...EXTENSION_POINTS, 'multiPoint'] as const) out[e] = mergePluginSet(defaults[e], custom?.[e]);
  return out;
}

/** A Go duration ("15s", "1m30s", "500ms") in milliseconds. */
export function parseDuration(s: string | number | undefined, field: string): number | undefined {
  if (s === undefined) return undefined;
  if (typeof s === 'number') return s / 1e6;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  if (s === '0') return 0;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * units[m[2]];
    pos = re.lastIndex;
  }
  if (pos !== s.length || pos === 0) throw new Error(`${field}: Invalid value: ${JSON.stringify(s)}: time: invalid duration`);
  return total;
}

/** Defaults and validates a configuration; throws with upstream-like field paths on invalid input. */
export function resolveConfiguration(cfg: KubeSchedulerConfiguration = {}): ResolvedConfiguration {
  const errs: string[] = [];
  if (cfg.apiVersion !== undefined && cfg.apiVersion !== CONFIG_API_VERSION) {
    errs.push(`apiVersion: Unsupported value: ${JSON.stringify(cfg.apiVersion)}: supported values: "${CONFIG_API_VERSION}"`);
  }
  if (cfg.kind !== undefined && cfg.kind !== 'KubeSchedulerConfiguration') errs.push(`kind: Unsupported value: ${JSON.stringify(cfg.kind)}: supported values: "KubeSchedulerConfiguration"`);
  if (cfg.extenders && cfg.extenders.length) errs.push('extenders: Forbidden: scheduler extenders are not supported by skiff');
  const pct = cfg.percentageOfNodesToScore ?? 0;
  if (!Number.isInteger(pct) || pct < 0 || pct > 100) errs.push(`percentageOfNodesToScore: Invalid value: ${pct}: not in valid range [0-100]`);
  const initial = cfg.podInitialBackoffSeconds ?? 1;
  const max = cfg.podMaxBackoffSeconds ?? 10;
  if (initial <= 0) errs.push(`podInitialBackoffSeconds: Invalid value: ${initial}: must be greater than 0`);
  if (max < initial) errs.push(`podMaxBackoffSeconds: Invalid value: ${max}: must be greater than or equal to PodInitialBackoffSeconds`);
  const parallelism = cfg.parallelism ?? 16;
  if (parallelism <= 0) errs.push(`parallelism: Invalid value: ${parallelism}: should be an integer greater than 0`);

  const le = cfg.leaderElection ?? {};
  let leaderElection: ResolvedConfiguration['leaderElection'] | undefined;
  try {
    leaderElection = {
      leaderElect: le.leaderElect ?? true,
      leaseDurationMs: parseDuration(le.leaseDuration, 'leaderElection.leaseDuration') ?? 15_000,
      renewDeadlineMs: parseDuration(le.renewDeadline, 'leaderElection.renewDeadline') ?? 10_000,
      retryPeriodMs: parseDuration(le.retryPeriod, 'leaderElection.retryPeriod') ?? 2_000,
      resourceName: le.resourceName ?? 'kube-scheduler',
      resourceNamespace: le.resourceNamespace ?? 'kube-system',
    };
    if (le.resourceLock !== undefined && le.resourceLock !== 'leases') errs.push(`leaderElection.resourceLock: Unsupported value: ${JSON.stringify(le.resourceLock)}: supported values: "leases"`);
  } catch (e) {
    errs.push((e as Error).message);
  }

  const profilesIn = cfg.profiles?.length ? cfg.profiles : [{}];
  const profiles: ResolvedProfile[] = [];
  const seen = new Map<string, number>();
  profilesIn.forEach((p, i) => {
    const schedulerName = p.schedulerName || DEFAULT_SCHEDULER_NAME;
    if (seen.has(schedulerName)) errs.push(`profiles[${i}].schedulerName: Duplicate value: ${JSON.stringify(schedulerName)}`);
    seen.set(schedulerName, i);
    if (p.percentageOfNodesToScore !== undefined && (p.percentageOfNodesToScore < 0 || p.percentageOfNodesToScore > 100)) {
      errs.push(`profiles[${i}].percentageOfNodesToScore: Invalid value: ${p.percentageOfNodesToScore}: not in valid range [0-100]`);
    }
    const pluginConfig = new Map<string, unknown>();
    (p.pluginConfig ?? []).forEach((pc, j) => {
      if (pluginConfig.has(pc.name)) errs.push(`profiles[${i}].pluginConfig[${j}]: Duplicate value: ${JSON.stringify(pc.name)}`);
      pluginConfig.set(pc.name, pc.args ?? {});
    });
    for (const [point, set] of Object.entries(p.plugins ?? {})) {
      if (!([...EXTENSION_POINTS, 'multiPoint'] as string[]).includes(point)) errs.push(`profiles[${i}].plugins.${point}: Unsupported value: unknown extension point`);
      for (const e of (set as PluginSet)?.enabled ?? []) {
        if (e.weight !== undefined && (!Number.isInteger(e.weight) || e.weight < 0 || e.weight > 100)) {
          errs.push(`profiles[${i}].plugins.${point}.enabled[${e.name}].weight: Invalid value: ${e.weight}: must be in the range [0, 100]`);
        }
      }
    }
    profiles.push({ schedulerName, percentageOfNodesToScore: p.percentageOfNodesToScore, plugins: mergePlugins(defaultPlugins(), p.plugins), pluginConfig });
  });
  if (profiles.length > 1) {
    const sortOf = (p: ResolvedProfile) => queueSortName(p);
    const first = sortOf(profiles[0]);
    profiles.forEach((p, i) => {
      if (i > 0 && sortOf(p) !== first) errs.push(`profiles[${i}].plugins.queueSort: Invalid value: ${JSON.stringify(sortOf(p))}: queueSort must be the same for all profiles`);
    });
  }
  if (errs.length) throw new Error(`invalid KubeSchedulerConfiguration: ${errs.join('; ')}`);
  return {
    parallelism,
    percentageOfNodesToScore: pct,
    podInitialBackoffSeconds: initial,
    podMaxBackoffSeconds: max,
    leaderElection: leaderElection!,
    kubeconfig: cfg.clientConnection?.kubeconfig || undefined,
    profiles,
  };
}

/** The queue sort plugin a profile ends up with (multiPoint's unless queueSort names one). */
function queueSortName(p: ResolvedProfile): string {
  const explicit = p.plugins.queueSort.enabled ?? [];
  if (explicit.length) return explicit[0].name;
  const disabled = new Set((p.plugins.queueSort.disabled ?? []).map((d) => d.name));
  const mp = (p.plugins.multiPoint.enabled ?? []).find((e) => e.name === names.PrioritySort && !disabled.has(e.name) && !disabled.has('*'));
  return mp?.name ?? '';
}

/** Reads a configuration file (YAML or JSON). */
export async function loadConfiguration(path: string): Promise<ResolvedConfiguration> {
  const text = await readFile(path, 'utf8');
  let doc: unknown;
  try {
    doc = parseYAML(text);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null) throw new Error(`${path}: not a KubeSchedulerConfiguration`);
  const cfg = doc as KubeSchedulerConfiguration;
  if (cfg.apiVersion === undefined || cfg.kind === undefined) throw new Error(`${path}: apiVersion and kind are required (${CONFIG_API_VERSION}, KubeSchedulerConfiguration)`);
  return resolveConfiguration(cfg);
}
