// `skiff dns`: the cluster DNS server as its own process against a kubeconfig (what
// CoreDNS with the kubernetes plugin is to kubeadm), and the in-process start that
// `skiff up` uses (same server, in-process transport):
//
//   skiff dns --kubeconfig FILE [--listen 10.96.0.10:53,127.0.0.53:53] [--cluster-domain cluster.local]
//       [--upstream 192.0.2.53,192.0.2.54:5353 | --resolv-conf /etc/resolv.conf] [--ttl 5]
//       [--pods insecure|verified|disabled] [--cache-size 10000] [--metrics-bind-address 127.0.0.1:9153]

import { createServer, type Server } from 'node:http';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SharedInformerFactory } from '../client/factory.ts';
import { kubeconfigClient } from '../client/https.ts';
import { inProcessTransport, type InProcessServer } from '../client/inprocess.ts';
import { createClient } from '../client/rest.ts';
import type { Logger } from '../client/util.ts';
import { parseUpstream } from '../dns/forward.ts';
import { DnsServer, type DnsServerOptions, type ListenAddress } from '../dns/server.ts';
import { createLogger } from './log.ts';

export const DNS_USAGE = `skiff dns: the cluster DNS server (Kubernetes DNS-based service discovery)

Usage:
  skiff dns [flags]

Flags:
  --kubeconfig FILE                 where the apiserver is (default $KUBECONFIG, then ~/.kube/config)
  --listen ADDR:PORT[,...]          where to answer, UDP and TCP (default 0.0.0.0:53)
  --cluster-domain DOMAIN           the cluster zone (default cluster.local)
  --upstream IP[:PORT][,...]        resolvers for other names (default: the nameservers of --resolv-conf)
  --resolv-conf FILE                default /etc/resolv.conf
  --ttl SECONDS                     TTL of cluster records (default 5)
  --pods MODE                       pod records a-b-c-d.<ns>.pod.<domain>: insecure (default), verified, disabled
  --cache-size N                    cached answers (default 10000; 0: no cache)
  --metrics-bind-address HOST:PORT  serve /metrics and /health over HTTP (CoreDNS's :9153; off by default)
`;

/** The in-process identity (CoreDNS's service account). */
export const DNS_USER = {
  name: 'system:serviceaccount:kube-system:coredns',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
};

export function parseListen(v: string): ListenAddress[] {
  return v.split(',').map((s) => {
    const t = s.trim();
    const i = t.lastIndexOf(':');
    const address = (i > 0 ? t.slice(0, i) : t).replace(/^\[|\]$/g, '');
    const port = i > 0 ? Number(t.slice(i + 1)) : 53;
    if (!address || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--listen: invalid address ${JSON.stringify(t)} (want ADDR:PORT)`);
    return { address, port };
  });
}

/**
 * The DNS server inside `skiff up` / `skiff server`: its own informers over the
 * in-process transport. Resolves once it listens.
 */
export async function startInProcessDns(server: InProcessServer, opts: Omit<DnsServerOptions, 'factory'>, signal: AbortSignal): Promise<DnsServer> {
  const transport = inProcessTransport(server, DNS_USER);
  const factory = new SharedInformerFactory(createClient(transport, { userAgent: 'skiff-dns/0.1.0' }), { log: opts.log });
  const dns = new DnsServer({ ...opts, factory, log: opts.log ?? createLogger('dns') });
  signal.addEventListener('abort', () => void dns.done().then(() => transport.close()), { once: true });
  dns.start(signal);
  await dns.ready;
  return dns;
}

export function serveMetrics(address: string, flag: string, metrics: () => string, log: Logger): Server {
  const i = address.lastIndexOf(':');
  const host = i > 0 ? address.slice(0, i) : '127.0.0.1';
  const port = Number(address.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${flag}: invalid address ${address}`);
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/metrics') res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics());
    else if (url === '/health' || url === '/healthz' || url === '/ready' || url === '/livez' || url === '/readyz') res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
  });
  server.listen(port, host, () => log('serving metrics', { address: `${host}:${(server.address() as { port: number }).port}` }));
  return server;
}

/** `skiff dns [flags]`: runs until SIGINT/SIGTERM. */
export async function runDnsCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      kubeconfig: { type: 'string' },
      listen: { type: 'string' },
      'cluster-domain': { type: 'string' },
      upstream: { type: 'string' },
      'resolv-conf': { type: 'string' },
      ttl: { type: 'string' },
      pods: { type: 'string' },
      'cache-size': { type: 'string' },
      'metrics-bind-address': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(DNS_USAGE);
    return;
  }
  const num = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: not a number: ${v}`);
    return n;
  };
  const pods = values.pods ?? 'insecure';
  if (pods !== 'insecure' && pods !== 'verified' && pods !== 'disabled') throw new Error(`--pods: insecure, verified or disabled, not ${pods}`);
  const log = createLogger('dns');
  const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG?.split(path.delimiter)[0] ?? path.join(homedir(), '.kube', 'config');
  const kc = kubeconfigClient(kubeconfig, { userAgent: 'skiff-dns/0.1.0' });
  const ac = new AbortController();
  const dns = new DnsServer({
    factory: new SharedInformerFactory(kc.client, { log }),
    listen: parseListen(values.listen ?? '0.0.0.0:53'),
    clusterDomain: values['cluster-domain'],
    upstreams: values.upstream ? values.upstream.split(',').map((s) => parseUpstream(s.trim())) : undefined,
    resolvConf: values['resolv-conf'],
    ttl: num('--ttl', values.ttl),
    podMode: pods,
    cacheSize: num('--cache-size', values['cache-size']),
    log,
  });
  dns.start(ac.signal);
  await dns.ready;
  const metrics = values['metrics-bind-address'] ? serveMetrics(values['metrics-bind-address'], '--metrics-bind-address', () => dns.metricsText(), log) : undefined;
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log('shutting down', { signal: sig });
    ac.abort();
    await dns.done();
    metrics?.close();
    kc.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  await dns.done();
}
