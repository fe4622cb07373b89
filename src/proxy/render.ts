// The nftables ruleset for a set of ServicePorts, as one `nft -f` transaction that
// rebuilds the skiff table whole: flush the table (every rule), flush the maps and
// sets, declare everything wanted, and delete the chains and sets no longer wanted.
// nft applies the file atomically or not at all, so packets see the old rules or the
// new ones, never a mix. Dynamic sets (ClientIP affinity) are declared, not flushed,
// so affinities survive a resync. The layout follows kube-proxy's nftables mode:
//
//   nat prerouting/output ─► services:   daddr . proto . port vmap @service-ips
//                            nodeports:  fib daddr type local ► proto . port vmap @service-nodeports
//   service-ips ─► svc-…    (ClusterIP: random choice among endpoints, numgen + vmap)
//               ─► ext-…    (external IPs, LoadBalancer IPs, NodePorts: masquerade, then svc-/local-)
//   svc-/local-             (DNAT to numgen random mod N map { i : endpoint . port };
//                            with ClientIP affinity, per-endpoint ep-… chains and sets)
//   filter (before DNAT):   @no-endpoint-services / @no-endpoint-nodeports ► reject (or drop)
//   nat postrouting ─► masquerading: packets carrying the mark bit, and hairpin
//                      packets (source = DNAT destination, @hairpin), are masqueraded
//
// The table is inet, one for both IP families: family-specific maps carry a "6" suffix.
// Output is deterministic (sorted), so an unchanged world renders the same text.

import { createHash } from 'node:crypto';
import { categorize, type Family, type ProxyEndpoint, type ServicePort } from './model.ts';

export interface RenderOptions {
  /** The table's name (carries the cluster's name: skiff-<cluster>). */
  table: string;
  nodeName: string;
  /** Pod ranges: traffic to a ClusterIP from outside them is masqueraded (kube-proxy --cluster-cidr). */
  clusterCIDRs?: string[];
  /** Service ranges: traffic to an unallocated ClusterIP is dropped instead of leaving the node. */
  serviceCIDRs?: string[];
  /** NodePorts also answer on 127.0.0.1 for the node's own processes (needs route_localnet; default true). */
  localhostNodePorts?: boolean;
  /** Masquerade all traffic to services (kube-proxy --masquerade-all). */
  masqueradeAll?: boolean;
  /** The packet mark bit that asks for masquerade (default 14: 0x4000, as kube-proxy). */
  masqueradeBit?: number;
  comment?: string;
}

/** What a table holds (from `nft -j list table`, or what the last sync declared). */
export interface TableContents {
  chains?: Iterable<string>;
  sets?: Iterable<string>;
  maps?: Iterable<string>;
}

export interface Ruleset {
  /** Every chain, set and map the ruleset declares. */
  chains: Set<string>;
  sets: Set<string>;
  maps: Set<string>;
  /** The transaction, deleting the `stale` chains and sets the table has and this ruleset does not. */
  script(stale?: TableContents): string;
  stats: { servicePorts: number; endpoints: number; chains: number; rules: number; elements: number };
}

/** Base chains: name → [hook definition]. Priorities are numbers (dstnat is not defined for the output hook in inet). */
const BASE_CHAINS: [string, string][] = [
  ['nat-prerouting', 'type nat hook prerouting priority -100; policy accept;'],
  ['nat-output', 'type nat hook output priority -100; policy accept;'],
  ['nat-postrouting', 'type nat hook postrouting priority 100; policy accept;'],
  ['filter-input', 'type filter hook input priority -110; policy accept;'],
  ['filter-forward', 'type filter hook forward priority -110; policy accept;'],
  ['filter-output', 'type filter hook output priority -110; policy accept;'],
  ['filter-output-post-dnat', 'type filter hook output priority -90; policy accept;'],
];

const FIXED_CHAINS = ['services', 'nodeports-external', 'nodeports-local', 'masquerading', 'mark-for-masquerade', 'service-endpoints-check', 'nodeport-endpoints-check', 'cluster-ips-check', 'reject-chain'];

interface Fam {
  suffix: string;
  ip: 'ip' | 'ip6';
  addrType: 'ipv4_addr' | 'ipv6_addr';
  nfproto: 'ipv4' | 'ipv6';
  loopback: string;
}

const FAMS: Record<Family, Fam> = {
  4: { suffix: '', ip: 'ip', addrType: 'ipv4_addr', nfproto: 'ipv4', loopback: '127.0.0.0/8' },
  6: { suffix: '6', ip: 'ip6', addrType: 'ipv6_addr', nfproto: 'ipv6', loopback: '::1' },
};

function hash(s: string): string {
  return createHash('sha256').update(s).digest('base64url').replace(/[-_]/g, 'x').slice(0, 8).toUpperCase();
}

/** A readable, unique chain or set name: prefix, a hash of the identity, then the identity cut to fit. */
function objName(prefix: string, identity: string): string {
  const readable = identity.replace(/[^A-Za-z0-9/_.-]/g, '.');
  return `${prefix}-${hash(identity)}-${readable}`.slice(0, 200);
}

function spIdentity(sp: ServicePort): string {
  return `${sp.namespace}/${sp.name}/${sp.protocol}/${sp.portName}${sp.family === 6 ? '/v6' : ''}`;
}

function addrPort(f: Family, ip: string, port: number): string {
  return f === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function renderRuleset(servicePorts: ServicePort[], opts: RenderOptions): Ruleset {
  const T = `inet ${opts.table}`;
  const mark = `0x${(1 << (opts.masqueradeBit ?? 14)).toString(16)}`;
  const localhost = opts.localhostNodePorts ?? true;
  const chains = new Set<string>();
  const sets = new Set<string>();
  const maps = new Set<string>();
  const declare: string[] = [];
  const rules: string[] = [];
  const elements = new Map<string, string[]>();
  let nRules = 0;
  let nEndpoints = 0;
  const rule = (chain: string, r: string) => {
    rules.push(`add rule ${T} ${chain} ${r}`);
    nRules++;
  };
  const element = (set: string, e: string) => {
    let l = elements.get(set);
    if (!l) elements.set(set, (l = []));
    l.push(e);
  };
  const chain = (name: string, def?: string) => {
    if (chains.has(name)) return;
    chains.add(name);
    declare.push(def ? `add chain ${T} ${name} { ${def} }` : `add chain ${T} ${name}`);
  };

  for (const [name, def] of BASE_CHAINS) chain(name, def);
  for (const name of FIXED_CHAINS) chain(name);
  const staticSets: string[] = [];
  for (const f of [4, 6] as Family[]) {
    const F = FAMS[f];
    const mapDefs: [string, string][] = [
      [`service-ips${F.suffix}`, `type ${F.addrType} . inet_proto . inet_service : verdict;`],
      [`service-nodeports${F.suffix}`, 'type inet_proto . inet_service : verdict;'],
      [`no-endpoint-services${F.suffix}`, `type ${F.addrType} . inet_proto . inet_service : verdict;`],
      [`no-endpoint-nodeports${F.suffix}`, 'type inet_proto . inet_service : verdict;'],
    ];
    for (const [n, def] of mapDefs) {
      maps.add(n);
      staticSets.push(n);
      declare.push(`add map ${T} ${n} { ${def} }`);
    }
    const cips = `cluster-ips${F.suffix}`;
    sets.add(cips);
    staticSets.push(cips);
    declare.push(`add set ${T} ${cips} { type ${F.addrType}; }`);
    const hp = `hairpin${F.suffix}`;
    sets.add(hp);
    staticSets.push(hp);
    declare.push(`add set ${T} ${hp} { type ${F.addrType} . ${F.addrType}; }`);
  }
  for (const n of staticSets) declare.push(`flush ${maps.has(n) ? 'map' : 'set'} ${T} ${n}`);

  // Hooks into the fixed chains.
  rule('nat-prerouting', 'jump services');
  rule('nat-prerouting', 'jump nodeports-external');
  rule('nat-output', 'jump services');
  rule('nat-output', 'jump nodeports-local');
  rule('nat-postrouting', 'jump masquerading');
  if (localhost) {
    // route_localnet lets 127.0.0.1 be routed; packets from outside addressed to it stay
    // martians (CVE-2020-8558).
    rule('filter-input', 'ct state new iifname != "lo" ip daddr 127.0.0.0/8 drop');
  }
  rule('filter-input', 'ct state new jump nodeport-endpoints-check');
  rule('filter-input', 'ct state new jump service-endpoints-check');
  rule('filter-forward', 'ct state new jump service-endpoints-check');
  rule('filter-forward', 'ct state new jump cluster-ips-check');
  rule('filter-output', 'ct state new jump service-endpoints-check');
  rule('filter-output-post-dnat', 'ct state new jump cluster-ips-check');
  rule('masquerading', 'ct status dnat ip saddr . ip daddr @hairpin masquerade fully-random');
  rule('masquerading', 'ct status dnat ip6 saddr . ip6 daddr @hairpin6 masquerade fully-random');
  rule('masquerading', `meta mark & ${mark} == 0 return`);
  rule('masquerading', `meta mark set meta mark ^ ${mark}`);
  rule('masquerading', 'masquerade fully-random');
  rule('mark-for-masquerade', `meta mark set meta mark | ${mark}`);
  rule('reject-chain', 'meta l4proto tcp reject with tcp reset');
  rule('reject-chain', 'reject');
  for (const f of [4, 6] as Family[]) {
    const F = FAMS[f];
    rule('services', `${F.ip} daddr . meta l4proto . th dport vmap @service-ips${F.suffix}`);
    rule('nodeports-external', `meta nfproto ${F.nfproto} fib daddr type local ${F.ip} daddr != ${F.loopback} meta l4proto . th dport vmap @service-nodeports${F.suffix}`);
    rule('nodeports-local', `meta nfproto ${F.nfproto} fib daddr type local ${localhost && f === 4 ? '' : `${F.ip} daddr != ${F.loopback} `}meta l4proto . th dport vmap @service-nodeports${F.suffix}`);
    rule('service-endpoints-check', `${F.ip} daddr . meta l4proto . th dport vmap @no-endpoint-services${F.suffix}`);
    rule('nodeport-endpoints-check', `meta nfproto ${F.nfproto} fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports${F.suffix}`);
    rule('cluster-ips-check', `${F.ip} daddr @cluster-ips${F.suffix} goto reject-chain`);
  }
  for (const cidr of opts.serviceCIDRs ?? []) {
    const ip = cidr.includes(':') ? 'ip6' : 'ip';
    rule('cluster-ips-check', `${ip} daddr ${cidr} drop`);
  }

  const sorted = [...servicePorts].sort((a, b) => {
    const ka = spIdentity(a);
    const kb = spIdentity(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  for (const sp of sorted) {
    const F = FAMS[sp.family];
    const id = spIdentity(sp);
    const proto = sp.protocol;
    element(`cluster-ips${F.suffix}`, sp.clusterIP);
    const { cluster, local } = categorize(sp.endpoints, opts.nodeName);
    const internal = sp.internalLocal ? local : cluster;
    const external = sp.externalLocal ? local : cluster;
    const hasExternal = sp.nodePort > 0 || sp.externalIPs.length > 0 || sp.loadBalancerIPs.length > 0;

    // Hairpin (an endpoint reaching itself through the service) is masqueraded in
    // postrouting by address pair, so plain services need no per-endpoint chain.
    const seenEp = new Set<string>();
    for (const ep of [...cluster, ...local]) {
      const k = `${ep.ip}/${ep.port}`;
      if (seenEp.has(k)) continue;
      seenEp.add(k);
      nEndpoints++;
      element(`hairpin${F.suffix}`, `${ep.ip} . ${ep.ip}`);
    }
    // ClientIP affinity needs a chain per endpoint: remember the client, then DNAT.
    const epChain = new Map<string, string>();
    const affSet = new Map<string, string>();
    if (sp.affinitySeconds > 0) {
      for (const ep of [...cluster, ...local]) {
        const k = `${ep.ip}/${ep.port}`;
        if (epChain.has(k)) continue;
        const name = objName('ep', `${id}__${k}`);
        epChain.set(k, name);
        chain(name);
        const set = objName('aff', `${id}__${k}__${sp.affinitySeconds}`);
        affSet.set(k, set);
        sets.add(set);
        declare.push(`add set ${T} ${set} { type ${F.addrType}; flags dynamic,timeout; timeout ${sp.affinitySeconds}s; }`);
        rule(name, `update @${set} { ${F.ip} saddr }`);
        rule(name, `meta l4proto ${proto} dnat ${F.ip} to ${addrPort(sp.family, ep.ip, ep.port)}`);
      }
    }
    const selectChain = (prefix: string, eps: ProxyEndpoint[], masqOffCluster: boolean): string => {
      const name = objName(prefix, id);
      chain(name);
      if (opts.masqueradeAll) rule(name, 'jump mark-for-masquerade');
      else if (masqOffCluster) {
        const cidrs = (opts.clusterCIDRs ?? []).filter((c) => c.includes(':') === (sp.family === 6));
        if (cidrs.length) rule(name, `${F.ip} daddr ${sp.clusterIP} ${F.ip} saddr != { ${cidrs.join(', ')} } jump mark-for-masquerade`);
      }
      if (sp.affinitySeconds > 0) {
        for (const ep of eps) rule(name, `${F.ip} saddr @${affSet.get(`${ep.ip}/${ep.port}`)} goto ${epChain.get(`${ep.ip}/${ep.port}`)}`);
        const targets = eps.map((ep) => epChain.get(`${ep.ip}/${ep.port}`)!);
        if (targets.length === 1) rule(name, `goto ${targets[0]}`);
        else rule(name, `numgen random mod ${targets.length} vmap { ${targets.map((t, i) => `${i} : goto ${t}`).join(', ')} }`);
      } else if (eps.length === 1) {
        rule(name, `meta l4proto ${proto} dnat ${F.ip} to ${addrPort(sp.family, eps[0].ip, eps[0].port)}`);
      } else {
        // Random choice among the endpoints: numgen indexes an anonymous map of address . port.
        rule(name, `meta l4proto ${proto} dnat ${F.ip} to numgen random mod ${eps.length} map { ${eps.map((ep, i) => `${i} : ${ep.ip} . ${ep.port}`).join(', ')} }`);
      }
      return name;
    };
    const svcChain = cluster.length ? selectChain('svc', cluster, !sp.internalLocal) : undefined;
    const localChain = local.length && (sp.internalLocal || (sp.externalLocal && hasExternal)) ? selectChain('local', local, sp.internalLocal) : undefined;

    // ClusterIP.
    const key = `${sp.clusterIP} . ${proto} . ${sp.port}`;
    if (internal.length) element(`service-ips${F.suffix}`, `${key} : goto ${sp.internalLocal ? localChain : svcChain}`);
    else element(`no-endpoint-services${F.suffix}`, `${key} : ${sp.internalLocal && cluster.length ? 'drop' : 'goto reject-chain'}`);

    // External IPs, LoadBalancer IPs and the NodePort.
    if (!hasExternal) continue;
    const externalIPs = [...new Set([...sp.externalIPs, ...sp.loadBalancerIPs])].sort();
    if (external.length) {
      const ext = objName('ext', id);
      chain(ext);
      if (!sp.externalLocal) {
        rule(ext, 'jump mark-for-masquerade');
        rule(ext, `goto ${svcChain}`);
      } else {
        // Local policy: keep the client's address, deliver to this node's endpoints only;
        // the node's own traffic and pods' traffic may use any endpoint.
        if (svcChain) {
          rule(ext, 'fib saddr type local jump mark-for-masquerade');
          rule(ext, `fib saddr type local goto ${svcChain}`);
          const cidrs = (opts.clusterCIDRs ?? []).filter((c) => c.includes(':') === (sp.family === 6));
          if (cidrs.length) rule(ext, `${F.ip} saddr { ${cidrs.join(', ')} } goto ${svcChain}`);
        }
        rule(ext, `goto ${localChain}`);
      }
      for (const ip of externalIPs) element(`service-ips${F.suffix}`, `${ip} . ${proto} . ${sp.port} : goto ${ext}`);
      if (sp.nodePort) element(`service-nodeports${F.suffix}`, `${proto} . ${sp.nodePort} : goto ${ext}`);
    } else {
      // No endpoint for external traffic: refuse, or drop when endpoints exist elsewhere
      // (Local policy) so a load balancer's health check moves traffic to another node.
      const verdict = sp.externalLocal && cluster.length ? 'drop' : 'goto reject-chain';
      for (const ip of externalIPs) element(`no-endpoint-services${F.suffix}`, `${ip} . ${proto} . ${sp.port} : ${verdict}`);
      if (sp.nodePort) element(`no-endpoint-nodeports${F.suffix}`, `${proto} . ${sp.nodePort} : ${verdict}`);
    }
  }

  let nElements = 0;
  const elementLines: string[] = [];
  for (const [set, list] of [...elements.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const uniq = [...new Set(list)];
    nElements += uniq.length;
    for (let i = 0; i < uniq.length; i += 500) elementLines.push(`add element ${T} ${set} { ${uniq.slice(i, i + 500).join(', ')} }`);
  }

  const head = [`add table ${T} { comment "${(opts.comment ?? 'skiff service proxy').replace(/"/g, "'")}"; }`, `flush table ${T}`];
  return {
    chains,
    sets,
    maps,
    stats: { servicePorts: servicePorts.length, endpoints: nEndpoints, chains: chains.size, rules: nRules, elements: nElements },
    script(stale = {}) {
      const del: string[] = [];
      for (const c of stale.chains ?? []) if (!chains.has(c)) del.push(`delete chain ${T} ${c}`);
      for (const s of stale.sets ?? []) if (!sets.has(s)) del.push(`delete set ${T} ${s}`);
      for (const m of stale.maps ?? []) if (!maps.has(m)) del.push(`delete map ${T} ${m}`);
      return [...head, ...declare, ...rules, ...elementLines, ...del, ''].join('\n');
    },
  };
}

/** A transaction that removes the table (idempotent: creates it first if missing). */
export function removeScript(table: string): string {
  return `add table inet ${table}\ndelete table inet ${table}\n`;
}
