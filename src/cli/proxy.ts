// `skiff proxy`: the service proxy (kube-proxy, nftables mode) as its own process
// against a kubeconfig; the in-process start `skiff up` / `skiff agent` use; and the
// cleanup `skiff reset` calls.
//
//   skiff proxy --kubeconfig FILE --cluster-name NAME [--hostname-override NODE]
//       [--cluster-cidr 10.244.0.0/16] [--service-cidr 10.96.0.0/12] [--min-sync-period 1s]
//       [--sync-period 30s] [--masquerade-all] [--localhost-nodeports=true]
//       [--metrics-bind-address 127.0.0.1:10249] [--healthz-bind-address 0.0.0.0:10256] [--cleanup]
//
// Health: every LoadBalancer Service with externalTrafficPolicy Local gets an HTTP health
// check on its spec.healthCheckNodePort (all addresses), as kube-proxy serves it; a port
// that cannot be opened becomes a FailedToStartServiceHealthcheck event. /healthz and
// /livez on --healthz-bind-address are off unless the flag is given (kube-proxy defaults
// to 0.0.0.0:10256; skiff runs several clusters per machine, and a fixed default port
// would make the second one's proxy fight the first's).

import { hostname, homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EventBroadcaster } from '../client/events.ts';
import { SharedInformerFactory } from '../client/factory.ts';
import { kubeconfigClient } from '../client/https.ts';
import { inProcessTransport, type InProcessServer } from '../client/inprocess.ts';
import { createClient } from '../client/rest.ts';
import { parseBindAddress } from '../proxy/healthcheck.ts';
import { Proxier, removeAll, type ProxierOptions } from '../proxy/proxier.ts';
import { serveMetrics } from './dns.ts';
import { createLogger } from './log.ts';

export const PROXY_USAGE = `skiff proxy: the service proxy (kube-proxy, nftables mode)

Usage:
  skiff proxy [flags]

Flags:
  --kubeconfig FILE                 where the apiserver is (default $KUBECONFIG, then ~/.kube/config)
  --cluster-name NAME               the cluster; the nftables table is skiff-NAME (default "default")
  --hostname-override NODE          this node's name, for the Local traffic policies (default: the hostname)
  --cluster-cidr CIDR[,CIDR]        pod ranges; traffic to ClusterIPs from elsewhere is masqueraded
  --service-cidr CIDR[,CIDR]        service ranges; traffic to unallocated ClusterIPs is dropped
  --min-sync-period D               shortest time between syncs (default 1s)
  --sync-period D                   longest time between syncs (default 30s)
  --masquerade-all                  masquerade all traffic to services
  --localhost-nodeports=BOOL        NodePorts also on 127.0.0.1 (sets route_localnet; default true)
  --metrics-bind-address HOST:PORT  serve /metrics and /healthz over HTTP (kube-proxy's 10249; off by default)
  --healthz-bind-address HOST:PORT  serve the proxy's /healthz and /livez (kube-proxy's 0.0.0.0:10256; off by default)
  --cleanup                         delete the table and exit (as kube-proxy --cleanup)
`;

/** The in-process identity (kube-proxy's certificate CN in upstream's setups). */
export const PROXY_USER = { name: 'system:kube-proxy', groups: ['system:authenticated'] };

/** Go-style durations as the flags take them: 500ms, 1s, 2m. Milliseconds. */
function duration(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v);
  if (!m) throw new Error(`${flag}: invalid duration ${JSON.stringify(v)} (e.g. 1s, 500ms)`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

/**
 * The proxy inside `skiff up` / `skiff agent`: its own informers over the in-process
 * transport, and events (as kube-proxy) unless `opts.recorder` is given. Resolves after
 * the first sync (the table is live).
 */
export async function startInProcessProxy(server: InProcessServer, opts: Omit<ProxierOptions, 'factory'>, signal: AbortSignal): Promise<Proxier> {
  const transport = inProcessTransport(server, PROXY_USER);
  const log = opts.log ?? createLogger('proxy');
  const client = createClient(transport, { userAgent: 'skiff-proxy/0.1.0' });
  const factory = new SharedInformerFactory(client, { log });
  const events = opts.recorder ? undefined : new EventBroadcaster(client, { log });
  const proxier = new Proxier({ ...opts, factory, log, recorder: opts.recorder ?? events!.newRecorder({ component: 'kube-proxy', host: opts.nodeName }) });
  signal.addEventListener(
    'abort',
    () =>
      void proxier.done().then(() => {
        events?.shutdown();
        transport.close();
      }),
    { once: true },
  );
  proxier.start(signal);
  await proxier.ready;
  return proxier;
}

/** For `skiff reset`: removes the cluster's proxy table from this machine (idempotent). */
export async function resetProxy(clusterName: string): Promise<void> {
  await removeAll({ clusterName });
}

/** `skiff proxy [flags]`: runs until SIGINT/SIGTERM (the rules stay in place, as kube-proxy's do). */
export async function runProxyCommand(argv: string[]): Promise<void> {
  const args = argv.map((a) => (a === '--localhost-nodeports' ? '--localhost-nodeports=true' : a));
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    options: {
      kubeconfig: { type: 'string' },
      'cluster-name': { type: 'string' },
      'hostname-override': { type: 'string' },
      'cluster-cidr': { type: 'string' },
      'service-cidr': { type: 'string' },
      'min-sync-period': { type: 'string' },
      'sync-period': { type: 'string' },
      'masquerade-all': { type: 'boolean' },
      'localhost-nodeports': { type: 'string' },
      'metrics-bind-address': { type: 'string' },
      'healthz-bind-address': { type: 'string' },
      cleanup: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(PROXY_USAGE);
    return;
  }
  const clusterName = values['cluster-name'] ?? 'default';
  const log = createLogger('proxy');
  if (values.cleanup) {
    await removeAll({ clusterName });
    log('proxy rules removed', { cluster: clusterName });
    return;
  }
  const lh = values['localhost-nodeports'] ?? 'true';
  if (lh !== 'true' && lh !== 'false') throw new Error(`--localhost-nodeports: expected true or false, got ${lh}`);
  const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);
  const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG?.split(path.delimiter)[0] ?? path.join(homedir(), '.kube', 'config');
  const healthz = values['healthz-bind-address'] || undefined; // "" turns it off, as kube-proxy's
  if (healthz !== undefined) parseBindAddress(healthz, '--healthz-bind-address');
  const nodeName = values['hostname-override'] ?? hostname().toLowerCase();
  const kc = kubeconfigClient(kubeconfig, { userAgent: 'skiff-proxy/0.1.0' });
  const events = new EventBroadcaster(kc.client, { log });
  const ac = new AbortController();
  const proxier = new Proxier({
    factory: new SharedInformerFactory(kc.client, { log }),
    clusterName,
    nodeName,
    clusterCIDRs: list(values['cluster-cidr']),
    serviceCIDRs: list(values['service-cidr']),
    minSyncPeriodMs: values['min-sync-period'] ? duration('--min-sync-period', values['min-sync-period']) : undefined,
    syncPeriodMs: values['sync-period'] ? duration('--sync-period', values['sync-period']) : undefined,
    masqueradeAll: values['masquerade-all'],
    localhostNodePorts: lh === 'true',
    healthzBindAddress: healthz,
    recorder: events.newRecorder({ component: 'kube-proxy', host: nodeName }),
    log,
  });
  proxier.start(ac.signal);
  const metrics = values['metrics-bind-address'] ? serveMetrics(values['metrics-bind-address'], '--metrics-bind-address', () => proxier.metricsText(), log) : undefined;
  await proxier.ready;
  log('proxy ready', { table: proxier.table, kubeconfig });
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log('shutting down', { signal: sig });
    ac.abort();
    await proxier.done();
    metrics?.close();
    events.shutdown();
    kc.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  await proxier.done();
}
