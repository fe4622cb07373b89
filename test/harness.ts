// Integration fixtures: an apiserver on a random port with a temp data dir, and the
// real kubectl (v1.32 through the machine's dispatcher) pointed at it with its own
// HOME and discovery cache, so tests never touch the user's ~/.kube.

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApiServer, type ApiServer } from '../src/apiserver/server.ts';

export const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';

export function requireKubectl(): void {
  if (!existsSync(KUBECTL)) {
    throw new Error(`kubectl not found at ${KUBECTL}: install the Debian package kubectl (.ci/run does)`);
  }
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Kubectl {
  (args: string[], opts?: { stdin?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<KubectlResult>;
  home: string;
}

export function kubectlFor(kubeconfig: string, home: string): Kubectl {
  const run = (async (args, opts = {}) => {
    requireKubectl();
    return await new Promise<KubectlResult>((resolve) => {
      const child = execFile(
        KUBECTL,
        ['--kubeconfig', kubeconfig, ...args],
        {
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: home,
            KUBECACHEDIR: path.join(home, 'cache'),
            ...opts.env,
          },
          timeout: opts.timeoutMs ?? 60_000,
          maxBuffer: 64 << 20,
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        },
      );
      if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
      else child.stdin?.end();
    });
  }) as Kubectl;
  run.home = home;
  return run;
}

export interface TestCluster {
  server: ApiServer;
  dir: string;
  kubectl: Kubectl;
  /** Writes a manifest into the test dir and returns its path. */
  file(name: string, text: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestCluster(opts: { tokenAuthFile?: string } = {}): Promise<TestCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'skiff-test-'));
  const server = await startApiServer({
    dataDir: path.join(dir, 'data'),
    bindAddress: '127.0.0.1',
    bindPort: 0,
    advertiseAddress: '127.0.0.1',
    tokenAuthFile: opts.tokenAuthFile,
  });
  const home = path.join(dir, 'home');
  return {
    server,
    dir,
    kubectl: kubectlFor(server.kubeconfigPath, home),
    async file(name, text) {
      const p = path.join(dir, name);
      await writeFile(p, text);
      return p;
    },
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `skiff server` as a child process (for crash tests); resolves once it serves. */
export async function spawnServer(dataDir: string, extra: string[] = []): Promise<{ child: ChildProcess; url: string; kubeconfig: string }> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, '..', 'src', 'cli', 'main.ts'), 'server', '--data-dir', dataDir, '--bind-address', '127.0.0.1', '--bind-port', '0', '--advertise-address', '127.0.0.1', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /running at (https:\/\/\S+)\n[\s\S]*export KUBECONFIG=(\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], kubeconfig: m[2] });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${err}`));
    });
  });
}

/**
 * A 10.N.0.0/16 with from ≤ N < to that no route on this machine touches yet. E2E files
 * take their pod and service ranges from disjoint N intervals (node-e2e 200–240 pods;
 * services-e2e 160–180 pods, 180–200 services; dns-e2e 120–140 pods, 140–160 services;
 * agent-e2e 80–100 pods, 100–112 services; pod-spec-e2e 60–80 pods, 40–60 services):
 * clusters on one machine sharing a service range would catch each other's ClusterIPs
 * (kube-dns above all) in their proxy tables, and a proxy drops traffic to unallocated
 * addresses of its own service range.
 */
export function freeCIDR16(from: number, to: number): string {
  const routes = execFileSync('ip', ['route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (;;) {
    const second = randomInt(from, to);
    if (!routes.includes(` 10.${second}.`) && !routes.startsWith(`10.${second}.`) && !routes.includes(`\n10.${second}.`)) return `10.${second}.0.0/16`;
  }
}
