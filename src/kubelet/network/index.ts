// A node's pod network on the host: the CNI conflist containerd reads (bridge +
// host-local + portmap), IP forwarding, the cluster's bridge with the pods' gateway
// address, the cluster's nft table (masquerade for traffic leaving the cluster), and
// the routes that keep cluster traffic on the machine. Idempotent and removable:
//
//   const net = await setupNodeNetwork({ clusterName, podCIDR: '10.244.1.0/24',
//     clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', cniConfDir: layout.cniConfDir, log });
//   ... containerd's RunPodSandbox now gives pods addresses from podCIDR ...
//   await teardownNodeNetwork(sameSpec);   // after the pods are gone (resetContainerd)
//
// Routes (DESIGN.md: no cluster packet may ever reach the machine's default gateway):
//
//   <podCIDR>      dev <bridge>  (the kernel's, from the gateway address): this node's pods
//   <serviceCIDR>  dev <bridge>  metric M   src <gatewayIP>
//   unreachable <clusterCIDR>    metric M+1
//   unreachable <serviceCIDR>    metric M+1
//
// Why the service range goes to the bridge and not only to `unreachable`: the proxy
// rewrites ClusterIPs with DNAT in the nat output hook, but a locally generated packet is
// routed *before* that hook, and an unreachable route fails connect() with EHOSTUNREACH
// before nft ever sees the packet: the node's own processes (the kubelet's probes through
// a Service, `curl <ClusterIP>` on the node, hostNetwork pods) could never reach a Service.
// With a route via the bridge, the packet gets a route and a source address, the output
// DNAT rewrites it to a pod and the kernel routes it again to the pod. A ClusterIP that
// nothing rewrites (no such Service, no endpoints and the proxy not rejecting it) goes
// out on the bridge, where only this node's pods are: it dies there unanswered (ARP for an
// address no one holds), never reaching eth0. Pod traffic is DNATed in prerouting before
// its routing decision, so it never needs the route. The unreachable service route, one
// metric behind, takes over whenever the bridge is gone (its routes go with it), so the
// range never falls through to the default route. Other nodes' pod ranges inside
// clusterCIDR are `unreachable` until something routes them (multi-node: a more specific
// route per node, to be added by whoever owns node-to-node routing).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../containerd/supervisor.ts';
import type { CriRuntime } from '../cri/types.ts';
import { removeIdlePortmapChains } from './portmap.ts';
import { renderConflist, renderNftTable, resolveNodeNetwork, type NodeNetworkSpec, type ResolvedNodeNetwork } from './config.ts';

export { removeIdlePortmapChains } from './portmap.ts';
export { nodeNetworkNames, resolveNodeNetwork, renderConflist, renderNftTable, parseCidr, type NodeNetworkSpec, type ResolvedNodeNetwork } from './config.ts';

export interface NodeNetworkOptions extends NodeNetworkSpec {
  log?: Logger;
}

export interface NodeNetwork {
  bridge: string;
  gatewayIP: string;
  conflistPath: string;
  nftTable: string;
  /** What this call changed (empty when the host was already set up). */
  changed: string[];
}

function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new Error(`${cmd} not found: install the Debian package ${cmd === 'nft' ? 'nftables' : cmd === 'ip' ? 'iproute2' : cmd}`) : e),
    );
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
    p.stdin.on('error', () => {});
    p.stdin.end(input ?? '');
  });
}

interface IpRoute {
  type?: string;
  dst: string;
  dev?: string;
  metric?: number;
  prefsrc?: string;
}

/** The routes of the main table for exactly this prefix. */
async function routesFor(cidr: string): Promise<IpRoute[]> {
  const out = await run('ip', ['-j', 'route', 'show', 'table', 'main', 'exact', cidr]);
  const routes = JSON.parse(out || '[]') as IpRoute[];
  // ip prints "unreachable" routes with type set and no dev; unicast ones without a type
  return routes.map((r) => ({ ...r, dst: r.dst === 'default' ? '0.0.0.0/0' : r.dst.includes('/') ? r.dst : `${r.dst}/32` }));
}

/** The wanted routes: [args for `ip route replace`, matcher on `ip -j route` output]. */
function wantedRoutes(n: ResolvedNodeNetwork): { cidr: string; args: string[]; matches: (r: IpRoute) => boolean }[] {
  return [
    {
      cidr: n.serviceCIDR,
      args: [n.serviceCIDR, 'dev', n.bridge, 'metric', String(n.metric), 'src', n.gatewayIP],
      matches: (r) => (r.type ?? 'unicast') === 'unicast' && r.dev === n.bridge && (r.metric ?? 0) === n.metric && r.prefsrc === n.gatewayIP,
    },
    ...[n.clusterCIDR, n.serviceCIDR].map((cidr) => ({
      cidr,
      args: ['unreachable', cidr, 'metric', String(n.metric + 1)],
      matches: (r: IpRoute) => r.type === 'unreachable' && (r.metric ?? 0) === n.metric + 1,
    })),
  ];
}

interface IpLink {
  ifname: string;
  flags: string[];
  address?: string;
  linkinfo?: { info_kind?: string; info_data?: { nf_call_iptables?: number } };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

async function linkInfo(name: string): Promise<IpLink | undefined> {
  try {
    const out = await run('ip', ['-d', '-j', 'addr', 'show', 'dev', name]);
    return (JSON.parse(out) as IpLink[])[0];
  } catch (e) {
    if (/does not exist/.test((e as Error).message)) return undefined;
    throw e;
  }
}

async function ensureBridge(n: ResolvedNodeNetwork, changed: string[]): Promise<void> {
  // another interface holding this range (a cluster beside this one given the same podCIDR)
  const taken = (await routesFor(n.podCIDR)).find((r) => (r.type ?? 'unicast') === 'unicast' && r.dev && r.dev !== n.bridge);
  if (taken) throw new Error(`podCIDR ${n.podCIDR} is already routed via ${taken.dev}: another cluster or network on this machine uses it; give this cluster another pod range`);
  let link = await linkInfo(n.bridge);
  if (link && link.linkinfo?.info_kind !== 'bridge') throw new Error(`interface ${n.bridge} exists and is not a bridge (${link.linkinfo?.info_kind ?? 'unknown kind'})`);
  if (!link) {
    // nf_call_iptables: bridged pod-to-pod packets pass the nft hooks, so a Service reply
    // from a pod on the same bridge is un-DNATed by conntrack (what br_netfilter's
    // host-wide sysctl does, here for this bridge only); needs the br_netfilter module
    await run('ip', ['link', 'add', n.bridge, 'address', n.bridgeMAC, 'type', 'bridge', 'nf_call_iptables', '1']);
    changed.push(`bridge ${n.bridge} created`);
    link = (await linkInfo(n.bridge))!;
  }
  if (link.address !== n.bridgeMAC) {
    await run('ip', ['link', 'set', n.bridge, 'address', n.bridgeMAC]);
    changed.push(`${n.bridge} address ${n.bridgeMAC}`);
  }
  if (link.linkinfo?.info_data?.nf_call_iptables !== 1) {
    await run('ip', ['link', 'set', n.bridge, 'type', 'bridge', 'nf_call_iptables', '1']);
    changed.push(`${n.bridge} nf_call_iptables 1`);
  }
  const addrs = link.addr_info ?? [];
  if (!addrs.some((a) => a.family === 'inet' && a.local === n.gatewayIP && a.prefixlen === n.prefix)) {
    // another v4 address (a changed podCIDR): the bridge plugin refuses a bridge with a foreign gateway
    for (const a of addrs.filter((a) => a.family === 'inet')) await run('ip', ['addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', n.bridge]);
    await run('ip', ['addr', 'add', `${n.gatewayIP}/${n.prefix}`, 'dev', n.bridge]);
    changed.push(`address ${n.gatewayIP}/${n.prefix} on ${n.bridge}`);
  }
  if (!link.flags.includes('UP')) {
    await run('ip', ['link', 'set', n.bridge, 'up']);
    changed.push(`${n.bridge} up`);
  }
}

async function ensureNftTable(n: ResolvedNodeNetwork, changed: string[]): Promise<void> {
  const { script, digest } = renderNftTable(n);
  let current = '';
  try {
    // text, not -j: nft 1.0.6's JSON leaves the table's comment out
    current = await run('nft', ['list', 'table', 'inet', n.nftTable]);
  } catch (e) {
    if (!/No such file or directory/.test((e as Error).message)) throw e;
  }
  if (current.includes(`comment "skiff ${n.clusterName} pod network ${digest}"`)) return;
  await run('nft', ['-f', '-'], script);
  changed.push(`nft table inet ${n.nftTable}`);
}

function ensureFile(file: string, contents: string, changed: string[]): void {
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {}
  if (current === contents) return;
  mkdirSync(path.dirname(file), { recursive: true });
  // containerd watches the conf dir and loads *.conf, *.conflist, *.json: the temporary name is none of those
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, contents, { mode: 0o644 });
  renameSync(tmp, file);
  changed.push(`wrote ${file}`);
}

/** Sets up (or checks) this node's pod network; a second call on a set-up host changes nothing. */
export async function setupNodeNetwork(opts: NodeNetworkOptions): Promise<NodeNetwork> {
  const log = opts.log ?? (() => {});
  const n = resolveNodeNetwork(opts);
  const changed: string[] = [];

  if (readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() !== '1') {
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    changed.push('net.ipv4.ip_forward=1');
  }
  if (!existsSync('/proc/sys/net/bridge')) {
    // br_netfilter: Services answered by a pod on this node's bridge need it (see ensureBridge)
    await run('modprobe', ['br_netfilter']).then(
      () => changed.push('module br_netfilter loaded'),
      (e) => log('br_netfilter is not loaded and modprobe failed: a pod reaching a Service backed by a pod on the same node will not get answers', { error: (e as Error).message }),
    );
  }
  await ensureBridge(n, changed);
  await ensureNftTable(n, changed);
  for (const route of wantedRoutes(n)) {
    if ((await routesFor(route.cidr)).some(route.matches)) continue;
    await run('ip', ['route', 'replace', ...route.args]);
    changed.push(`route ${route.args.join(' ')}`);
  }
  mkdirSync(n.ipamDataDir, { recursive: true, mode: 0o700 });
  // last: containerd reports NetworkReady as soon as it sees a conflist
  ensureFile(n.conflistPath, renderConflist(n), changed);
  if (changed.length) log('node network set up', { cluster: n.clusterName, bridge: n.bridge, gateway: n.gatewayIP, podCIDR: n.podCIDR, changed });
  return { bridge: n.bridge, gatewayIP: n.gatewayIP, conflistPath: n.conflistPath, nftTable: n.nftTable, changed };
}

const gone = (e: unknown): boolean => /No such process|Cannot find device|does not exist|No such file or directory/.test(String((e as Error).message));

/**
 * Removes what setupNodeNetwork put on the host (ip_forward stays: other users of the
 * machine may rely on it). Call it after the cluster's pods are gone: their veths are
 * ports of the bridge and host-local's allocations are under the state dir. Idempotent.
 */
export async function teardownNodeNetwork(opts: NodeNetworkOptions): Promise<void> {
  const log = opts.log ?? (() => {});
  const n = resolveNodeNetwork(opts);
  rmSync(n.conflistPath, { force: true });
  // this cluster's routes by their metric, whatever podCIDR the setup had
  for (const cidr of new Set([n.clusterCIDR, n.serviceCIDR])) {
    for (const r of await routesFor(cidr)) {
      if (r.metric !== n.metric && r.metric !== n.metric + 1) continue;
      const type = r.type && r.type !== 'unicast' ? [r.type] : [];
      await run('ip', ['route', 'del', ...type, cidr, 'metric', String(r.metric)]).catch((e) => {
        if (!gone(e)) throw e;
      });
    }
  }
  await run('nft', ['delete', 'table', 'inet', n.nftTable]).catch((e) => {
    if (!gone(e)) throw e;
  });
  if (await linkInfo(n.bridge)) await run('ip', ['link', 'del', n.bridge]).catch((e) => {
    if (!gone(e)) throw e;
  });
  // portmap's shared iptables chains, once no pod on the machine maps a hostPort
  await removeIdlePortmapChains(log);
  rmSync(n.cniStateDir, { recursive: true, force: true });
  if (!opts.cniStateDir) {
    // /run/skiff/<cluster> and /run/skiff, only when empty: shared with containerd's state and other clusters
    for (const dir of [path.dirname(n.cniStateDir), path.dirname(path.dirname(n.cniStateDir))]) {
      try {
        rmdirSync(dir);
      } catch {}
    }
  }
  log('node network removed', { cluster: n.clusterName, bridge: n.bridge });
}

/**
 * The CNI conf dir a running containerd reads (its CRI plugin's cni.conf_dir, from
 * Status verbose info): where setupNodeNetwork's conflist must go when the node uses an
 * existing containerd (--container-runtime-endpoint) rather than skiff's own.
 */
export async function runtimeCniConfDir(cri: Pick<CriRuntime, 'status'>): Promise<string | undefined> {
  const { info } = await cri.status({ verbose: true });
  try {
    const dir = (JSON.parse(info.config ?? '{}') as { cni?: { confDir?: unknown } }).cni?.confDir;
    return typeof dir === 'string' && dir ? dir : undefined;
  } catch {
    return undefined;
  }
}
