// The authorizers' view of the watch cache: RBAC objects and pods read straight from
// the cache's maps, and change notifications from a cache watcher (called synchronously
// as the cache applies each event, before any later request is served from it).

import type { KObject } from '../../api/object.ts';
import type { WatchCache } from '../cache.ts';
import type { Registry } from '../registry.ts';
import type { NodeGraphSource } from './node.ts';
import type { PolicySource } from './rbac.ts';

function onChange(cache: WatchCache, registry: Registry, group: string, plural: string, fn: (prev: KObject | undefined, cur: KObject | undefined) => void): void {
  const rc = cache.resource(registry.findInfo(group, plural));
  rc.watchers.add({
    afterRevision: 0,
    matches: () => true,
    // dispatch() reports the type after filtering; with a match-all filter it is the event's own.
    deliver: (type, obj) => {
      if (type === 'DELETED') fn(obj.obj, undefined);
      else fn(undefined, obj.obj);
    },
  });
}

export function cachePolicySource(registry: Registry): PolicySource {
  const cache = registry.cache;
  const cr = cache.resource(registry.findInfo('rbac.authorization.k8s.io', 'clusterroles'));
  const role = cache.resource(registry.findInfo('rbac.authorization.k8s.io', 'roles'));
  const crb = cache.resource(registry.findInfo('rbac.authorization.k8s.io', 'clusterrolebindings'));
  const rb = cache.resource(registry.findInfo('rbac.authorization.k8s.io', 'rolebindings'));
  const crPrefix = cr.info.storagePrefix + '/';
  const rolePrefix = role.info.storagePrefix + '/';
  const listeners: (() => void)[] = [];
  const fire = () => {
    for (const l of listeners) l();
  };
  for (const plural of ['clusterroles', 'roles', 'clusterrolebindings', 'rolebindings']) onChange(cache, registry, 'rbac.authorization.k8s.io', plural, fire);
  return {
    clusterRole: (name) => cr.items.get(crPrefix + name)?.obj,
    role: (ns, name) => role.items.get(`${rolePrefix}${ns}/${name}`)?.obj,
    *clusterRoleBindings() {
      for (const c of crb.items.values()) yield c.obj;
    },
    *roleBindings() {
      for (const c of rb.items.values()) yield c.obj;
    },
    onPolicyChanged: (fn) => listeners.push(fn),
  };
}

export function cacheNodeGraphSource(registry: Registry): NodeGraphSource {
  const cache = registry.cache;
  const pods = registry.findInfo('', 'pods');
  const pvcs = registry.findInfo('', 'persistentvolumeclaims');
  const podItems = cache.resource(pods).items;
  // The cache hands over the new object only; the previous one is remembered per key.
  const last = new Map<string, KObject>();
  const key = (o: KObject) => `${o.metadata.namespace}/${o.metadata.name}`;
  for (const c of podItems.values()) last.set(key(c.obj), c.obj);
  return {
    pod: (ns, name) => registry.peek(pods, ns, name)?.obj,
    pvc: (ns, name) => registry.peek(pvcs, ns, name)?.obj,
    pods: () => [...last.values()],
    onPodChanged(fn) {
      onChange(cache, registry, '', 'pods', (gone, cur) => {
        const obj = (cur ?? gone)!;
        const k = key(obj);
        const prev = last.get(k);
        if (cur) last.set(k, cur);
        else last.delete(k);
        fn(prev, cur);
      });
    },
  };
}
