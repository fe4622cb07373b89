// Starting simulated nodes: in the apiserver's process (each node a client with its own
// identity over the in-process transport) or against a server through a kubeconfig.

import { createClient } from '../../client/rest.ts';
import { inProcessTransport, type InProcessServer } from '../../client/inprocess.ts';
import { kubeconfigClient } from '../../client/https.ts';
import { SimPool, type SimPoolOptions } from './pool.ts';

export { SimPool, type SimPoolOptions, type SimPoolStats, SIM_RUNTIME_VERSION, SIM_NODE_LABEL } from './pool.ts';
export { SIM_ANNOTATIONS } from './runtime.ts';

const NODE_GROUPS = ['system:nodes', 'system:authenticated'];

export type SimPoolSettings = Omit<SimPoolOptions, 'client' | 'clientFor'>;

/**
 * A pool whose nodes talk to `server` without a socket, node N as user system:node:N in
 * group system:nodes (the identity a kubelet's certificate carries). The shared pod
 * informer runs as system:skiff:sim-pool.
 */
export async function startInProcessSimPool(server: InProcessServer, settings: SimPoolSettings & { nodes: number }, signal: AbortSignal): Promise<SimPool> {
  const pool = new SimPool({
    ...settings,
    client: createClient(inProcessTransport(server, { name: 'system:skiff:sim-pool', groups: NODE_GROUPS }), { userAgent: 'skiff-sim/0.1.0' }),
    clientFor: (name) => createClient(inProcessTransport(server, { name: `system:node:${name}`, groups: NODE_GROUPS }), { userAgent: `kubelet/v1.32.4-skiff (sim) ${name}` }),
  });
  await pool.start(signal);
  if (settings.nodes > 0) await pool.addNodes(settings.nodes);
  return pool;
}

/** A pool talking to the server of a kubeconfig (one HTTPS client shared by its nodes). */
export async function startKubeconfigSimPool(kubeconfig: string, settings: SimPoolSettings & { nodes: number; context?: string }, signal: AbortSignal): Promise<SimPool> {
  const kc = kubeconfigClient(kubeconfig, { context: settings.context, userAgent: 'skiff-sim/0.1.0' });
  signal.addEventListener('abort', () => kc.close(), { once: true });
  const pool = new SimPool({ ...settings, client: kc.client });
  await pool.start(signal);
  if (settings.nodes > 0) await pool.addNodes(settings.nodes);
  return pool;
}
