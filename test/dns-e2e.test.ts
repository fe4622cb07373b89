// E2E tier: cluster DNS from a pod, ServiceLB and the work-queue scenario (issue M1-7),
// on one real node. An in-process apiserver with the controller manager (Deployments, Jobs,
// EndpointSlices, node IPAM) and the scheduler; startRealNode on skiff's own containerd
// with the busybox and redis test images; startNodeServices (the nftables proxy, and the
// cluster DNS on the node's bridge behind kube-dns, the .10 of the test's own service range) forwarding names outside
// the cluster to a fake upstream resolver on loopback that knows one name; the real
// kubectl.
//
// DNS: from a busybox pod, `nslookup` of a Service's full and short names gives its
// ClusterIP, a headless Service's name gives its ready pods' IPs, an SRV query gives the
// named port, and an external name is answered by the fake upstream (which must have
// seen the query). busybox's nslookup prints the server first ("Server:" and
// "Address:\t<kube-dns>:53"), then "Name:"/"Address: <ip>" pairs per answer, for SRV
// "<name>\tservice = <priority> <weight> <port> <target>", and "** server can't find
// <name>: NXDOMAIN" per failed query (a short name is asked with every search suffix).
//
// LoadBalancer: the controller manager runs ServiceLB with a pool of loopback addresses
// (nothing sent to them can leave the machine); a LoadBalancer Service shows the pool's
// address as EXTERNAL-IP in `kubectl get svc` and the proxy answers there.
//
// Work queue: a redis Deployment and Service `redis` (the test image from Debian's
// redis-server, with busybox's sh), 20 items pushed with `kubectl exec ... redis-cli
// RPUSH`, a Job with parallelism 3 and no completions whose workers pop items from
// redis:6379 (the Service name through cluster DNS) until the list is empty: the Job
// completes and the workers' logs hold each item exactly once.
//
// Pods' egress off the machine is dropped (allowEgress false). In CI a missing
// prerequisite fails; locally it skips. Teardown removes the pods, volumes, then
// resetNode (skiff reset's work) removes containerd, the bridge, routes and both nft
// tables: the test checks they are gone.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { ref } from '../src/client/resources.ts';
import type { Client } from '../src/client/types.ts';
import { eventually } from '../src/client/testing.ts';
import { nodeNetworkNames } from '../src/kubelet/network/index.ts';
import { TEST_IMAGES } from './images/build.ts';
import { freeCIDR16, type Kubectl } from './harness.ts';
import { RealNodeCluster, httpGet, httpdDeployment, realNodeNames, realNodePrerequisites } from './real-node.ts';

const { missing, why, skip } = realNodePrerequisites({ redis: true });

const { clusterName, nodeName } = realNodeNames('de');
const clusterCIDR = missing.length ? '10.139.0.0/16' : freeCIDR16(120, 140);
/**
 * The ServiceLB pool: loopback addresses, so that nothing sent to an EXTERNAL-IP can
 * leave the machine even without rules; random, so parallel clusters' proxies do not
 * answer the same one.
 */
const lbPool = `127.${randomInt(100, 250)}.${randomInt(0, 255)}.0/30`;
const lbIP = lbPool.replace(/0\/30$/, '1');
const serviceCIDR = missing.length ? '10.159.0.0/16' : freeCIDR16(140, 160);
const clusterDNS = serviceCIDR.replace('.0.0/16', '.0.10');
/** The one name the fake upstream knows, and its address (TEST-NET-1: never routed anywhere). */
const EXTERNAL_NAME = 'external.example';
const EXTERNAL_IP = '192.0.2.53';
let cluster: RealNodeCluster | undefined;
let client: Client;
let kubectl: Kubectl;
let fakeUpstream: dgram.Socket | undefined;
/** "name TYPE" of every query the fake upstream got. */
const upstreamQueries: string[] = [];
let logs: string[] = [];

/** A resolver on loopback answering A for EXTERNAL_NAME and NXDOMAIN for everything else. */
async function startFakeUpstream(): Promise<dgram.Socket> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    let q: ReturnType<typeof dnsPacket.decode>;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question) return;
    upstreamQueries.push(`${question.name} ${question.type}`);
    const known = question.name.toLowerCase().replace(/\.$/, '') === EXTERNAL_NAME;
    const answers = known && question.type === 'A' ? [{ name: question.name, type: 'A' as const, class: 'IN' as const, ttl: 60, data: EXTERNAL_IP }] : [];
    const reply = dnsPacket.encode({
      id: q.id,
      type: 'response',
      // RD copied, RA set; rcode (the low 4 bits) NXDOMAIN for names it does not know
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3),
      questions: q.questions,
      answers,
    });
    sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return sock;
}

/** The answer addresses of busybox nslookup's output (not the server's own "Address:\t<kube-dns>:53" line). */
function answerAddresses(out: string): string[] {
  return [...out.matchAll(/^Address:\s+([0-9a-fA-F.:]+)$/gm)].map((m) => m[1]).filter((a) => !/^[\d.]+:\d+$/.test(a)).sort();
}

async function nslookup(args: string[]): Promise<string> {
  const r = await kubectl(['exec', 'client', '--', 'nslookup', ...args]);
  assert.equal(r.code, 0, `nslookup ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

function readyPods(list: { items: any[] }): any[] {
  return list.items.filter((p) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
}

describe('cluster DNS, a LoadBalancer and the work queue on a real node', { skip }, () => {
  let clusterIP = '';
  let httpdIPs: string[] = [];

  before(async () => {
    if (missing.length) throw new Error(`prerequisites for a real node: ${why}`);
    fakeUpstream = await startFakeUpstream();
    cluster = new RealNodeCluster({
      clusterName,
      nodeName,
      clusterCIDR,
      serviceCIDR,
      clusterDNS: [clusterDNS],
      tmpPrefix: 'skiff-dns-e2e-',
      images: ['busybox', 'redis'],
      loadBalancerPool: lbPool,
      nodeServices: { upstreams: [{ host: '127.0.0.1', port: (fakeUpstream.address() as { port: number }).port }] },
      teardown: 'reset',
    });
    logs = cluster.logs;
    ({ client, kubectl } = await cluster.start());

    // Two httpd pods behind a ClusterIP Service with a named port and a headless Service,
    // a client pod to resolve from, and the redis Deployment and Service of the work queue.
    const manifest = `
${httpdDeployment(2, { portName: 'http' })}
---
apiVersion: v1
kind: Service
metadata:
  name: httpd-svc
spec:
  selector: {app: httpd}
  ports: [{name: http, port: 8080, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata:
  name: httpd-headless
spec:
  clusterIP: None
  selector: {app: httpd}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: ${TEST_IMAGES.busybox}
    imagePullPolicy: Never
    command: [sleep, '3600']
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: redis
spec:
  replicas: 1
  selector:
    matchLabels: {app: redis}
  template:
    metadata:
      labels: {app: redis}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: redis
        image: ${TEST_IMAGES.redis}
        imagePullPolicy: Never
        ports: [{name: redis, containerPort: 6379}]
        readinessProbe:
          tcpSocket: {port: 6379}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: redis
spec:
  selector: {app: redis}
  ports: [{name: redis, port: 6379}]
`;
    const applied = await kubectl(['apply', '-f', '-'], { stdin: manifest });
    assert.equal(applied.code, 0, applied.stderr);
    clusterIP = (await client.get(ref.services, 'default', 'httpd-svc')).spec.clusterIP;
    await eventually(async () => readyPods(await client.list(ref.pods, 'default')).length === 4, 60_000, 'two httpd pods, redis and the client Ready').catch(async (e) => {
      const list = await client.list(ref.pods, 'default');
      throw new Error(`${(e as Error).message}: ${JSON.stringify(list.items.map((p) => [p.metadata.name, p.status]))}\n${logs.slice(-30).join('\n')}`);
    });
    httpdIPs = readyPods(await client.list(ref.pods, 'default', { labelSelector: 'app=httpd' })).map((p) => p.status.podIP).sort();
    assert.equal(httpdIPs.length, 2);
  });

  after(async () => {
    let down;
    try {
      down = await cluster?.close();
    } finally {
      fakeUpstream?.close();
    }
    if (down && !missing.length) {
      const names = nodeNetworkNames(clusterName);
      assert.ok(down.removed.some((r) => r === `bridge ${names.bridge}`), `reset removed the bridge: ${down.removed.join('; ')}`);
      assert.deepEqual(down.left, [], 'bridge, node and proxy nft tables, routes removed');
    }
  });

  test("the pod's resolv.conf names kube-dns (the service range's .10) with the search path and ndots:5", async () => {
    const r = await kubectl(['exec', 'client', '--', 'cat', '/etc/resolv.conf']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^nameserver ${clusterDNS.replaceAll('.', '\\.')}$`, 'm'));
    assert.match(r.stdout, /^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local\b/m);
    assert.match(r.stdout, /^options ndots:5$/m);
  });

  test("nslookup of the Service's full and short names gives its ClusterIP, from kube-dns", async () => {
    const full = await nslookup(['httpd-svc.default.svc.cluster.local']);
    const dnsRe = clusterDNS.replaceAll('.', '\\.');
    assert.match(full, new RegExp(`^Server:\\s+${dnsRe}$`, 'm'));
    assert.match(full, new RegExp(`^Address:\\s+${dnsRe}:53$`, 'm'));
    assert.match(full, /^Name:\s+httpd-svc\.default\.svc\.cluster\.local$/m);
    assert.deepEqual(answerAddresses(full), [clusterIP]);
    // busybox's nslookup asks for the name with every search suffix at once, prints each
    // failure ("** server can't find httpd-svc.svc.cluster.local: NXDOMAIN", right: no
    // namespace of that name) and then exits 1 although the first suffix answered.
    const short = await kubectl(['exec', 'client', '--', 'nslookup', 'httpd-svc']);
    assert.match(short.stdout, /^Name:\s+httpd-svc\.default\.svc\.cluster\.local$/m, short.stdout + short.stderr);
    assert.deepEqual(answerAddresses(short.stdout), [clusterIP]);
    for (const other of ['httpd-svc.svc.cluster.local', 'httpd-svc.cluster.local']) assert.match(short.stdout, new RegExp(`server can't find ${other.replaceAll('.', '\\.')}: NXDOMAIN`));
  });

  test("a headless Service's name gives its ready pods' IPs", async () => {
    const out = await nslookup(['httpd-headless.default.svc.cluster.local']);
    assert.deepEqual(answerAddresses(out), httpdIPs);
  });

  test('an SRV query gives the named port', async () => {
    const out = await nslookup(['-type=srv', '_http._tcp.httpd-svc.default.svc.cluster.local']);
    assert.match(out, /^_http\._tcp\.httpd-svc\.default\.svc\.cluster\.local\s+service = 0 100 8080 httpd-svc\.default\.svc\.cluster\.local\.?$/m);
  });

  test('a name outside the cluster is forwarded to the upstream resolver', async () => {
    const out = await nslookup([`${EXTERNAL_NAME}.`]);
    assert.deepEqual(answerAddresses(out), [EXTERNAL_IP]);
    assert.ok(upstreamQueries.includes(`${EXTERNAL_NAME} A`), `the fake upstream saw the query: ${upstreamQueries.join(', ')}`);
    // and the upstream's NXDOMAIN comes back as such
    const r = await kubectl(['exec', 'client', '--', 'nslookup', 'nowhere.example.']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /NXDOMAIN/);
  });

  test('a LoadBalancer Service gets an EXTERNAL-IP from the pool and answers there', async () => {
    const svc = `
apiVersion: v1
kind: Service
metadata:
  name: httpd-lb
spec:
  type: LoadBalancer
  selector: {app: httpd}
  ports: [{name: http, port: 8081, targetPort: http}]
`;
    const applied = await kubectl(['apply', '-f', '-'], { stdin: svc });
    assert.equal(applied.code, 0, applied.stderr);
    const line = await eventually(async () => {
      const r = await kubectl(['get', 'svc', 'httpd-lb', '--no-headers']);
      return r.code === 0 && r.stdout.includes(lbIP) ? r.stdout.trim() : undefined;
    }, 15_000, 'httpd-lb EXTERNAL-IP');
    assert.match(line, new RegExp(`^httpd-lb\\s+LoadBalancer\\s+10\\.\\S+\\s+${lbIP.replaceAll('.', '\\.')}\\s+8081:\\d+/TCP\\s+\\S+$`));
    const names = (await client.list(ref.pods, 'default', { labelSelector: 'app=httpd' })).items.map((p) => p.metadata.name);
    // The proxy programs the new address on its next sync.
    const page = await eventually(async () => {
      const r = await httpGet(lbIP, 8081, '/', 3000).catch(() => undefined);
      return r?.status === 200 ? r.body.trim() : undefined;
    }, 15_000, `GET http://${lbIP}:8081/`);
    assert.ok(names.includes(page), `page ${page} names an httpd pod (${names.join(', ')})`);
  });

  test('the work queue: a Job with parallelism 3 pops 20 items from redis:6379, each exactly once', async (t) => {
    const items = Array.from({ length: 20 }, (_, i) => `item-${String(i + 1).padStart(2, '0')}`);
    const redisPod = readyPods(await client.list(ref.pods, 'default', { labelSelector: 'app=redis' }))[0];
    assert.ok(redisPod, 'the redis pod');
    const push = await kubectl(['exec', redisPod.metadata.name, '--', 'redis-cli', 'RPUSH', 'job2', ...items]);
    assert.equal(push.code, 0, push.stderr);
    assert.equal(push.stdout.trim(), '20');
    // The work-queue pattern: no completions; each worker pops until the list is empty and
    // exits 0. A redis-cli that cannot reach redis:6379 exits non-zero (restarted, nothing lost).
    const job = `
apiVersion: batch/v1
kind: Job
metadata:
  name: queue-worker
spec:
  parallelism: 3
  template:
    spec:
      restartPolicy: OnFailure
      terminationGracePeriodSeconds: 1
      containers:
      - name: worker
        image: ${TEST_IMAGES.redis}
        imagePullPolicy: Never
        command:
        - sh
        - -c
        - |
          while true; do
            item=$(redis-cli -h redis -p 6379 LPOP job2) || exit 1
            if [ -z "$item" ]; then echo "queue empty"; exit 0; fi
            echo "processed $item"
            sleep 0.2
          done
`;
    const applied = await kubectl(['apply', '-f', '-'], { stdin: job });
    assert.equal(applied.code, 0, applied.stderr);
    const wait = await kubectl(['wait', '--for=condition=complete', 'job/queue-worker', '--timeout=120s'], { timeoutMs: 130_000 });
    assert.equal(wait.code, 0, `${wait.stdout}${wait.stderr}\n${JSON.stringify((await client.get(ref.jobs, 'default', 'queue-worker')).status)}`);
    const workers = (await client.list(ref.pods, 'default', { labelSelector: 'job-name=queue-worker' })).items;
    assert.ok(workers.length >= 3, `${workers.length} worker pods`);
    const processed: string[] = [];
    const perWorker: string[] = [];
    for (const w of workers) {
      const r = await kubectl(['logs', w.metadata.name!]);
      assert.equal(r.code, 0, r.stderr);
      const mine = [...r.stdout.matchAll(/^processed (\S+)$/gm)].map((m) => m[1]);
      processed.push(...mine);
      perWorker.push(`${w.metadata.name}: ${mine.length}`);
    }
    t.diagnostic(`items per worker: ${perWorker.join(', ')}`);
    assert.deepEqual(processed.sort(), items, 'every item processed exactly once');
    const left = await kubectl(['exec', redisPod.metadata.name, '--', 'redis-cli', 'LLEN', 'job2']);
    assert.equal(left.stdout.trim(), '0');
  });
});
