// API discovery in both forms kubectl 1.32 reads: aggregated (apidiscovery.k8s.io/v2,
// chosen by the response Content-Type) and the legacy per-path documents.

import { createHash } from 'node:crypto';
import type { ResourceInfo, ResourceTable } from '../api/resources.ts';
import { subresourceKind, subresourceVerbs } from '../api/resources.ts';

export interface DiscoveryDoc {
  body: string;
  etag: string;
  contentType: string;
}

function doc(value: unknown, contentType = 'application/json'): DiscoveryDoc {
  const body = JSON.stringify(value);
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
  return { body, etag, contentType };
}

function storageVersionHash(r: ResourceInfo): string {
  return createHash('sha256')
    .update(`${r.group}/${r.version}/${r.kind}`)
    .digest()
    .subarray(0, 8)
    .toString('base64');
}

function aggregatedResource(r: ResourceInfo) {
  const out: Record<string, unknown> = {
    resource: r.plural,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: r.verbs,
  };
  if (r.shortNames.length) out.shortNames = r.shortNames;
  if (r.categories.length) out.categories = r.categories;
  if (r.subresources.length) {
    out.subresources = r.subresources.map((s) => ({
      subresource: s,
      responseKind: subresourceKind(r, s),
      verbs: subresourceVerbs(s),
    }));
  }
  return out;
}

function legacyResources(gv: { group: string; version: string; resources: ResourceInfo[] }) {
  const out: Record<string, unknown>[] = [];
  for (const r of [...gv.resources].sort((a, b) => a.plural.localeCompare(b.plural))) {
    const main: Record<string, unknown> = {
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
    };
    if (r.shortNames.length) main.shortNames = r.shortNames;
    if (r.categories.length) main.categories = r.categories;
    main.storageVersionHash = storageVersionHash(r);
    out.push(main);
    for (const s of r.subresources) {
      const k = subresourceKind(r, s);
      const sub: Record<string, unknown> = { name: `${r.plural}/${s}`, singularName: '', namespaced: r.namespaced };
      if (k.group !== r.group || k.version !== r.version) {
        sub.group = k.group;
        sub.version = k.version;
      }
      sub.kind = k.kind;
      sub.verbs = subresourceVerbs(s);
      out.push(sub);
    }
  }
  return out;
}

export const AGGREGATED_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
export const AGGREGATED_V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

/** Which aggregated form the client accepts, if any (the first one it lists wins). */
export function wantsAggregated(accept: string | undefined): 'v2' | 'v2beta1' | undefined {
  if (!accept) return undefined;
  for (const part of accept.split(',')) {
    const p = part.replace(/\s+/g, '');
    if (!p.includes('as=APIGroupDiscoveryList') || !p.includes('g=apidiscovery.k8s.io')) continue;
    if (p.includes('v=v2beta1')) return 'v2beta1';
    if (p.includes('v=v2')) return 'v2';
  }
  return undefined;
}

export class Discovery {
  private readonly table: ResourceTable;
  private readonly cache = new Map<string, DiscoveryDoc>();
  private readonly serverAddress: string;

  constructor(table: ResourceTable, serverAddress: string) {
    this.table = table;
    this.serverAddress = serverAddress;
  }

  /** Forgets every built document (the served resources changed). */
  invalidate(): void {
    this.cache.clear();
  }

  private memo(key: string, build: () => DiscoveryDoc): DiscoveryDoc {
    let d = this.cache.get(key);
    if (!d) this.cache.set(key, (d = build()));
    return d;
  }

  aggregated(which: 'core' | 'apis', version: 'v2' | 'v2beta1'): DiscoveryDoc {
    return this.memo(`agg:${which}:${version}`, () => {
      const groups = new Map<string, { group: string; versions: { version: string; resources: ResourceInfo[] }[] }>();
      for (const gv of this.table.groupVersions()) {
        if ((which === 'core') !== (gv.group === '')) continue;
        let g = groups.get(gv.group);
        if (!g) groups.set(gv.group, (g = { group: gv.group, versions: [] }));
        g.versions.push({ version: gv.version, resources: gv.resources });
      }
      const items = [...groups.values()].map((g) => ({
        metadata: g.group ? { name: g.group, creationTimestamp: null } : { creationTimestamp: null },
        versions: g.versions.map((v) => ({
          version: v.version,
          resources: [...v.resources].sort((a, b) => a.plural.localeCompare(b.plural)).map(aggregatedResource),
          freshness: 'Current',
        })),
      }));
      return doc(
        { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items },
        version === 'v2' ? AGGREGATED_V2 : AGGREGATED_V2BETA1,
      );
    });
  }

  apiVersions(): DiscoveryDoc {
    return this.memo('api', () =>
      doc({
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.serverAddress }],
      }),
    );
  }

  private groups() {
    const out: { name: string; versions: { groupVersion: string; version: string }[]; preferredVersion: { groupVersion: string; version: string } }[] = [];
    for (const gv of this.table.groupVersions()) {
      if (!gv.group) continue;
      let g = out.find((x) => x.name === gv.group);
      const v = { groupVersion: `${gv.group}/${gv.version}`, version: gv.version };
      if (!g) out.push((g = { name: gv.group, versions: [], preferredVersion: v }));
      g.versions.push(v);
    }
    return out;
  }

  apiGroupList(): DiscoveryDoc {
    return this.memo('apis', () => doc({ kind: 'APIGroupList', apiVersion: 'v1', groups: this.groups() }));
  }

  apiGroup(group: string): DiscoveryDoc | undefined {
    const g = this.groups().find((x) => x.name === group);
    if (!g) return undefined;
    return this.memo(`group:${group}`, () => doc({ kind: 'APIGroup', apiVersion: 'v1', ...g }));
  }

  resourceList(group: string, version: string): DiscoveryDoc | undefined {
    const gv = this.table.groupVersions().find((x) => x.group === group && x.version === version);
    if (!gv) return undefined;
    return this.memo(`rl:${group}/${version}`, () =>
      doc({
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: group ? `${group}/${version}` : version,
        resources: legacyResources(gv),
      }),
    );
  }
}
