// Authorization for the apiserver (--authorization-mode, upstream
// k8s.io/apiserver/pkg/authorization and pkg/kubeapiserver/authorizer): the modes
// AlwaysAllow, AlwaysDeny, Node and RBAC, in a union where the first Allow or Deny
// decides and every NoOpinion's reason is kept; plus impersonation, the bootstrap
// policy, the ClusterRole aggregation controller, escalation prevention and the access
// review resources. One `check` per request, after authentication.

import { StatusError } from '../../api/errors.ts';
import type { ResourceInfo } from '../../api/resources.ts';
import type { Registry } from '../registry.ts';
import type { Strategy } from '../strategies.ts';
import { forbiddenError, requestAttributes, type Attributes, type Authorizer, type AuthorizerResult, type UserInfo } from './attributes.ts';
import { impersonate, wantsImpersonation } from './impersonation.ts';
import { NodeAuthorizer, nodeIdentity } from './node.ts';
import { NODE_RULES } from './policy.ts';
import { RBACAuthorizer, type PolicyRule } from './rbac.ts';
import { cacheNodeGraphSource, cachePolicySource } from './source.ts';
import { reconcileBootstrapPolicy, startAggregationController } from './reconcile.ts';
import { checkBindingWrite, checkRoleWrite } from './escalation.ts';

export type AuthorizationMode = 'AlwaysAllow' | 'AlwaysDeny' | 'Node' | 'RBAC';
export const AUTHORIZATION_MODES: AuthorizationMode[] = ['AlwaysAllow', 'AlwaysDeny', 'Node', 'RBAC'];

/** Parses --authorization-mode ("Node,RBAC"); throws an Error with upstream's wording on bad values. */
export function parseAuthorizationModes(v: string): AuthorizationMode[] {
  const modes = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (modes.length === 0) throw new Error('at least one authorization-mode must be passed');
  const seen = new Set<string>();
  for (const m of modes) {
    if (!AUTHORIZATION_MODES.includes(m as AuthorizationMode)) throw new Error(`authorization-mode ${JSON.stringify(m)} is not a valid mode`);
    if (seen.has(m)) throw new Error(`authorization-mode ${JSON.stringify(m)} has mode specified more than once`);
    seen.add(m);
  }
  return modes as AuthorizationMode[];
}

const ALLOW: AuthorizerResult = { decision: 'Allow', reason: '' };

class Union implements Authorizer {
  private readonly parts: Authorizer[];
  constructor(parts: Authorizer[]) {
    this.parts = parts;
  }
  authorize(a: Attributes): AuthorizerResult {
    let reasons: string[] | undefined;
    for (const p of this.parts) {
      const d = p.authorize(a);
      if (d.decision !== 'NoOpinion') return d;
      if (d.reason) (reasons ??= []).push(d.reason);
    }
    return { decision: 'NoOpinion', reason: reasons ? reasons.join('\n') : '' };
  }
}

/** system:masters is allowed everything (upstream's privileged group authorizer in front of the union). */
const PRIVILEGED_GROUP = 'system:masters';

export interface RulesReview {
  resourceRules: { verbs: string[]; apiGroups?: string[]; resources?: string[]; resourceNames?: string[] }[];
  nonResourceRules: { verbs: string[]; nonResourceURLs?: string[] }[];
  incomplete: boolean;
  evaluationError?: string;
}

export class Authorization {
  readonly modes: AuthorizationMode[];
  readonly authorizer: Authorizer;
  readonly rbac: RBACAuthorizer | undefined;
  readonly node: NodeAuthorizer | undefined;
  private readonly registry: Registry;
  /** Only AlwaysAllow: requests skip attribute computation entirely. */
  private readonly allowAll: boolean;

  constructor(opts: { modes: AuthorizationMode[]; registry: Registry }) {
    this.modes = opts.modes;
    this.registry = opts.registry;
    const parts: Authorizer[] = [];
    let rbac: RBACAuthorizer | undefined;
    let node: NodeAuthorizer | undefined;
    for (const m of opts.modes) {
      switch (m) {
        case 'AlwaysAllow':
          parts.push({ authorize: () => ALLOW });
          break;
        case 'AlwaysDeny':
          parts.push({ authorize: () => ({ decision: 'Deny', reason: '' }) });
          break;
        case 'RBAC':
          parts.push((rbac = new RBACAuthorizer(cachePolicySource(opts.registry))));
          break;
        case 'Node':
          parts.push((node = new NodeAuthorizer({ source: cacheNodeGraphSource(opts.registry), nodeRules: NODE_RULES })));
          break;
      }
    }
    this.rbac = rbac;
    this.node = node;
    this.allowAll = opts.modes[0] === 'AlwaysAllow';
    const union = new Union(parts);
    this.authorizer = {
      authorize: (a) => (a.user.groups.includes(PRIVILEGED_GROUP) ? ALLOW : union.authorize(a)),
    };
  }

  /**
   * The request's effective user (impersonated when asked and allowed), or the Status to
   * answer with (400 for malformed impersonation, 403 when not authorized).
   */
  check(user: UserInfo, method: string, pathname: string, query: { get(name: string): string | null } | undefined, headers: Record<string, string | string[] | undefined>): UserInfo | StatusError {
    let effective = user;
    if (wantsImpersonation(headers)) {
      const r = impersonate(user, headers, this.authorizer);
      if (r instanceof StatusError) return r;
      effective = r;
    }
    if (this.allowAll) return effective;
    const a = requestAttributes(effective, method, pathname, query);
    const d = this.authorizer.authorize(a);
    if (d.decision === 'Allow') return effective;
    return forbiddenError(a, d.reason);
  }

  /** Authorizes one more verb on the same request (websocket exec/attach/portforward need create too). */
  checkVerb(user: UserInfo, pathname: string, verb: string): StatusError | undefined {
    if (this.allowAll) return undefined;
    const a = { ...requestAttributes(user, 'GET', pathname), verb };
    const d = this.authorizer.authorize(a);
    return d.decision === 'Allow' ? undefined : forbiddenError(a, d.reason);
  }

  /** SelfSubjectRulesReview: upstream's union RulesFor. */
  rulesFor(user: UserInfo, namespace: string): RulesReview {
    const out: RulesReview = { resourceRules: [], nonResourceRules: [], incomplete: false };
    const errors: string[] = [];
    const add = (rules: readonly PolicyRule[]) => {
      for (const r of rules) {
        if (r.resources?.length) {
          const rr: RulesReview['resourceRules'][number] = { verbs: r.verbs, apiGroups: r.apiGroups ?? [], resources: r.resources };
          if (r.resourceNames?.length) rr.resourceNames = r.resourceNames;
          out.resourceRules.push(rr);
        }
        if (r.nonResourceURLs?.length) out.nonResourceRules.push({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs });
      }
    };
    if (user.groups.includes(PRIVILEGED_GROUP) || this.allowAll) {
      add([{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, { verbs: ['*'], nonResourceURLs: ['*'] }]);
      return out;
    }
    for (const m of this.modes) {
      if (m === 'Node' && nodeIdentity(user) !== undefined) {
        out.incomplete = true;
        errors.push('node authorizer does not support user rule resolution');
      } else if (m === 'RBAC' && this.rbac) {
        const r = this.rbac.rulesFor(user, namespace);
        add(r.rules);
        if (r.errors.length) {
          out.incomplete = true;
          errors.push(...r.errors);
        }
      } else if (m === 'AlwaysAllow') {
        add([{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, { verbs: ['*'], nonResourceURLs: ['*'] }]);
      }
    }
    if (errors.length) out.evaluationError = errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`;
    return out;
  }

  /** Creates or tops up the bootstrap policy and starts the aggregation controller. */
  async start(opts: { signal: AbortSignal; log?: (msg: string, f?: Record<string, unknown>) => void }): Promise<void> {
    await reconcileBootstrapPolicy(this.registry);
    startAggregationController(this.registry, opts);
  }

  /**
   * Strategies with escalation prevention for the RBAC resources (only with the RBAC
   * authorizer, as upstream installs its policy-based storage only then).
   */
  wrapStrategies(base: (info: ResourceInfo) => Strategy): (info: ResourceInfo) => Strategy {
    const rbac = this.rbac;
    if (!rbac) return base;
    const check = { rbac, authorizer: this.authorizer };
    const source = cachePolicySourceLookup(this.registry);
    const wrapped = new Map<ResourceInfo, Strategy>();
    return (info) => {
      if (info.group !== 'rbac.authorization.k8s.io') return base(info);
      let s = wrapped.get(info);
      if (s) return s;
      const inner = base(info);
      const plural = info.plural as 'roles' | 'clusterroles' | 'rolebindings' | 'clusterrolebindings';
      const guard = (obj: Parameters<NonNullable<Strategy['validate']>>[0], user: UserInfo | undefined) => {
        if (plural === 'roles' || plural === 'clusterroles') checkRoleWrite(check, user, obj, plural);
        else checkBindingWrite(check, user, obj, plural, source);
      };
      s = {
        ...inner,
        validate: (obj, ctx) => {
          const errs = inner.validate?.(obj, ctx) ?? [];
          if (!errs.length) guard(obj, ctx.user);
          return errs;
        },
        validateUpdate: (next, old, ctx) => {
          const errs = inner.validateUpdate?.(next, old, ctx) ?? [];
          // As upstream, an update that grants nothing new (same rules; same roleRef and
          // subjects) is not checked: labels, owners and finalizers stay writable.
          const same =
            plural === 'roles' || plural === 'clusterroles'
              ? JSON.stringify(next.rules ?? []) === JSON.stringify(old.rules ?? []) && JSON.stringify(next.aggregationRule) === JSON.stringify(old.aggregationRule)
              : JSON.stringify(next.roleRef) === JSON.stringify(old.roleRef) && JSON.stringify(next.subjects ?? []) === JSON.stringify(old.subjects ?? []);
          if (!errs.length && !same) guard(next, ctx.user);
          return errs;
        },
      };
      wrapped.set(info, s);
      return s;
    };
  }
}

function cachePolicySourceLookup(registry: Registry) {
  const cr = registry.findInfo('rbac.authorization.k8s.io', 'clusterroles');
  const role = registry.findInfo('rbac.authorization.k8s.io', 'roles');
  return {
    clusterRole: (name: string) => registry.peek(cr, undefined, name)?.obj,
    role: (ns: string, name: string) => registry.peek(role, ns, name)?.obj,
  };
}


