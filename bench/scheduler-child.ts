// The scheduler of `bench/scheduler.ts --scheduler-process`: its own process, talking to
// the apiserver over HTTPS with the admin kubeconfig, as kube-scheduler does. Prints
// "ready" once its caches are synced and it leads; on SIGTERM prints its counters as one
// JSON line and exits.

import { readFileSync } from 'node:fs';
import { httpsTransport } from '../src/client/https.ts';
import { parseKubeconfig } from '../src/client/kubeconfig.ts';
import { createClient } from '../src/client/rest.ts';
import { resolveConfiguration } from '../src/scheduler/config.ts';
import { startScheduler } from '../src/scheduler/server.ts';

const kubeconfig = process.argv[2];
const nodes = Number(process.argv[3] ?? '0');
// As `skiff scheduler`: a keep-alive socket per binding in flight.
const transport = httpsTransport(parseKubeconfig(readFileSync(kubeconfig, 'utf8'), { path: kubeconfig }), { maxFreeSockets: 80 });
const kc = { client: createClient(transport, { userAgent: 'kube-scheduler/skiff (bench)' }), close: () => transport.close() };
const ac = new AbortController();
const running = startScheduler({ client: kc.client, config: resolveConfiguration({}), identity: 'bench-child' }, ac.signal);
running.done.catch((e) => process.stderr.write(`scheduler stopped: ${e}\n`));
await running.ready;
while (!running.isLeader() || running.scheduler.cache.nodeCount() < nodes) await new Promise((r) => setTimeout(r, 50));
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  process.stdout.write(JSON.stringify({ ...running.scheduler.stats(), eventsDropped: running.scheduler.broadcaster.dropped }) + '\n', () => {
    ac.abort();
    kc.close();
    process.exit(0);
  });
});
