// Helpers several plugins share: score normalization (plugins/helper), node selector
// matching (component-helpers' nodeaffinity), and the namespaces an affinity term's
// namespaceSelector picks.

import type { Lister } from '../../client/indexer.ts';
import type { Node, NodeSelectorRequirement, NodeSelectorTerm, Pod } from '../framework/api.ts';
import { MAX_NODE_SCORE } from '../framework/status.ts';
import type { AffinityTerm } from '../framework/types.ts';

/**
 * helper.DefaultNormalizeScore: scales scores to [0, maxPriority] by the largest one;
 * `reverse` flips them (fewer intolerable taints = better). All zero: all max when reversed.
 */
export function defaultNormalizeScore(maxPriority: number, reverse: boolean, scores: Float64Array): void {
  let max = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i] > max) max = scores[i];
  if (max === 0) {
    if (reverse) scores.fill(maxPriority);
    return;
  }
  for (let i = 0; i < scores.length; i++) {
    let s = Math.trunc((maxPriority * scores[i]) / max);
    if (reverse) s = maxPriority - s;
    scores[i] = s;
  }
}

/** Go's int64 division (truncates toward zero). */
export function idiv(a: number, b: number): number {
  return Math.trunc(a / b);
}

// ---- node selectors -------------------------------------------------------------------

function parseInt64(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  return Number(s);
}

/** A requirement that is invalid (as NodeSelectorRequirementsAsSelector would refuse it) matches nothing. */
function requirementValid(r: NodeSelectorRequirement): boolean {
  const n = r.values?.length ?? 0;
  switch (r.operator) {
    case 'In':
    case 'NotIn':
      return n > 0;
    case 'Exists':
    case 'DoesNotExist':
      return n === 0;
    case 'Gt':
    case 'Lt':
      return n === 1 && parseInt64(r.values![0]) !== undefined;
    default:
      return false;
  }
}

function requirementMatches(r: NodeSelectorRequirement, value: string | undefined): boolean {
  switch (r.operator) {
    case 'In':
      return value !== undefined && r.values!.includes(value);
    case 'NotIn':
      return value === undefined || !r.values!.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      if (value === undefined) return false;
      const have = parseInt64(value);
      if (have === undefined) return false;
      const want = parseInt64(r.values![0])!;
      return r.operator === 'Gt' ? have > want : have < want;
    }
    default:
      return false;
  }
}

/** One NodeSelectorTerm: its expressions on labels and fields (metadata.name) ANDed; an empty term matches nothing. */
export function nodeSelectorTermMatches(term: NodeSelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata.labels ?? {};
  for (const r of exprs) {
    if (!requirementValid(r)) return false;
    if (!requirementMatches(r, Object.hasOwn(labels, r.key) ? labels[r.key] : undefined)) return false;
  }
  for (const r of fields) {
    if (r.key !== 'metadata.name' || !requirementValid(r) || (r.operator !== 'In' && r.operator !== 'NotIn')) return false;
    if (!requirementMatches(r, node.metadata.name)) return false;
  }
  return true;
}

/** Terms ORed. */
export function nodeSelectorMatches(terms: readonly NodeSelectorTerm[], node: Node): boolean {
  for (const t of terms) if (nodeSelectorTermMatches(t, node)) return true;
  return false;
}

/** nodeaffinity.RequiredNodeAffinity: the pod's nodeSelector AND its required node affinity. */
export class RequiredNodeAffinity {
  private readonly selector: [string, string][] | undefined;
  private readonly terms: readonly NodeSelectorTerm[] | undefined;

  constructor(pod: Pod) {
    const sel = pod.spec.nodeSelector;
    this.selector = sel && Object.keys(sel).length > 0 ? Object.entries(sel) : undefined;
    const req = pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    this.terms = req ? (req.nodeSelectorTerms ?? []) : undefined;
  }

  get empty(): boolean {
    return this.selector === undefined && this.terms === undefined;
  }

  match(node: Node): boolean {
    if (this.selector) {
      const labels = node.metadata.labels ?? {};
      for (const [k, v] of this.selector) if (labels[k] !== v || !Object.hasOwn(labels, k)) return false;
    }
    if (this.terms !== undefined) return nodeSelectorMatches(this.terms, node);
    return true;
  }
}

const requiredCache = new WeakMap<Pod, RequiredNodeAffinity>();

/** The pod's RequiredNodeAffinity, computed once per pod object. */
export function requiredNodeAffinityOf(pod: Pod): RequiredNodeAffinity {
  let r = requiredCache.get(pod);
  if (!r) requiredCache.set(pod, (r = new RequiredNodeAffinity(pod)));
  return r;
}

// ---- namespaces --------------------------------------------------------------------------

/**
 * The term with its namespaceSelector resolved into namespaces (mergeAffinityTermNamespacesIfNotEmpty):
 * the namespaces whose labels the selector matches join the term's list.
 */
export function mergeTermNamespaces(term: AffinityTerm, namespaces: Lister | undefined): AffinityTerm {
  if (!term.namespaceSelector) return term;
  const names = new Set(term.namespaces);
  if (term.namespaceSelector.empty) {
    for (const ns of namespaces?.list() ?? []) names.add(ns.metadata.name!);
  } else {
    for (const ns of namespaces?.list(undefined, term.namespaceSelector) ?? []) names.add(ns.metadata.name!);
  }
  return term.withNamespaces(names);
}

/** The labels of `namespace` (undefined when the namespace is unknown). */
export function namespaceLabels(namespaces: Lister | undefined, namespace: string): Record<string, string> | undefined {
  const ns = namespaces?.get(undefined, namespace);
  return ns ? (ns.metadata.labels ?? {}) : undefined;
}

export const MAX_SCORE = MAX_NODE_SCORE;
