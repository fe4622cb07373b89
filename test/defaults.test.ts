// Integration: for each built-in kind, create a minimal object through the API, read it
// back and compare with what a 1.32 apiserver returns for the same request: defaulting,
// the default mutating admission plugins and the registry's create-time changes. Server
// identity (uid, resourceVersion, creationTimestamp, generation, managedFields) is left
// out; values the server picks (a Service's clusterIP, a Job's uid in its selector, the
// token volume's random name) are read from the response and checked for shape.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCluster, type TestCluster } from './harness.ts';
import { TestApiClient } from './api-client.ts';

const NS = 'defaults';
/** LimitRanges change every later pod of their namespace: theirs is separate. */
const LR_NS = 'defaults-limits';

let c: TestCluster;
let api: TestApiClient;

before(async () => {
  c = await startTestCluster();
  api = new TestApiClient(c.server.kubeconfigPath);
  for (const name of [NS, LR_NS]) {
    const ns = await api.json('POST', '/api/v1/namespaces', { metadata: { name } });
    assert.equal(ns.status, 201, JSON.stringify(ns.body));
    // Upstream's serviceaccount controller creates it; pods cannot be admitted without it.
    const sa = await api.json('POST', `/api/v1/namespaces/${name}/serviceaccounts`, { metadata: { name: 'default' } });
    assert.ok(sa.status === 201 || sa.status === 409, JSON.stringify(sa.body));
  }
});
after(async () => {
  api?.close();
  await c?.close();
});

/** Drops what identifies this particular write rather than the object's content. */
function content(obj: any): any {
  const copy = structuredClone(obj);
  for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields', 'selfLink']) delete copy.metadata?.[k];
  return copy;
}

/** POSTs `body` to `collection`, GETs it back; the create response must be the stored object. */
async function roundTrip(collection: string, body: any): Promise<{ created: any; stored: any }> {
  const created = await api.json('POST', collection, body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const got = await api.json('GET', `${collection}/${body.metadata.name}`);
  assert.equal(got.status, 200, JSON.stringify(got.body));
  assert.deepEqual(content(created.body), content(got.body), 'the create response differs from the object read back');
  return { created: created.body, stored: content(got.body) };
}

const POD_SPEC_DEFAULTS = {
  dnsPolicy: 'ClusterFirst',
  restartPolicy: 'Always',
  schedulerName: 'default-scheduler',
  securityContext: {},
  terminationGracePeriodSeconds: 30,
};

const container = (name: string, image: string, imagePullPolicy = 'IfNotPresent') => ({
  name,
  image,
  imagePullPolicy,
  resources: {},
  terminationMessagePath: '/dev/termination-log',
  terminationMessagePolicy: 'File',
});

const template = (labels = { app: 'web' }) => ({ metadata: { labels }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } });
const defaultedTemplate = (labels: Record<string, string> = { app: 'web' }) => ({
  metadata: { creationTimestamp: null, labels },
  spec: { containers: [container('web', 'nginx:1.27')], ...POD_SPEC_DEFAULTS },
});

const core = (resource: string, ns: string | null = NS) => (ns ? `/api/v1/namespaces/${ns}/${resource}` : `/api/v1/${resource}`);
const apis = (gv: string, resource: string, ns: string | null = NS) => (ns ? `/apis/${gv}/namespaces/${ns}/${resource}` : `/apis/${gv}/${resource}`);

describe('core/v1', () => {
  it('Pod: defaults plus ServiceAccount, Priority and DefaultTolerationSeconds admission', async () => {
    const { stored } = await roundTrip(core('pods'), {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'c', image: 'nginx' }] },
    });
    const volume = stored.spec.volumes?.[0]?.name ?? '';
    assert.match(volume, /^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.deepEqual(stored, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: NS },
      spec: {
        containers: [
          {
            ...container('c', 'nginx', 'Always'),
            volumeMounts: [{ name: volume, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
          },
        ],
        ...POD_SPEC_DEFAULTS,
        enableServiceLinks: true,
        preemptionPolicy: 'PreemptLowerPriority',
        priority: 0,
        serviceAccount: 'default',
        serviceAccountName: 'default',
        tolerations: [
          { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
          { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        ],
        volumes: [
          {
            name: volume,
            projected: {
              defaultMode: 420,
              sources: [
                { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
                { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
                { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
              ],
            },
          },
        ],
      },
      status: { phase: 'Pending', qosClass: 'BestEffort' },
    });
  });

  it('Pod: LimitRanger fills resources from the namespace LimitRange', async () => {
    const lr = await roundTrip(core('limitranges', LR_NS), {
      metadata: { name: 'limits' },
      spec: { limits: [{ type: 'Container', max: { cpu: '2' }, min: { memory: '64Mi' } }] },
    });
    assert.deepEqual(lr.stored, {
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: { name: 'limits', namespace: LR_NS },
      spec: {
        limits: [{ type: 'Container', max: { cpu: '2' }, min: { memory: '64Mi' }, default: { cpu: '2' }, defaultRequest: { cpu: '2', memory: '64Mi' } }],
      },
    });
    const { stored } = await roundTrip(core('pods', LR_NS), { metadata: { name: 'limited' }, spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] } });
    assert.deepEqual(stored.spec.containers[0].resources, { limits: { cpu: '2' }, requests: { cpu: '2', memory: '64Mi' } });
    assert.equal(stored.metadata.annotations['kubernetes.io/limit-ranger'], 'LimitRanger plugin set: cpu, memory request for container c; cpu limit for container c');
    assert.equal(stored.status.qosClass, 'Burstable');
  });

  it('PodTemplate', async () => {
    const { stored } = await roundTrip(core('podtemplates'), { metadata: { name: 'pt' }, template: template() });
    assert.deepEqual(stored, { apiVersion: 'v1', kind: 'PodTemplate', metadata: { name: 'pt', namespace: NS }, template: defaultedTemplate() });
  });

  it('ReplicationController', async () => {
    const { stored } = await roundTrip(core('replicationcontrollers'), { metadata: { name: 'rc' }, spec: { template: template() } });
    assert.deepEqual(stored, {
      apiVersion: 'v1',
      kind: 'ReplicationController',
      metadata: { name: 'rc', namespace: NS, labels: { app: 'web' } },
      spec: { replicas: 1, selector: { app: 'web' }, template: defaultedTemplate() },
      status: { replicas: 0 },
    });
  });

  it('Service: ClusterIP', async () => {
    const { stored } = await roundTrip(core('services'), { metadata: { name: 'svc' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } });
    const ip = stored.spec.clusterIP;
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
    assert.deepEqual(stored, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'svc', namespace: NS },
      spec: {
        clusterIP: ip,
        clusterIPs: [ip],
        internalTrafficPolicy: 'Cluster',
        ipFamilies: ['IPv4'],
        ipFamilyPolicy: 'SingleStack',
        ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
        selector: { app: 'web' },
        sessionAffinity: 'None',
        type: 'ClusterIP',
      },
      status: { loadBalancer: {} },
    });
  });

  it('Service: ExternalName', async () => {
    const { stored } = await roundTrip(core('services'), { metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'db.example.com' } });
    assert.deepEqual(stored, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'ext', namespace: NS },
      spec: { externalName: 'db.example.com', sessionAffinity: 'None', type: 'ExternalName' },
      status: { loadBalancer: {} },
    });
  });

  it('Endpoints', async () => {
    const { stored } = await roundTrip(core('endpoints'), { metadata: { name: 'ep' }, subsets: [{ addresses: [{ ip: '10.1.2.3' }], ports: [{ port: 8080 }] }] });
    assert.deepEqual(stored, {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'ep', namespace: NS },
      subsets: [{ addresses: [{ ip: '10.1.2.3' }], ports: [{ port: 8080, protocol: 'TCP' }] }],
    });
  });

  it('Secret: type and stringData', async () => {
    const { stored } = await roundTrip(core('secrets'), { metadata: { name: 's' }, stringData: { user: 'admin' } });
    assert.deepEqual(stored, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: NS }, data: { user: 'YWRtaW4=' }, type: 'Opaque' });
  });

  it('ConfigMap and ServiceAccount are stored as sent', async () => {
    const cm = await roundTrip(core('configmaps'), { metadata: { name: 'cm' }, data: { a: 'b' } });
    assert.deepEqual(cm.stored, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: NS }, data: { a: 'b' } });
    const sa = await roundTrip(core('serviceaccounts'), { metadata: { name: 'robot' } });
    assert.deepEqual(sa.stored, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot', namespace: NS } });
  });

  it('Namespace', async () => {
    const { stored } = await roundTrip(core('namespaces', null), { metadata: { name: 'defaults-ns' } });
    assert.deepEqual(stored, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'defaults-ns', labels: { 'kubernetes.io/metadata.name': 'defaults-ns' } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  });

  it('Node: TaintNodesByCondition and the zero status', async () => {
    const { stored } = await roundTrip(core('nodes', null), { metadata: { name: 'defaults-node' } });
    assert.deepEqual(stored, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'defaults-node' },
      spec: { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }] },
      status: {
        daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
        nodeInfo: {
          architecture: '',
          bootID: '',
          containerRuntimeVersion: '',
          kernelVersion: '',
          kubeProxyVersion: '',
          kubeletVersion: '',
          machineID: '',
          operatingSystem: '',
          osImage: '',
          systemUUID: '',
        },
      },
    });
  });

  it('PersistentVolume: StorageObjectInUseProtection, the phase transition time', async () => {
    const { stored } = await roundTrip(core('persistentvolumes', null), {
      metadata: { name: 'defaults-pv' },
      spec: { capacity: { storage: '1024Mi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/tmp/defaults-pv' } },
    });
    // prepareForCreate stamps it (PersistentVolumeLastPhaseTransitionTime, GA in 1.31).
    const transition = stored.status?.lastPhaseTransitionTime;
    assert.match(transition ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(stored, {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'defaults-pv', finalizers: ['kubernetes.io/pv-protection'] },
      spec: {
        accessModes: ['ReadWriteOnce'],
        capacity: { storage: '1Gi' },
        hostPath: { path: '/tmp/defaults-pv', type: '' },
        persistentVolumeReclaimPolicy: 'Retain',
        volumeMode: 'Filesystem',
      },
      status: { phase: 'Pending', lastPhaseTransitionTime: transition },
    });
  });

  it('PersistentVolumeClaim', async () => {
    const { stored } = await roundTrip(core('persistentvolumeclaims'), {
      metadata: { name: 'claim' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    });
    assert.deepEqual(stored, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'claim', namespace: NS, finalizers: ['kubernetes.io/pvc-protection'] },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem' },
      status: { phase: 'Pending' },
    });
  });

  it('ResourceQuota', async () => {
    const { stored } = await roundTrip(core('resourcequotas'), { metadata: { name: 'q' }, spec: { hard: { cpu: '1000m', memory: '1024Mi', pods: '10' } } });
    assert.deepEqual(stored, {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'q', namespace: NS },
      spec: { hard: { cpu: '1', memory: '1Gi', pods: '10' } },
      status: {},
    });
  });

  it('Event', async () => {
    const { stored } = await roundTrip(core('events'), {
      metadata: { name: 'p.1' },
      involvedObject: { kind: 'Pod', name: 'p', namespace: NS },
      reason: 'Started',
      message: 'Started container c',
      type: 'Normal',
      source: { component: 'kubelet' },
      firstTimestamp: '2025-01-01T00:00:00Z',
      lastTimestamp: '2025-01-01T00:00:00Z',
      count: 1,
    });
    assert.deepEqual(stored, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'p.1', namespace: NS },
      involvedObject: { kind: 'Pod', name: 'p', namespace: NS },
      reason: 'Started',
      message: 'Started container c',
      type: 'Normal',
      source: { component: 'kubelet' },
      firstTimestamp: '2025-01-01T00:00:00Z',
      lastTimestamp: '2025-01-01T00:00:00Z',
      count: 1,
      eventTime: null,
      reportingComponent: '',
      reportingInstance: '',
    });
  });
});

describe('apps/v1', () => {
  const selector = { matchLabels: { app: 'web' } };

  it('Deployment', async () => {
    const { stored } = await roundTrip(apis('apps/v1', 'deployments'), { metadata: { name: 'd' }, spec: { selector, template: template() } });
    assert.deepEqual(stored, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: NS },
      spec: {
        progressDeadlineSeconds: 600,
        replicas: 1,
        revisionHistoryLimit: 10,
        selector,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
        template: defaultedTemplate(),
      },
      status: {},
    });
  });

  it('ReplicaSet', async () => {
    const { stored } = await roundTrip(apis('apps/v1', 'replicasets'), { metadata: { name: 'rs' }, spec: { selector, template: template() } });
    assert.deepEqual(stored, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'rs', namespace: NS },
      spec: { replicas: 1, selector, template: defaultedTemplate() },
      status: { replicas: 0 },
    });
  });

  it('StatefulSet', async () => {
    const { stored } = await roundTrip(apis('apps/v1', 'statefulsets'), {
      metadata: { name: 'sts' },
      spec: {
        selector,
        serviceName: 'web',
        template: template(),
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      },
    });
    assert.deepEqual(stored, {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'sts', namespace: NS },
      spec: {
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        podManagementPolicy: 'OrderedReady',
        replicas: 1,
        revisionHistoryLimit: 10,
        selector,
        serviceName: 'web',
        template: defaultedTemplate(),
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
        volumeClaimTemplates: [
          {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            metadata: { name: 'data', creationTimestamp: null },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem' },
            status: { phase: 'Pending' },
          },
        ],
      },
      status: { availableReplicas: 0, replicas: 0 },
    });
  });

  it('DaemonSet: the template generation annotation', async () => {
    const { stored } = await roundTrip(apis('apps/v1', 'daemonsets'), { metadata: { name: 'ds' }, spec: { selector, template: template() } });
    assert.deepEqual(stored, {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'ds', namespace: NS, annotations: { 'deprecated.daemonset.template.generation': '1' } },
      spec: {
        revisionHistoryLimit: 10,
        selector,
        template: defaultedTemplate(),
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      },
      status: { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 },
    });
  });

  it('ControllerRevision', async () => {
    const { stored } = await roundTrip(apis('apps/v1', 'controllerrevisions'), { metadata: { name: 'cr' }, data: { spec: {} }, revision: 1 });
    assert.deepEqual(stored, { apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: 'cr', namespace: NS }, data: { spec: {} }, revision: 1 });
  });
});

describe('batch/v1', () => {
  const jobPod = () => ({ spec: { containers: [{ name: 'pi', image: 'perl:5.34' }], restartPolicy: 'Never' } });
  const defaultedJobPod = (labels?: Record<string, string>) => ({
    metadata: { creationTimestamp: null, ...(labels ? { labels } : {}) },
    spec: { containers: [container('pi', 'perl:5.34')], ...POD_SPEC_DEFAULTS, restartPolicy: 'Never' },
  });

  it('Job: defaults, and the generated selector and labels', async () => {
    const { created, stored } = await roundTrip(apis('batch/v1', 'jobs'), { metadata: { name: 'j' }, spec: { template: jobPod() } });
    const uid = created.metadata.uid;
    const labels = { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': 'j', 'controller-uid': uid, 'job-name': 'j' };
    assert.deepEqual(stored, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'j', namespace: NS, labels },
      spec: {
        backoffLimit: 6,
        completionMode: 'NonIndexed',
        completions: 1,
        manualSelector: false,
        parallelism: 1,
        podReplacementPolicy: 'TerminatingOrFailed',
        selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } },
        suspend: false,
        template: defaultedJobPod(labels),
      },
      status: {},
    });
  });

  it('CronJob', async () => {
    const { stored } = await roundTrip(apis('batch/v1', 'cronjobs'), {
      metadata: { name: 'cj' },
      spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: jobPod() } } },
    });
    assert.deepEqual(stored, {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'cj', namespace: NS },
      spec: {
        concurrencyPolicy: 'Allow',
        failedJobsHistoryLimit: 1,
        jobTemplate: { metadata: { creationTimestamp: null }, spec: { template: defaultedJobPod() } },
        schedule: '*/5 * * * *',
        successfulJobsHistoryLimit: 3,
        suspend: false,
      },
      status: {},
    });
  });
});

describe('other groups', () => {
  it('HorizontalPodAutoscaler', async () => {
    const target = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd' };
    const { stored } = await roundTrip(apis('autoscaling/v2', 'horizontalpodautoscalers'), { metadata: { name: 'h' }, spec: { scaleTargetRef: target, maxReplicas: 5 } });
    assert.deepEqual(stored, {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'h', namespace: NS },
      spec: {
        maxReplicas: 5,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }],
        minReplicas: 1,
        scaleTargetRef: target,
      },
      status: { currentMetrics: null, desiredReplicas: 0 },
    });
  });

  it('PodDisruptionBudget', async () => {
    const { stored } = await roundTrip(apis('policy/v1', 'poddisruptionbudgets'), { metadata: { name: 'pdb' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } } });
    assert.deepEqual(stored, {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'pdb', namespace: NS },
      spec: { minAvailable: 1, selector: { matchLabels: { app: 'web' } } },
      status: { currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 0, expectedPods: 0 },
    });
  });

  it('NetworkPolicy', async () => {
    const { stored } = await roundTrip(apis('networking.k8s.io/v1', 'networkpolicies'), {
      metadata: { name: 'np' },
      spec: { podSelector: {}, ingress: [{ ports: [{ port: 80 }] }] },
    });
    assert.deepEqual(stored, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'np', namespace: NS },
      spec: { ingress: [{ ports: [{ port: 80, protocol: 'TCP' }] }], podSelector: {}, policyTypes: ['Ingress'] },
    });
  });

  it('Ingress and IngressClass', async () => {
    const ing = await roundTrip(apis('networking.k8s.io/v1', 'ingresses'), {
      metadata: { name: 'ing' },
      spec: { defaultBackend: { service: { name: 'svc', port: { number: 80 } } } },
    });
    assert.deepEqual(ing.stored, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'ing', namespace: NS },
      spec: { defaultBackend: { service: { name: 'svc', port: { number: 80 } } } },
      status: { loadBalancer: {} },
    });
    const ic = await roundTrip(apis('networking.k8s.io/v1', 'ingressclasses', null), {
      metadata: { name: 'defaults-ic' },
      spec: { controller: 'example.com/ingress', parameters: { apiGroup: 'example.com', kind: 'Params', name: 'p' } },
    });
    assert.deepEqual(ic.stored, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'defaults-ic' },
      spec: { controller: 'example.com/ingress', parameters: { apiGroup: 'example.com', kind: 'Params', name: 'p', scope: 'Cluster' } },
    });
  });

  it('EndpointSlice', async () => {
    const { stored } = await roundTrip(apis('discovery.k8s.io/v1', 'endpointslices'), {
      metadata: { name: 'es' },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.1.2.3'] }],
      ports: [{ port: 8080 }],
    });
    assert.deepEqual(stored, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'es', namespace: NS },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.1.2.3'], conditions: {} }],
      ports: [{ name: '', port: 8080, protocol: 'TCP' }],
    });
  });

  it('RBAC', async () => {
    const rbac = (resource: string, ns: string | null = NS) => apis('rbac.authorization.k8s.io/v1', resource, ns);
    const role = await roundTrip(rbac('roles'), { metadata: { name: 'r' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] });
    assert.deepEqual(role.stored, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'r', namespace: NS },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }],
    });
    const rb = await roundTrip(rbac('rolebindings'), {
      metadata: { name: 'rb' },
      roleRef: { kind: 'Role', name: 'r' },
      subjects: [{ kind: 'User', name: 'alice' }, { kind: 'ServiceAccount', name: 'default', namespace: NS }],
    });
    assert.deepEqual(rb.stored, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'rb', namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'r' },
      subjects: [
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' },
        { kind: 'ServiceAccount', name: 'default', namespace: NS },
      ],
    });
    const cr = await roundTrip(rbac('clusterroles', null), { metadata: { name: 'defaults-aggregate' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: 'y' } }] } });
    assert.deepEqual(cr.stored, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'defaults-aggregate' },
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: 'y' } }] },
      rules: null,
    });
    const crb = await roundTrip(rbac('clusterrolebindings', null), {
      metadata: { name: 'defaults-crb' },
      roleRef: { kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'Group', name: 'devs' }],
    });
    assert.deepEqual(crb.stored, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'defaults-crb' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'devs' }],
    });
  });

  it('PriorityClass, StorageClass, Lease', async () => {
    const pc = await roundTrip(apis('scheduling.k8s.io/v1', 'priorityclasses', null), { metadata: { name: 'defaults-pc' }, value: 1000 });
    assert.deepEqual(pc.stored, {
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      metadata: { name: 'defaults-pc' },
      preemptionPolicy: 'PreemptLowerPriority',
      value: 1000,
    });
    const sc = await roundTrip(apis('storage.k8s.io/v1', 'storageclasses', null), { metadata: { name: 'defaults-sc' }, provisioner: 'example.com/disk' });
    assert.deepEqual(sc.stored, {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'defaults-sc' },
      provisioner: 'example.com/disk',
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
    });
    const lease = await roundTrip(apis('coordination.k8s.io/v1', 'leases'), { metadata: { name: 'l' } });
    assert.deepEqual(lease.stored, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: NS }, spec: {} });
  });

  it('CustomResourceDefinition (as created: controllers then accept its names)', async () => {
    const created = await api.json('POST', apis('apiextensions.k8s.io/v1', 'customresourcedefinitions', null), {
      metadata: { name: 'widgets.defaults.example.com' },
      spec: {
        group: 'defaults.example.com',
        names: { plural: 'widgets', kind: 'Widget' },
        scope: 'Namespaced',
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object' } } }],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.spec, {
      conversion: { strategy: 'None' },
      group: 'defaults.example.com',
      names: { kind: 'Widget', listKind: 'WidgetList', plural: 'widgets', singular: 'widget' },
      scope: 'Namespaced',
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object' } } }],
    });
    assert.deepEqual(created.body.status.storedVersions, ['v1']);
  });
});
