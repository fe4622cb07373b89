// `skiff scheduler`: a scheduler process against a running control plane, as
// kube-scheduler: `skiff scheduler --scheduler-name my-scheduler [--config F] [--kubeconfig F]`.
// It schedules only pods whose spec.schedulerName names one of its profiles; with
// leader election on (the default) only the holder of the Lease schedules.

import { parseArgs } from 'node:util';
import { homedir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { httpsTransport } from '../client/https.ts';
import { parseKubeconfig } from '../client/kubeconfig.ts';
import { createClient } from '../client/rest.ts';
import { inProcessTransport, type InProcessServer } from '../client/inprocess.ts';
import type { Logger } from '../client/util.ts';
import { loadConfiguration, resolveConfiguration, type ResolvedConfiguration } from '../scheduler/config.ts';
import { DEFAULT_SCHEDULER_NAME } from '../scheduler/framework/api.ts';
import { startScheduler, type RunningScheduler } from '../scheduler/server.ts';
import { createLogger } from './log.ts';

export const SCHEDULER_USAGE = `Usage:
  skiff scheduler [flags]   run a scheduler against a control plane (as kube-scheduler)

Flags:
  --scheduler-name NAME             schedule pods whose spec.schedulerName is NAME (default "default-scheduler";
                                    with --config, renames its only profile)
  --config FILE                     a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1): profiles,
                                    plugins, pluginConfig, leaderElection
  --kubeconfig FILE                 where the control plane is (default: the config's clientConnection.kubeconfig,
                                    then $KUBECONFIG, then ~/.kube/config)
  --leader-elect=BOOL               take the leader Lease before scheduling (default true)
  --leader-elect-resource-name N    the Lease name (default kube-scheduler; for another --scheduler-name, that name)
  --leader-elect-resource-namespace NS   the Lease namespace (default kube-system)
  --metrics-port PORT               serve /metrics and /healthz on 127.0.0.1:PORT (default: off)
`;

const FLAGS = {
  'scheduler-name': { type: 'string' },
  config: { type: 'string' },
  kubeconfig: { type: 'string' },
  'leader-elect': { type: 'string' },
  'leader-elect-resource-name': { type: 'string' },
  'leader-elect-resource-namespace': { type: 'string' },
  'metrics-port': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The in-process identity of the scheduler (upstream's certificate CN). */
export const SCHEDULER_USER = { name: 'system:kube-scheduler', groups: ['system:authenticated'] };

/**
 * The default scheduler in the apiserver's process, as `skiff up` runs it: in-process
 * transport, leader election on kube-system/kube-scheduler (componentstatuses reports it).
 */
export function startInProcessScheduler(server: InProcessServer, opts: { log?: Logger; config?: ResolvedConfiguration }, signal: AbortSignal): RunningScheduler {
  const transport = inProcessTransport(server, SCHEDULER_USER);
  const running = startScheduler(
    {
      client: createClient(transport, { userAgent: 'kube-scheduler/v1.32.4-skiff' }),
      config: opts.config ?? resolveConfiguration({}),
      log: opts.log ?? createLogger('scheduler'),
    },
    signal,
  );
  signal.addEventListener('abort', () => void running.done.catch(() => undefined).then(() => transport.close()), { once: true });
  return running;
}

/** The configuration the flags describe (exported for tests). */
export async function schedulerConfigFromFlags(values: { [K in keyof typeof FLAGS]?: string | boolean }): Promise<ResolvedConfiguration> {
  const cfg = typeof values.config === 'string' ? await loadConfiguration(values.config) : resolveConfiguration({});
  const name = values['scheduler-name'];
  if (typeof name === 'string' && name !== '') {
    if (cfg.profiles.length !== 1) throw new Error('--scheduler-name: the configuration has several profiles; name them in the file');
    cfg.profiles[0].schedulerName = name;
    // A second scheduler must not take the default scheduler's lease.
    if (name !== DEFAULT_SCHEDULER_NAME && cfg.leaderElection.resourceName === 'kube-scheduler') cfg.leaderElection.resourceName = name;
  }
  const le = values['leader-elect'];
  if (typeof le === 'string') {
    if (le !== 'true' && le !== 'false') throw new Error(`--leader-elect: invalid boolean ${JSON.stringify(le)}`);
    cfg.leaderElection.leaderElect = le === 'true';
  }
  if (typeof values['leader-elect-resource-name'] === 'string') cfg.leaderElection.resourceName = values['leader-elect-resource-name'];
  if (typeof values['leader-elect-resource-namespace'] === 'string') cfg.leaderElection.resourceNamespace = values['leader-elect-resource-namespace'];
  return cfg;
}

/** Runs `skiff scheduler` until SIGINT/SIGTERM (exit 0, lease released) or lost leadership (exit 1). */
export async function runSchedulerCommand(argv: string[]): Promise<void> {
  // Accept --leader-elect as a bare flag too.
  const args = argv.map((a) => (a === '--leader-elect' ? '--leader-elect=true' : a));
  const { values } = parseArgs({ args, options: FLAGS, allowPositionals: false });
  if (values.help) {
    process.stdout.write(SCHEDULER_USAGE);
    return;
  }
  const cfg = await schedulerConfigFromFlags(values);
  const log = createLogger('scheduler');
  const kubeconfig = values.kubeconfig ?? cfg.kubeconfig ?? process.env.KUBECONFIG?.split(path.delimiter)[0] ?? path.join(homedir(), '.kube', 'config');
  // Keep a socket per binding in flight (64) alive: a closed keep-alive socket costs a TLS handshake on both sides.
  const transport = httpsTransport(parseKubeconfig(readFileSync(kubeconfig, 'utf8'), { path: kubeconfig }), { maxFreeSockets: 80 });
  const kc = { client: createClient(transport, { userAgent: `skiff-scheduler/0.1.0 ${cfg.profiles.map((p) => p.schedulerName).join(',')}` }), close: () => transport.close() };
  const ac = new AbortController();
  const running = startScheduler({ client: kc.client, config: cfg, log }, ac.signal);
  let server: http.Server | undefined;
  if (values['metrics-port'] !== undefined) {
    const port = Number(values['metrics-port']);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--metrics-port: invalid port ${values['metrics-port']}`);
    server = http.createServer((req, res) => {
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(running.scheduler.metricsText());
      } else if (req.url === '/healthz' || req.url === '/livez' || req.url === '/readyz') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    server.listen(port, '127.0.0.1');
  }
  await running.ready;
  log('scheduler ready', {
    profiles: cfg.profiles.map((p) => p.schedulerName).join(','),
    kubeconfig,
    leaderElection: cfg.leaderElection.leaderElect ? `${cfg.leaderElection.resourceNamespace}/${cfg.leaderElection.resourceName}` : 'off',
  });
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log('shutting down', { signal: sig });
    ac.abort();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  try {
    await running.done;
  } finally {
    server?.close();
    kc.close();
  }
}
