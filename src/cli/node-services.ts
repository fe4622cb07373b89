// Services on a real node: the service proxy (nftables) and the cluster DNS server,
// started next to a RealNode (src/kubelet/node.ts) by `skiff up` and by the end-to-end
// tests. What kube-proxy and the CoreDNS addon are to a kubeadm node:
//
//   const node = await startRealNode({ server, clusterName, ... }, signal);
//   const svc = await startNodeServices({
//     server,                         // the in-process apiserver (anything with serve())
//     node,                           // its nodeName and its bridge gateway (node.network.gatewayIP)
//     clusterName,                    // the same name startRealNode got: the table is skiff-<name>
//     clusterCIDR: '10.244.0.0/16',
//     serviceCIDR: '10.96.0.0/12',
//     upstreams: [{ host: '127.0.0.1', port: 5353 }],   // default: /etc/resolv.conf's nameservers
//   }, signal);
//   svc.dnsAddress  → { address: <gateway IP>, port: 53 }
//   svc.stop()      (or abort `signal`) → proxy and DNS stop; the nft table stays (as
//                    kube-proxy's rules do); `skiff reset` / resetProxy(clusterName) removes it.
//
// Order, so that when the promise resolves a pod can already use 10.96.0.10:
//   1. the DNS server listens on the node's bridge gateway address (UDP and TCP, port 53
//      by default): pods reach it through their default route, nothing outside the node does;
//   2. kube-system/kube-dns (ClusterIP `clusterDNS`, default 10.96.0.10) and its selectorless
//      EndpointSlice naming that address are written (ensureKubeDnsService, idempotent);
//   3. the proxier starts and resolves after its first sync: every Service, kube-dns
//      included, has its rules live.
// A failure at any step stops what the earlier steps started and rejects.
//
// `skiff agent` (a node of a control plane elsewhere) runs only the proxy, over its
// kubeconfig's client: startNodeProxy. Cluster DNS runs on the server's node; an agent's
// pods reach it through the kube-dns ClusterIP, which the agent's proxy programs.

import { SharedInformerFactory } from '../client/factory.ts';
import { EventBroadcaster } from '../client/events.ts';
import type { InProcessServer } from '../client/inprocess.ts';
import { inProcessTransport } from '../client/inprocess.ts';
import { createClient } from '../client/rest.ts';
import type { Client } from '../client/types.ts';
import type { Logger } from '../client/util.ts';
import type { Upstream } from '../dns/forward.ts';
import type { DnsServer, ListenAddress } from '../dns/server.ts';
import { ensureKubeDnsService } from '../dns/service.ts';
import { numberToIp, parseCidr } from '../kubelet/network/config.ts';
import { Proxier } from '../proxy/proxier.ts';
import { startInProcessDns } from './dns.ts';
import { startInProcessProxy } from './proxy.ts';

/** Who writes the kube-dns addon objects (kubeadm applies its addons with admin credentials). */
export const ADDON_USER = { name: 'system:skiff-addons', groups: ['system:masters', 'system:authenticated'] };

/** The cluster DNS address kubeadm picks: the tenth address of the (first) service range, 10.96.0.10 by default. */
export function clusterDNSFor(serviceCIDR: string): string {
  const first = serviceCIDR.split(',')[0].trim();
  return numberToIp(parseCidr(first).base + 10);
}

export interface NodeServicesOptions {
  /** The in-process apiserver. */
  server: InProcessServer;
  /** The node the services run for: its name (Local traffic policies) and bridge gateway (where DNS listens). */
  node: { kubelet: { nodeName: string }; network: { gatewayIP: string } };
  /** The cluster's name as startRealNode got it; the proxy's nft table is skiff-<name>. */
  clusterName: string;
  clusterCIDR: string;
  serviceCIDR: string;
  /** The kube-dns ClusterIP (default clusterDNSFor(serviceCIDR): 10.96.0.10): the kubelet's clusterDNS. */
  clusterDNS?: string;
  clusterDomain?: string;
  /** The DNS server's port on the gateway address (default 53). */
  dnsPort?: number;
  /** Resolvers for names outside the cluster; default: the nameservers of `resolvConf`. */
  upstreams?: Upstream[];
  /** Default /etc/resolv.conf. */
  resolvConf?: string;
  /** The proxy's shortest time between syncs (default 1000 ms, kube-proxy's). */
  minSyncPeriodMs?: number;
  /** How long the proxy's first sync may take before startNodeServices gives up (default 30 s). */
  proxyReadyTimeoutMs?: number;
  /** Defaults to silence; `proxyLog`/`dnsLog` override per component. */
  log?: Logger;
  proxyLog?: Logger;
  dnsLog?: Logger;
}

export interface NodeServices {
  proxier: Proxier;
  dns: DnsServer;
  /** Where the DNS server answers (the kube-dns EndpointSlice's address). */
  dnsAddress: ListenAddress;
  /** Stops the proxy and the DNS server (the rules stay). Idempotent. */
  stop(): Promise<void>;
}

export async function startNodeServices(opts: NodeServicesOptions, signal: AbortSignal): Promise<NodeServices> {
  const log = opts.log ?? (() => {});
  const clusterDNS = opts.clusterDNS ?? clusterDNSFor(opts.serviceCIDR);
  const nodeName = opts.node.kubelet.nodeName;
  const gateway = opts.node.network.gatewayIP;
  if (!gateway) throw new Error(`startNodeServices: node ${nodeName} has no pod network gateway yet`);
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  let dns: DnsServer | undefined;
  let proxier: Proxier | undefined;
  try {
    dns = await startInProcessDns(
      opts.server,
      {
        listen: [{ address: gateway, port: opts.dnsPort ?? 53 }],
        clusterDomain: opts.clusterDomain,
        upstreams: opts.upstreams,
        resolvConf: opts.resolvConf,
        log: opts.dnsLog ?? log,
      },
      ac.signal,
    );
    const dnsAddress = dns.addresses()[0];
    const transport = inProcessTransport(opts.server, ADDON_USER);
    try {
      await ensureKubeDnsService(createClient(transport, { userAgent: 'skiff-addons/0.1.0' }), {
        clusterIP: clusterDNS,
        endpointIP: dnsAddress.address,
        port: dnsAddress.port,
        nodeName,
      });
    } finally {
      transport.close();
    }
    proxier = await proxyReady(
      startInProcessProxy(
        opts.server,
        {
          clusterName: opts.clusterName,
          nodeName,
          clusterCIDRs: [opts.clusterCIDR],
          serviceCIDRs: [opts.serviceCIDR],
          minSyncPeriodMs: opts.minSyncPeriodMs,
          log: opts.proxyLog ?? log,
        },
        ac.signal,
      ),
      opts.proxyReadyTimeoutMs,
    );
    log('node services ready', { node: nodeName, table: proxier.table, dns: `${dnsAddress.address}:${dnsAddress.port}`, clusterDNS });
    const d = dns;
    const p = proxier;
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopped ??= (async () => {
        signal.removeEventListener('abort', onAbort);
        ac.abort();
        await Promise.all([p.done(), d.done()]);
      })();
      return stopped;
    };
    return { proxier: p, dns: d, dnsAddress, stop };
  } catch (e) {
    signal.removeEventListener('abort', onAbort);
    ac.abort();
    await Promise.all([proxier?.done(), dns?.done()]);
    throw e;
  }
}

/** The proxier once its first sync is done, or a rejection naming the timeout. */
function proxyReady(started: Promise<Proxier>, timeoutMs = 30_000): Promise<Proxier> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    started,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the service proxy programmed no rules within ${timeoutMs / 1000}s (see its "sync failed" log lines)`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

export interface NodeProxyOptions {
  /** A client with the node's credentials (the agent's kubeconfig). */
  client: Client;
  nodeName: string;
  /** The cluster's name as startRealNode got it; the nft table is skiff-<name>. */
  clusterName: string;
  clusterCIDR: string;
  serviceCIDR: string;
  minSyncPeriodMs?: number;
  /** How long the first sync may take before the start gives up (default 30 s). */
  proxyReadyTimeoutMs?: number;
  log?: Logger;
}

export interface NodeProxy {
  proxier: Proxier;
  /** Stops the proxy (its rules stay, as kube-proxy's do). Idempotent. */
  stop(): Promise<void>;
}

/**
 * The service proxy of a node whose control plane is elsewhere (`skiff agent`): informers
 * over `client`, the nftables table skiff-<clusterName>. Resolves after the first sync.
 */
export async function startNodeProxy(opts: NodeProxyOptions, signal: AbortSignal): Promise<NodeProxy> {
  const log = opts.log ?? (() => {});
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  // events (FailedToStartServiceHealthcheck) as kube-proxy, as the in-process proxy records them
  const events = new EventBroadcaster(opts.client, { log });
  const proxier = new Proxier({
    factory: new SharedInformerFactory(opts.client, { log }),
    clusterName: opts.clusterName,
    nodeName: opts.nodeName,
    clusterCIDRs: [opts.clusterCIDR],
    serviceCIDRs: [opts.serviceCIDR],
    minSyncPeriodMs: opts.minSyncPeriodMs,
    recorder: events.newRecorder({ component: 'kube-proxy', host: opts.nodeName }),
    log,
  });
  proxier.start(ac.signal);
  try {
    await proxyReady(proxier.ready.then(() => proxier), opts.proxyReadyTimeoutMs);
  } catch (e) {
    signal.removeEventListener('abort', onAbort);
    ac.abort();
    await proxier.done();
    events.shutdown();
    throw e;
  }
  log('service proxy ready', { node: opts.nodeName, table: proxier.table });
  let stopped: Promise<void> | undefined;
  return {
    proxier,
    stop() {
      stopped ??= (async () => {
        signal.removeEventListener('abort', onAbort);
        ac.abort();
        await proxier.done();
        events.shutdown();
      })();
      return stopped;
    },
  };
}
