// The skiff command: one binary, roles by subcommand (as k3s).

import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import path from 'node:path';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { startApiServer } from '../apiserver/server.ts';
import { parseAuthorizationModes } from '../apiserver/authz/index.ts';
import { runControllerManager, startInProcessControllerManager } from './controller-manager.ts';
import { allControllers } from '../controllers/all.ts';
import { runDnsCommand } from './dns.ts';
import { runSchedulerCommand, startInProcessScheduler } from './scheduler.ts';
import { startRealNode, type RealNode } from '../kubelet/node.ts';
import { installCommand } from '../kubelet/containerd/prereqs.ts';
import { runProxyCommand } from './proxy.ts';
import { clusterDNSFor, startNodeServices, type NodeServices } from './node-services.ts';
import { mergeKubeconfig } from '../client/kubeconfig.ts';
import { createLogger } from './log.ts';
import { startInProcessSimPool, startKubeconfigSimPool, type SimPool } from '../kubelet/sim/index.ts';
import { PodCIDRAllocator, suggestClusterCidr } from '../kubelet/sim/ipam.ts';
import { AGENT_NODE_FLAGS, failedNodeChecks, NODE_FLAGS, nodeFlags, runAgentNode, type NodeFlags } from './agent.ts';

const USAGE = `skiff: a Kubernetes written in TypeScript

Usage:
  skiff up       [flags]   start a cluster (control plane) and print its KUBECONFIG
  skiff server   [flags]   start the control plane only
  skiff agent    [flags]   make this machine a node of a running control plane (kubelet on
                           containerd + service proxy; needs root, see skiff doctor)
  skiff agent --sim [flags] start simulated nodes against a running control plane
  skiff controller-manager --kubeconfig FILE   run the controllers against a control plane
  skiff scheduler [--scheduler-name N] [--config F] [--kubeconfig F]   an (extra) scheduler
  skiff images import FILE.tar... | list   load image archives into the node's containerd / list its images
  skiff doctor [--json]    check what real containers need and print what to install
  skiff dns   --kubeconfig FILE [--listen ADDR:PORT]   cluster DNS for *.svc.cluster.local
  skiff proxy --kubeconfig FILE [--cleanup]   Services as one nftables table (needs root and nft)
  skiff reset [--name N] [--data-dir D]   remove what skiff up / skiff agent left on this machine (stop it first)
  skiff version            print the version

Flags:
  --name NAME                          cluster name (default "default"); the kubeconfig context is skiff-NAME
  --data-dir DIR                       where state, certificates and the kubeconfig live
                                       (default ~/.local/share/skiff/NAME)
  --bind-address ADDR                  address to listen on (default 0.0.0.0)
  --bind-port PORT                     secure port (default 6443)
  --advertise-address ADDR             address the cluster advertises for the apiserver
  --service-cluster-ip-range CIDR      Service ClusterIP range (default 10.96.0.0/12)
  --service-node-port-range RANGE      NodePort range (default 30000-32767)
  --token-auth-file FILE               static bearer tokens (CSV: token,user,uid,"group1,group2")
  --service-account-issuer URL         issuer of ServiceAccount tokens; repeat to also accept tokens of
                                       earlier issuers (default https://kubernetes.default.svc.cluster.local)
  --api-audiences A,B                  audiences the API accepts in ServiceAccount tokens (default: the issuers)
  --authorization-mode MODES           ordered authorizers: AlwaysAllow, AlwaysDeny, Node, RBAC; e.g.
                                       Node,RBAC (the default, as kubeadm and k3s set it)
  --service-lb-pool CIDR[,CIDR]        addresses for LoadBalancer Services, one each (default: the Ready
                                       nodes' addresses, as k3s's ServiceLB)
  --no-merge-kubeconfig                do not merge the admin kubeconfig into ~/.kube/config
  --sim-nodes N                        (up) also run N simulated nodes in this process
  --no-node                            (up) do not make this machine a node (real containers need root,
                                       containerd, runc, CNI plugins and nft: see skiff doctor)
  --pod-network-cidr CIDR              pod range the nodes' podCIDRs (a /24 each) come from
                                       (default 10.244.0.0/16; with more simulated nodes than it
                                       holds, up picks a larger range and says which)

Node flags (skiff up's own node, and skiff agent; the kubelet's names):
  --node-name NAME                     the Node's name (default: the hostname, lower-cased);
                                       also --hostname-override NAME
  --node-ip IP                         the Node's InternalIP (default: the first non-loopback IPv4)
  --container-runtime-endpoint EP      use this containerd (unix:///run/containerd/containerd.sock)
                                       instead of starting skiff's own under the data dir
  --pod-manifest-path DIR              run the manifests in DIR as static pods (mirror pods in the API)
  --kubelet-port PORT                  the kubelet API's port (default 10250; 0 picks a free one)

Agent flags (skiff agent: a real node; the node flags above, and):
  --kubeconfig FILE                    where the control plane is (default $KUBECONFIG, then ~/.kube/config);
                                       its user is the node's identity for now (no bootstrap tokens yet),
                                       its CA verifies the apiserver's client certificate at the kubelet API
  --data-dir DIR                       node state, containerd, images/ for airgap archives
                                       (default ~/.local/share/skiff/agent; skiff reset --data-dir DIR removes it)
  --cluster-cidr CIDR                  the cluster's pod range (default 10.244.0.0/16)
  --service-cidr CIDR                  the cluster's Service range (default 10.96.0.0/12)
  --cluster-dns IP                     the kube-dns ClusterIP pods use (default: the .10 of --service-cidr)
  --no-pod-egress                      drop pod traffic leaving the machine (isolated labs, tests)

Agent flags (skiff agent --sim):
  --nodes N                            number of simulated nodes (default 1)
  --kubeconfig FILE                    as above
  --node-name-prefix P                 node names are P0, P1, ... (default "sim-")
  --pod-network-cidr CIDR              as above
`;

const FLAGS = {
  name: { type: 'string' },
  'data-dir': { type: 'string' },
  'bind-address': { type: 'string' },
  'bind-port': { type: 'string' },
  'advertise-address': { type: 'string' },
  'service-cluster-ip-range': { type: 'string' },
  'service-node-port-range': { type: 'string' },
  'token-auth-file': { type: 'string' },
  'service-account-issuer': { type: 'string', multiple: true },
  'api-audiences': { type: 'string' },
  'authorization-mode': { type: 'string' },
  'service-lb-pool': { type: 'string' },
  'no-merge-kubeconfig': { type: 'boolean' },
  'no-node': { type: 'boolean' },
  'sim-nodes': { type: 'string' },
  'pod-network-cidr': { type: 'string' },
  ...NODE_FLAGS,
  help: { type: 'boolean', short: 'h' },
} as const;

const AGENT_FLAGS = {
  ...AGENT_NODE_FLAGS,
  sim: { type: 'boolean' },
  nodes: { type: 'string' },
  kubeconfig: { type: 'string' },
  'node-name-prefix': { type: 'string' },
  'pod-network-cidr': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const DEFAULT_POD_NETWORK_CIDR = '10.244.0.0/16';

function count(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: not a number of nodes: ${v}`);
  return n;
}

/**
 * The pod range for `nodes` simulated nodes: the one given (it must hold them), else the
 * default when it does, else a larger range outside the service range (said in the log).
 */
function podNetworkFor(nodes: number, given: string | undefined, log: (m: string, f?: Record<string, unknown>) => void): string {
  const cidr = given ?? DEFAULT_POD_NETWORK_CIDR;
  const capacity = new PodCIDRAllocator(cidr).capacity;
  if (nodes <= capacity) return cidr;
  if (given) throw new Error(`--pod-network-cidr ${given} holds ${capacity} node /24 subnets, fewer than ${nodes} nodes: use e.g. ${suggestClusterCidr(nodes)}`);
  const wider = suggestClusterCidr(nodes);
  log('pod network widened for the simulated nodes', { default: cidr, holds: capacity, nodes, podNetworkCIDR: wider });
  return wider;
}

async function startSimNodes(start: (podNetwork: string) => Promise<SimPool>, nodes: number, podNetwork: string, log: (m: string, f?: Record<string, unknown>) => void): Promise<SimPool> {
  const started = performance.now();
  const pool = await start(podNetwork);
  log('simulated nodes ready', { nodes, seconds: ((performance.now() - started) / 1000).toFixed(2), podNetworkCIDR: podNetwork });
  return pool;
}

export function defaultDataDir(name: string): string {
  const base = process.env.XDG_DATA_HOME || path.join(homedir(), '.local', 'share');
  return path.join(base, 'skiff', name);
}

async function runControlPlane(argv: string[], role: 'up' | 'server'): Promise<void> {
  const { values } = parseArgs({ args: argv, options: FLAGS, allowPositionals: false });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const name = values.name ?? 'default';
  const dataDir = path.resolve(values['data-dir'] ?? defaultDataDir(name));
  const log = createLogger('apiserver');
  const port = values['bind-port'] !== undefined ? Number(values['bind-port']) : 6443;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--bind-port: invalid port ${values['bind-port']}`);
  if (role !== 'up' && values['sim-nodes'] !== undefined) throw new Error('--sim-nodes is a flag of skiff up');
  const simNodes = count('--sim-nodes', values['sim-nodes'], 0);
  const simLog = createLogger('sim');
  const podNetwork = simNodes > 0 ? podNetworkFor(simNodes, values['pod-network-cidr'], simLog) : '';
  const nodeFlagNames = Object.keys(NODE_FLAGS).filter((f) => values[f as keyof typeof NODE_FLAGS] !== undefined);
  if (nodeFlagNames.length && (role !== 'up' || values['no-node'])) {
    throw new Error(`--${nodeFlagNames[0]} configures this machine's node: ${role === 'up' ? 'drop --no-node' : 'a flag of skiff up and skiff agent'}`);
  }
  // checked before anything starts (a hostname that cannot be a node name only costs the node)
  let nodeOpts: NodeFlags | undefined;
  if (role === 'up' && !values['no-node']) {
    try {
      nodeOpts = nodeFlags(values);
    } catch (e) {
      if (nodeFlagNames.length) throw e;
      createLogger('kubelet')('not starting a node', { error: (e as Error).message });
    }
  }
  const authorizationModes = parseAuthorizationModes(values['authorization-mode'] ?? 'Node,RBAC');
  const started = performance.now();
  const server = await startApiServer({
    dataDir,
    clusterName: `skiff-${name}`,
    bindAddress: values['bind-address'],
    bindPort: port,
    advertiseAddress: values['advertise-address'],
    serviceClusterIPRange: values['service-cluster-ip-range'],
    serviceNodePortRange: values['service-node-port-range'],
    tokenAuthFile: values['token-auth-file'],
    serviceAccountIssuers: values['service-account-issuer'],
    apiAudiences: values['api-audiences']?.split(',').map((a) => a.trim()).filter(Boolean),
    authorizationModes,
    log,
  });
  // The controller manager runs in the control plane's process, talking to the
  // apiserver only through the in-process client (same semantics as over HTTPS).
  const controllers = new AbortController();
  const controllerManager = startInProcessControllerManager(
    server,
    {
      log: createLogger('controller-manager'),
      controllers: allControllers({
        rootCA: server.pki.caCertPem,
        serviceCIDR: values['service-cluster-ip-range'] ?? '10.96.0.0/12',
        ...(podNetwork ? { clusterCIDR: podNetwork } : values['pod-network-cidr'] ? { clusterCIDR: values['pod-network-cidr'] } : {}),
        ...(values['service-lb-pool'] ? { loadBalancerPool: values['service-lb-pool'] } : {}),
      }),
    },
    controllers.signal,
  );
  // The scheduler, likewise in-process and leader-elected on kube-system/kube-scheduler.
  const scheduling = new AbortController();
  const scheduler = startInProcessScheduler(server, { log: createLogger('scheduler') }, scheduling.signal);
  scheduler.done.catch((e) => {
    // As kube-scheduler: losing leadership ends the process (a supervisor restarts it).
    if (!scheduling.signal.aborted) {
      log('scheduler stopped', { error: String((e as Error)?.message ?? e) });
      process.exit(1);
    }
  });
  log('control plane ready', { role, seconds: ((performance.now() - started) / 1000).toFixed(2) });
  // `skiff up` makes this machine a node too (real containers through containerd) when
  // it can: root, and what `skiff doctor` checks is installed; otherwise it says why.
  const nodeStop = new AbortController();
  let realNode: RealNode | undefined;
  let nodeServices: NodeServices | undefined;
  if (nodeOpts) {
    const nodeLog = createLogger('kubelet');
    const failed = failedNodeChecks(!!nodeOpts.containerRuntimeEndpoint);
    if (process.getuid?.() !== 0) nodeLog('not starting a node: real containers need root (run skiff up as root, or --no-node to silence this)');
    else if (failed.length) nodeLog('not starting a node: skiff doctor checks fail', { failed: failed.map((c) => `${c.name}: ${c.detail}`), install: installCommand(failed) });
    else {
      try {
        realNode = await startRealNode(
          {
            server,
            clusterName: `skiff-${name}`,
            dataDir: path.join(dataDir, 'node'),
            nodeName: nodeOpts.nodeName,
            nodeIP: nodeOpts.nodeIP,
            containerRuntimeEndpoint: nodeOpts.containerRuntimeEndpoint,
            podManifestPath: nodeOpts.podManifestPath,
            kubeletPort: nodeOpts.kubeletPort,
            clusterCIDR: podNetwork || values['pod-network-cidr'] || '10.244.0.0/16',
            serviceCIDR: values['service-cluster-ip-range'] ?? '10.96.0.0/12',
            clusterDNS: [clusterDNSFor(values['service-cluster-ip-range'] ?? '10.96.0.0/12')],
            log: nodeLog,
          },
          nodeStop.signal,
        );
        nodeLog('node ready', { node: realNode.kubelet.nodeName, podCIDR: realNode.podCIDR, kubeletPort: realNode.server.port });
      } catch (e) {
        nodeLog('node failed to start; continuing without it', { error: (e as Error).message });
      }
      // Services on the node: the nftables proxy and cluster DNS behind kube-dns (10.96.0.10).
      if (realNode) {
        try {
          nodeServices = await startNodeServices(
            {
              server,
              node: realNode,
              clusterName: `skiff-${name}`,
              clusterCIDR: podNetwork || values['pod-network-cidr'] || '10.244.0.0/16',
              serviceCIDR: values['service-cluster-ip-range'] ?? '10.96.0.0/12',
              proxyLog: createLogger('proxy'),
              dnsLog: createLogger('dns'),
              log: nodeLog,
            },
            nodeStop.signal,
          );
        } catch (e) {
          nodeLog('service proxy and DNS failed to start; Services will not answer on this node', { error: (e as Error).message });
        }
      }
    }
  }
  const sims = new AbortController();
  let pool: SimPool | undefined;
  if (simNodes > 0) {
    pool = await startSimNodes((cidr) => startInProcessSimPool(server, { nodes: simNodes, clusterCIDR: cidr, log: simLog }, sims.signal), simNodes, podNetwork, simLog);
  }
  if (role === 'up' && !values['no-merge-kubeconfig']) {
    const kubeDir = path.join(homedir(), '.kube');
    const target = path.join(kubeDir, 'config');
    try {
      await mkdir(kubeDir, { recursive: true });
      const existing = await readFile(target, 'utf8').catch(() => undefined);
      const merged = mergeKubeconfig(existing, await readFile(server.kubeconfigPath, 'utf8'), `skiff-${name}`);
      await writeFile(target, merged, { mode: 0o600 });
      process.stdout.write(`Merged context skiff-${name} into ${target}\n`);
    } catch (e) {
      log('could not merge kubeconfig', { error: (e as Error).message });
    }
  }
  process.stdout.write(`Skiff control plane is running at ${server.url}\n`);
  process.stdout.write(`export KUBECONFIG=${server.kubeconfigPath}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('shutting down', { signal });
    nodeStop.abort();
    // Pods keep running and the proxy's rules stay; the next `skiff up` adopts them (skiff reset removes them).
    await nodeServices?.stop();
    await realNode?.stop();
    sims.abort();
    await pool?.close();
    scheduling.abort();
    await scheduler.done.catch(() => {});
    controllers.abort();
    await controllerManager.done;
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

async function runAgent(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: AGENT_FLAGS, allowPositionals: false });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (!values.sim) {
    for (const f of ['nodes', 'node-name-prefix', 'pod-network-cidr'] as const) {
      if (values[f] !== undefined) throw new Error(`--${f} is a flag of skiff agent --sim${f === 'pod-network-cidr' ? ' (a real node: --cluster-cidr)' : ''}`);
    }
    return runAgentNode(values, defaultDataDir('agent'));
  }
  for (const f of Object.keys(AGENT_NODE_FLAGS) as (keyof typeof AGENT_NODE_FLAGS)[]) {
    if (values[f] !== undefined) throw new Error(`--${f} is a flag of a real node (skiff agent without --sim)`);
  }
  const log = createLogger('sim');
  const nodes = count('--nodes', values.nodes, 1);
  const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG?.split(path.delimiter)[0] ?? path.join(homedir(), '.kube', 'config');
  const podNetwork = podNetworkFor(nodes, values['pod-network-cidr'], log);
  const ac = new AbortController();
  const pool = await startSimNodes(
    (cidr) => startKubeconfigSimPool(kubeconfig, { nodes, clusterCIDR: cidr, namePrefix: values['node-name-prefix'], log }, ac.signal),
    nodes,
    podNetwork,
    log,
  );
  process.stdout.write(`${nodes} simulated nodes running against ${kubeconfig}: ${pool.nodeNames().slice(0, 3).join(', ')}${nodes > 3 ? ', ...' : ''}\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('shutting down', { signal });
    ac.abort();
    await pool.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'up':
    case 'server':
      return runControlPlane(rest, cmd);
    case 'controller-manager':
      return runControllerManager(rest, allControllers());
    case 'images':
      return (await import('./images.ts')).runImages(rest);
    case 'doctor':
      return (await import('./doctor.ts')).runDoctor(rest);
    case 'scheduler':
      return runSchedulerCommand(rest);
    case 'dns':
      return runDnsCommand(rest);
    case 'proxy':
      return runProxyCommand(rest);
    case 'reset':
      return (await import('./reset.ts')).runResetCommand(rest, defaultDataDir);
    case 'agent':
      return runAgent(rest);
    case 'version':
    case '--version':
      process.stdout.write('skiff v0.1.0 (Kubernetes v1.32)\n');
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`skiff: unknown command "${cmd}"\n\n${USAGE}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`skiff: ${(e as Error).message}\n`);
  process.exit(1);
});
