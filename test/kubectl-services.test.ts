// Integration: what the real kubectl 1.32 prints for Services, Endpoints, EndpointSlices,
// Ingresses and IngressClasses, and for the events about them, on an in-process cluster
// (apiserver + the ServiceLB, endpoints and EndpointSlice controllers; Node objects and
// pod statuses written by the test, no kubelet, no containers).
//
// `get` tables are printed by Skiff's server-side printers; `describe` is kubectl's own
// code, so it checks that the objects carry what upstream's apiserver and controllers
// would have written (defaults, allocations, ipMode, endpoint slices, events). Expected
// outputs are those of a real cluster holding the same objects. Ages are the only thing
// normalised: table cells are cut at the header's column offsets, so an AGE cell is
// replaced by "AGE" after checking its form and every other cell is compared exactly.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { KObject } from '../src/api/object.ts';
import { ref } from '../src/client/resources.ts';
import { eventually } from '../src/client/testing.ts';
import { endpointsController } from '../src/controllers/endpoints/controller.ts';
import { endpointSliceController } from '../src/controllers/endpointslice/controller.ts';
import { serviceLBController } from '../src/controllers/servicelb/controller.ts';
import { startControllerTestCluster, type ControllerTestCluster, type RunningControllers } from '../src/controllers/testing.ts';
import { kubectlFor, requireKubectl, type Kubectl } from './harness.ts';

let c: ControllerTestCluster;
let cm: RunningControllers;
let kubectl: Kubectl;

const AGE = /^(\d+s|\d+m(\d+s)?|\d+h(\d+m)?)$/;

/**
 * A kubectl table as rows of cells, cut at the offsets where the header's columns start
 * (header names may hold single spaces, "LAST SEEN"; columns are 3 spaces apart). Cells
 * of the columns named in `ages` must read as an age and become that column's name.
 */
function table(out: string, ages: string[] = ['AGE']): string[][] {
  const lines = out.replace(/\n$/, '').split('\n');
  const starts = [...lines[0].matchAll(/\S+(?: \S+)*/g)].map((m) => m.index!);
  const rows = lines.map((l) => starts.map((s, i) => l.slice(s, starts[i + 1]).trimEnd()));
  const header = rows[0];
  for (const row of rows.slice(1)) {
    for (const name of ages) {
      const i = header.indexOf(name);
      if (i < 0) continue;
      assert.match(row[i], AGE, `${name} of ${row.join(' | ')}`);
      row[i] = name;
    }
  }
  return rows;
}

async function ok(args: string[]): Promise<string> {
  const r = await kubectl(args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  assert.equal(r.stderr, '', `kubectl ${args.join(' ')} warned`);
  return r.stdout;
}

async function fails(args: string[]): Promise<string> {
  const r = await kubectl(args);
  assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} succeeded: ${r.stdout}`);
  return r.stderr;
}

/** `kubectl describe` text up to its Events section, and that section as a table (ages normalised). */
function splitEvents(out: string): { head: string; events: string[][] | '<none>' } {
  const at = out.indexOf('\nEvents:');
  assert.ok(at > 0, out);
  const head = out.slice(0, at + 1);
  const rest = out.slice(at + 1);
  if (/^Events:\s+<none>\n$/.test(rest)) return { head, events: '<none>' };
  const body = rest
    .split('\n')
    .slice(1)
    .filter((l) => l !== '')
    .map((l) => l.slice(2));
  const rows = table(body.join('\n') + '\n', []);
  // Age reads "5s", or "5s (x2 over 9s)" for a folded event.
  const i = rows[0].indexOf('Age');
  for (const row of rows.slice(2)) {
    assert.match(row[i], /^\S+( \(x\d+ over \S+\))?$/);
    row[i] = 'Age';
  }
  return { head, events: rows };
}

function node(name: string): KObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name } } };
}

const SERVICES = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: svc, labels: {app: web, tier: front}, annotations: {team: blue}}
spec:
  clusterIP: 10.96.100.10
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: https, port: 443, targetPort: https}
---
apiVersion: v1
kind: Service
metadata: {name: np, namespace: svc}
spec:
  type: NodePort
  clusterIP: 10.96.100.11
  selector: {app: web}
  ports:
  - {name: http, port: 8080, nodePort: 30080}
  - {name: https, port: 8443, targetPort: https, nodePort: 30443}
---
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: svc}
spec:
  type: LoadBalancer
  clusterIP: 10.96.100.12
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30081}]
---
apiVersion: v1
kind: Service
metadata: {name: lb-pending, namespace: svc}
spec:
  type: LoadBalancer
  loadBalancerClass: example.com/elsewhere
  allocateLoadBalancerNodePorts: false
  clusterIP: 10.96.100.13
  ports: [{name: dns, port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: lb-hostname, namespace: svc}
spec:
  type: LoadBalancer
  loadBalancerClass: example.com/elsewhere
  clusterIP: 10.96.100.14
  ports: [{port: 443, nodePort: 30444}]
---
apiVersion: v1
kind: Service
metadata: {name: lb-multi, namespace: svc}
spec:
  type: LoadBalancer
  loadBalancerClass: example.com/elsewhere
  clusterIP: 10.96.100.15
  externalIPs: [192.0.2.7]
  ports: [{port: 80, nodePort: 30085}]
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: svc}
spec:
  type: ExternalName
  externalName: db.example.com
---
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: svc}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: eips, namespace: svc}
spec:
  clusterIP: 10.96.100.17
  externalIPs: [192.0.2.10, 192.0.2.11]
  sessionAffinity: ClientIP
  ports: [{port: 80, name: http}, {port: 443, name: https}]
`;

const MANUAL = `
apiVersion: v1
kind: Endpoints
metadata: {name: many, namespace: manual}
subsets:
- addresses: [{ip: 192.0.2.1}, {ip: 192.0.2.2}, {ip: 192.0.2.3}, {ip: 192.0.2.4}, {ip: 192.0.2.5}]
  ports: [{port: 5432}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: two-ports, namespace: manual}
subsets:
- addresses: [{ip: 192.0.2.1}, {ip: 192.0.2.2}]
  ports: [{name: a, port: 80}, {name: b, port: 443}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: portless, namespace: manual}
subsets:
- addresses: [{ip: 192.0.2.1}, {ip: 192.0.2.2}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: v6, namespace: manual}
subsets:
- addresses: [{ip: "2001:db8::1"}]
  ports: [{port: 80}]
- notReadyAddresses: [{ip: 192.0.2.9}]
  ports: [{port: 81}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: not-ready, namespace: manual}
subsets:
- notReadyAddresses: [{ip: 192.0.2.9}]
  ports: [{port: 81}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: empty, namespace: manual}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: many-1, namespace: manual, labels: {kubernetes.io/service-name: many}}
addressType: IPv4
ports: [{name: a, port: 80}, {name: b}, {name: c, port: 443}, {name: d, port: 8443}]
endpoints:
- addresses: [192.0.2.1]
- addresses: [192.0.2.2]
- addresses: [192.0.2.3]
- addresses: [192.0.2.4]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: any-port, namespace: manual}
addressType: IPv6
ports: [{}]
endpoints:
- addresses: ["2001:db8::1"]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: empty-1, namespace: manual}
addressType: FQDN
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec:
  controller: k8s.io/ingress-nginx
  parameters: {apiGroup: k8s.example.com, kind: IngressParameters, name: external-lb}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: plain}
spec:
  controller: example.com/plain
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: hosts, namespace: manual}
spec:
  ingressClassName: nginx
  tls: [{hosts: [a.example.com]}]
  rules:
  - {host: a.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}
  - {host: b.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}
  - {host: c.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}
  - {host: d.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: catch-all, namespace: manual}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
`;

before(async () => {
  requireKubectl();
  c = await startControllerTestCluster({ nodes: 0 });
  kubectl = kubectlFor(c.server.kubeconfigPath, path.join(c.dir, 'home'));
  // Two Ready nodes for ServiceLB (their InternalIPs become the ingress addresses) and
  // for the EndpointSlice controller (it skips pods on nodes it does not know).
  for (const [name, ip] of [['n1', '10.0.0.1'], ['n2', '10.0.0.2']]) {
    const created = await c.client.create(ref.nodes, undefined, node(name));
    await c.client.update(
      ref.nodes,
      undefined,
      { ...created, status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }], conditions: [{ type: 'Ready', status: 'True' }] } },
      { subresource: 'status' },
    );
  }
  await c.createNamespace('svc');
  await c.createNamespace('manual');
  // Pods first, so every Service meets its endpoints on its first sync. web-0 is not
  // ready; it has the lowest address, so the EndpointSlice controller (which orders
  // endpoints by address) lists it first. kubectl's describe stops at three ready
  // endpoints and, on meeting any further endpoint, ready or not, appends
  // " + N more..." counting only ready ones: a not-ready endpoint after the third
  // ready one would read " + 0 more...", on a real cluster as here.
  for (let i = 0; i <= 3; i++) {
    const name = `web-${i}`;
    await c.client.create(ref.pods, 'svc', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { app: 'web' } },
      spec: { nodeName: 'n1', containers: [{ name: 'app', image: 'busybox', ports: [{ name: 'https', containerPort: 8443 }] }] },
    });
    const ip = `10.244.0.${i + 1}`;
    await c.client.patch(
      ref.pods,
      'svc',
      name,
      'merge',
      { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: i === 0 ? 'False' : 'True' }] } },
      { subresource: 'status' },
    );
  }
  cm = c.startControllers([serviceLBController(), endpointsController(), endpointSliceController()]);
  await ok(['apply', '-f', await c.file('services.yaml', SERVICES)]);
  await ok(['apply', '-f', await c.file('manual.yaml', MANUAL)]);
  // Load balancers of another class: their status is written by "someone else".
  const setIngress = (name: string, ingress: unknown[]) =>
    c.client.patch(ref.services, 'svc', name, 'merge', { status: { loadBalancer: { ingress } } }, { subresource: 'status' });
  await setIngress('lb-hostname', [{ hostname: 'a1b2c3.elb.example.com' }]);
  await setIngress('lb-multi', [{ ip: '203.0.113.9' }, { ip: '203.0.113.10' }, { hostname: 'lb.example.com' }]);
  await c.client.patch(ref.ingresses, 'manual', 'hosts', 'merge', { status: { loadBalancer: { ingress: [{ ip: '192.0.2.50' }, { hostname: 'lb.example.com' }] } } }, { subresource: 'status' });
  // What the controllers write.
  await c.waitFor(ref.services, 'svc', 'lb', (s) => (s?.status?.loadBalancer?.ingress ?? []).length === 2);
  for (const name of ['web', 'np', 'lb']) {
    await c.waitFor(ref.endpoints, 'svc', name, (e) => (e?.subsets?.[0]?.addresses ?? []).length === 3 && (e?.subsets?.[0]?.notReadyAddresses ?? []).length === 1);
  }
  await c.waitFor(ref.endpoints, 'svc', 'headless', (e) => (e?.subsets?.[0]?.addresses ?? []).length === 3);
  for (const name of ['web', 'np', 'lb', 'headless']) {
    await eventually(
      async () => {
        const list = await c.client.list(ref.endpointslices, 'svc', { labelSelector: `kubernetes.io/service-name=${name}` });
        return list.items.length === 1 && (list.items[0].endpoints ?? []).length === 4 ? true : undefined;
      },
      20_000,
      `EndpointSlice of ${name}`,
    );
  }
  await eventually(async () => ((await c.events('svc', 'lb', 'UpdatedLoadBalancer')).length ? true : undefined), 10_000, 'UpdatedLoadBalancer event');
});

after(async () => {
  await cm?.stop();
  await c?.close();
});

describe('kubectl get services', () => {
  it('prints TYPE, CLUSTER-IP, EXTERNAL-IP and PORT(S) of every kind of Service', async () => {
    assert.deepEqual(table(await ok(['get', 'svc', '-n', 'svc'])), [
      ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
      ['eips', 'ClusterIP', '10.96.100.17', '192.0.2.10,192.0.2.11', '80/TCP,443/TCP', 'AGE'],
      ['ext', 'ExternalName', '<none>', 'db.example.com', '<none>', 'AGE'],
      ['headless', 'ClusterIP', 'None', '<none>', '80/TCP', 'AGE'],
      ['lb', 'LoadBalancer', '10.96.100.12', '10.0.0.1,10.0.0.2', '80:30081/TCP', 'AGE'],
      ['lb-hostname', 'LoadBalancer', '10.96.100.14', 'a1b2c3.elb.example.com', '443:30444/TCP', 'AGE'],
      // Ingress points sorted as strings (IPs before the hostname), then spec.externalIPs.
      ['lb-multi', 'LoadBalancer', '10.96.100.15', '203.0.113.10,203.0.113.9,lb.example.com,192.0.2.7', '80:30085/TCP', 'AGE'],
      // allocateLoadBalancerNodePorts: false leaves the port without a node port.
      ['lb-pending', 'LoadBalancer', '10.96.100.13', '<pending>', '53/UDP', 'AGE'],
      ['np', 'NodePort', '10.96.100.11', '<none>', '8080:30080/TCP,8443:30443/TCP', 'AGE'],
      ['web', 'ClusterIP', '10.96.100.10', '<none>', '80/TCP,443/TCP', 'AGE'],
    ]);
  });

  it('-o wide adds SELECTOR, and EXTERNAL-IP is never clipped', async () => {
    assert.deepEqual(table(await ok(['get', 'svc', '-n', 'svc', '-o', 'wide', 'web', 'ext', 'lb-multi'])), [
      ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR'],
      ['web', 'ClusterIP', '10.96.100.10', '<none>', '80/TCP,443/TCP', 'AGE', 'app=web'],
      ['ext', 'ExternalName', '<none>', 'db.example.com', '<none>', 'AGE', '<none>'],
      ['lb-multi', 'LoadBalancer', '10.96.100.15', '203.0.113.10,203.0.113.9,lb.example.com,192.0.2.7', '80:30085/TCP', 'AGE', '<none>'],
    ]);
  });

  it('the header and cells line up as kubectl prints them', async () => {
    const out = await ok(['get', 'svc', '-n', 'svc', 'ext', 'headless']);
    // AGE is the last column: cutting each line's last word leaves the rest exact.
    assert.equal(
      out.replace(/\S+\n/g, '\n'),
      [
        'NAME       TYPE           CLUSTER-IP   EXTERNAL-IP      PORT(S)   ',
        'ext        ExternalName   <none>       db.example.com   <none>    ',
        'headless   ClusterIP      None         <none>           80/TCP    ',
        '',
      ].join('\n'),
    );
  });
});

describe('kubectl describe service', () => {
  it('ClusterIP: families, IPs, every port with its endpoints, session affinity, internal traffic policy', async () => {
    assert.equal(
      await ok(['describe', 'svc', '-n', 'svc', 'web']),
      [
        'Name:                     web',
        'Namespace:                svc',
        'Labels:                   app=web',
        '                          tier=front',
        'Annotations:              team: blue',
        'Selector:                 app=web',
        'Type:                     ClusterIP',
        'IP Family Policy:         SingleStack',
        'IP Families:              IPv4',
        'IP:                       10.96.100.10',
        'IPs:                      10.96.100.10',
        'Port:                     http  80/TCP',
        'TargetPort:               8080/TCP',
        'Endpoints:                10.244.0.2:8080,10.244.0.3:8080,10.244.0.4:8080',
        'Port:                     https  443/TCP',
        'TargetPort:               https/TCP',
        'Endpoints:                10.244.0.2:8443,10.244.0.3:8443,10.244.0.4:8443',
        'Session Affinity:         None',
        'Internal Traffic Policy:  Cluster',
        'Events:                   <none>',
        '',
      ].join('\n'),
    );
  });

  it('NodePort: node ports and the external traffic policy', async () => {
    assert.equal(
      await ok(['describe', 'svc', '-n', 'svc', 'np']),
      [
        'Name:                     np',
        'Namespace:                svc',
        'Labels:                   <none>',
        'Annotations:              <none>',
        'Selector:                 app=web',
        'Type:                     NodePort',
        'IP Family Policy:         SingleStack',
        'IP Families:              IPv4',
        'IP:                       10.96.100.11',
        'IPs:                      10.96.100.11',
        'Port:                     http  8080/TCP',
        'TargetPort:               8080/TCP',
        'NodePort:                 http  30080/TCP',
        'Endpoints:                10.244.0.2:8080,10.244.0.3:8080,10.244.0.4:8080',
        'Port:                     https  8443/TCP',
        'TargetPort:               https/TCP',
        'NodePort:                 https  30443/TCP',
        'Endpoints:                10.244.0.2:8443,10.244.0.3:8443,10.244.0.4:8443',
        'Session Affinity:         None',
        'External Traffic Policy:  Cluster',
        'Internal Traffic Policy:  Cluster',
        'Events:                   <none>',
        '',
      ].join('\n'),
    );
  });

  it('LoadBalancer served by ServiceLB: ingress with ipMode, and the controller event', async () => {
    const { head, events } = splitEvents(await ok(['describe', 'svc', '-n', 'svc', 'lb']));
    assert.equal(
      head,
      [
        'Name:                     lb',
        'Namespace:                svc',
        'Labels:                   <none>',
        'Annotations:              <none>',
        'Selector:                 app=web',
        'Type:                     LoadBalancer',
        'IP Family Policy:         SingleStack',
        'IP Families:              IPv4',
        'IP:                       10.96.100.12',
        'IPs:                      10.96.100.12',
        'LoadBalancer Ingress:     10.0.0.1 (VIP), 10.0.0.2 (VIP)',
        'Port:                     <unset>  80/TCP',
        'TargetPort:               8080/TCP',
        'NodePort:                 <unset>  30081/TCP',
        'Endpoints:                10.244.0.2:8080,10.244.0.3:8080,10.244.0.4:8080',
        'Session Affinity:         None',
        'External Traffic Policy:  Cluster',
        'Internal Traffic Policy:  Cluster',
        '',
      ].join('\n'),
    );
    assert.deepEqual(events, [
      ['Type', 'Reason', 'Age', 'From', 'Message'],
      ['----', '------', '----', '----', '-------'],
      ['Normal', 'UpdatedLoadBalancer', 'Age', 'service-controller', 'Updated LoadBalancer with new IPs: [] -> [10.0.0.1 10.0.0.2]'],
    ]);
  });

  it('LoadBalancer of another class, pending, without node ports', async () => {
    assert.equal(
      await ok(['describe', 'svc', '-n', 'svc', 'lb-pending']),
      [
        'Name:                     lb-pending',
        'Namespace:                svc',
        'Labels:                   <none>',
        'Annotations:              <none>',
        'Selector:                 <none>',
        'Type:                     LoadBalancer',
        'IP Family Policy:         SingleStack',
        'IP Families:              IPv4',
        'IP:                       10.96.100.13',
        'IPs:                      10.96.100.13',
        'Port:                     dns  53/UDP',
        'TargetPort:               53/UDP',
        // No selector and no Endpoints object: no EndpointSlice either.
        'Endpoints:                <none>',
        'Session Affinity:         None',
        'External Traffic Policy:  Cluster',
        'Internal Traffic Policy:  Cluster',
        'Events:                   <none>',
        '',
      ].join('\n'),
    );
  });

  it('LoadBalancer with IP and hostname ingress points plus external IPs', async () => {
    assert.equal(
      await ok(['describe', 'svc', '-n', 'svc', 'lb-multi']),
      [
        'Name:                     lb-multi',
        'Namespace:                svc',
        'Labels:                   <none>',
        'Annotations:              <none>',
        'Selector:                 <none>',
        'Type:                     LoadBalancer',
        'IP Family Policy:         SingleStack',
        'IP Families:              IPv4',
        'IP:                       10.96.100.15',
        'IPs:                      10.96.100.15',
        'External IPs:             192.0.2.7',
        // In status order; the apiserver defaults ipMode to VIP for IP entries only.
        'LoadBalancer Ingress:     203.0.113.9 (VIP), 203.0.113.10 (VIP), lb.example.com',
        'Port:                     <unset>  80/TCP',
        'TargetPort:               80/TCP',
        'NodePort:                 <unset>  30085/TCP',
        'Endpoints:                <none>',
        'Session Affinity:         None',
        'External Traffic Policy:  Cluster',
        'Internal Traffic Policy:  Cluster',
        'Events:                   <none>',
        '',
      ].join('\n'),
    );
  });

  it('externalTrafficPolicy Local: the health check node port, and only nodes with a ready endpoint', async () => {
    await ok([
      'create',
      '-f',
      await c.file(
        'local.yaml',
        'apiVersion: v1\nkind: Service\nmetadata: {name: lb-local, namespace: svc}\nspec:\n  type: LoadBalancer\n  clusterIP: 10.96.100.16\n  externalTrafficPolicy: Local\n  healthCheckNodePort: 32000\n  selector: {app: web}\n  ports: [{port: 8080, nodePort: 30090}]\n',
      ),
    ]);
    await c.waitFor(ref.services, 'svc', 'lb-local', (s) => JSON.stringify(s?.status?.loadBalancer?.ingress?.map((i: any) => i.ip)) === '["10.0.0.1"]');
    const { head } = splitEvents(await ok(['describe', 'svc', '-n', 'svc', 'lb-local']));
    assert.equal(
      head,
      [
        'Name:                     lb-local',
        'Namespace:                svc',
        'Labels:                   <none>',
        'Annotations:              <none>',
        'Selector:                 app=web',
        'Type:                     LoadBalancer',
        'IP Family Policy:         SingleStack',
        'IP Families:              IPv4',
        'IP:                       10.96.100.16',
        'IPs:                      10.96.100.16',
        'LoadBalancer Ingress:     10.0.0.1 (VIP)',
        'Port:                     <unset>  8080/TCP',
        'TargetPort:               8080/TCP',
        'NodePort:                 <unset>  30090/TCP',
        'Endpoints:                10.244.0.2:8080,10.244.0.3:8080,10.244.0.4:8080',
        'Session Affinity:         None',
        'External Traffic Policy:  Local',
        'Internal Traffic Policy:  Cluster',
        'HealthCheck NodePort:     32000',
        '',
      ].join('\n'),
    );
  });

  it('ExternalName: no address, no families, no traffic policies', async () => {
    assert.equal(
      await ok(['describe', 'svc', '-n', 'svc', 'ext']),
      [
        'Name:              ext',
        'Namespace:         svc',
        'Labels:            <none>',
        'Annotations:       <none>',
        'Selector:          <none>',
        'Type:              ExternalName',
        'IP Families:       <none>',
        'IP:                ',
        'IPs:               <none>',
        'External Name:     db.example.com',
        'Session Affinity:  None',
        'Events:            <none>',
        '',
      ].join('\n'),
    );
  });

  it('headless with a selector: IP None, single stack, endpoints without ports', async () => {
    assert.equal(
      await ok(['describe', 'svc', '-n', 'svc', 'headless']),
      [
        'Name:                     headless',
        'Namespace:                svc',
        'Labels:                   <none>',
        'Annotations:              <none>',
        'Selector:                 app=web',
        'Type:                     ClusterIP',
        'IP Family Policy:         SingleStack',
        'IP Families:              IPv4',
        'IP:                       None',
        'IPs:                      None',
        'Port:                     <unset>  80/TCP',
        'TargetPort:               80/TCP',
        'Endpoints:                10.244.0.2:80,10.244.0.3:80,10.244.0.4:80',
        'Session Affinity:         None',
        'Internal Traffic Policy:  Cluster',
        'Events:                   <none>',
        '',
      ].join('\n'),
    );
  });

  it('external IPs and ClientIP session affinity', async () => {
    assert.equal(
      await ok(['describe', 'svc', '-n', 'svc', 'eips']),
      [
        'Name:                     eips',
        'Namespace:                svc',
        'Labels:                   <none>',
        'Annotations:              <none>',
        'Selector:                 <none>',
        'Type:                     ClusterIP',
        'IP Family Policy:         SingleStack',
        'IP Families:              IPv4',
        'IP:                       10.96.100.17',
        'IPs:                      10.96.100.17',
        'External IPs:             192.0.2.10,192.0.2.11',
        'Port:                     http  80/TCP',
        'TargetPort:               80/TCP',
        'Endpoints:                <none>',
        'Port:                     https  443/TCP',
        'TargetPort:               443/TCP',
        'Endpoints:                <none>',
        'Session Affinity:         ClientIP',
        // A ClusterIP Service with external IPs is reachable from outside: it gets one too.
        'External Traffic Policy:  Cluster',
        'Internal Traffic Policy:  Cluster',
        'Events:                   <none>',
        '',
      ].join('\n'),
    );
    const svc = await c.client.get(ref.services, 'svc', 'eips');
    assert.deepEqual(svc.spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10800 } });
  });

  it('kubectl patch between types: the fields of the old type go, those of the new one come', async () => {
    await ok(['create', 'service', 'clusterip', 'moves', '-n', 'svc', '--tcp=80:8080', '--clusterip=10.96.100.20']);
    await ok(['patch', 'svc', 'moves', '-n', 'svc', '-p', '{"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30120}]}}']);
    const common = (type: string) => [
      'Name:                     moves',
      'Namespace:                svc',
      'Labels:                   app=moves',
      'Annotations:              <none>',
      'Selector:                 app=moves',
      `Type:                     ${type}`,
      'IP Family Policy:         SingleStack',
      'IP Families:              IPv4',
      'IP:                       10.96.100.20',
      'IPs:                      10.96.100.20',
      'Port:                     80-8080  80/TCP',
      'TargetPort:               8080/TCP',
    ];
    assert.equal(
      await ok(['describe', 'svc', '-n', 'svc', 'moves']),
      [
        ...common('NodePort'),
        'NodePort:                 80-8080  30120/TCP',
        // The endpoints controllers keep an (empty) Endpoints and EndpointSlice for a selector.
        'Endpoints:                ',
        'Session Affinity:         None',
        'External Traffic Policy:  Cluster',
        'Internal Traffic Policy:  Cluster',
        'Events:                   <none>',
        '',
      ].join('\n'),
    );
    await ok(['patch', 'svc', 'moves', '-n', 'svc', '-p', '{"spec":{"type":"ClusterIP"}}']);
    assert.equal(
      await ok(['describe', 'svc', '-n', 'svc', 'moves']),
      [...common('ClusterIP'), 'Endpoints:                ', 'Session Affinity:         None', 'Internal Traffic Policy:  Cluster', 'Events:                   <none>', ''].join('\n'),
    );
    await ok(['patch', 'svc', 'moves', '-n', 'svc', '-p', '{"spec":{"type":"ExternalName","externalName":"moved.example.com"}}']);
    assert.equal(
      await ok(['describe', 'svc', '-n', 'svc', 'moves']),
      [
        'Name:              moves',
        'Namespace:         svc',
        'Labels:            app=moves',
        'Annotations:       <none>',
        'Selector:          app=moves',
        'Type:              ExternalName',
        'IP Families:       <none>',
        'IP:                ',
        'IPs:               <none>',
        'External Name:     moved.example.com',
        'Port:              80-8080  80/TCP',
        'TargetPort:        8080/TCP',
        'Endpoints:         ',
        'Session Affinity:  None',
        'Events:            <none>',
        '',
      ].join('\n'),
    );
    assert.deepEqual(table(await ok(['get', 'svc', '-n', 'svc', 'moves'])), [
      ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
      ['moves', 'ExternalName', '<none>', 'moved.example.com', '80/TCP', 'AGE'],
    ]);
  });

  it('headless without a selector asks for both families, as upstream', async () => {
    await ok(['create', '-f', await c.file('hl.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: headless-nosel, namespace: svc}\nspec:\n  clusterIP: None\n')]);
    const out = await ok(['describe', 'svc', '-n', 'svc', 'headless-nosel']);
    assert.match(out, /\nIP Family Policy: +RequireDualStack\nIP Families: +IPv4,IPv6\n/);
    // An update that leaves the policy out keeps it (upstream adopts the old policy).
    await ok(['label', 'svc', '-n', 'svc', 'headless-nosel', 'touched=yes']);
    const svc = await c.client.get(ref.services, 'svc', 'headless-nosel');
    assert.deepEqual([svc.spec.ipFamilyPolicy, svc.spec.ipFamilies], ['RequireDualStack', ['IPv4', 'IPv6']]);
    // Asked for explicitly, a single family stays single.
    await ok(['create', '-f', await c.file('hl1.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: headless-single, namespace: svc}\nspec:\n  clusterIP: None\n  ipFamilyPolicy: SingleStack\n')]);
    const single = await c.client.get(ref.services, 'svc', 'headless-single');
    assert.deepEqual([single.spec.ipFamilyPolicy, single.spec.ipFamilies], ['SingleStack', ['IPv4']]);
    // With a selector, or with a cluster IP, dual-stack needs a dual-stack cluster.
    const err = await fails(['create', '-f', await c.file('hl2.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: dual, namespace: svc}\nspec:\n  ipFamilyPolicy: RequireDualStack\n  ports: [{port: 80}]\n')]);
    assert.ok(err.includes('Service "dual" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services\n'), err);
    const singleTwo = await fails(['create', '-f', await c.file('hl3.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: single-two, namespace: svc}\nspec:\n  clusterIP: None\n  ipFamilyPolicy: SingleStack\n  ipFamilies: [IPv4, IPv6]\n')]);
    assert.ok(singleTwo.includes(`Service "single-two" is invalid: spec.ipFamilyPolicy: Invalid value: "SingleStack": must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified\n`), singleTwo);
    const withSelector = await ok(['describe', 'svc', '-n', 'svc', 'headless']);
    assert.match(withSelector, /\nIP Family Policy: +SingleStack\nIP Families: +IPv4\n/);
  });
});

describe('kubectl get endpoints / endpointslices', () => {
  it('ENDPOINTS: ip:port for ready addresses, three at most, then "+ N more..."', async () => {
    assert.deepEqual(table(await ok(['get', 'endpoints', '-n', 'manual'])), [
      ['NAME', 'ENDPOINTS', 'AGE'],
      ['empty', '<none>', 'AGE'],
      ['many', '192.0.2.1:5432,192.0.2.2:5432,192.0.2.3:5432 + 2 more...', 'AGE'],
      // Not-ready addresses are not listed, nor counted.
      ['not-ready', '', 'AGE'],
      ['portless', '192.0.2.1,192.0.2.2', 'AGE'],
      // Port by port: both addresses on 80, then the first on 443.
      ['two-ports', '192.0.2.1:80,192.0.2.2:80,192.0.2.1:443 + 1 more...', 'AGE'],
      ['v6', '[2001:db8::1]:80', 'AGE'],
    ]);
  });

  it('the endpoints controller: one entry per ready address and resolved target port', async () => {
    const rows = table(await ok(['get', 'endpoints', '-n', 'svc', 'lb', 'headless', 'web']));
    // web: 3 ready pods × 2 ports. Upstream orders a subset's ports by a hash of each
    // port, so only the count of a two-port row is a cluster-independent fact.
    assert.match(rows[3][1], /^10\.244\.0\.2:(8080|8443),10\.244\.0\.3:\1,10\.244\.0\.4:\1 \+ 3 more\.\.\.$/);
    rows[3][1] = 'checked';
    assert.deepEqual(rows, [
      ['NAME', 'ENDPOINTS', 'AGE'],
      ['lb', '10.244.0.2:8080,10.244.0.3:8080,10.244.0.4:8080', 'AGE'],
      ['headless', '10.244.0.2:80,10.244.0.3:80,10.244.0.4:80', 'AGE'],
      ['web', 'checked', 'AGE'],
    ]);
    // The named target port resolved through the pods' container port.
    const ep = await c.client.get(ref.endpoints, 'svc', 'web');
    assert.deepEqual(
      ep.subsets[0].ports.map((p: any) => `${p.name}=${p.port}/${p.protocol}`).sort(),
      ['http=8080/TCP', 'https=8443/TCP'],
    );
  });

  it('ADDRESSTYPE, PORTS (number, else name) and ENDPOINTS, "<unset>" when empty', async () => {
    assert.deepEqual(table(await ok(['get', 'endpointslices', '-n', 'manual'])), [
      ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
      // A port with neither number nor name is defaulted to name "" (never nil, so
      // never "*"): its cell is empty, and a list of empty cells reads "<unset>".
      ['any-port', 'IPv6', '<unset>', '2001:db8::1', 'AGE'],
      ['empty-1', 'FQDN', '<unset>', '<unset>', 'AGE'],
      ['many-1', 'IPv4', '80,b,443 + 1 more...', '192.0.2.1,192.0.2.2,192.0.2.3 + 1 more...', 'AGE'],
    ]);
  });

  it('the EndpointSlice controller: every pod address, ready or not; Services without a selector get none', async () => {
    const out = await ok(['get', 'endpointslices', '-n', 'svc', '-l', 'kubernetes.io/service-name in (lb,headless,lb-pending)']);
    const rows = table(out).map((r) => [r[0].replace(/-[a-z0-9]{5}$/, '-xxxxx'), ...r.slice(1)]);
    assert.deepEqual(rows, [
      ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
      ['headless-xxxxx', 'IPv4', '80', '10.244.0.1,10.244.0.2,10.244.0.3 + 1 more...', 'AGE'],
      ['lb-xxxxx', 'IPv4', '8080', '10.244.0.1,10.244.0.2,10.244.0.3 + 1 more...', 'AGE'],
    ]);
  });
});

describe('kubectl get ingress / ingressclass', () => {
  it('CLASS, HOSTS (three at most), ADDRESS and PORTS', async () => {
    assert.deepEqual(table(await ok(['get', 'ingress', '-n', 'manual'])), [
      ['NAME', 'CLASS', 'HOSTS', 'ADDRESS', 'PORTS', 'AGE'],
      ['catch-all', '<none>', '*', '', '80', 'AGE'],
      ['hosts', 'nginx', 'a.example.com,b.example.com,c.example.com + 1 more...', '192.0.2.50,lb.example.com', '80, 443', 'AGE'],
    ]);
  });

  it('CONTROLLER and PARAMETERS (Kind.group/name)', async () => {
    assert.deepEqual(table(await ok(['get', 'ingressclass'])), [
      ['NAME', 'CONTROLLER', 'PARAMETERS', 'AGE'],
      ['nginx', 'k8s.io/ingress-nginx', 'IngressParameters.k8s.example.com/external-lb', 'AGE'],
      ['plain', 'example.com/plain', '<none>', 'AGE'],
    ]);
  });
});

describe('events about Services', () => {
  it('kubectl get events lists the ServiceLB event', async () => {
    const rows = table(await ok(['get', 'events', '-n', 'svc', '--field-selector', 'involvedObject.name=lb']), ['LAST SEEN']);
    assert.deepEqual(rows, [
      ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
      ['LAST SEEN', 'Normal', 'UpdatedLoadBalancer', 'service/lb', 'Updated LoadBalancer with new IPs: [] -> [10.0.0.1 10.0.0.2]'],
    ]);
  });

  it('-o wide: SOURCE is the controller alone, as kube-controller-manager reports it', async () => {
    const rows = table(await ok(['get', 'events', '-n', 'svc', '--field-selector', 'involvedObject.name=lb', '-o', 'wide']), ['LAST SEEN', 'FIRST SEEN']);
    assert.equal(rows[0][5], 'SOURCE');
    assert.equal(rows[1][5], 'service-controller');
  });
});
