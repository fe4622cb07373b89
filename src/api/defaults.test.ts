// Unit: each served kind's minimal object and the object upstream 1.32 returns for it
// (defaulting and encoding only; admission and registry steps are tested separately
// below and in test/defaults.test.ts). Expected objects are written out in full, as
// `kubectl get -o yaml` shows them against a 1.32 apiserver.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admitIngress,
  admitNode,
  admitPersistentVolume,
  admitPersistentVolumeClaim,
  admitPod,
  applyDefaults,
  defaultPullPolicy,
  hasDefaults,
  type GroupVersionKind,
} from './defaults.ts';
import { roundedQuantity } from './defaults/quantity.ts';
import { RESOURCES } from './resources.ts';

const core = (kind: string): GroupVersionKind => ({ group: '', version: 'v1', kind });
const apps = (kind: string): GroupVersionKind => ({ group: 'apps', version: 'v1', kind });
const batch = (kind: string): GroupVersionKind => ({ group: 'batch', version: 'v1', kind });
const group = (g: string, kind: string, version = 'v1'): GroupVersionKind => ({ group: g, version, kind });

/** A defaulted copy; also checks defaulting it again changes nothing. */
function defaulted(gvk: GroupVersionKind, obj: Record<string, any>): Record<string, any> {
  const once = structuredClone(obj);
  applyDefaults(gvk, once);
  const twice = structuredClone(once);
  applyDefaults(gvk, twice);
  assert.deepEqual(twice, once, `defaulting ${gvk.kind} twice changed it`);
  return once;
}

// What every PodSpec gets, in pods and in templates alike.
const POD_SPEC_DEFAULTS = {
  dnsPolicy: 'ClusterFirst',
  restartPolicy: 'Always',
  schedulerName: 'default-scheduler',
  securityContext: {},
  terminationGracePeriodSeconds: 30,
};

/** A container as upstream returns it when only name and image were given. */
const container = (name: string, image: string, imagePullPolicy = 'IfNotPresent') => ({
  name,
  image,
  imagePullPolicy,
  resources: {},
  terminationMessagePath: '/dev/termination-log',
  terminationMessagePolicy: 'File',
});

const minimalTemplate = (labels: Record<string, string> = { app: 'web' }) => ({
  metadata: { labels },
  spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
});

const defaultedTemplate = (labels: Record<string, string> = { app: 'web' }) => ({
  metadata: { creationTimestamp: null, labels },
  spec: { containers: [container('web', 'nginx:1.27')], ...POD_SPEC_DEFAULTS },
});

test('every served kind with defaults is in the table, and no unserved one', () => {
  const withDefaults = RESOURCES.filter((r) => hasDefaults(r)).map((r) => r.kind);
  const without = RESOURCES.filter((r) => !hasDefaults(r)).map((r) => `${r.group}/${r.kind}`);
  // SelfSubjectReview and the access reviews are answered, never stored: nothing to default.
  assert.deepEqual(
    without.sort(),
    [
      '/ComponentStatus',
      '/ConfigMap',
      '/ServiceAccount',
      'authentication.k8s.io/SelfSubjectReview',
      'authorization.k8s.io/LocalSubjectAccessReview',
      'authorization.k8s.io/SelfSubjectAccessReview',
      'authorization.k8s.io/SelfSubjectRulesReview',
      'authorization.k8s.io/SubjectAccessReview',
      'events.k8s.io/Event',
    ].sort(),
  );
  assert.ok(withDefaults.includes('CustomResourceDefinition'));
  assert.ok(withDefaults.includes('Pod'));
});

describe('core/v1', () => {
  test('Pod', () => {
    const pod = defaulted(core('Pod'), { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } });
    assert.deepEqual(pod, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [container('c', 'nginx', 'Always')], enableServiceLinks: true, ...POD_SPEC_DEFAULTS },
      status: {},
    });
  });

  test('Pod: requests copied from limits, quantities canonical, hostNetwork host ports', () => {
    const pod = defaulted(core('Pod'), {
      metadata: { name: 'p' },
      spec: {
        hostNetwork: true,
        containers: [
          {
            name: 'c',
            image: 'app:v1',
            ports: [{ containerPort: 8080 }, { containerPort: 53, protocol: 'UDP', hostPort: 5353 }],
            resources: { limits: { cpu: 0.5, memory: '1.5Gi' }, requests: { memory: '1000Mi' } },
          },
        ],
        initContainers: [{ name: 'init', image: 'busybox', resources: { limits: { cpu: '100u' } } }],
        overhead: { cpu: '0.25' },
      },
    });
    assert.deepEqual(pod.spec.containers[0].ports, [
      { containerPort: 8080, protocol: 'TCP', hostPort: 8080 },
      { containerPort: 53, protocol: 'UDP', hostPort: 5353 },
    ]);
    assert.deepEqual(pod.spec.containers[0].resources, {
      limits: { cpu: '500m', memory: '1536Mi' },
      requests: { cpu: '500m', memory: '1000Mi' },
    });
    // Rounded up to a whole milli-CPU.
    assert.deepEqual(pod.spec.initContainers[0].resources, { limits: { cpu: '1m' }, requests: { cpu: '1m' } });
    assert.deepEqual(pod.spec.overhead, { cpu: '250m' });
  });

  test('Pod: probes, lifecycle hooks, env fieldRefs', () => {
    const pod = defaulted(core('Pod'), {
      metadata: { name: 'p' },
      spec: {
        containers: [
          {
            name: 'c',
            image: 'app:v1',
            livenessProbe: { httpGet: { port: 8080 } },
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 5 },
            startupProbe: { grpc: { port: 9090 }, failureThreshold: 30 },
            lifecycle: { preStop: { httpGet: { port: 8080, path: '/quit' } }, postStart: { exec: { command: ['true'] } } },
            env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }, { name: 'A', value: 'b' }],
          },
        ],
      },
    });
    const c = pod.spec.containers[0];
    assert.deepEqual(c.livenessProbe, {
      httpGet: { port: 8080, path: '/', scheme: 'HTTP' },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    });
    assert.deepEqual(c.readinessProbe, { tcpSocket: { port: 8080 }, periodSeconds: 5, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 });
    assert.deepEqual(c.startupProbe, { grpc: { port: 9090, service: '' }, failureThreshold: 30, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1 });
    assert.deepEqual(c.lifecycle, { preStop: { httpGet: { port: 8080, path: '/quit', scheme: 'HTTP' } }, postStart: { exec: { command: ['true'] } } });
    assert.deepEqual(c.env, [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName', apiVersion: 'v1' } } }, { name: 'A', value: 'b' }]);
  });

  test('Pod: volumes', () => {
    const pod = defaulted(core('Pod'), {
      metadata: { name: 'p' },
      spec: {
        containers: [{ name: 'c', image: 'app:v1' }],
        volumes: [
          { name: 'scratch' },
          { name: 'cache', emptyDir: { sizeLimit: '1024Mi' } },
          { name: 'cm', configMap: { name: 'cfg' } },
          { name: 'sec', secret: { secretName: 's', defaultMode: 0o400 } },
          { name: 'host', hostPath: { path: '/var/log' } },
          { name: 'meta', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
          {
            name: 'proj',
            projected: { sources: [{ serviceAccountToken: { path: 't', audience: 'vault' } }, { downwardAPI: { items: [{ path: 'n', fieldRef: { fieldPath: 'metadata.name' } }] } }] },
          },
          { name: 'disk', azureDisk: { diskName: 'd', diskURI: 'uri' } },
          { name: 'ceph', rbd: { monitors: ['m'], image: 'i' } },
          { name: 'scsi', iscsi: { targetPortal: 't', iqn: 'q', lun: 0 } },
          {
            name: 'eph',
            ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1G' } } } } },
          },
        ],
      },
    });
    assert.deepEqual(pod.spec.volumes, [
      { name: 'scratch', emptyDir: {} },
      { name: 'cache', emptyDir: { sizeLimit: '1Gi' } },
      { name: 'cm', configMap: { name: 'cfg', defaultMode: 420 } },
      { name: 'sec', secret: { secretName: 's', defaultMode: 256 } },
      { name: 'host', hostPath: { path: '/var/log', type: '' } },
      { name: 'meta', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels', apiVersion: 'v1' } }], defaultMode: 420 } },
      {
        name: 'proj',
        projected: {
          sources: [
            { serviceAccountToken: { path: 't', audience: 'vault', expirationSeconds: 3600 } },
            { downwardAPI: { items: [{ path: 'n', fieldRef: { fieldPath: 'metadata.name', apiVersion: 'v1' } }] } },
          ],
          defaultMode: 420,
        },
      },
      { name: 'disk', azureDisk: { diskName: 'd', diskURI: 'uri', cachingMode: 'ReadWrite', fsType: 'ext4', readOnly: false, kind: 'Shared' } },
      { name: 'ceph', rbd: { monitors: ['m'], image: 'i', pool: 'rbd', user: 'admin', keyring: '/etc/ceph/keyring' } },
      { name: 'scsi', iscsi: { targetPortal: 't', iqn: 'q', lun: 0, iscsiInterface: 'default' } },
      {
        name: 'eph',
        ephemeral: {
          volumeClaimTemplate: {
            metadata: { creationTimestamp: null },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1G' } }, volumeMode: 'Filesystem' },
          },
        },
      },
    ]);
  });

  test('Pod: explicit values are kept, zero values of plain fields are not', () => {
    const pod = defaulted(core('Pod'), {
      metadata: { name: 'p' },
      spec: {
        restartPolicy: 'Never',
        dnsPolicy: '',
        terminationGracePeriodSeconds: 0,
        enableServiceLinks: false,
        securityContext: { runAsUser: 1000 },
        containers: [{ name: 'c', image: 'nginx', imagePullPolicy: 'Never', readinessProbe: { exec: { command: ['x'] }, timeoutSeconds: 0 } }],
      },
    });
    assert.equal(pod.spec.restartPolicy, 'Never');
    assert.equal(pod.spec.dnsPolicy, 'ClusterFirst');
    assert.equal(pod.spec.terminationGracePeriodSeconds, 0);
    assert.equal(pod.spec.enableServiceLinks, false);
    assert.deepEqual(pod.spec.securityContext, { runAsUser: 1000 });
    assert.equal(pod.spec.containers[0].imagePullPolicy, 'Never');
    assert.equal(pod.spec.containers[0].readinessProbe.timeoutSeconds, 1);
  });

  test('Pod: serviceAccount is an alias of serviceAccountName', () => {
    const viaAlias = defaulted(core('Pod'), { metadata: { name: 'p' }, spec: { serviceAccount: 'old', containers: [] } });
    assert.equal(viaAlias.spec.serviceAccountName, 'old');
    assert.equal(viaAlias.spec.serviceAccount, 'old');
    const both = defaulted(core('Pod'), { metadata: { name: 'p' }, spec: { serviceAccount: 'old', serviceAccountName: 'new', containers: [] } });
    assert.equal(both.spec.serviceAccount, 'new');
  });

  test('PodTemplate: PodSpec defaults only, no Pod-only ones', () => {
    const pt = defaulted(core('PodTemplate'), {
      metadata: { name: 't' },
      template: { spec: { containers: [{ name: 'web', image: 'nginx:1.27', resources: { limits: { cpu: '1' } } }] } },
    });
    assert.deepEqual(pt, {
      metadata: { name: 't' },
      template: {
        metadata: { creationTimestamp: null },
        spec: { containers: [{ ...container('web', 'nginx:1.27'), resources: { limits: { cpu: '1' } } }], ...POD_SPEC_DEFAULTS },
      },
    });
  });

  test('ReplicationController: selector and labels from the template', () => {
    const rc = defaulted(core('ReplicationController'), { metadata: { name: 'rc' }, spec: { template: minimalTemplate() } });
    assert.deepEqual(rc, {
      metadata: { name: 'rc', labels: { app: 'web' } },
      spec: { replicas: 1, selector: { app: 'web' }, template: defaultedTemplate() },
      status: { replicas: 0 },
    });
    const own = defaulted(core('ReplicationController'), {
      metadata: { name: 'rc', labels: { team: 'a' } },
      spec: { replicas: 0, selector: { app: 'web' }, template: minimalTemplate({ app: 'web', tier: 'f' }) },
    });
    assert.deepEqual(own.metadata.labels, { team: 'a' });
    assert.deepEqual(own.spec.selector, { app: 'web' });
    assert.equal(own.spec.replicas, 0);
  });

  test('Service: ClusterIP', () => {
    const svc = defaulted(core('Service'), { metadata: { name: 's' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }, { name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' }] } });
    assert.deepEqual(svc, {
      metadata: { name: 's' },
      spec: {
        selector: { app: 'web' },
        ports: [
          { port: 80, protocol: 'TCP', targetPort: 80 },
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' },
        ],
        sessionAffinity: 'None',
        type: 'ClusterIP',
        internalTrafficPolicy: 'Cluster',
      },
      status: { loadBalancer: {} },
    });
  });

  test('Service: NodePort, LoadBalancer, ExternalName, ClientIP affinity, externalIPs', () => {
    const np = defaulted(core('Service'), { metadata: { name: 's' }, spec: { type: 'NodePort', ports: [{ port: 80, targetPort: 0 }] } });
    assert.equal(np.spec.externalTrafficPolicy, 'Cluster');
    assert.equal(np.spec.internalTrafficPolicy, 'Cluster');
    assert.equal(np.spec.ports[0].targetPort, 80);
    assert.equal(np.spec.allocateLoadBalancerNodePorts, undefined);

    const lb = defaulted(core('Service'), {
      metadata: { name: 's' },
      spec: { type: 'LoadBalancer', ports: [{ port: 443 }], externalTrafficPolicy: 'Local' },
      status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }, { hostname: 'lb.example' }] } },
    });
    assert.equal(lb.spec.externalTrafficPolicy, 'Local');
    assert.equal(lb.spec.allocateLoadBalancerNodePorts, true);
    assert.deepEqual(lb.status.loadBalancer.ingress, [{ ip: '1.2.3.4', ipMode: 'VIP' }, { hostname: 'lb.example' }]);

    const ext = defaulted(core('Service'), { metadata: { name: 's' }, spec: { type: 'ExternalName', externalName: 'db.example.com' } });
    assert.deepEqual(ext.spec, { type: 'ExternalName', externalName: 'db.example.com', sessionAffinity: 'None' });

    const sticky = defaulted(core('Service'), { metadata: { name: 's' }, spec: { sessionAffinity: 'ClientIP', ports: [{ port: 80 }] } });
    assert.deepEqual(sticky.spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10800 } });
    const none = defaulted(core('Service'), { metadata: { name: 's' }, spec: { sessionAffinityConfig: { clientIP: { timeoutSeconds: 5 } }, ports: [{ port: 80 }] } });
    assert.equal(none.spec.sessionAffinityConfig, undefined);

    const external = defaulted(core('Service'), { metadata: { name: 's' }, spec: { externalIPs: ['10.0.0.9'], ports: [{ port: 80 }] } });
    assert.equal(external.spec.externalTrafficPolicy, 'Cluster');
  });

  test('Endpoints', () => {
    const ep = defaulted(core('Endpoints'), { metadata: { name: 'e' }, subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }, { port: 53, protocol: 'UDP' }] }] });
    assert.deepEqual(ep.subsets[0].ports, [{ port: 80, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }]);
  });

  test('Secret: type Opaque, stringData merged into data', () => {
    assert.deepEqual(defaulted(core('Secret'), { metadata: { name: 's' } }), { metadata: { name: 's' }, type: 'Opaque' });
    const s = defaulted(core('Secret'), {
      metadata: { name: 's' },
      type: 'kubernetes.io/basic-auth',
      data: { username: 'YWRtaW4=', password: 'b2xk' },
      stringData: { password: 'p@ss', extra: 'ü' },
    });
    assert.deepEqual(s, {
      metadata: { name: 's' },
      type: 'kubernetes.io/basic-auth',
      data: { username: 'YWRtaW4=', password: 'cEBzcw==', extra: 'w7w=' },
    });
  });

  test('ConfigMap and ServiceAccount are left alone', () => {
    const cm = { metadata: { name: 'c' }, data: { a: 'b' } };
    const copy = structuredClone(cm);
    applyDefaults(core('ConfigMap'), copy);
    assert.deepEqual(copy, cm);
  });

  test('Namespace', () => {
    assert.deepEqual(defaulted(core('Namespace'), { metadata: { name: 'team-a', labels: { env: 'dev' } } }), {
      metadata: { name: 'team-a', labels: { env: 'dev', 'kubernetes.io/metadata.name': 'team-a' } },
      spec: {},
      status: { phase: 'Active' },
    });
  });

  test('Node', () => {
    assert.deepEqual(defaulted(core('Node'), { metadata: { name: 'n1' } }), {
      metadata: { name: 'n1' },
      spec: {},
      status: {
        daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
        nodeInfo: {
          machineID: '',
          systemUUID: '',
          bootID: '',
          kernelVersion: '',
          osImage: '',
          containerRuntimeVersion: '',
          kubeletVersion: '',
          kubeProxyVersion: '',
          operatingSystem: '',
          architecture: '',
        },
      },
    });
    const withCapacity = defaulted(core('Node'), { metadata: { name: 'n1' }, status: { capacity: { cpu: '4', memory: '8192Mi', pods: 110 } } });
    assert.deepEqual(withCapacity.status.capacity, { cpu: '4', memory: '8Gi', pods: '110' });
    assert.deepEqual(withCapacity.status.allocatable, { cpu: '4', memory: '8Gi', pods: '110' });
  });

  test('PersistentVolume', () => {
    assert.deepEqual(
      defaulted(core('PersistentVolume'), { metadata: { name: 'pv' }, spec: { capacity: { storage: '10Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/data' } } }),
      {
        metadata: { name: 'pv' },
        spec: {
          capacity: { storage: '10Gi' },
          accessModes: ['ReadWriteOnce'],
          hostPath: { path: '/data', type: '' },
          persistentVolumeReclaimPolicy: 'Retain',
          volumeMode: 'Filesystem',
        },
        status: { phase: 'Pending' },
      },
    );
  });

  test('PersistentVolumeClaim', () => {
    assert.deepEqual(
      defaulted(core('PersistentVolumeClaim'), { metadata: { name: 'c' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }),
      {
        metadata: { name: 'c' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem' },
        status: { phase: 'Pending' },
      },
    );
  });

  test('ResourceQuota: quantities canonical', () => {
    assert.deepEqual(defaulted(core('ResourceQuota'), { metadata: { name: 'q' }, spec: { hard: { cpu: '1000m', memory: '1024Mi', pods: 10, 'requests.storage': '0.5Ti' } } }), {
      metadata: { name: 'q' },
      spec: { hard: { cpu: '1', memory: '1Gi', pods: '10', 'requests.storage': '512Gi' } },
      status: {},
    });
  });

  test('LimitRange: default limit from max, default request from the default, then from min', () => {
    const lr = defaulted(core('LimitRange'), {
      metadata: { name: 'l' },
      spec: {
        limits: [
          { type: 'Container', max: { cpu: '2', memory: '1Gi' }, min: { cpu: '100m', memory: '64Mi' }, default: { memory: '512Mi' } },
          { type: 'Pod', max: { cpu: '4' } },
          { type: 'Container', min: { cpu: '10m' } },
        ],
      },
    });
    assert.deepEqual(lr.spec.limits, [
      {
        type: 'Container',
        max: { cpu: '2', memory: '1Gi' },
        min: { cpu: '100m', memory: '64Mi' },
        default: { memory: '512Mi', cpu: '2' },
        defaultRequest: { memory: '512Mi', cpu: '2' },
      },
      { type: 'Pod', max: { cpu: '4' } },
      { type: 'Container', min: { cpu: '10m' }, defaultRequest: { cpu: '10m' } },
    ]);
  });

  test('Event: fields Go always writes', () => {
    assert.deepEqual(
      defaulted(core('Event'), {
        metadata: { name: 'e' },
        involvedObject: { kind: 'Pod', name: 'p' },
        reason: 'Started',
        firstTimestamp: '2024-01-01T00:00:00Z',
      }),
      {
        metadata: { name: 'e' },
        involvedObject: { kind: 'Pod', name: 'p' },
        reason: 'Started',
        source: {},
        firstTimestamp: '2024-01-01T00:00:00Z',
        lastTimestamp: null,
        eventTime: null,
        reportingComponent: '',
        reportingInstance: '',
      },
    );
  });
});

describe('apps/v1', () => {
  test('Deployment', () => {
    assert.deepEqual(defaulted(apps('Deployment'), { metadata: { name: 'd' }, spec: { selector: { matchLabels: { app: 'web' } }, template: minimalTemplate() } }), {
      metadata: { name: 'd' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: defaultedTemplate(),
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
        revisionHistoryLimit: 10,
        progressDeadlineSeconds: 600,
      },
      status: {},
    });
  });

  test('Deployment: kubectl create deployment (replicas 0, strategy {}), Recreate, partial rollingUpdate', () => {
    const d = defaulted(apps('Deployment'), {
      metadata: { name: 'd', creationTimestamp: null, labels: { app: 'd' } },
      spec: { replicas: 0, selector: { matchLabels: { app: 'd' } }, template: { metadata: { creationTimestamp: null, labels: { app: 'd' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27', ports: [{ containerPort: 80 }], resources: {} }] } }, strategy: {} },
      status: {},
    });
    assert.equal(d.spec.replicas, 0);
    assert.deepEqual(d.spec.template.spec.containers[0].ports, [{ containerPort: 80, protocol: 'TCP' }]);
    assert.deepEqual(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
    const recreate = defaulted(apps('Deployment'), { metadata: { name: 'd' }, spec: { strategy: { type: 'Recreate' }, template: minimalTemplate() } });
    assert.deepEqual(recreate.spec.strategy, { type: 'Recreate' });
    const partial = defaulted(apps('Deployment'), { metadata: { name: 'd' }, spec: { strategy: { rollingUpdate: { maxSurge: 0 } }, template: minimalTemplate() } });
    assert.deepEqual(partial.spec.strategy, { rollingUpdate: { maxSurge: 0, maxUnavailable: '25%' }, type: 'RollingUpdate' });
  });

  test('ReplicaSet', () => {
    assert.deepEqual(defaulted(apps('ReplicaSet'), { metadata: { name: 'r' }, spec: { selector: { matchLabels: { app: 'web' } }, template: minimalTemplate() } }), {
      metadata: { name: 'r' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: defaultedTemplate() },
      status: { replicas: 0 },
    });
  });

  test('StatefulSet', () => {
    const sts = defaulted(apps('StatefulSet'), {
      metadata: { name: 'db' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: minimalTemplate(),
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      },
    });
    assert.deepEqual(sts, {
      metadata: { name: 'db' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: defaultedTemplate(),
        volumeClaimTemplates: [
          {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            metadata: { name: 'data', creationTimestamp: null },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem' },
            status: { phase: 'Pending' },
          },
        ],
        podManagementPolicy: 'OrderedReady',
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        replicas: 1,
        revisionHistoryLimit: 10,
        serviceName: '',
      },
      status: { replicas: 0, availableReplicas: 0 },
    });
  });

  test('StatefulSet: an explicit RollingUpdate type gets no rollingUpdate; OnDelete none', () => {
    const explicit = defaulted(apps('StatefulSet'), { metadata: { name: 'db' }, spec: { updateStrategy: { type: 'RollingUpdate' }, template: minimalTemplate() } });
    assert.deepEqual(explicit.spec.updateStrategy, { type: 'RollingUpdate' });
    const partition = defaulted(apps('StatefulSet'), { metadata: { name: 'db' }, spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: {} }, template: minimalTemplate() } });
    assert.deepEqual(partition.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
    const onDelete = defaulted(apps('StatefulSet'), { metadata: { name: 'db' }, spec: { updateStrategy: { type: 'OnDelete' }, template: minimalTemplate() } });
    assert.deepEqual(onDelete.spec.updateStrategy, { type: 'OnDelete' });
  });

  test('DaemonSet', () => {
    assert.deepEqual(defaulted(apps('DaemonSet'), { metadata: { name: 'ds' }, spec: { selector: { matchLabels: { app: 'web' } }, template: minimalTemplate() } }), {
      metadata: { name: 'ds' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: defaultedTemplate(),
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
        revisionHistoryLimit: 10,
      },
      status: { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 },
    });
  });

  test('ControllerRevision', () => {
    assert.deepEqual(defaulted(apps('ControllerRevision'), { metadata: { name: 'r' } }), { metadata: { name: 'r' }, data: null, revision: 0 });
    assert.deepEqual(defaulted(apps('ControllerRevision'), { metadata: { name: 'r' }, data: { a: 1 }, revision: 3 }), { metadata: { name: 'r' }, data: { a: 1 }, revision: 3 });
  });
});

describe('batch/v1', () => {
  const jobTemplate = () => ({ spec: { containers: [{ name: 'pi', image: 'perl:5.34' }], restartPolicy: 'Never' } });
  const defaultedJobTemplate = () => ({
    metadata: { creationTimestamp: null },
    spec: { containers: [container('pi', 'perl:5.34')], ...POD_SPEC_DEFAULTS, restartPolicy: 'Never' },
  });

  test('Job', () => {
    assert.deepEqual(defaulted(batch('Job'), { metadata: { name: 'j' }, spec: { template: jobTemplate() } }), {
      metadata: { name: 'j' },
      spec: {
        template: defaultedJobTemplate(),
        completions: 1,
        parallelism: 1,
        backoffLimit: 6,
        completionMode: 'NonIndexed',
        suspend: false,
        podReplacementPolicy: 'TerminatingOrFailed',
        manualSelector: false,
      },
      status: {},
    });
  });

  test('Job: completions and parallelism are defaulted together only when both are unset', () => {
    const workQueue = defaulted(batch('Job'), { metadata: { name: 'j' }, spec: { parallelism: 3, template: jobTemplate() } });
    assert.equal(workQueue.spec.parallelism, 3);
    assert.equal(workQueue.spec.completions, undefined);
    const fixed = defaulted(batch('Job'), { metadata: { name: 'j' }, spec: { completions: 5, template: jobTemplate() } });
    assert.equal(fixed.spec.completions, 5);
    assert.equal(fixed.spec.parallelism, 1);
    const zero = defaulted(batch('Job'), { metadata: { name: 'j' }, spec: { parallelism: 0, template: jobTemplate() } });
    assert.equal(zero.spec.parallelism, 0);
    assert.equal(zero.spec.completions, undefined);
  });

  test('Job: per-index backoff, pod failure policy, labels from the template', () => {
    const indexed = defaulted(batch('Job'), {
      metadata: { name: 'j' },
      spec: {
        completions: 4,
        completionMode: 'Indexed',
        backoffLimitPerIndex: 1,
        podFailurePolicy: { rules: [{ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] }] },
        template: { metadata: { labels: { app: 'batch' } }, ...jobTemplate() },
      },
    });
    assert.equal(indexed.spec.backoffLimit, 2147483647);
    assert.equal(indexed.spec.podReplacementPolicy, 'Failed');
    assert.deepEqual(indexed.spec.podFailurePolicy.rules[0].onPodConditions, [{ type: 'DisruptionTarget', status: 'True' }]);
    assert.deepEqual(indexed.metadata.labels, { app: 'batch' });
    const own = defaulted(batch('Job'), { metadata: { name: 'j', labels: { mine: 'x' } }, spec: { template: { metadata: { labels: { app: 'batch' } }, ...jobTemplate() } } });
    assert.deepEqual(own.metadata.labels, { mine: 'x' });
  });

  test('CronJob: the job template gets pod template defaults only', () => {
    assert.deepEqual(
      defaulted(batch('CronJob'), { metadata: { name: 'cj' }, spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: jobTemplate() } } } }),
      {
        metadata: { name: 'cj' },
        spec: {
          schedule: '*/5 * * * *',
          jobTemplate: { metadata: { creationTimestamp: null }, spec: { template: defaultedJobTemplate() } },
          concurrencyPolicy: 'Allow',
          suspend: false,
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 1,
        },
        status: {},
      },
    );
  });
});

describe('other groups', () => {
  const target = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' };

  test('HorizontalPodAutoscaler: minReplicas, the CPU metric, no behavior unless given', () => {
    assert.deepEqual(defaulted(group('autoscaling', 'HorizontalPodAutoscaler', 'v2'), { metadata: { name: 'h' }, spec: { scaleTargetRef: target, maxReplicas: 5 } }), {
      metadata: { name: 'h' },
      spec: {
        scaleTargetRef: target,
        maxReplicas: 5,
        minReplicas: 1,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }],
      },
      status: { desiredReplicas: 0, currentMetrics: null },
    });
  });

  test('HorizontalPodAutoscaler: a given behavior is completed', () => {
    const hpa = defaulted(group('autoscaling', 'HorizontalPodAutoscaler', 'v2'), {
      metadata: { name: 'h' },
      spec: { scaleTargetRef: target, maxReplicas: 5, behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } },
    });
    assert.deepEqual(hpa.spec.behavior, {
      scaleDown: { stabilizationWindowSeconds: 60, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
      scaleUp: {
        stabilizationWindowSeconds: 0,
        selectPolicy: 'Max',
        policies: [
          { type: 'Pods', value: 4, periodSeconds: 15 },
          { type: 'Percent', value: 100, periodSeconds: 15 },
        ],
      },
    });
    const noUp = defaulted(group('autoscaling', 'HorizontalPodAutoscaler', 'v2'), {
      metadata: { name: 'h' },
      spec: { scaleTargetRef: target, maxReplicas: 5, behavior: { scaleUp: { selectPolicy: 'Disabled', policies: [] } } },
    });
    // An empty list is not stored, so reading back fills the default policies in.
    assert.deepEqual(noUp.spec.behavior.scaleUp, {
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Disabled',
      policies: [
        { type: 'Pods', value: 4, periodSeconds: 15 },
        { type: 'Percent', value: 100, periodSeconds: 15 },
      ],
    });
  });

  test('NetworkPolicy', () => {
    const np = defaulted(group('networking.k8s.io', 'NetworkPolicy'), { metadata: { name: 'n' }, spec: { ingress: [{ ports: [{ port: 80 }, { port: 53, protocol: 'UDP' }] }] } });
    assert.deepEqual(np, {
      metadata: { name: 'n' },
      spec: { ingress: [{ ports: [{ port: 80, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }] }], podSelector: {}, policyTypes: ['Ingress'] },
    });
    const egress = defaulted(group('networking.k8s.io', 'NetworkPolicy'), { metadata: { name: 'n' }, spec: { podSelector: {}, egress: [{}] } });
    assert.deepEqual(egress.spec.policyTypes, ['Ingress', 'Egress']);
    const onlyEgress = defaulted(group('networking.k8s.io', 'NetworkPolicy'), { metadata: { name: 'n' }, spec: { podSelector: {}, policyTypes: ['Egress'] } });
    assert.deepEqual(onlyEgress.spec.policyTypes, ['Egress']);
  });

  test('Ingress and IngressClass', () => {
    const ing = defaulted(group('networking.k8s.io', 'Ingress'), {
      metadata: { name: 'i' },
      spec: { rules: [{ http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 's', port: { number: 80 } } } }] } }] },
    });
    assert.deepEqual(ing.status, { loadBalancer: {} });
    assert.equal(ing.spec.rules[0].http.paths[0].pathType, 'Prefix');
    assert.deepEqual(defaulted(group('networking.k8s.io', 'IngressClass'), { metadata: { name: 'c' } }), { metadata: { name: 'c' }, spec: {} });
    const withParams = defaulted(group('networking.k8s.io', 'IngressClass'), { metadata: { name: 'c' }, spec: { controller: 'x/y', parameters: { kind: 'P', name: 'p' } } });
    assert.deepEqual(withParams.spec.parameters, { kind: 'P', name: 'p', scope: 'Cluster' });
  });

  test('EndpointSlice', () => {
    assert.deepEqual(
      defaulted(group('discovery.k8s.io', 'EndpointSlice'), { metadata: { name: 'e' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }], ports: [{ port: 80 }] }),
      { metadata: { name: 'e' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], conditions: {} }], ports: [{ port: 80, name: '', protocol: 'TCP' }] },
    );
    assert.deepEqual(defaulted(group('discovery.k8s.io', 'EndpointSlice'), { metadata: { name: 'e' }, addressType: 'IPv4' }), {
      metadata: { name: 'e' },
      addressType: 'IPv4',
      endpoints: null,
      ports: null,
    });
  });

  test('PodDisruptionBudget', () => {
    assert.deepEqual(defaulted(group('policy', 'PodDisruptionBudget'), { metadata: { name: 'p' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } } }), {
      metadata: { name: 'p' },
      spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } },
      status: { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 },
    });
  });

  test('RBAC: roleRef and subjects get their API group', () => {
    const rb = defaulted(group('rbac.authorization.k8s.io', 'RoleBinding'), {
      metadata: { name: 'rb' },
      roleRef: { kind: 'Role', name: 'r' },
      subjects: [{ kind: 'User', name: 'alice' }, { kind: 'Group', name: 'devs' }, { kind: 'ServiceAccount', name: 'sa', namespace: 'ns' }],
    });
    assert.deepEqual(rb, {
      metadata: { name: 'rb' },
      roleRef: { kind: 'Role', name: 'r', apiGroup: 'rbac.authorization.k8s.io' },
      subjects: [
        { kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' },
        { kind: 'Group', name: 'devs', apiGroup: 'rbac.authorization.k8s.io' },
        { kind: 'ServiceAccount', name: 'sa', namespace: 'ns' },
      ],
    });
    assert.deepEqual(defaulted(group('rbac.authorization.k8s.io', 'ClusterRole'), { metadata: { name: 'c' } }), { metadata: { name: 'c' }, rules: null });
  });

  test('CustomResourceDefinition', () => {
    const crd = defaulted(group('apiextensions.k8s.io', 'CustomResourceDefinition'), {
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        names: { plural: 'widgets', kind: 'Widget' },
        scope: 'Namespaced',
        versions: [
          { name: 'v1beta1', served: true, storage: false },
          { name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object' } } },
        ],
      },
    });
    assert.deepEqual(crd, {
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        names: { plural: 'widgets', kind: 'Widget', singular: 'widget', listKind: 'WidgetList' },
        scope: 'Namespaced',
        versions: [
          { name: 'v1beta1', served: true, storage: false },
          { name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object' } } },
        ],
        conversion: { strategy: 'None' },
      },
      status: { storedVersions: ['v1'], acceptedNames: { kind: '', plural: '' }, conditions: null },
    });
    const webhook = defaulted(group('apiextensions.k8s.io', 'CustomResourceDefinition'), {
      metadata: { name: 'w' },
      spec: { names: { plural: 'ws', kind: 'W', singular: 'dubya' }, conversion: { strategy: 'Webhook', webhook: { clientConfig: { service: { name: 's', namespace: 'n' } }, conversionReviewVersions: ['v1'] } } },
    });
    assert.deepEqual(webhook.spec.conversion.webhook.clientConfig.service, { name: 's', namespace: 'n', port: 443 });
    assert.equal(webhook.spec.names.singular, 'dubya');
  });

  test('PriorityClass, StorageClass, Lease', () => {
    assert.deepEqual(defaulted(group('scheduling.k8s.io', 'PriorityClass'), { metadata: { name: 'pc' }, value: 1000 }), {
      metadata: { name: 'pc' },
      value: 1000,
      preemptionPolicy: 'PreemptLowerPriority',
    });
    assert.deepEqual(defaulted(group('storage.k8s.io', 'StorageClass'), { metadata: { name: 'sc' }, provisioner: 'example.com/p' }), {
      metadata: { name: 'sc' },
      provisioner: 'example.com/p',
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
    });
    assert.deepEqual(defaulted(group('coordination.k8s.io', 'Lease'), { metadata: { name: 'l' } }), { metadata: { name: 'l' }, spec: {} });
  });
});

describe('image pull policy', () => {
  const cases: [string, string][] = [
    ['nginx', 'Always'],
    ['nginx:latest', 'Always'],
    ['nginx:1.27', 'IfNotPresent'],
    ['docker.io/library/nginx', 'Always'],
    ['registry.k8s.io/pause:3.10', 'IfNotPresent'],
    ['localhost:5000/app', 'Always'],
    ['localhost:5000/app:dev', 'IfNotPresent'],
    [`nginx@sha256:${'a'.repeat(64)}`, 'IfNotPresent'],
    [`nginx:latest@sha256:${'a'.repeat(64)}`, 'Always'],
    ['Nginx', 'IfNotPresent'], // not a valid reference: no tag is known
    ['', 'IfNotPresent'],
    [`nginx@md5:${'a'.repeat(32)}`, 'IfNotPresent'],
    ['[::1]:5000/app', 'Always'],
  ];
  for (const [image, policy] of cases) {
    test(`${JSON.stringify(image.slice(0, 40))} → ${policy}`, () => assert.equal(defaultPullPolicy(image), policy));
  }
});

test('ResourceList values round up to milli-units', () => {
  assert.equal(roundedQuantity('100u'), '1m');
  assert.equal(roundedQuantity('1.0001'), '1001m');
  assert.equal(roundedQuantity('1.5'), '1500m');
  assert.equal(roundedQuantity('1e-4'), '1e-3');
  assert.equal(roundedQuantity('2Gi'), '2Gi');
  assert.equal(roundedQuantity(2), '2');
  assert.equal(roundedQuantity('bogus'), 'bogus');
});

describe('admission', () => {
  const pod = () => {
    const p: Record<string, any> = { metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [{ name: 'c', image: 'nginx' }] } };
    applyDefaults(core('Pod'), p);
    return p;
  };
  const fixed = { randomSuffix: () => 'x2b4z' };
  const MOUNT = { name: 'kube-api-access-x2b4z', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' };

  test('a pod gets its service account, token volume, priority and tolerations', () => {
    const p = pod();
    assert.equal(admitPod(p, fixed), undefined);
    assert.deepEqual(p.spec, {
      containers: [{ ...container('c', 'nginx', 'Always'), volumeMounts: [MOUNT] }],
      enableServiceLinks: true,
      ...POD_SPEC_DEFAULTS,
      serviceAccountName: 'default',
      serviceAccount: 'default',
      volumes: [
        {
          name: 'kube-api-access-x2b4z',
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
            defaultMode: 420,
          },
        },
      ],
      priority: 0,
      preemptionPolicy: 'PreemptLowerPriority',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    });
    // Defaulting after admission (the read back from storage) changes nothing more.
    const again = structuredClone(p);
    applyDefaults(core('Pod'), again);
    assert.deepEqual(again, p);
  });

  test('automount: the pod decides, then the service account; existing mounts are kept', () => {
    const off = pod();
    off.spec.automountServiceAccountToken = false;
    admitPod(off, { ...fixed, serviceAccount: () => ({ automountServiceAccountToken: true }) });
    assert.equal(off.spec.volumes, undefined);
    const saOff = pod();
    admitPod(saOff, { ...fixed, serviceAccount: () => ({ automountServiceAccountToken: false, imagePullSecrets: [{ name: 'reg' }] }) });
    assert.equal(saOff.spec.volumes, undefined);
    assert.deepEqual(saOff.spec.imagePullSecrets, [{ name: 'reg' }]);
    const own = pod();
    own.spec.initContainers = [{ name: 'i', image: 'busybox' }];
    own.spec.containers[0].volumeMounts = [{ name: 'mine', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }];
    admitPod(own, fixed);
    assert.deepEqual(own.spec.containers[0].volumeMounts, [{ name: 'mine', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }]);
    assert.deepEqual(own.spec.initContainers[0].volumeMounts, [MOUNT]);
    assert.equal(own.spec.volumes.length, 1);
  });

  test('a missing service account or priority class refuses the pod', () => {
    const p = pod();
    p.spec.serviceAccountName = 'robot';
    const err = admitPod(p, { ...fixed, serviceAccount: () => undefined });
    assert.equal(err?.code, 403);
    assert.equal(err?.status.message, 'pods "p" is forbidden: error looking up service account ns/robot: serviceaccount "robot" not found');
    const q = pod();
    q.spec.priorityClassName = 'gold';
    assert.equal(admitPod(q, { ...fixed, priorityFor: () => undefined })?.status.message, 'pods "p" is forbidden: no PriorityClass with name gold was found');
  });

  test('priority from the class, the global default, or the system classes', () => {
    const named = pod();
    named.spec.priorityClassName = 'gold';
    admitPod(named, { ...fixed, priorityFor: (n) => (n === 'gold' ? { value: 1000, preemptionPolicy: 'Never' } : undefined) });
    assert.equal(named.spec.priority, 1000);
    assert.equal(named.spec.preemptionPolicy, 'Never');
    const dflt = pod();
    admitPod(dflt, { ...fixed, defaultPriorityClass: () => ({ name: 'base', value: 10, preemptionPolicy: 'PreemptLowerPriority' }) });
    assert.equal(dflt.spec.priorityClassName, 'base');
    assert.equal(dflt.spec.priority, 10);
    const system = pod();
    system.spec.priorityClassName = 'system-node-critical';
    admitPod(system, fixed);
    assert.equal(system.spec.priority, 2000001000);
    const lying = pod();
    lying.spec.priority = 5;
    assert.match(admitPod(lying, fixed)?.status.message ?? '', /the integer value of priority \(5\) must not be provided in pod spec; priority admission controller computed 0/);
  });

  test('tolerations already covering the taints are not duplicated', () => {
    const p = pod();
    p.spec.tolerations = [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }];
    admitPod(p, fixed);
    assert.deepEqual(p.spec.tolerations, [
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 },
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ]);
    const all = pod();
    all.spec.tolerations = [{ operator: 'Exists' }];
    admitPod(all, fixed);
    assert.deepEqual(all.spec.tolerations, [{ operator: 'Exists' }]);
  });

  test('LimitRanger fills container resources and says so', () => {
    const p = pod();
    p.spec.containers[0].resources = { limits: { memory: '256Mi' }, requests: { memory: '256Mi' } };
    const lr = { spec: { limits: [{ type: 'Container', default: { cpu: '500m', memory: '512Mi' }, defaultRequest: { cpu: '100m', memory: '128Mi' } }] } };
    admitPod(p, { ...fixed, limitRanges: () => [lr] });
    assert.deepEqual(p.spec.containers[0].resources, { limits: { memory: '256Mi', cpu: '500m' }, requests: { memory: '256Mi', cpu: '100m' } });
    assert.equal(p.metadata.annotations['kubernetes.io/limit-ranger'], 'LimitRanger plugin set: cpu request for container c; cpu limit for container c');
  });

  test('mirror pods are not changed', () => {
    const p = pod();
    p.metadata.annotations = { 'kubernetes.io/config.mirror': 'hash' };
    admitPod(p, fixed);
    assert.equal(p.spec.serviceAccountName, undefined);
    assert.equal(p.spec.volumes, undefined);
    p.spec.volumes = [{ name: 's', secret: { secretName: 'x' } }];
    assert.equal(admitPod(p, fixed)?.status.message, 'pods "p" is forbidden: a mirror pod may not reference secrets');
  });

  test('nodes, claims, volumes and ingresses', () => {
    const node: Record<string, any> = { metadata: { name: 'n' } };
    admitNode(node);
    admitNode(node);
    assert.deepEqual(node.spec.taints, [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }]);

    const classes = () => [
      { metadata: { name: 'old', creationTimestamp: '2024-01-01T00:00:00Z', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } },
      { metadata: { name: 'new', creationTimestamp: '2024-06-01T00:00:00Z', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } },
      { metadata: { name: 'plain', creationTimestamp: '2025-01-01T00:00:00Z' } },
    ];
    const pvc: Record<string, any> = { metadata: { name: 'c' }, spec: {} };
    admitPersistentVolumeClaim(pvc, { classes });
    assert.equal(pvc.spec.storageClassName, 'new');
    assert.deepEqual(pvc.metadata.finalizers, ['kubernetes.io/pvc-protection']);
    const explicit: Record<string, any> = { metadata: { name: 'c' }, spec: { storageClassName: '' } };
    admitPersistentVolumeClaim(explicit, { classes });
    assert.equal(explicit.spec.storageClassName, '');

    const pv: Record<string, any> = { metadata: { name: 'v', finalizers: ['x'] } };
    admitPersistentVolume(pv);
    assert.deepEqual(pv.metadata.finalizers, ['x', 'kubernetes.io/pv-protection']);

    const ing: Record<string, any> = { metadata: { name: 'i' }, spec: {} };
    admitIngress(ing, { classes: () => [{ metadata: { name: 'nginx', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } }] });
    assert.equal(ing.spec.ingressClassName, 'nginx');
    const annotated: Record<string, any> = { metadata: { name: 'i', annotations: { 'kubernetes.io/ingress.class': 'traefik' } }, spec: {} };
    admitIngress(annotated, { classes: () => [{ metadata: { name: 'nginx', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } }] });
    assert.equal(annotated.spec.ingressClassName, undefined);
  });
});
