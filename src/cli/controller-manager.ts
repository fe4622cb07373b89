// `skiff controller-manager`: kube-controller-manager as its own process, talking to the
// apiserver of a kubeconfig; and the in-process start `skiff up` uses (same manager,
// in-process transport). Flags follow kube-controller-manager's:
//
//   skiff controller-manager --kubeconfig FILE [--controllers '*,-garbagecollector']
//       [--leader-elect=false] [--leader-elect-lease-duration 15s]
//       [--leader-elect-renew-deadline 10s] [--leader-elect-retry-period 2s]
//       [--concurrent-deployment-syncs 5 ...] [--healthz-bind-address 127.0.0.1:10257]
//
// /healthz and /metrics are served over plain HTTP only when --healthz-bind-address is
// given (upstream serves HTTPS on 10257 with delegated authentication; skiff does not yet).

import { createServer, type Server } from 'node:http';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { kubeconfigClient } from '../client/https.ts';
import { inProcessTransport, type InProcessServer } from '../client/inprocess.ts';
import { createClient } from '../client/rest.ts';
import type { Logger } from '../client/util.ts';
import type { Controller } from '../controllers/context.ts';
import { builtinControllers, startControllerManager, type ControllerManager, type LeaderElectionConfig } from '../controllers/manager.ts';
import { createLogger } from './log.ts';

export const CONTROLLER_MANAGER_USAGE = `skiff controller-manager: run the controllers (kube-controller-manager)

Usage:
  skiff controller-manager --kubeconfig FILE [flags]

Flags:
  --kubeconfig FILE                     where the apiserver is (default $KUBECONFIG, then ~/.kube/config)
  --controllers LIST                    controllers to run: '*' (all), 'foo' (enable), '-foo' (disable); default '*'
  --leader-elect=BOOL                   campaign on the Lease kube-system/kube-controller-manager (default true)
  --leader-elect-lease-duration D       default 15s
  --leader-elect-renew-deadline D       default 10s
  --leader-elect-retry-period D         default 2s
  --concurrent-<name>-syncs N           workers of one controller (e.g. --concurrent-deployment-syncs 5)
  --concurrent-gc-syncs N               workers of the garbage collector (default 20)
  --healthz-bind-address HOST:PORT      serve /healthz and /metrics over HTTP (off by default)
`;

/** The in-process identity of the controller manager (upstream's certificate CN). */
export const CONTROLLER_MANAGER_USER = { name: 'system:kube-controller-manager', groups: ['system:authenticated'] };

/** Go durations as the flags take them: 15s, 500ms, 1m, 1m30s. Milliseconds. */
export function parseDuration(flag: string, v: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of v.matchAll(re)) {
    if (m.index !== consumed) break;
    consumed += m[0].length;
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  }
  if (consumed !== v.length || v === '') throw new Error(`${flag}: invalid duration ${JSON.stringify(v)} (e.g. 15s, 500ms)`);
  return total;
}

/** --controllers: '*' enables every default controller, 'x' enables x, '-x' disables x (upstream's rules). */
export function selectControllers(all: Controller[], spec: string): Controller[] {
  const items = spec.split(',').map((s) => s.trim()).filter(Boolean);
  const names = new Set(all.map((c) => c.name));
  for (const i of items) {
    const n = i.startsWith('-') ? i.slice(1) : i;
    if (n !== '*' && !names.has(n)) throw new Error(`--controllers: unknown controller ${JSON.stringify(n)}; known: ${[...names].sort().join(', ')}`);
  }
  const star = items.includes('*');
  return all.filter((c) => {
    if (items.includes(`-${c.name}`)) return false;
    if (items.includes(c.name)) return true;
    return star;
  });
}

function workerFlags(argv: string[]): { rest: string[]; workers: Record<string, number> } {
  const workers: Record<string, number> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--concurrent-([a-z-]+)-syncs(?:=(.*))?$/.exec(argv[i]);
    if (!m) {
      rest.push(argv[i]);
      continue;
    }
    const raw = m[2] ?? argv[++i];
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--concurrent-${m[1]}-syncs: not a positive number: ${raw}`);
    // Upstream's flag names for a few controllers differ from their --controllers names.
    const name = ({ gc: 'garbagecollector', rc: 'replicationcontroller', 'cron-job': 'cronjob', 'service-endpoint': 'endpointslice', 'endpointslice-mirroring': 'endpointslicemirroring' } as Record<string, string>)[m[1]] ?? m[1];
    workers[name] = n;
  }
  return { rest, workers };
}

function serveHealthz(address: string, manager: ControllerManager, log: Logger): Server {
  const i = address.lastIndexOf(':');
  const host = i > 0 ? address.slice(0, i) : '127.0.0.1';
  const port = Number(address.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--healthz-bind-address: invalid address ${address}`);
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/healthz' || url === '/livez' || url === '/readyz') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok');
    } else if (url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(
        '# HELP leader_election_master_status [ALPHA] Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. \'name\' is the string used to identify the lease. Please make sure to group by name.\n' +
          '# TYPE leader_election_master_status gauge\n' +
          `leader_election_master_status{name="kube-controller-manager"} ${manager.isLeader() ? 1 : 0}\n`,
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
    }
  });
  server.listen(port, host, () => log('serving healthz', { address: `${host}:${(server.address() as { port: number }).port}` }));
  return server;
}

/**
 * The controller manager inside `skiff up` / `skiff server`: every controller over the
 * in-process transport, as system:kube-controller-manager, leader-elected like a
 * separate process would be (so a second one elsewhere waits).
 */
export function startInProcessControllerManager(
  server: InProcessServer,
  opts: { log?: Logger; controllers?: Controller[]; leaderElection?: LeaderElectionConfig },
  signal: AbortSignal,
): ControllerManager {
  const transport = inProcessTransport(server, CONTROLLER_MANAGER_USER);
  signal.addEventListener('abort', () => void manager.done.then(() => transport.close()), { once: true });
  const manager = startControllerManager(
    {
      client: createClient(transport, { userAgent: 'kube-controller-manager/v1.32.4-skiff' }),
      controllers: opts.controllers ?? builtinControllers(),
      leaderElection: opts.leaderElection,
      log: opts.log ?? createLogger('controller-manager'),
    },
    signal,
  );
  return manager;
}

/** `skiff controller-manager [flags]`: runs until SIGINT/SIGTERM. */
export async function runControllerManager(argv: string[], controllers: Controller[] = builtinControllers()): Promise<void> {
  const { rest, workers } = workerFlags(argv);
  const { values } = parseArgs({
    args: rest,
    allowPositionals: false,
    options: {
      kubeconfig: { type: 'string' },
      controllers: { type: 'string' },
      'leader-elect': { type: 'string' },
      'leader-elect-lease-duration': { type: 'string' },
      'leader-elect-renew-deadline': { type: 'string' },
      'leader-elect-retry-period': { type: 'string' },
      'healthz-bind-address': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(CONTROLLER_MANAGER_USAGE);
    return;
  }
  const log = createLogger('controller-manager');
  const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG?.split(path.delimiter)[0] ?? path.join(homedir(), '.kube', 'config');
  const elect = values['leader-elect'] ?? 'true';
  if (elect !== 'true' && elect !== 'false') throw new Error(`--leader-elect: expected true or false, got ${elect}`);
  const leaderElection: LeaderElectionConfig = {
    enabled: elect === 'true',
    leaseDurationMs: values['leader-elect-lease-duration'] ? parseDuration('--leader-elect-lease-duration', values['leader-elect-lease-duration']) : undefined,
    renewDeadlineMs: values['leader-elect-renew-deadline'] ? parseDuration('--leader-elect-renew-deadline', values['leader-elect-renew-deadline']) : undefined,
    retryPeriodMs: values['leader-elect-retry-period'] ? parseDuration('--leader-elect-retry-period', values['leader-elect-retry-period']) : undefined,
  };
  const selected = selectControllers(controllers, values.controllers ?? '*');
  const kc = kubeconfigClient(kubeconfig, { userAgent: 'kube-controller-manager/v1.32.4-skiff' });
  const ac = new AbortController();
  const manager = startControllerManager({ client: kc.client, controllers: selected, leaderElection, workers, log }, ac.signal);
  log('controller manager starting', { kubeconfig, controllers: selected.map((c) => c.name).join(','), identity: manager.identity });
  const healthz = values['healthz-bind-address'] ? serveHealthz(values['healthz-bind-address'], manager, log) : undefined;
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log('shutting down', { signal: sig });
    ac.abort();
    await manager.done;
    healthz?.close();
    kc.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  await manager.done;
}
