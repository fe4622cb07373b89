// `skiff agent` without --sim: this machine as a real node of a control plane that runs
// elsewhere (a k3s agent's job): the kubelet on containerd (skiff's own, supervised, or an
// existing one) and the nftables service proxy. Cluster DNS is not here: it runs on the
// server's node, and pods reach it through the kube-dns ClusterIP the proxy programs.
//
//   skiff agent --kubeconfig F [--data-dir D] [--node-name N] [--node-ip IP]
//       [--container-runtime-endpoint unix:///path] [--pod-manifest-path DIR]
//       [--cluster-cidr CIDR] [--service-cidr CIDR] [--cluster-dns IP] [--kubelet-port P]
//
// Identity: the kubeconfig's user, for the kubelet and the proxy alike (bootstrap tokens
// and TLS bootstrapping, which give each node system:node:<name>, are later work). The
// kubelet API requires client certificates signed by the kubeconfig's CA
// (certificate-authority-data): the apiserver's kubelet-client certificate is.
//
// Host names (bridge, nft tables, containerd socket /run/skiff/<cluster>/) carry the
// kubeconfig's cluster name (skiff-<name> for skiff's kubeconfigs), as `skiff up --name
// <name>` on another machine would name them. The node lives under <data-dir>/node
// (images/ for airgap archives, containerd, kubelet/, node-state.json) as under skiff up,
// so `skiff reset --data-dir D` removes an agent's footprint too.
//
// The node flags shared with `skiff up` (nodeFlags) are validated here.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname, homedir } from 'node:os';
import { isIP } from 'node:net';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { kubeconfigClient } from '../client/https.ts';
import type { Logger } from '../client/util.ts';
import { checkPrerequisites, installCommand, type Check } from '../kubelet/containerd/prereqs.ts';
import { cidrsOverlap, parseCidr } from '../kubelet/network/config.ts';
import { startRealNode } from '../kubelet/node.ts';
import { createLogger } from './log.ts';
import { clusterDNSFor, startNodeProxy } from './node-services.ts';

/** The flags of this machine's node, shared by `skiff up` and `skiff agent` (upstream kubelet names where they exist). */
export const NODE_FLAGS = {
  'node-name': { type: 'string' },
  'hostname-override': { type: 'string' },
  'node-ip': { type: 'string' },
  'container-runtime-endpoint': { type: 'string' },
  'pod-manifest-path': { type: 'string' },
  'kubelet-port': { type: 'string' },
} as const;

export const AGENT_NODE_FLAGS = {
  ...NODE_FLAGS,
  'data-dir': { type: 'string' },
  'cluster-cidr': { type: 'string' },
  'service-cidr': { type: 'string' },
  'cluster-dns': { type: 'string' },
  'no-pod-egress': { type: 'boolean' },
} as const;

export interface NodeFlags {
  nodeName: string;
  nodeIP?: string;
  containerRuntimeEndpoint?: string;
  podManifestPath?: string;
  /** The kubelet API's port (10250; 0 picks a free one). */
  kubeletPort: number;
}

type NodeFlagValues = { [K in keyof typeof NODE_FLAGS]?: string };

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The node flags, checked: the node name (lower-cased, as the kubelet does with --hostname-override), IP, runtime socket, manifest dir, port. */
export function nodeFlags(values: NodeFlagValues): NodeFlags {
  const given = values['node-name'] ?? values['hostname-override'];
  if (values['node-name'] !== undefined && values['hostname-override'] !== undefined && values['node-name'].trim().toLowerCase() !== values['hostname-override'].trim().toLowerCase()) {
    throw new Error(`--node-name ${values['node-name']} and --hostname-override ${values['hostname-override']} disagree: give one`);
  }
  const nodeName = (given ?? hostname()).trim().toLowerCase();
  if (nodeName.length > 253 || !DNS_SUBDOMAIN.test(nodeName)) {
    throw new Error(`${given !== undefined ? '--node-name' : 'the hostname'} ${JSON.stringify(nodeName)}: a node name must be a lowercase RFC 1123 subdomain (letters, digits, '-' and '.', at most 253)${given === undefined ? ': pass --node-name' : ''}`);
  }
  const portText = values['kubelet-port'] ?? '10250';
  const kubeletPort = Number(portText);
  if (!/^\d+$/.test(portText) || kubeletPort > 65535) throw new Error(`--kubelet-port ${JSON.stringify(portText)}: not a port (0-65535; 0 picks a free one)`);
  const out: NodeFlags = { nodeName, kubeletPort };
  const ip = values['node-ip'];
  if (ip !== undefined) {
    if (isIP(ip) !== 4) throw new Error(`--node-ip ${JSON.stringify(ip)}: not an IPv4 address`);
    out.nodeIP = ip;
  }
  const ep = values['container-runtime-endpoint'];
  if (ep !== undefined) {
    const m = /^unix:\/\/(\/.+)$/.exec(ep);
    if (!m) throw new Error(`--container-runtime-endpoint ${JSON.stringify(ep)}: expected unix:///path/to/containerd.sock`);
    let socket = false;
    try {
      socket = statSync(m[1]).isSocket();
    } catch {
      throw new Error(`--container-runtime-endpoint ${ep}: no socket at ${m[1]} (is containerd running?)`);
    }
    if (!socket) throw new Error(`--container-runtime-endpoint ${ep}: ${m[1]} is not a socket`);
    out.containerRuntimeEndpoint = ep;
  }
  const manifests = values['pod-manifest-path'];
  if (manifests !== undefined) {
    const dir = path.resolve(manifests);
    // A directory that does not exist yet is fine (the kubelet picks it up once it does), as upstream.
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`--pod-manifest-path ${manifests}: not a directory`);
    out.podManifestPath = dir;
  }
  return out;
}

/** What `skiff doctor` finds missing for a node; an existing containerd brings its own binaries. */
export function failedNodeChecks(externalRuntime: boolean, checks: Check[] = checkPrerequisites()): Check[] {
  const runtimeChecks = new Set(['containerd', 'ctr', 'containerd-shim-runc-v2', 'runc']);
  return checks.filter((c) => c.status === 'fail' && !(externalRuntime && runtimeChecks.has(c.name)));
}

function cidr(flag: string, v: string): string {
  try {
    parseCidr(v);
  } catch (e) {
    throw new Error(`${flag}: ${(e as Error).message}`);
  }
  return v;
}

/**
 * The kubeconfig's current-context cluster name as a DNS label (what host names are built
 * from): lower-cased, other characters turned into '-', at most 40 characters.
 */
export function kubeconfigClusterName(text: string): string {
  const config = parseDocument(text).toJS() as { 'current-context'?: string; contexts?: { name?: string; context?: { cluster?: string } }[] } | null;
  const current = config?.['current-context'];
  const name = config?.contexts?.find((c) => c?.name === current)?.context?.cluster ?? '';
  const label = String(name).toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 40).replace(/^-+|-+$/g, '');
  return label || 'skiff';
}

export interface AgentConfig extends NodeFlags {
  kubeconfig: string;
  dataDir: string;
  clusterName: string;
  clusterCIDR: string;
  serviceCIDR: string;
  clusterDNS: string;
  allowEgress: boolean;
}

type AgentValues = { [K in keyof typeof AGENT_NODE_FLAGS]?: (typeof AGENT_NODE_FLAGS)[K]['type'] extends 'boolean' ? boolean : string } & { kubeconfig?: string };

/** Every agent flag checked, with its default, before anything starts. */
export function agentConfig(values: AgentValues, defaultDataDir: string): AgentConfig {
  const node = nodeFlags(values);
  const kubeconfig = path.resolve(values.kubeconfig ?? process.env.KUBECONFIG?.split(path.delimiter)[0] ?? path.join(homedir(), '.kube', 'config'));
  let text: string;
  try {
    text = readFileSync(kubeconfig, 'utf8');
  } catch (e) {
    throw new Error(`--kubeconfig ${kubeconfig}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const clusterCIDR = cidr('--cluster-cidr', values['cluster-cidr'] ?? '10.244.0.0/16');
  const serviceCIDR = cidr('--service-cidr', values['service-cidr'] ?? '10.96.0.0/12');
  if (cidrsOverlap(parseCidr(clusterCIDR), parseCidr(serviceCIDR))) throw new Error(`--cluster-cidr ${clusterCIDR} overlaps --service-cidr ${serviceCIDR}`);
  const clusterDNS = values['cluster-dns'] ?? clusterDNSFor(serviceCIDR);
  if (isIP(clusterDNS) !== 4) throw new Error(`--cluster-dns ${JSON.stringify(clusterDNS)}: not an IPv4 address`);
  return {
    ...node,
    kubeconfig,
    dataDir: path.resolve(values['data-dir'] ?? defaultDataDir),
    clusterName: kubeconfigClusterName(text),
    clusterCIDR,
    serviceCIDR,
    clusterDNS,
    allowEgress: !values['no-pod-egress'],
  };
}

/** Runs the node until SIGINT/SIGTERM; then the kubelet, proxy and our containerd stop and pods keep running. */
export async function runAgentNode(values: AgentValues, defaultDataDir: string): Promise<void> {
  const cfg = agentConfig(values, defaultDataDir);
  const log: Logger = createLogger('kubelet');
  const failed = failedNodeChecks(!!cfg.containerRuntimeEndpoint);
  if (failed.length) {
    const install = installCommand(failed);
    throw new Error(`a real node cannot start here: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}${install ? `; install with: ${install}` : ''} (skiff doctor checks all)`);
  }
  const kc = kubeconfigClient(cfg.kubeconfig, { userAgent: 'skiff-agent/0.1.0' });
  const clientCA = kc.credentials.caCertPem;
  if (!clientCA) {
    kc.close();
    throw new Error(`--kubeconfig ${cfg.kubeconfig}: its cluster has no certificate-authority(-data); the kubelet API verifies the apiserver's client certificate against it`);
  }
  const ac = new AbortController();
  let stopping = false;
  const started = performance.now();
  const node = await startRealNode(
    {
      client: kc.client,
      clusterName: cfg.clusterName,
      dataDir: path.join(cfg.dataDir, 'node'),
      nodeName: cfg.nodeName,
      nodeIP: cfg.nodeIP,
      clusterCIDR: cfg.clusterCIDR,
      serviceCIDR: cfg.serviceCIDR,
      clusterDNS: [cfg.clusterDNS],
      containerRuntimeEndpoint: cfg.containerRuntimeEndpoint,
      podManifestPath: cfg.podManifestPath,
      kubeletPort: cfg.kubeletPort,
      clientCA,
      allowEgress: cfg.allowEgress,
      log,
    },
    ac.signal,
  ).catch((e) => {
    kc.close();
    throw e;
  });
  let proxy;
  try {
    proxy = await startNodeProxy(
      { client: kc.client, nodeName: cfg.nodeName, clusterName: cfg.clusterName, clusterCIDR: cfg.clusterCIDR, serviceCIDR: cfg.serviceCIDR, log: createLogger('proxy') },
      ac.signal,
    );
  } catch (e) {
    await node.stop();
    kc.close();
    throw e;
  }
  log('node ready', {
    node: cfg.nodeName,
    server: kc.credentials.server,
    podCIDR: node.podCIDR,
    kubeletPort: node.server.port,
    runtime: node.runtime.endpoint,
    seconds: ((performance.now() - started) / 1000).toFixed(2),
  });
  process.stdout.write(`Node ${cfg.nodeName} is running against ${kc.credentials.server} (pod range ${node.podCIDR}, kubelet on port ${node.server.port}, runtime ${node.runtime.endpoint})\n`);
  const p = proxy;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('shutting down', { signal });
    // Pods keep running and the proxy's rules stay; the next start adopts them (skiff reset removes them).
    ac.abort();
    await p.stop();
    await node.stop();
    kc.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
