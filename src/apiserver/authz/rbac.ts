// The RBAC authorizer (upstream plugin/pkg/auth/authorizer/rbac): Roles, ClusterRoles,
// RoleBindings and ClusterRoleBindings read from the watch cache. It runs on every
// request, so bindings are indexed by subject (user name, group name; a ServiceAccount
// subject is indexed under its user name) and the index is rebuilt only after a binding
// changed; roles are looked up by key in the cache.

import type { KObject } from '../../api/object.ts';
import type { Attributes, Authorizer, AuthorizerResult, UserInfo } from './attributes.ts';

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface Subject {
  kind: string;
  name: string;
  namespace?: string;
  apiGroup?: string;
}

export interface RoleRef {
  kind: string;
  name: string;
  apiGroup?: string;
}

// ----------------------------------------------------------------- rule matching

function has(list: string[] | undefined, v: string): boolean {
  if (!list) return false;
  for (const x of list) if (x === '*' || x === v) return true;
  return false;
}

/** upstream ResourceMatches: "*", "pods", "pods/log", and "*\/log" for any resource's log subresource. */
export function resourceMatches(rule: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  for (const r of rule.resources ?? []) {
    if (r === '*' || r === combined) return true;
    if (subresource && r.length === subresource.length + 2 && r.startsWith('*/') && r.endsWith(subresource)) return true;
  }
  return false;
}

/** upstream NonResourceURLMatches: exact, "*", or a prefix ending in "*". */
export function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs ?? []) {
    if (u === '*' || u === path) return true;
    if (u.endsWith('*') && path.startsWith(u.slice(0, -1))) return true;
  }
  return false;
}

/** upstream RuleAllows. */
export function ruleAllows(a: Attributes, rule: PolicyRule): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (a.resourceRequest) {
    if (!has(rule.apiGroups, a.apiGroup)) return false;
    if (!resourceMatches(rule, a.resource, a.subresource)) return false;
    const names = rule.resourceNames;
    return !names || names.length === 0 || names.includes(a.name);
  }
  return nonResourceURLMatches(rule, a.path);
}

export function rulesAllow(a: Attributes, rules: readonly PolicyRule[]): boolean {
  for (const r of rules) if (ruleAllows(a, r)) return true;
  return false;
}

// ----------------------------------------------------------------- policy source

/** Where the authorizer reads policy: the watch cache (see createCachePolicySource). */
export interface PolicySource {
  clusterRole(name: string): KObject | undefined;
  role(namespace: string, name: string): KObject | undefined;
  clusterRoleBindings(): Iterable<KObject>;
  roleBindings(): Iterable<KObject>;
  /** Called whenever a role or binding changes; the authorizer drops its index and caches. */
  onPolicyChanged(fn: () => void): void;
}

interface BindingRef {
  binding: KObject;
  kind: 'ClusterRoleBinding' | 'RoleBinding';
}

/** Index keys: "u:<user name>", "g:<group>". A ServiceAccount subject is its user name. */
function subjectKey(s: Subject, bindingNamespace: string): string | undefined {
  switch (s.kind) {
    case 'User':
      return `u:${s.name}`;
    case 'Group':
      return `g:${s.name}`;
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace;
      if (!ns) return undefined;
      return `u:system:serviceaccount:${ns}:${s.name}`;
    }
  }
  return undefined;
}

interface Index {
  cluster: Map<string, BindingRef[]>;
  /** namespace → subject key → bindings */
  namespaced: Map<string, Map<string, BindingRef[]>>;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

export interface RuleVisit {
  /** Who granted the rule, for SubjectAccessReview reasons. */
  source?: string;
  rules: readonly PolicyRule[];
}

/** The rules resolved for one user: cluster-wide, and per namespace (filled as asked). */
interface Resolved {
  cluster: (RuleVisit | Error)[];
  namespaces: Map<string, (RuleVisit | Error)[]>;
}

/** Users whose resolved rules are kept between policy changes; past it the cache starts over. */
const MAX_CACHED_USERS = 4096;

export class RBACAuthorizer implements Authorizer {
  private readonly source: PolicySource;
  private index: Index | undefined;
  private readonly resolved = new Map<string, Resolved>();

  constructor(source: PolicySource) {
    this.source = source;
    source.onPolicyChanged(() => {
      this.index = undefined;
      this.resolved.clear();
    });
  }

  private buildIndex(): Index {
    const idx: Index = { cluster: new Map(), namespaced: new Map() };
    for (const b of this.source.clusterRoleBindings()) {
      for (const s of (b.subjects ?? []) as Subject[]) {
        const k = subjectKey(s, '');
        if (k) push(idx.cluster, k, { binding: b, kind: 'ClusterRoleBinding' });
      }
    }
    for (const b of this.source.roleBindings()) {
      const ns = b.metadata.namespace ?? '';
      let m = idx.namespaced.get(ns);
      if (!m) idx.namespaced.set(ns, (m = new Map()));
      for (const s of (b.subjects ?? []) as Subject[]) {
        const k = subjectKey(s, ns);
        if (k) push(m, k, { binding: b, kind: 'RoleBinding' });
      }
    }
    return idx;
  }

  private keysOf(user: UserInfo): string[] {
    const keys = [`u:${user.name}`];
    for (const g of user.groups) keys.push(`g:${g}`);
    return keys;
  }

  /** The rules of a binding's role; an Error (upstream's NotFound text) when the role is missing. */
  private rulesOf(ref: BindingRef): readonly PolicyRule[] | Error {
    const roleRef = ref.binding.roleRef as RoleRef | undefined;
    if (!roleRef) return [];
    if (roleRef.kind === 'ClusterRole') {
      const r = this.source.clusterRole(roleRef.name);
      if (!r) return new Error(`clusterrole.rbac.authorization.k8s.io ${JSON.stringify(roleRef.name)} not found`);
      return (r.rules ?? []) as PolicyRule[];
    }
    if (roleRef.kind === 'Role' && ref.kind === 'RoleBinding') {
      const r = this.source.role(ref.binding.metadata.namespace!, roleRef.name);
      if (!r) return new Error(`role.rbac.authorization.k8s.io ${JSON.stringify(roleRef.name)} not found`);
      return (r.rules ?? []) as PolicyRule[];
    }
    return [];
  }

  /** The rules the bindings in `m` give the user, in upstream's visiting order. */
  private collect(keys: string[], m: Map<string, BindingRef[]> | undefined): (RuleVisit | Error)[] {
    const out: (RuleVisit | Error)[] = [];
    if (!m) return out;
    const seen = new Set<KObject>();
    for (const k of keys) {
      for (const ref of m.get(k) ?? []) {
        if (seen.has(ref.binding)) continue;
        seen.add(ref.binding);
        const rules = this.rulesOf(ref);
        out.push(rules instanceof Error ? rules : { source: describe(ref, k), rules });
      }
    }
    return out;
  }

  /**
   * Upstream's VisitRulesFor: every rule that applies to the user in the namespace
   * (cluster bindings first, then the namespace's bindings). The visitor returns false to stop.
   * Resolved per user and namespace once, until the next policy change.
   */
  visitRulesFor(user: UserInfo, namespace: string, visit: (v: RuleVisit | Error) => boolean): void {
    const idx = (this.index ??= this.buildIndex());
    const userKey = user.groups.length ? `${user.name}\u0000${user.groups.join('\u0000')}` : user.name;
    let r = this.resolved.get(userKey);
    if (!r) {
      if (this.resolved.size >= MAX_CACHED_USERS) this.resolved.clear();
      r = { cluster: this.collect(this.keysOf(user), idx.cluster), namespaces: new Map() };
      this.resolved.set(userKey, r);
    }
    for (const v of r.cluster) if (!visit(v)) return;
    if (!namespace) return;
    let ns = r.namespaces.get(namespace);
    if (!ns) r.namespaces.set(namespace, (ns = this.collect(this.keysOf(user), idx.namespaced.get(namespace))));
    for (const v of ns) if (!visit(v)) return;
  }

  authorize(a: Attributes): AuthorizerResult {
    let allowedBy: string | undefined;
    const errors: string[] = [];
    this.visitRulesFor(a.user, a.namespace, (v) => {
      if (v instanceof Error) {
        errors.push(v.message);
        return true;
      }
      if (rulesAllow(a, v.rules)) {
        allowedBy = v.source;
        return false;
      }
      return true;
    });
    if (allowedBy !== undefined) return { decision: 'Allow', reason: `RBAC: allowed by ${allowedBy}` };
    // Upstream shows only resolution errors (a missing role); a plain "no match" has no reason.
    return { decision: 'NoOpinion', reason: errors.length ? `RBAC: ${aggregate(errors)}` : '' };
  }

  /** Every rule that applies to the user in the namespace, and the resolution errors. */
  rulesFor(user: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    const rules: PolicyRule[] = [];
    const errors: string[] = [];
    this.visitRulesFor(user, namespace, (v) => {
      if (v instanceof Error) errors.push(v.message);
      else rules.push(...v.rules);
      return true;
    });
    return { rules, errors };
  }
}

/** utilerrors.NewAggregate's text. */
function aggregate(msgs: string[]): string {
  return msgs.length === 1 ? msgs[0] : `[${msgs.join(', ')}]`;
}

function describe(ref: BindingRef, key: string): string {
  const roleRef = ref.binding.roleRef as RoleRef;
  const subject = key.startsWith('g:') ? `Group ${JSON.stringify(key.slice(2))}` : `User ${JSON.stringify(key.slice(2))}`;
  const where = ref.kind === 'RoleBinding' ? `RoleBinding ${JSON.stringify(`${ref.binding.metadata.name}/${ref.binding.metadata.namespace}`)}` : `ClusterRoleBinding ${JSON.stringify(ref.binding.metadata.name)}`;
  return `${where} of ${roleRef.kind} ${JSON.stringify(roleRef.name)} to ${subject}`;
}
