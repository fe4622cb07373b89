// Bootstrap policy reconciliation (upstream's rbac/bootstrap-roles post-start hook) and
// the ClusterRole aggregation controller (upstream pkg/controller/clusterroleaggregation).
// Reconciliation at every start: missing objects are created; objects annotated
// rbac.authorization.kubernetes.io/autoupdate=true get the missing rules (roles) or
// subjects (bindings), the labels and annotations, and the aggregationRule added.

import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import { labelSelectorFromAPI } from '../../api/selectors.ts';
import type { Registry } from '../registry.ts';
import { AUTOUPDATE_ANNOTATION, bootstrapClusterRoleBindings, bootstrapClusterRoles, bootstrapRoleBindings, bootstrapRoles } from './policy.ts';
import { uncovered } from './escalation.ts';
import type { PolicyRule, Subject } from './rbac.ts';

const RBAC = 'rbac.authorization.k8s.io';
const CTX = { internal: true, fieldManager: 'kube-apiserver' };

function sameSubject(a: Subject, b: Subject): boolean {
  return a.kind === b.kind && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '');
}

async function reconcileOne(registry: Registry, plural: string, want: KObject): Promise<void> {
  const info = registry.findInfo(RBAC, plural);
  const ns = want.metadata.namespace;
  const cur = registry.peek(info, ns, want.metadata.name!)?.obj;
  if (!cur) {
    try {
      await registry.create(info, ns, structuredClone(want), CTX);
    } catch (e) {
      if (!isStatusError(e) || e.code !== 409) throw e;
    }
    return;
  }
  if (cur.metadata.annotations?.[AUTOUPDATE_ANNOTATION] === 'false') return;
  const isRole = plural === 'clusterroles' || plural === 'roles';
  const missingRules = isRole ? uncovered((cur.rules ?? []) as PolicyRule[], (want.rules ?? []) as PolicyRule[]) : [];
  const missingSubjects = isRole ? [] : ((want.subjects ?? []) as Subject[]).filter((s) => !((cur.subjects ?? []) as Subject[]).some((c) => sameSubject(c, s)));
  const labels = { ...(want.metadata.labels ?? {}), ...(cur.metadata.labels ?? {}) };
  const annotations = { ...(want.metadata.annotations ?? {}), ...(cur.metadata.annotations ?? {}) };
  const metaChanged =
    Object.keys(labels).length !== Object.keys(cur.metadata.labels ?? {}).length ||
    Object.keys(annotations).length !== Object.keys(cur.metadata.annotations ?? {}).length;
  const aggChanged = plural === 'clusterroles' && want.aggregationRule && !cur.aggregationRule;
  if (!missingRules.length && !missingSubjects.length && !metaChanged && !aggChanged) return;
  await registry.update(
    info,
    ns,
    want.metadata.name!,
    (o) => {
      o.metadata.labels = { ...(want.metadata.labels ?? {}), ...(o.metadata.labels ?? {}) };
      o.metadata.annotations = { ...(want.metadata.annotations ?? {}), ...(o.metadata.annotations ?? {}) };
      if (isRole) {
        // As upstream's computeReconciledRole: the uncovered pieces of the desired rules are
        // appended (aggregated roles are left to the aggregation controller).
        if (!(plural === 'clusterroles' && (o.aggregationRule ?? want.aggregationRule))) {
          const miss = uncovered((o.rules ?? []) as PolicyRule[], (want.rules ?? []) as PolicyRule[]);
          if (miss.length) o.rules = [...(o.rules ?? []), ...miss];
        }
        if (plural === 'clusterroles' && want.aggregationRule && !o.aggregationRule) o.aggregationRule = want.aggregationRule;
      } else {
        const subjects = (o.subjects ?? []) as Subject[];
        for (const s of (want.subjects ?? []) as Subject[]) if (!subjects.some((c) => sameSubject(c, s))) subjects.push(s);
        if (subjects.length) o.subjects = subjects;
      }
      return o;
    },
    CTX,
  );
}

/** Creates or tops up the bootstrap policy. Idempotent. */
export async function reconcileBootstrapPolicy(registry: Registry): Promise<void> {
  for (const o of bootstrapClusterRoles()) await reconcileOne(registry, 'clusterroles', o);
  for (const o of bootstrapClusterRoleBindings()) await reconcileOne(registry, 'clusterrolebindings', o);
  for (const o of bootstrapRoles()) await reconcileOne(registry, 'roles', o);
  for (const o of bootstrapRoleBindings()) await reconcileOne(registry, 'rolebindings', o);
}

function ruleKey(r: PolicyRule): string {
  return JSON.stringify([r.verbs, r.apiGroups ?? null, r.resources ?? null, r.resourceNames ?? null, r.nonResourceURLs ?? null]);
}

/** The rules an aggregated ClusterRole should have: those of every selected role (by name), without duplicates. */
export function aggregatedRules(role: KObject, all: KObject[]): PolicyRule[] {
  const selectors = ((role.aggregationRule?.clusterRoleSelectors ?? []) as unknown[]).map((s) => labelSelectorFromAPI(s as never));
  const matching = all
    .filter((o) => o.metadata.name !== role.metadata.name && selectors.some((s) => s.matches(o.metadata.labels)))
    .sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
  const out: PolicyRule[] = [];
  const seen = new Set<string>();
  for (const o of matching) {
    for (const r of (o.rules ?? []) as PolicyRule[]) {
      const k = ruleKey(r);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(r);
    }
  }
  return out;
}

/**
 * The ClusterRole aggregation controller: whenever a ClusterRole changes, every role
 * with an aggregationRule gets the rules of the roles its selectors pick. Level-triggered
 * (recomputes all from the cache) and idempotent (writes only differences).
 */
export function startAggregationController(registry: Registry, opts: { signal: AbortSignal; log?: (msg: string, f?: Record<string, unknown>) => void }): void {
  const info = registry.findInfo(RBAC, 'clusterroles');
  const rc = registry.cache.resource(info);
  let scheduled = false;
  let running = false;
  let again = false;
  const sync = async () => {
    scheduled = false;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      const all = [...rc.items.values()].map((c) => c.obj);
      for (const role of all) {
        if (!role.aggregationRule) continue;
        const want = aggregatedRules(role, all);
        if (JSON.stringify(want) === JSON.stringify(role.rules ?? [])) continue;
        try {
          await registry.update(
            info,
            undefined,
            role.metadata.name!,
            (o) => {
              o.rules = want;
              return o;
            },
            CTX,
          );
        } catch (e) {
          opts.log?.('clusterrole aggregation failed', { name: role.metadata.name, error: String(e) });
        }
      }
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    if (scheduled || opts.signal.aborted) return;
    scheduled = true;
    setImmediate(() => void sync());
  };
  const watcher = { afterRevision: 0, matches: () => true, deliver: schedule };
  rc.watchers.add(watcher);
  opts.signal.addEventListener('abort', () => rc.watchers.delete(watcher), { once: true });
  schedule();
}
