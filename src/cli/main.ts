// The skiff command: one binary, roles by subcommand (as k3s).

import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import path from 'node:path';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { startApiServer } from '../apiserver/server.ts';
import { mergeKubeconfig } from '../client/kubeconfig.ts';
import { createLogger } from './log.ts';

const USAGE = `skiff: a Kubernetes written in TypeScript

Usage:
  skiff up       [flags]   start a cluster (control plane) and print its KUBECONFIG
  skiff server   [flags]   start the control plane only
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
  --no-merge-kubeconfig                do not merge the admin kubeconfig into ~/.kube/config
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
  'no-merge-kubeconfig': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

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
    log,
  });
  log('control plane ready', { role, seconds: ((performance.now() - started) / 1000).toFixed(2) });
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
    await server.close();
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
