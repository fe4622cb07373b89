// A network lab for the proxy's integration tests and benchmarks, made only of network
// namespaces it creates (and deletes): a "node" namespace where the rules go, a
// "client" namespace beside it (an outside host or another pod's traffic, forwarded
// through the node), and a "pods" namespace holding the endpoint addresses. Every name
// carries a random suffix so parallel runs do not meet; destroy() kills the processes
// it started and deletes the namespaces (and with them the veths and nft tables).
//
//   client ns                    node ns                          pods ns
//   eth0 10.0.1.2/24 ─── veth ── cli 10.0.1.1/24
//                                pods 10.244.1.1/24 ── veth ── eth0 10.244.1.2,.3,.4.../24
//
// Requires root, iproute2 and nftables (a test that needs them fails, it does not skip).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'probe.fixture.ts');

export const NODE_ADDR = '10.0.1.1';
export const CLIENT_ADDR = '10.0.1.2';
export const NODE_POD_GW = '10.244.1.1';

export function sh(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new Error(`${cmd} not found: install the Debian package ${cmd === 'ip' ? 'iproute2' : cmd === 'nft' ? 'nftables' : cmd}`) : e),
    );
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err.trim()}`))));
    p.stdin.on('error', () => {});
    p.stdin.end(input ?? '');
  });
}

/** The k-th endpoint address: 10.244.1.2 ... 10.244.1.251, then 10.244.2.2 ... */
function podIP(k: number): string {
  return `10.244.${1 + Math.floor(k / 250)}.${2 + (k % 250)}`;
}

export interface ProbeResult {
  replies: Record<string, number>;
  errors: Record<string, number>;
  ms: number[];
}

export class NetnsLab {
  readonly id: string;
  readonly node: string;
  readonly client: string;
  readonly pods: string;
  private readonly procs: ChildProcess[] = [];
  private podAddrs = 0;

  private constructor(id: string) {
    this.id = id;
    this.node = `skt-${id}-node`;
    this.client = `skt-${id}-cli`;
    this.pods = `skt-${id}-pods`;
  }

  /** Creates the namespaces and links; `podAddresses` endpoint addresses 10.244.1.2... in the pods namespace. */
  static async create(podAddresses = 3): Promise<NetnsLab> {
    const lab = new NetnsLab(randomBytes(3).toString('hex'));
    try {
      await lab.setup(podAddresses);
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  private async setup(podAddresses: number): Promise<void> {
    for (const ns of [this.node, this.client, this.pods]) {
      await sh('ip', ['netns', 'add', ns]);
      await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // Both ends are created straight inside their namespaces: no name on the host.
    await sh('ip', ['link', 'add', 'cli', 'netns', this.node, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.client]);
    await sh('ip', ['link', 'add', 'pods', 'netns', this.node, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.pods]);
    await sh('ip', ['-n', this.node, 'addr', 'add', `${NODE_ADDR}/24`, 'dev', 'cli']);
    await sh('ip', ['-n', this.node, 'addr', 'add', `${NODE_POD_GW}/24`, 'dev', 'pods']);
    await sh('ip', ['-n', this.node, 'link', 'set', 'cli', 'up']);
    await sh('ip', ['-n', this.node, 'link', 'set', 'pods', 'up']);
    // The node's own connections to ClusterIPs need a route before the output hook's DNAT.
    await sh('ip', ['-n', this.node, 'route', 'add', '10.96.0.0/12', 'dev', 'pods']);
    await sh('ip', ['netns', 'exec', this.node, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    await sh('ip', ['-n', this.client, 'addr', 'add', `${CLIENT_ADDR}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', this.client, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', this.client, 'route', 'add', 'default', 'via', NODE_ADDR]);
    await sh('ip', ['-n', this.pods, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', this.pods, 'route', 'add', 'default', 'via', NODE_POD_GW, 'dev', 'eth0', 'onlink']);
    await this.addPodAddresses(podAddresses);
  }

  /** Adds endpoint addresses to the pods namespace; returns them. */
  async addPodAddresses(n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = this.podAddrs++;
      const ip = podIP(k);
      if (!ip.startsWith('10.244.1.')) {
        // Beyond one /24: on-link routes for the extra subnets, both sides.
        const net = ip.split('.').slice(0, 3).join('.') + '.0/24';
        await sh('ip', ['-n', this.node, 'route', 'replace', net, 'dev', 'pods']);
        await sh('ip', ['-n', this.pods, 'route', 'replace', net, 'dev', 'eth0']);
      }
      await sh('ip', ['-n', this.pods, 'addr', 'add', `${ip}/32`, 'dev', 'eth0']);
      out.push(ip);
    }
    return out;
  }

  /** The pod addresses added so far, in order. */
  podIPs(): string[] {
    const out: string[] = [];
    for (let k = 0; k < this.podAddrs; k++) out.push(podIP(k));
    return out;
  }

  /** Starts TCP+UDP servers on `ips`:`port` in `ns` (default the pods namespace); resolves when they listen. */
  async serve(port: number, ips: string[], ns: string = this.pods): Promise<void> {
    const p = spawn('ip', ['netns', 'exec', ns, process.execPath, PROBE, 'serve', String(port), ...ips], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(p);
    await new Promise<void>((resolve, reject) => {
      let err = '';
      p.stderr!.on('data', (d) => (err += d));
      p.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
      p.on('exit', (code) => reject(new Error(`probe server exited ${code}: ${err}`)));
    });
  }

  /** `count` TCP connections from `ns` to ip:port. */
  async connect(ns: string, ip: string, port: number, count: number, timeoutMs = 2000): Promise<ProbeResult> {
    const out = await sh('ip', ['netns', 'exec', ns, process.execPath, PROBE, 'connect', ip, String(port), String(count), String(timeoutMs)]);
    return JSON.parse(out) as ProbeResult;
  }

  /** Kills the processes it started and deletes its namespaces (idempotent). */
  async destroy(): Promise<void> {
    for (const p of this.procs) if (p.exitCode === null) p.kill('SIGKILL');
    await Promise.all(this.procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    this.procs.length = 0;
    for (const ns of [this.node, this.client, this.pods]) await sh('ip', ['netns', 'del', ns]).catch(() => {});
  }
}

/** Replies counted by the endpoint address that answered ("<local> <remote>" → local). */
export function byEndpoint(r: ProbeResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(r.replies)) {
    const ip = k.split(' ')[0];
    out[ip] = (out[ip] ?? 0) + v;
  }
  return out;
}

/** The client addresses the endpoints saw. */
export function remotes(r: ProbeResult): string[] {
  return [...new Set(Object.keys(r.replies).map((k) => k.split(' ')[1]))];
}
