// The pure half of a node's pod network: names that carry the cluster name, address
// arithmetic, the CNI conflist containerd reads and the nftables table. No system calls
// here (index.ts applies them), so all of it is unit-tested.

import { createHash } from 'node:crypto';
import path from 'node:path';

export interface Cidr {
  /** The network address as a 32-bit unsigned number. */
  base: number;
  prefix: number;
}

export function ipToNumber(ip: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) throw new Error(`${JSON.stringify(ip)} is not an IPv4 address`);
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) throw new Error(`${JSON.stringify(ip)} is not an IPv4 address`);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parses `a.b.c.d/n`; the address must be the network address (no host bits). */
export function parseCidr(cidr: string): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  if (!m || Number(m[2]) > 32) throw new Error(`${JSON.stringify(cidr)} is not an IPv4 CIDR (a.b.c.d/n)`);
  const prefix = Number(m[2]);
  const base = ipToNumber(m[1]);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  if (((base & mask) >>> 0) !== base) throw new Error(`${cidr}: host bits set (the network is ${numberToIp((base & mask) >>> 0)}/${prefix})`);
  return { base, prefix };
}

export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (inner.prefix < outer.prefix) return false;
  const mask = outer.prefix === 0 ? 0 : (~0 << (32 - outer.prefix)) >>> 0;
  return ((inner.base & mask) >>> 0) === outer.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

const CLUSTER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const hash = (s: string): string => createHash('sha256').update(s).digest('hex');

export interface NodeNetworkNames {
  /** `sk-<8 hex of sha256(cluster)>`: 11 characters, within IFNAMSIZ (15). */
  bridge: string;
  /**
   * The bridge's fixed MAC (locally administered, from the cluster name). A bridge without
   * one takes the lowest MAC of its ports, so the pods' gateway would change its MAC as
   * pods come and go, and their ARP caches would point at a stale one.
   */
  bridgeMAC: string;
  /** CNI network name and conflist file stem: `skiff-<cluster>`. */
  network: string;
  /** `skiff-<cluster>-net`, family inet. */
  nftTable: string;
  /**
   * Route metric marking this cluster's routes, so clusters sharing a range (told to) do
   * not replace or delete each other's: the service route via the bridge uses it, the
   * `unreachable` routes metric + 1 (a lower metric wins).
   */
  metric: number;
}

export function nodeNetworkNames(clusterName: string): NodeNetworkNames {
  if (!CLUSTER_NAME.test(clusterName)) throw new Error(`cluster name ${JSON.stringify(clusterName)}: must be a DNS label`);
  const h = hash(clusterName);
  return {
    bridge: `sk-${h.slice(0, 8)}`,
    bridgeMAC: `02:${h.slice(16, 26).match(/../g)!.join(':')}`,
    network: `skiff-${clusterName}`,
    nftTable: `skiff-${clusterName}-net`,
    // even numbers in [20000, 2^31): room for metric + 1, far above what DHCP/NetworkManager use
    metric: 20000 + (parseInt(h.slice(8, 15), 16) % 1_000_000_000) * 2,
  };
}

export interface NodeNetworkSpec {
  clusterName: string;
  /** This node's pod range (a /24 by default), inside clusterCIDR. */
  podCIDR: string;
  clusterCIDR: string;
  serviceCIDR: string;
  /** containerd's CNI conf_dir (ContainerdLayout.cniConfDir). */
  cniConfDir: string;
  /** CNI state (host-local's allocations): default /run/skiff/<cluster>/cni. */
  cniStateDir?: string;
  /**
   * Whether pods may reach destinations outside the cluster (forwarded out of the node,
   * masqueraded). Default true. False adds a forward drop for everything from the bridge
   * to another interface: what tests use so a pod can never send a packet off the machine.
   */
  allowEgress?: boolean;
}

export interface ResolvedNodeNetwork extends NodeNetworkNames {
  clusterName: string;
  podCIDR: string;
  clusterCIDR: string;
  serviceCIDR: string;
  /** The first address of podCIDR, on the bridge: the pods' default gateway. */
  gatewayIP: string;
  prefix: number;
  conflistPath: string;
  cniStateDir: string;
  /** host-local's dataDir. */
  ipamDataDir: string;
  allowEgress: boolean;
}

export function resolveNodeNetwork(spec: NodeNetworkSpec): ResolvedNodeNetwork {
  const names = nodeNetworkNames(spec.clusterName);
  const pod = parseCidr(spec.podCIDR);
  const cluster = parseCidr(spec.clusterCIDR);
  const service = parseCidr(spec.serviceCIDR);
  if (pod.prefix > 30) throw new Error(`podCIDR ${spec.podCIDR}: too small for a gateway and pods`);
  if (!cidrContains(cluster, pod)) throw new Error(`podCIDR ${spec.podCIDR} is not inside the cluster CIDR ${spec.clusterCIDR}`);
  if (cidrsOverlap(cluster, service)) throw new Error(`cluster CIDR ${spec.clusterCIDR} overlaps the service CIDR ${spec.serviceCIDR}`);
  const cniStateDir = path.resolve(spec.cniStateDir ?? path.join('/run/skiff', spec.clusterName, 'cni'));
  return {
    ...names,
    clusterName: spec.clusterName,
    podCIDR: spec.podCIDR,
    clusterCIDR: spec.clusterCIDR,
    serviceCIDR: spec.serviceCIDR,
    gatewayIP: numberToIp(pod.base + 1),
    prefix: pod.prefix,
    // "10-": ahead of anything a user drops in later; containerd loads the first by name
    conflistPath: path.join(path.resolve(spec.cniConfDir), `10-${names.network}.conflist`),
    cniStateDir,
    ipamDataDir: path.join(cniStateDir, 'networks'),
    allowEgress: spec.allowEgress ?? true,
  };
}

/**
 * The CNI network list containerd's CRI plugin loads from its conf_dir. The loopback
 * interface is containerd's own (go-cni's WithLoNetwork, the `loopback` binary from
 * bin_dir), so it is not listed. cniVersion 1.0.0: the newest Debian's plugins (1.1.1) speak.
 */
export function renderConflist(n: ResolvedNodeNetwork): string {
  const conf = {
    cniVersion: '1.0.0',
    name: n.network,
    plugins: [
      {
        type: 'bridge',
        bridge: n.bridge,
        isGateway: true,
        // skiff masquerades with its own nft table (index.ts); the plugin's iptables rules would be per-pod clutter
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: n.podCIDR, gateway: n.gatewayIP }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: n.ipamDataDir,
        },
      },
      // hostPort: DNAT from the node's addresses to the pod (runtime config portMappings)
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
  return JSON.stringify(conf, null, 2) + '\n';
}

/**
 * The cluster's own nft table (applied whole, atomically):
 *
 *  - postrouting: traffic from this node's pods to anything outside the cluster and
 *    service ranges, leaving through another interface than the bridge, is masqueraded
 *    (what the bridge plugin's ipMasq would do, without per-pod iptables chains).
 *    Pod-to-pod and pod-to-service traffic keeps its source address (Kubernetes' model).
 *  - forward: accepts traffic to and from the bridge, so a host whose other firewall
 *    tables only accept (Debian's default) forwards pod traffic. With allowEgress false,
 *    traffic from the bridge to another interface is dropped instead.
 *
 * The table's comment carries a hash of its contents: setup compares it and leaves an
 * already programmed table alone (a second setup changes nothing).
 */
export function renderNftTable(n: ResolvedNodeNetwork): { script: string; digest: string } {
  const body = [
    `  chain postrouting {`,
    `    type nat hook postrouting priority 100; policy accept;`,
    `    ip saddr ${n.podCIDR} ip daddr != { ${n.clusterCIDR}, ${n.serviceCIDR} } oifname != "${n.bridge}" masquerade`,
    `  }`,
    `  chain forward {`,
    `    type filter hook forward priority 0; policy accept;`,
    ...(n.allowEgress ? [] : [`    iifname "${n.bridge}" oifname != "${n.bridge}" drop`]),
    `    iifname "${n.bridge}" accept`,
    `    oifname "${n.bridge}" accept`,
    `  }`,
  ];
  const digest = hash(body.join('\n')).slice(0, 16);
  const t = `inet ${n.nftTable}`;
  // declare (so the delete never fails), delete, then create: one transaction
  const script = [`table ${t}`, `delete table ${t}`, `table ${t} {`, `  comment "skiff ${n.clusterName} pod network ${digest}"`, ...body, `}`, ''].join('\n');
  return { script, digest };
}
