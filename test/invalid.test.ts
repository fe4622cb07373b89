// Integration: invalid manifests of every built-in kind are answered 422 Invalid with
// upstream's field paths in the Status causes (and kubectl prints upstream's text),
// creates and updates alike, and the server keeps serving afterwards.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCluster, type TestCluster } from './harness.ts';
import { TestApiClient } from './api-client.ts';

type O = Record<string, any>;

let c: TestCluster;
let api: TestApiClient;
const NS = 'invalid';

before(async () => {
  c = await startTestCluster();
  api = new TestApiClient(c.server.kubeconfigPath);
  await api.json('POST', '/api/v1/namespaces', { metadata: { name: NS } });
  // What the serviceaccount controller does in a full cluster; pods need it (admission).
  await api.json('POST', `/api/v1/namespaces/${NS}/serviceaccounts`, { metadata: { name: 'default' } });
});
after(async () => {
  api?.close();
  await c?.close();
});

// --- fixtures ---

const ctr = (extra: O = {}) => ({ name: 'app', image: 'nginx:1.27', ...extra });
const podSpec = (extra: O = {}) => ({ containers: [ctr()], ...extra });
const tpl = (labels: O = { app: 'web' }, spec: O = {}) => ({ metadata: { labels }, spec: podSpec(spec) });

/** apiVersion → [kind's plural, namespaced]. */
const RESOURCES: Record<string, [string, boolean]> = {
  'v1/Pod': ['pods', true],
  'v1/PodTemplate': ['podtemplates', true],
  'v1/ReplicationController': ['replicationcontrollers', true],
  'v1/Service': ['services', true],
  'v1/ConfigMap': ['configmaps', true],
  'v1/Secret': ['secrets', true],
  'v1/Node': ['nodes', false],
  'v1/PersistentVolume': ['persistentvolumes', false],
  'v1/PersistentVolumeClaim': ['persistentvolumeclaims', true],
  'v1/ResourceQuota': ['resourcequotas', true],
  'v1/LimitRange': ['limitranges', true],
  'v1/Endpoints': ['endpoints', true],
  'v1/Event': ['events', true],
  'apps/v1/Deployment': ['deployments', true],
  'apps/v1/ReplicaSet': ['replicasets', true],
  'apps/v1/StatefulSet': ['statefulsets', true],
  'apps/v1/DaemonSet': ['daemonsets', true],
  'apps/v1/ControllerRevision': ['controllerrevisions', true],
  'batch/v1/Job': ['jobs', true],
  'batch/v1/CronJob': ['cronjobs', true],
  'autoscaling/v2/HorizontalPodAutoscaler': ['horizontalpodautoscalers', true],
  'policy/v1/PodDisruptionBudget': ['poddisruptionbudgets', true],
  'networking.k8s.io/v1/Ingress': ['ingresses', true],
  'networking.k8s.io/v1/IngressClass': ['ingressclasses', false],
  'networking.k8s.io/v1/NetworkPolicy': ['networkpolicies', true],
  'storage.k8s.io/v1/StorageClass': ['storageclasses', false],
  'scheduling.k8s.io/v1/PriorityClass': ['priorityclasses', false],
  'rbac.authorization.k8s.io/v1/Role': ['roles', true],
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ['clusterrolebindings', false],
  'rbac.authorization.k8s.io/v1/RoleBinding': ['rolebindings', true],
  'coordination.k8s.io/v1/Lease': ['leases', true],
  'discovery.k8s.io/v1/EndpointSlice': ['endpointslices', true],
  'events.k8s.io/v1/Event': ['events', true],
};

function collection(o: O): string {
  const [plural, namespaced] = RESOURCES[`${o.apiVersion}/${o.kind}`];
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  return namespaced ? `${base}/namespaces/${NS}/${plural}` : `${base}/${plural}`;
}

function manifest(apiVersion: string, kind: string, name: string, body: O): O {
  const [, namespaced] = RESOURCES[`${apiVersion}/${kind}`];
  return { apiVersion, kind, metadata: { name, ...(namespaced ? { namespace: NS } : {}) }, ...body };
}

/** Asserts a 422 Invalid Status for `kind`/`name` whose causes name exactly these fields. */
function assertInvalid(r: { status: number; body: any }, kind: string, name: string, fields: string[]): void {
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.equal(r.body.kind, 'Status');
  assert.equal(r.body.reason, 'Invalid');
  assert.equal(r.body.code, 422);
  assert.equal(r.body.details?.kind, kind);
  assert.equal(r.body.details?.name, name);
  const got = [...new Set((r.body.details?.causes ?? []).map((cause: O) => cause.field))].sort();
  assert.deepEqual(got, [...new Set(fields)].sort(), JSON.stringify(r.body.details?.causes, null, 1));
}

interface Case {
  name: string;
  apiVersion: string;
  kind: string;
  body: O;
  fields: string[];
}

const cases: Case[] = [
  // core/v1 Pod
  { name: 'pod-no-image', apiVersion: 'v1', kind: 'Pod', body: { spec: podSpec({ containers: [{ name: 'app' }] }) }, fields: ['spec.containers[0].image'] },
  { name: 'pod-dup-names', apiVersion: 'v1', kind: 'Pod', body: { spec: podSpec({ containers: [ctr(), ctr()] }) }, fields: ['spec.containers[1].name'] },
  {
    name: 'pod-port-range',
    apiVersion: 'v1',
    kind: 'Pod',
    body: { spec: podSpec({ containers: [ctr({ ports: [{ containerPort: 70000 }] })] }) },
    fields: ['spec.containers[0].ports[0].containerPort'],
  },
  {
    name: 'pod-port-protocol',
    apiVersion: 'v1',
    kind: 'Pod',
    body: { spec: podSpec({ containers: [ctr({ ports: [{ containerPort: 80, protocol: 'HTTP' }] })] }) },
    fields: ['spec.containers[0].ports[0].protocol'],
  },
  {
    name: 'pod-requests-over-limits',
    apiVersion: 'v1',
    kind: 'Pod',
    body: { spec: podSpec({ containers: [ctr({ resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } })] }) },
    fields: ['spec.containers[0].resources.requests'],
  },
  { name: 'pod-env-name', apiVersion: 'v1', kind: 'Pod', body: { spec: podSpec({ containers: [ctr({ env: [{ name: 'A=B', value: 'x' }] })] }) }, fields: ['spec.containers[0].env[0].name'] },
  {
    name: 'pod-mount-unknown-volume',
    apiVersion: 'v1',
    kind: 'Pod',
    body: { spec: podSpec({ containers: [ctr({ volumeMounts: [{ name: 'data', mountPath: '/data' }] })] }) },
    fields: ['spec.containers[0].volumeMounts[0].name'],
  },
  {
    name: 'pod-dup-volumes',
    apiVersion: 'v1',
    kind: 'Pod',
    body: { spec: podSpec({ volumes: [{ name: 'v', emptyDir: {} }, { name: 'v', emptyDir: {} }] }) },
    fields: ['spec.volumes[1].name'],
  },
  { name: 'pod-restart-policy', apiVersion: 'v1', kind: 'Pod', body: { spec: podSpec({ restartPolicy: 'Sometimes' }) }, fields: ['spec.restartPolicy'] },
  { name: 'pod-dns-policy', apiVersion: 'v1', kind: 'Pod', body: { spec: podSpec({ dnsPolicy: 'Google' }) }, fields: ['spec.dnsPolicy'] },
  {
    name: 'pod-toleration',
    apiVersion: 'v1',
    kind: 'Pod',
    body: { spec: podSpec({ tolerations: [{ key: 'k', operator: 'Maybe', effect: 'NoSchedule' }] }) },
    fields: ['spec.tolerations[0].operator'],
  },
  { name: 'pod-node-selector', apiVersion: 'v1', kind: 'Pod', body: { spec: podSpec({ nodeSelector: { disk: 'fast ssd' } }) }, fields: ['spec.nodeSelector'] },
  { name: 'pod-probe-handler', apiVersion: 'v1', kind: 'Pod', body: { spec: podSpec({ containers: [ctr({ livenessProbe: { periodSeconds: 5 } })] }) }, fields: ['spec.containers[0].livenessProbe'] },
  {
    name: 'pod-affinity',
    apiVersion: 'v1',
    kind: 'Pod',
    body: {
      spec: podSpec({
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In' }] }] } } },
      }),
    },
    fields: ['spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values'],
  },
  // PodTemplate, ReplicationController
  { name: 'podtemplate-no-containers', apiVersion: 'v1', kind: 'PodTemplate', body: { template: { spec: { containers: [] } } }, fields: ['template.spec.containers'] },
  {
    name: 'rc-selector-mismatch',
    apiVersion: 'v1',
    kind: 'ReplicationController',
    body: { spec: { selector: { app: 'api' }, template: tpl() } },
    fields: ['spec.template.metadata.labels'],
  },
  // apps
  { name: 'deploy-no-selector', apiVersion: 'apps/v1', kind: 'Deployment', body: { spec: { template: tpl() } }, fields: ['spec.selector', 'spec.template.metadata.labels'] },
  {
    name: 'deploy-replicas',
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    body: { spec: { replicas: -1, selector: { matchLabels: { app: 'web' } }, template: tpl() } },
    fields: ['spec.replicas'],
  },
  {
    name: 'deploy-restart-policy',
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    body: { spec: { selector: { matchLabels: { app: 'web' } }, template: tpl({ app: 'web' }, { restartPolicy: 'Never' }) } },
    fields: ['spec.template.spec.restartPolicy'],
  },
  {
    name: 'deploy-strategy',
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    body: { spec: { selector: { matchLabels: { app: 'web' } }, template: tpl(), strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '150%' } } } },
    fields: ['spec.strategy.rollingUpdate.maxUnavailable'],
  },
  { name: 'rs-empty-selector', apiVersion: 'apps/v1', kind: 'ReplicaSet', body: { spec: { selector: {}, template: tpl() } }, fields: ['spec.selector'] },
  {
    name: 'sts-pod-management',
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    body: { spec: { serviceName: 'db', podManagementPolicy: 'Random', selector: { matchLabels: { app: 'web' } }, template: tpl() } },
    fields: ['spec.podManagementPolicy'],
  },
  {
    name: 'ds-restart-policy',
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    body: { spec: { selector: { matchLabels: { app: 'web' } }, template: tpl({ app: 'web' }, { restartPolicy: 'OnFailure' }) } },
    fields: ['spec.template.spec.restartPolicy'],
  },
  { name: 'revision-no-data', apiVersion: 'apps/v1', kind: 'ControllerRevision', body: { revision: 1 }, fields: ['data'] },
  // batch
  {
    name: 'job-restart-always',
    apiVersion: 'batch/v1',
    kind: 'Job',
    body: { spec: { template: { spec: podSpec({ restartPolicy: 'Always' }) } } },
    fields: ['spec.template.spec.restartPolicy'],
  },
  {
    name: 'job-parallelism',
    apiVersion: 'batch/v1',
    kind: 'Job',
    body: { spec: { parallelism: -1, template: { spec: podSpec({ restartPolicy: 'Never' }) } } },
    fields: ['spec.parallelism'],
  },
  {
    name: 'cronjob-timezone',
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    body: { spec: { schedule: '0 * * * *', timeZone: 'Mars/Olympus', jobTemplate: { spec: { template: { spec: podSpec({ restartPolicy: 'OnFailure' }) } } } } },
    fields: ['spec.timeZone'],
  },
  // Service
  { name: 'svc-type', apiVersion: 'v1', kind: 'Service', body: { spec: { type: 'Internal', ports: [{ port: 80 }] } }, fields: ['spec.type'] },
  { name: 'svc-no-ports', apiVersion: 'v1', kind: 'Service', body: { spec: { selector: { app: 'web' } } }, fields: ['spec.ports'] },
  { name: 'svc-external-name', apiVersion: 'v1', kind: 'Service', body: { spec: { type: 'ExternalName' } }, fields: ['spec.externalName'] },
  {
    name: 'svc-selector',
    apiVersion: 'v1',
    kind: 'Service',
    body: { spec: { selector: { app: 'web app' }, ports: [{ port: 80 }] } },
    fields: ['spec.selector'],
  },
  // ConfigMap, Secret
  {
    name: 'secret-tls',
    apiVersion: 'v1',
    kind: 'Secret',
    body: { type: 'kubernetes.io/tls', stringData: { 'tls.crt': 'cert' } },
    fields: ['data[tls.key]'],
  },
  { name: 'secret-basic-auth', apiVersion: 'v1', kind: 'Secret', body: { type: 'kubernetes.io/basic-auth' }, fields: ['data[username]', 'data[password]'] },
  { name: 'secret-key', apiVersion: 'v1', kind: 'Secret', body: { stringData: { 'a/b': 'x' } }, fields: ['data[a/b]'] },
  // cluster and storage
  { name: 'node-taint', apiVersion: 'v1', kind: 'Node', body: { spec: { taints: [{ key: 'k', effect: 'Sometimes' }] } }, fields: ['metadata.taints[0].effect'] },
  { name: 'node-podcidr', apiVersion: 'v1', kind: 'Node', body: { spec: { podCIDR: '10.0.0.0/33' } }, fields: ['spec.podCIDRs[0]'] },
  { name: 'pv-empty', apiVersion: 'v1', kind: 'PersistentVolume', body: { spec: { accessModes: ['ReadWriteOnce'] } }, fields: ['spec.capacity', 'spec'] },
  {
    name: 'pvc-no-access-modes',
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    body: { spec: { resources: { requests: { storage: '1Gi' } } } },
    fields: ['spec.accessModes'],
  },
  { name: 'quota-fraction', apiVersion: 'v1', kind: 'ResourceQuota', body: { spec: { hard: { pods: '1500m' } } }, fields: ['spec.hard[pods]'] },
  {
    name: 'limits-min-max',
    apiVersion: 'v1',
    kind: 'LimitRange',
    body: { spec: { limits: [{ type: 'Container', min: { cpu: '2' }, max: { cpu: '1' } }] } },
    // default and defaultRequest are defaulted from max, so they fail against min too.
    fields: ['spec.limits[0].min[cpu]', 'spec.limits[0].default[cpu]', 'spec.limits[0].defaultRequest[cpu]'],
  },
  { name: 'endpoints-ip', apiVersion: 'v1', kind: 'Endpoints', body: { subsets: [{ addresses: [{ ip: 'not-an-ip' }] }] }, fields: ['subsets[0].addresses[0].ip'] },
  {
    name: 'event-namespace',
    apiVersion: 'v1',
    kind: 'Event',
    body: { involvedObject: { kind: 'Pod', name: 'p', namespace: 'elsewhere' }, reason: 'Test', message: 'm' },
    fields: ['involvedObject.namespace'],
  },
  {
    name: 'event-v1-reporting',
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    body: { eventTime: '2025-01-01T00:00:00.000000Z', regarding: { kind: 'Pod', name: 'p', namespace: NS }, type: 'Normal', reason: 'Test', action: 'Act', reportingInstance: 'i' },
    fields: ['reportingController'],
  },
  // other groups
  {
    name: 'hpa-max-replicas',
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    body: { spec: { maxReplicas: 0, scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' } } },
    fields: ['spec.maxReplicas'],
  },
  { name: 'pdb-both', apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', body: { spec: { minAvailable: 1, maxUnavailable: 1 } }, fields: ['spec'] },
  {
    name: 'ingress-path',
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    body: { spec: { rules: [{ http: { paths: [{ path: 'api', pathType: 'Prefix', backend: { service: { name: 'api', port: { number: 80 } } } }] } }] } },
    fields: ['spec.rules[0].http.paths[0].path'],
  },
  { name: 'ingressclass-controller', apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', body: { spec: { controller: 'nginx' } }, fields: ['spec.controller'] },
  {
    name: 'netpol-port',
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    body: { spec: { podSelector: {}, ingress: [{ ports: [{ port: 70000 }] }] } },
    fields: ['spec.ingress[0].ports[0].port'],
  },
  { name: 'sc-no-provisioner', apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', body: {}, fields: ['provisioner'] },
  { name: 'pc-too-high', apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', body: { value: 2000000000 }, fields: ['value'] },
  { name: 'system-made-up', apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', body: { value: 1 }, fields: ['metadata.name'] },
  { name: 'role-no-verbs', apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', body: { rules: [{ apiGroups: [''], resources: ['pods'] }] }, fields: ['rules[0].verbs'] },
  {
    name: 'crb-no-roleref',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    body: { subjects: [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }] },
    // roleRef.apiGroup is defaulted.
    fields: ['roleRef.kind', 'roleRef.name'],
  },
  { name: 'lease-duration', apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', body: { spec: { leaseDurationSeconds: 0 } }, fields: ['spec.leaseDurationSeconds'] },
  {
    name: 'slice-address-type',
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    body: { addressType: 'IPv5', endpoints: [] },
    fields: ['addressType'],
  },
];

describe('invalid creates are answered 422 with the causes’ field paths', () => {
  it('has at least 40 cases across kinds', () => {
    assert.ok(cases.length >= 40, String(cases.length));
    assert.ok(new Set(cases.map((k) => k.kind)).size >= 25);
  });

  for (const k of cases) {
    it(`${k.kind} ${k.name}: ${k.fields.join(', ')}`, async () => {
      const o = manifest(k.apiVersion, k.kind, k.name, k.body);
      const r = await api.json('POST', collection(o), o);
      assertInvalid(r, k.kind, k.name, k.fields);
      // Nothing was stored.
      const get = await api.json('GET', `${collection(o)}/${k.name}`);
      assert.equal(get.status, 404);
    });
  }
});

describe('kubectl prints upstream’s text', () => {
  async function create(name: string, o: O): Promise<string> {
    const f = await c.file(`${name}.json`, JSON.stringify(o));
    const r = await c.kubectl(['create', '-f', f]);
    assert.equal(r.code, 1, r.stdout);
    return r.stderr.trimEnd();
  }

  it('a Deployment whose selector does not match its template', async () => {
    const o = manifest('apps/v1', 'Deployment', 'web', { spec: { selector: { matchLabels: { app: 'api' } }, template: tpl() } });
    assert.equal(
      await create('mismatch', o),
      'The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
    );
  });

  it('a Pod with several errors', async () => {
    const o = manifest('v1', 'Pod', 'broken', { spec: { containers: [{ name: 'app' }, { name: 'app', image: 'x', ports: [{ containerPort: 70000 }] }] } });
    assert.equal(
      await create('pod', o),
      [
        'The Pod "broken" is invalid: ',
        '* spec.containers[0].image: Required value',
        '* spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
        '* spec.containers[1].name: Duplicate value: "app"',
      ].join('\n'),
    );
  });

  it('a CronJob whose schedule does not parse', async () => {
    const o = manifest('batch/v1', 'CronJob', 'nightly', {
      spec: { schedule: '0 25 * * *', jobTemplate: { spec: { template: { spec: podSpec({ restartPolicy: 'OnFailure' }) } } } },
    });
    assert.equal(await create('cron', o), 'The CronJob "nightly" is invalid: spec.schedule: Invalid value: "0 25 * * *": end of range (25) above maximum (23): 25');
  });

  it('a ConfigMap with a bad key', async () => {
    const o = manifest('v1', 'ConfigMap', 'settings', { data: { 'log level': 'debug' } });
    assert.equal(
      await create('cm', o),
      `The ConfigMap "settings" is invalid: data[log level]: Invalid value: "log level": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
    );
  });

  it('a Deployment whose selector changes (kubectl apply)', async () => {
    const v1 = manifest('apps/v1', 'Deployment', 'frontend', { spec: { selector: { matchLabels: { app: 'web' } }, template: tpl() } });
    let f = await c.file('frontend.json', JSON.stringify(v1));
    let r = await c.kubectl(['apply', '-f', f]);
    assert.equal(r.code, 0, r.stderr);
    const v2 = manifest('apps/v1', 'Deployment', 'frontend', { spec: { selector: { matchLabels: { app: 'web', tier: 'fe' } }, template: tpl({ app: 'web', tier: 'fe' }) } });
    f = await c.file('frontend.json', JSON.stringify(v2));
    r = await c.kubectl(['apply', '-f', f]);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(
      r.stderr.trimEnd(),
      `The Deployment "frontend" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"fe"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable`,
    );
  });
});

describe('invalid updates are answered 422', () => {
  interface Update {
    name: string;
    apiVersion: string;
    kind: string;
    body: O;
    change: (o: O) => void;
    fields: string[];
  }
  const updates: Update[] = [
    {
      name: 'upd-deploy-selector',
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      body: { spec: { selector: { matchLabels: { app: 'web' } }, template: tpl() } },
      change: (o) => {
        o.spec.selector.matchLabels.app = 'api';
        o.spec.template.metadata.labels.app = 'api';
      },
      fields: ['spec.selector'],
    },
    {
      name: 'upd-pod-spec',
      apiVersion: 'v1',
      kind: 'Pod',
      body: { spec: podSpec() },
      change: (o) => (o.spec.containers[0].ports = [{ containerPort: 8080 }]),
      fields: ['spec'],
    },
    {
      name: 'upd-job-template',
      apiVersion: 'batch/v1',
      kind: 'Job',
      body: { spec: { template: { spec: podSpec({ restartPolicy: 'Never' }) } } },
      change: (o) => (o.spec.template.spec.containers[0].image = 'busybox'),
      fields: ['spec.template'],
    },
    {
      name: 'upd-cm-immutable',
      apiVersion: 'v1',
      kind: 'ConfigMap',
      body: { data: { a: '1' }, immutable: true },
      change: (o) => (o.data.a = '2'),
      fields: ['data'],
    },
    {
      name: 'upd-secret-type',
      apiVersion: 'v1',
      kind: 'Secret',
      body: { type: 'example.com/custom', stringData: { a: 'b' } },
      change: (o) => (o.type = 'Opaque'),
      fields: ['type'],
    },
    {
      name: 'upd-sts-service',
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      body: { spec: { serviceName: 'db', selector: { matchLabels: { app: 'web' } }, template: tpl() } },
      change: (o) => (o.spec.serviceName = 'other'),
      fields: ['spec'],
    },
    {
      name: 'upd-pvc-class',
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      body: { spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'slow', resources: { requests: { storage: '1Gi' } } } },
      change: (o) => (o.spec.storageClassName = 'fast'),
      fields: ['spec'],
    },
    {
      name: 'upd-crb-roleref',
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      body: { roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [] },
      change: (o) => (o.roleRef.name = 'edit'),
      fields: ['roleRef'],
    },
    {
      name: 'upd-pc-value',
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      body: { value: 100 },
      change: (o) => (o.value = 200),
      fields: ['value'],
    },
    {
      name: 'upd-sc-parameters',
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      body: { provisioner: 'example.com/disk', parameters: { type: 'ssd' } },
      change: (o) => (o.parameters.type = 'hdd'),
      fields: ['parameters'],
    },
  ];

  for (const u of updates) {
    it(`${u.kind} ${u.name}: ${u.fields.join(', ')}`, async () => {
      const o = manifest(u.apiVersion, u.kind, u.name, u.body);
      const created = await api.json('POST', collection(o), o);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const next = structuredClone(created.body);
      u.change(next);
      const r = await api.json('PUT', `${collection(o)}/${u.name}`, next);
      assertInvalid(r, u.kind, u.name, u.fields);
      // The stored object is unchanged.
      const get = await api.json('GET', `${collection(o)}/${u.name}`);
      assert.equal(get.body.metadata.resourceVersion, created.body.metadata.resourceVersion);
    });
  }
});

describe('decode errors', () => {
  it('a malformed quantity is a 400 BadRequest, as upstream’s decoder answers', async () => {
    const o = manifest('v1', 'Pod', 'bad-quantity', { spec: podSpec({ containers: [ctr({ resources: { limits: { cpu: 'two' } } })] }) });
    const r = await api.json('POST', collection(o), o);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.reason, 'BadRequest');
    assert.equal(
      r.body.message,
      `Pod in version "v1" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
    );
  });
});

describe('the server keeps serving', () => {
  it('lists, reports ready and accepts valid objects after all of the above', async () => {
    const list = await api.json('GET', `/api/v1/namespaces/${NS}/pods`);
    assert.equal(list.status, 200);
    assert.equal(list.body.items.length, 1, 'only the valid pod of the update test exists');
    const ready = await api.request('GET', '/readyz');
    assert.equal(ready.status, 200);
    const ok = manifest('apps/v1', 'Deployment', 'valid', { spec: { selector: { matchLabels: { app: 'web' } }, template: tpl() } });
    const r = await api.json('POST', collection(ok), ok);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const get = await c.kubectl(['get', 'deployment', 'valid', '-n', NS, '-o', 'jsonpath={.metadata.name}']);
    assert.equal(get.stdout, 'valid');
  });
});
