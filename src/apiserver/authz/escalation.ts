// RBAC escalation prevention (upstream pkg/registry/rbac/{role,clusterrole,rolebinding,
// clusterrolebinding}/policybased and pkg/registry/rbac/validation): a user may create or
// update a Role/ClusterRole only with rules they hold themselves (unless allowed the
// `escalate` verb on it), and a binding only to a role whose rules they hold (unless
// allowed the `bind` verb on that role). system:masters may always.

import type { KObject } from '../../api/object.ts';
import { forbidden, type StatusError } from '../../api/errors.ts';
import type { Attributes, Authorizer, UserInfo } from './attributes.ts';
import type { PolicyRule, RBACAuthorizer, RoleRef } from './rbac.ts';

export const SYSTEM_PRIVILEGED_GROUP = 'system:masters';

/** One verb, group, resource, name or URL per rule (upstream BreakdownRule). */
export function breakdownRule(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const g of rule.apiGroups ?? []) {
    for (const res of rule.resources ?? []) {
      for (const v of rule.verbs) {
        if (rule.resourceNames?.length) for (const n of rule.resourceNames) out.push({ verbs: [v], apiGroups: [g], resources: [res], resourceNames: [n] });
        else out.push({ verbs: [v], apiGroups: [g], resources: [res] });
      }
    }
  }
  for (const u of rule.nonResourceURLs ?? []) for (const v of rule.verbs) out.push({ verbs: [v], nonResourceURLs: [u] });
  return out;
}

function coversOne(list: string[] | undefined, want: string): boolean {
  return !!list && (list.includes('*') || list.includes(want));
}

function resourceCovers(owner: string[] | undefined, want: string): boolean {
  if (!owner) return false;
  if (owner.includes('*') || owner.includes(want)) return true;
  const slash = want.indexOf('/');
  if (slash >= 0) {
    // "pods/*" covers every subresource of pods, "*/log" every resource's log.
    if (owner.includes(want.slice(0, slash) + '/*')) return true;
    if (owner.includes('*' + want.slice(slash))) return true;
  }
  return false;
}

function nonResourceCovers(owner: string[] | undefined, want: string): boolean {
  for (const u of owner ?? []) {
    if (u === '*' || u === want) return true;
    if (u.endsWith('*') && want.startsWith(u.slice(0, -1))) return true;
  }
  return false;
}

/** upstream ruleCovers: the owner rule grants all of the (broken down) servant rule. */
function ruleCovers(owner: PolicyRule, servant: PolicyRule): boolean {
  if (!servant.verbs.every((v) => coversOne(owner.verbs, v))) return false;
  if (servant.nonResourceURLs?.length) return servant.nonResourceURLs.every((u) => nonResourceCovers(owner.nonResourceURLs, u));
  if (!(servant.apiGroups ?? []).every((g) => coversOne(owner.apiGroups, g))) return false;
  if (!(servant.resources ?? []).every((r) => resourceCovers(owner.resources, r))) return false;
  const ownerNames = owner.resourceNames ?? [];
  if (ownerNames.length === 0) return true;
  const names = servant.resourceNames ?? [];
  return names.length > 0 && names.every((n) => ownerNames.includes(n));
}

/** The parts of `servant` not covered by `owner`, broken down (upstream Covers). */
export function uncovered(owner: readonly PolicyRule[], servant: readonly PolicyRule[]): PolicyRule[] {
  const missing: PolicyRule[] = [];
  for (const s of servant) {
    for (const piece of breakdownRule(s)) {
      if (!owner.some((o) => ruleCovers(o, piece))) missing.push(piece);
    }
  }
  return missing;
}

/** upstream CompactRules: single-group, single-resource rules with the same name merged over verbs. */
function compactRules(rules: PolicyRule[]): PolicyRule[] {
  const out: PolicyRule[] = [];
  const byKey = new Map<string, PolicyRule>();
  for (const r of rules) {
    if (r.resources?.length === 1 && r.apiGroups?.length === 1 && !(r.nonResourceURLs?.length) && (r.resourceNames?.length ?? 0) <= 1) {
      const k = JSON.stringify([r.apiGroups[0], r.resources[0], r.resourceNames?.[0] ?? null]);
      const existing = byKey.get(k);
      if (existing) {
        for (const v of r.verbs) if (!existing.verbs.includes(v)) existing.verbs.push(v);
        continue;
      }
      const copy = { ...r, verbs: [...r.verbs] };
      byKey.set(k, copy);
      out.push(copy);
    } else {
      out.push(r);
    }
  }
  return out;
}

const goQuote = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;

/** upstream PolicyRule.CompactString. */
export function compactString(r: PolicyRule): string {
  const parts: string[] = [];
  if (r.apiGroups?.length) parts.push(`APIGroups:${goQuote(r.apiGroups)}`);
  if (r.resources?.length) parts.push(`Resources:${goQuote(r.resources)}`);
  if (r.nonResourceURLs?.length) parts.push(`NonResourceURLs:${goQuote(r.nonResourceURLs)}`);
  if (r.resourceNames?.length) parts.push(`ResourceNames:${goQuote(r.resourceNames)}`);
  if (r.verbs.length) parts.push(`Verbs:${goQuote(r.verbs)}`);
  return `{${parts.join(', ')}}`;
}

/** upstream SortableRuleSlice order: by the compact string. */
function sortRules(rules: PolicyRule[]): PolicyRule[] {
  return rules.map((r) => [compactString(r), r] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, r]) => r);
}

export interface EscalationCheck {
  rbac: RBACAuthorizer;
  authorizer: Authorizer;
}

function userAttrs(user: UserInfo, verb: string, resource: string, namespace: string, name: string): Attributes {
  return { user, verb, resourceRequest: true, path: '', apiGroup: 'rbac.authorization.k8s.io', apiVersion: 'v1', resource, subresource: '', namespace, name };
}

/** upstream ConfirmNoEscalation: a Forbidden error naming the missing rules, or undefined. */
export function confirmNoEscalation(
  rbac: RBACAuthorizer,
  user: UserInfo,
  namespace: string,
  rules: readonly PolicyRule[],
  target: { resource: string; name: string },
): StatusError | undefined {
  const held = rbac.rulesFor(user, namespace);
  const missing = uncovered(held.rules, rules);
  if (missing.length === 0) return undefined;
  const lines = sortRules(compactRules(missing)).map(compactString);
  let msg = `user ${JSON.stringify(user.name)} (groups=${goQuote(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${lines.join('\n')}`;
  if (held.errors.length) msg += `; resolution errors: [${held.errors.join(' ')}]`;
  return forbidden({ group: 'rbac.authorization.k8s.io', resource: target.resource }, target.name, msg);
}

/** Create/update of a Role or ClusterRole. */
export function checkRoleWrite(c: EscalationCheck, user: UserInfo | undefined, obj: KObject, plural: 'roles' | 'clusterroles'): void {
  if (!user || user.groups.includes(SYSTEM_PRIVILEGED_GROUP)) return;
  const ns = obj.metadata.namespace ?? '';
  const name = obj.metadata.name ?? '';
  if (c.authorizer.authorize(userAttrs(user, 'escalate', plural, ns, name)).decision === 'Allow') return;
  // An aggregated ClusterRole can gather any rule: it takes full authority, as upstream.
  if (plural === 'clusterroles' && obj.aggregationRule) {
    const full: PolicyRule[] = [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, { verbs: ['*'], nonResourceURLs: ['*'] }];
    if (uncovered(c.rbac.rulesFor(user, '').rules, full).length) {
      throw forbidden({ group: 'rbac.authorization.k8s.io', resource: plural }, name, 'must have cluster-admin privileges to use the aggregationRule');
    }
    return;
  }
  const rules = (obj.rules ?? []) as PolicyRule[];
  const err = confirmNoEscalation(c.rbac, user, ns, rules, { resource: plural, name });
  if (err) throw err;
}

/** Create/update of a RoleBinding or ClusterRoleBinding. */
export function checkBindingWrite(
  c: EscalationCheck,
  user: UserInfo | undefined,
  obj: KObject,
  plural: 'rolebindings' | 'clusterrolebindings',
  lookup: { clusterRole(name: string): KObject | undefined; role(ns: string, name: string): KObject | undefined },
): void {
  if (!user || user.groups.includes(SYSTEM_PRIVILEGED_GROUP)) return;
  const ns = obj.metadata.namespace ?? '';
  const ref = (obj.roleRef ?? {}) as RoleRef;
  const roleResource = ref.kind === 'Role' ? 'roles' : 'clusterroles';
  if (c.authorizer.authorize(userAttrs(user, 'bind', roleResource, ns, ref.name ?? '')).decision === 'Allow') return;
  const role = ref.kind === 'Role' ? lookup.role(ns, ref.name) : lookup.clusterRole(ref.name);
  const name = obj.metadata.name ?? '';
  if (!role) {
    throw forbidden({ group: 'rbac.authorization.k8s.io', resource: plural }, name, `${roleResource === 'roles' ? 'role' : 'clusterrole'}.rbac.authorization.k8s.io ${JSON.stringify(ref.name)} not found`);
  }
  const err = confirmNoEscalation(c.rbac, user, ns, (role.rules ?? []) as PolicyRule[], { resource: plural, name });
  if (err) throw err;
}
