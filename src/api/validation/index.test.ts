import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString } from '../errors.ts';
import { decodeError, validateObject } from './index.ts';

type O = Record<string, any>;

/** The lines kubectl prints after `The <Kind> "x" is invalid:`. */
function lines(group: string, kind: string, obj: O, old?: O): string[] {
  return validateObject({ group, version: 'v1', kind }, obj, old).map(fieldErrorString);
}

const ctr = (extra: O = {}) => ({ name: 'app', image: 'nginx:1.27', ...extra });
const pod = (spec: O = {}, meta: O = {}) => ({ metadata: { name: 'p', namespace: 'default', ...meta }, spec: { containers: [ctr()], ...spec } });
const template = (labels: O = { app: 'web' }, spec: O = {}) => ({ metadata: { labels }, spec: { containers: [ctr()], ...spec } });
const deployment = (spec: O = {}) => ({
  metadata: { name: 'd', namespace: 'default' },
  spec: { selector: { matchLabels: { app: 'web' } }, template: template(), ...spec },
});

const LABEL_RULE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

describe('Pod', () => {
  it('accepts a minimal pod', () => {
    assert.deepEqual(lines('', 'Pod', pod()), []);
  });

  it('requires containers and images', () => {
    assert.deepEqual(lines('', 'Pod', pod({ containers: [] })), ['spec.containers: Required value']);
    assert.deepEqual(lines('', 'Pod', pod({ containers: [{ name: 'app' }] })), ['spec.containers[0].image: Required value']);
    assert.deepEqual(lines('', 'Pod', pod({ containers: [{ image: 'x' }] })), ['spec.containers[0].name: Required value']);
  });

  it('checks container names: DNS labels, unique across containers and init containers', () => {
    assert.deepEqual(lines('', 'Pod', pod({ containers: [ctr({ name: 'App_1' })] })), [`spec.containers[0].name: Invalid value: "App_1": ${LABEL_RULE}`]);
    assert.deepEqual(lines('', 'Pod', pod({ containers: [ctr(), ctr()] })), ['spec.containers[1].name: Duplicate value: "app"']);
    assert.deepEqual(lines('', 'Pod', pod({ initContainers: [ctr()] })), ['spec.initContainers[0].name: Duplicate value: "app"']);
  });

  it('checks container ports', () => {
    const ports = [
      { containerPort: 0 },
      { containerPort: 70000, protocol: 'XTP' },
      { containerPort: 80, name: 'http' },
      { containerPort: 81, name: 'http' },
      { containerPort: 82, name: 'Web_Port' },
    ];
    assert.deepEqual(lines('', 'Pod', pod({ containers: [ctr({ ports })] })), [
      'spec.containers[0].ports[0].containerPort: Required value',
      'spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
      'spec.containers[0].ports[1].protocol: Unsupported value: "XTP": supported values: "SCTP", "TCP", "UDP"',
      'spec.containers[0].ports[3].name: Duplicate value: "http"',
      'spec.containers[0].ports[4].name: Invalid value: "Web_Port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
    ]);
  });

  it('checks resources: names, quantities, requests ≤ limits', () => {
    const resources = { limits: { cpu: '500m', 'example.com/gpu': '1500m' }, requests: { cpu: '1', memory: '-1Gi', shoes: '1' } };
    assert.deepEqual(lines('', 'Pod', pod({ containers: [ctr({ resources })] })), [
      'spec.containers[0].resources.limits[example.com/gpu]: Invalid value: resource.Quantity{i:resource.int64Amount{value:1500, scale:-3}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"1500m", Format:"DecimalSI"}: must be an integer',
      'spec.containers[0].resources.requests: Invalid value: "1": must be less than or equal to cpu limit of 500m',
      'spec.containers[0].resources.requests[memory]: Invalid value: "-1Gi": must be greater than or equal to 0',
      'spec.containers[0].resources.requests[shoes]: Invalid value: "shoes": must be a standard resource type or fully qualified',
      'spec.containers[0].resources.requests[shoes]: Invalid value: "shoes": must be a standard resource for containers',
    ]);
    const gpu = { requests: { 'example.com/gpu': '1' } };
    assert.deepEqual(lines('', 'Pod', pod({ containers: [ctr({ resources: gpu })] })), [
      'spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources',
    ]);
  });

  it('checks env names and sources', () => {
    const env = [{ name: '' }, { name: 'A=B' }, { name: 'X', valueFrom: {} }, { name: 'Y', value: 'v', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }];
    assert.deepEqual(lines('', 'Pod', pod({ containers: [ctr({ env })] })), [
      'spec.containers[0].env[0].name: Required value',
      `spec.containers[0].env[1].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`,
      'spec.containers[0].env[2].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
      'spec.containers[0].env[3].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
    ]);
    const fieldRef = [{ name: 'P', valueFrom: { fieldRef: { fieldPath: 'status.phase' } } }];
    assert.deepEqual(lines('', 'Pod', pod({ containers: [ctr({ env: fieldRef })] })), [
      'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "status.phase": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"',
    ]);
  });

  it('checks volumes: unique names, one source, mounts that reference them', () => {
    const volumes = [{ name: 'data', emptyDir: {} }, { name: 'data', emptyDir: {} }, { name: 'cfg' }, { name: 'both', emptyDir: {}, hostPath: { path: '/x' } }];
    const volumeMounts = [{ name: 'missing', mountPath: '/a' }, { name: 'data', mountPath: '/a' }];
    assert.deepEqual(lines('', 'Pod', pod({ volumes, containers: [ctr({ volumeMounts })] })), [
      'spec.volumes[1].name: Duplicate value: "data"',
      'spec.volumes[2]: Required value: must specify a volume type',
      'spec.volumes[3].hostPath: Forbidden: may not specify more than 1 volume type',
      'spec.containers[0].volumeMounts[0].name: Not found: "missing"',
      'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique',
    ]);
    assert.deepEqual(lines('', 'Pod', pod({ volumes: [{ name: 's', secret: {} }, { name: 'c', configMap: { name: 'x', defaultMode: 1000 } }] })), [
      'spec.volumes[0].secret.secretName: Required value',
      'spec.volumes[1].configMap.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive',
    ]);
  });

  it('checks probes and lifecycle handlers', () => {
    const c = ctr({
      livenessProbe: { periodSeconds: -1, successThreshold: 2 },
      readinessProbe: { httpGet: { port: 'web_http', scheme: 'FTP' }, terminationGracePeriodSeconds: 5 },
      lifecycle: { preStop: { exec: {} } },
    });
    assert.deepEqual(lines('', 'Pod', pod({ containers: [c] })), [
      'spec.containers[0].lifecycle.preStop.exec.command: Required value',
      'spec.containers[0].livenessProbe: Required value: must specify a handler type',
      'spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0',
      'spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1',
      'spec.containers[0].readinessProbe.httpGet.port: Invalid value: "web_http": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
      'spec.containers[0].readinessProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"',
      'spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes',
    ]);
  });

  it('checks pod-level enums, node selectors and tolerations', () => {
    const spec = {
      restartPolicy: 'Sometimes',
      dnsPolicy: 'Google',
      nodeSelector: { disk: 'fast ssd' },
      tolerations: [{ key: 'k', operator: 'Maybe' }, { operator: 'Equal', value: 'x' }, { key: 'k', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 5 }],
    };
    assert.deepEqual(lines('', 'Pod', pod(spec)), [
      'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
      'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
      `spec.nodeSelector: Invalid value: "fast ssd": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
      'spec.tolerations[0].operator: Unsupported value: "Maybe": supported values: "Equal", "Exists"',
      'spec.tolerations[1].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
      "spec.tolerations[2].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
    ]);
  });

  it('checks affinity selectors', () => {
    const affinity = {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In' }] }] } },
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 200, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname' } }] },
    };
    assert.deepEqual(lines('', 'Pod', pod({ affinity })), [
      "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
      'spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 200: must be in the range 1-100',
    ]);
  });

  it('only lets updates change images, activeDeadlineSeconds and add tolerations', () => {
    const old = pod();
    assert.deepEqual(lines('', 'Pod', pod({ containers: [ctr({ image: 'nginx:1.28' })] }), old), []);
    const changed = lines('', 'Pod', pod({ containers: [ctr({ ports: [{ containerPort: 80 }] })] }), old);
    assert.equal(changed.length, 1);
    assert.ok(
      changed[0].startsWith(
        'spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n  core.PodSpec{',
      ),
      changed[0],
    );
    assert.deepEqual(lines('', 'Pod', pod({ containers: [ctr(), ctr({ name: 'b' })] }), old), ['spec.containers: Forbidden: pod updates may not add or remove containers']);
    assert.deepEqual(lines('', 'Pod', pod({ activeDeadlineSeconds: 20 }), pod({ activeDeadlineSeconds: 10 })), [
      'spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value',
    ]);
  });

  it('forbids ephemeral containers on create', () => {
    assert.deepEqual(lines('', 'Pod', pod({ ephemeralContainers: [{ name: 'dbg', image: 'busybox' }] })), ['spec.ephemeralContainers: Forbidden: cannot be set on create']);
  });
});

describe('workloads', () => {
  it('Deployment: selector required and must match the template labels', () => {
    assert.deepEqual(lines('apps', 'Deployment', deployment({ selector: undefined })), [
      'spec.selector: Required value',
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
    ]);
    assert.deepEqual(lines('apps', 'Deployment', deployment({ selector: { matchLabels: { app: 'api' } } })), [
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
    ]);
    assert.deepEqual(lines('apps', 'Deployment', deployment({ selector: {} })), [
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment',
    ]);
  });

  it('Deployment: replicas, strategy and template restartPolicy', () => {
    const d = deployment({
      replicas: -1,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '150%' } },
      template: template({ app: 'web' }, { restartPolicy: 'Never' }),
    });
    assert.deepEqual(lines('apps', 'Deployment', d), [
      'spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater than 100%',
    ]);
    assert.deepEqual(lines('apps', 'Deployment', deployment({ strategy: { type: 'Recreate', rollingUpdate: {} } })), [
      "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
    ]);
    assert.deepEqual(lines('apps', 'Deployment', deployment({ strategy: { type: 'BlueGreen' } })), [
      'spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"BlueGreen", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate"',
    ]);
  });

  it('Deployment, ReplicaSet, DaemonSet, StatefulSet: the selector is immutable', () => {
    const next = deployment({ selector: { matchLabels: { app: 'web', tier: 'fe' } }, template: template({ app: 'web', tier: 'fe' }) });
    const want = [
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"fe"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
    ];
    for (const kind of ['Deployment', 'ReplicaSet', 'DaemonSet']) assert.deepEqual(lines('apps', kind, next, deployment()), want, kind);
  });

  it('StatefulSet: only some spec fields may change', () => {
    const sts = (extra: O = {}) => ({ metadata: { name: 's' }, spec: { serviceName: 'db', selector: { matchLabels: { app: 'web' } }, template: template(), ...extra } });
    assert.deepEqual(lines('apps', 'StatefulSet', sts({ replicas: 5 }), sts()), []);
    assert.deepEqual(lines('apps', 'StatefulSet', sts({ serviceName: 'other' }), sts()), [
      "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    ]);
    assert.deepEqual(lines('apps', 'StatefulSet', sts({ podManagementPolicy: 'Random' })), ["spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"]);
  });

  it('DaemonSet: rolling update needs exactly one of maxSurge and maxUnavailable', () => {
    const ds = { metadata: { name: 'ds' }, spec: { selector: { matchLabels: { app: 'web' } }, template: template(), updateStrategy: { rollingUpdate: { maxUnavailable: 0 } } } };
    assert.deepEqual(lines('apps', 'DaemonSet', ds), ['spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0']);
  });

  it('ReplicationController: selector required (defaulting copies the template labels), template restartPolicy Always', () => {
    const rc = { metadata: { name: 'rc' }, spec: { template: template({ app: 'web' }, { restartPolicy: 'OnFailure' }) } };
    assert.deepEqual(lines('', 'ReplicationController', rc), [
      'spec.selector: Required value',
      'spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"',
    ]);
    const mismatch = { metadata: { name: 'rc' }, spec: { selector: { app: 'api' }, template: template() } };
    assert.deepEqual(lines('', 'ReplicationController', mismatch), [
      'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
    ]);
  });
});

describe('batch', () => {
  const job = (spec: O = {}, tplSpec: O = { restartPolicy: 'Never' }) => ({
    metadata: { name: 'j' },
    spec: { template: { spec: { containers: [ctr()], ...tplSpec } }, ...spec },
  });

  it('Job: restartPolicy OnFailure or Never, non-negative counts', () => {
    assert.deepEqual(lines('batch', 'Job', job({ parallelism: -1, completions: -2, backoffLimit: -3 }, {})), [
      'spec.parallelism: Invalid value: -1: must be greater than or equal to 0',
      'spec.completions: Invalid value: -2: must be greater than or equal to 0',
      'spec.backoffLimit: Invalid value: -3: must be greater than or equal to 0',
      'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
    ]);
    assert.deepEqual(lines('batch', 'Job', job({}, { restartPolicy: 'Sometimes' })), [
      'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
      'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "OnFailure", "Never"',
    ]);
  });

  it('Job: completions and the template are immutable', () => {
    const errs = lines('batch', 'Job', job({ completions: 3 }, { restartPolicy: 'OnFailure' }), job({ completions: 2 }));
    assert.deepEqual(errs, ['spec.completions: Invalid value: 3: field is immutable', 'spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable']);
  });

  it('CronJob: the schedule must parse and the time zone must exist', () => {
    const cj = (spec: O) => ({ metadata: { name: 'c' }, spec: { jobTemplate: { spec: { template: { spec: { containers: [ctr()], restartPolicy: 'OnFailure' } } } }, ...spec } });
    assert.deepEqual(lines('batch', 'CronJob', cj({ schedule: '*/5 * * * *', timeZone: 'Europe/Paris' })), []);
    assert.deepEqual(lines('batch', 'CronJob', cj({})), ['spec.schedule: Required value']);
    assert.deepEqual(lines('batch', 'CronJob', cj({ schedule: '0 25 * * *', timeZone: 'Mars/Olympus' })), [
      'spec.schedule: Invalid value: "0 25 * * *": end of range (25) above maximum (23): 25',
      'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
    ]);
    assert.deepEqual(lines('batch', 'CronJob', cj({ schedule: 'TZ=UTC 0 * * * *' })), [
      'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead',
    ]);
  });
});

describe('Service', () => {
  const svc = (spec: O) => ({ metadata: { name: 's' }, spec });

  it('needs ports (unless headless), valid port numbers and names', () => {
    assert.deepEqual(lines('', 'Service', svc({ type: 'ClusterIP' })), ['spec.ports: Required value']);
    assert.deepEqual(lines('', 'Service', svc({ clusterIP: 'None' })), []);
    assert.deepEqual(lines('', 'Service', svc({ ports: [{ port: 0 }, { port: 80, name: 'web', targetPort: 'Http_1' }] })), [
      'spec.ports[0].name: Required value',
      'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      // targetPort defaults to port, so a zero port is reported twice, as upstream does.
      'spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.ports[1].targetPort: Invalid value: "Http_1": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
    ]);
  });

  it('checks types, selectors and ExternalName names', () => {
    assert.deepEqual(lines('', 'Service', svc({ type: 'Internal', ports: [{ port: 80 }], selector: { 'app/': 'x' } })), [
      'spec.selector: Invalid value: "app/": name part must be non-empty',
      "spec.selector: Invalid value: \"app/\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    ]);
    assert.deepEqual(lines('', 'Service', svc({ type: 'ExternalName' })), ['spec.externalName: Required value']);
    assert.deepEqual(lines('', 'Service', svc({ type: 'ClusterIP', ports: [{ port: 80, nodePort: 30080 }] })), [
      "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
    ]);
  });

  it('healthCheckNodePort: only for LoadBalancer with externalTrafficPolicy Local, a valid port, immutable once set', () => {
    const lb = (extra: O) => svc({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }], ...extra });
    assert.deepEqual(lines('', 'Service', lb({ healthCheckNodePort: 31000 })), []);
    assert.deepEqual(lines('', 'Service', lb({ healthCheckNodePort: 70000 })), [
      'spec.healthCheckNodePort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    ]);
    assert.deepEqual(lines('', 'Service', lb({ externalTrafficPolicy: 'Cluster', healthCheckNodePort: 31000 })), [
      "spec.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
    ]);
    assert.deepEqual(lines('', 'Service', lb({ healthCheckNodePort: 31001 }), lb({ healthCheckNodePort: 31000 })), [
      'spec.healthCheckNodePort: Forbidden: field is immutable',
    ]);
    // A Service stored before Skiff allocated the port may get one.
    assert.deepEqual(lines('', 'Service', lb({ healthCheckNodePort: 31001 }), lb({})), []);
  });
});

describe('ConfigMap and Secret', () => {
  it('keys must be config keys', () => {
    assert.deepEqual(lines('', 'ConfigMap', { metadata: { name: 'c' }, data: { 'a b': '1', '..': '2' } }), [
      `data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
      `data[..]: Invalid value: "..": must not be '..'`,
    ]);
  });

  it('at most 1 MiB of data', () => {
    assert.deepEqual(lines('', 'ConfigMap', { metadata: { name: 'c' }, data: { big: 'x'.repeat(1024 * 1024 + 1) } }), ['[]: Too long: may not be more than 1048576 bytes']);
    const b64 = Buffer.alloc(1024 * 1024 + 1).toString('base64');
    assert.deepEqual(lines('', 'Secret', { metadata: { name: 's' }, data: { big: b64 } }), ['data: Too long: may not be more than 1048576 bytes']);
  });

  it('Secret types require their keys', () => {
    assert.deepEqual(lines('', 'Secret', { metadata: { name: 's' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': 'c' } }), ['data[tls.key]: Required value']);
    assert.deepEqual(lines('', 'Secret', { metadata: { name: 's' }, type: 'kubernetes.io/basic-auth' }), ['data[username]: Required value', 'data[password]: Required value']);
    assert.deepEqual(lines('', 'Secret', { metadata: { name: 's' }, type: 'kubernetes.io/service-account-token' }), [
      'metadata.annotations[kubernetes.io/service-account.name]: Required value',
    ]);
  });

  it('immutable data stays immutable; Secret type never changes', () => {
    const cm = (data: O, immutable?: boolean) => ({ metadata: { name: 'c' }, data, immutable });
    assert.deepEqual(lines('', 'ConfigMap', cm({ a: '2' }, true), cm({ a: '1' }, true)), ['data: Forbidden: field is immutable when `immutable` is set']);
    assert.deepEqual(lines('', 'ConfigMap', cm({ a: '1' }, false), cm({ a: '1' }, true)), ['immutable: Forbidden: field is immutable when `immutable` is set']);
    assert.deepEqual(lines('', 'Secret', { metadata: { name: 's' }, type: 'Opaque' }, { metadata: { name: 's' }, type: 'example.com/x' }), [
      'type: Invalid value: "Opaque": field is immutable',
    ]);
  });
});

describe('storage', () => {
  it('PersistentVolumeClaim: access modes and a positive storage request', () => {
    assert.deepEqual(lines('', 'PersistentVolumeClaim', { metadata: { name: 'c' }, spec: { resources: { requests: {} } } }), [
      'spec.accessModes: Required value: at least 1 access mode is required',
      'spec.resources[storage]: Required value',
    ]);
    assert.deepEqual(lines('', 'PersistentVolumeClaim', { metadata: { name: 'c' }, spec: { accessModes: ['ReadWriteOncePod', 'ReadWriteOnce'], resources: { requests: { storage: '0' } } } }), [
      'spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes',
      'spec.resources[storage]: Invalid value: "0": must be greater than zero',
    ]);
  });

  it('PersistentVolumeClaim: the spec is immutable except a bound claim’s storage request', () => {
    const pvc = (storage: string, phase = 'Pending', extra: O = {}) => ({
      metadata: { name: 'c' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage } }, ...extra },
      status: { phase },
    });
    assert.deepEqual(lines('', 'PersistentVolumeClaim', pvc('2Gi', 'Bound'), pvc('1Gi', 'Bound')), []);
    const errs = lines('', 'PersistentVolumeClaim', pvc('1Gi', 'Pending', { storageClassName: 'fast' }), pvc('1Gi', 'Pending', { storageClassName: 'slow' }));
    assert.equal(errs.length, 1);
    assert.match(errs[0], /^spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n/);
  });

  it('PersistentVolume: access modes, capacity and a volume source', () => {
    assert.deepEqual(lines('', 'PersistentVolume', { metadata: { name: 'v' }, spec: {} }), [
      'spec.accessModes: Required value',
      'spec.capacity: Required value',
      'spec.capacity: Unsupported value: core.ResourceList(nil): supported values: "storage"',
      'spec: Required value: must specify a volume type',
    ]);
  });

  it('StorageClass: provisioner and enums; parameters are immutable', () => {
    assert.deepEqual(lines('storage.k8s.io', 'StorageClass', { metadata: { name: 'sc' }, reclaimPolicy: 'Recycle', volumeBindingMode: 'Later' }), [
      'provisioner: Required value',
      'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"',
      'volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"',
    ]);
    const sc = (p: O) => ({ metadata: { name: 'sc' }, provisioner: 'x.io/y', parameters: p });
    assert.deepEqual(lines('storage.k8s.io', 'StorageClass', sc({ a: '2' }), sc({ a: '1' })), ['parameters: Forbidden: updates to parameters are forbidden.']);
  });
});

describe('cluster kinds', () => {
  it('Node: taints (reported under metadata, as upstream does) and podCIDRs', () => {
    const node = { metadata: { name: 'n' }, spec: { podCIDR: '10.0.0.0/33', taints: [{ key: 'k', effect: 'NoSchedule' }, { key: 'k', effect: 'NoSchedule' }, { key: 'j' }] } };
    assert.deepEqual(lines('', 'Node', node), [
      'metadata.taints[1]: Duplicate value: core.Taint{Key:"k", Value:"", Effect:"NoSchedule", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair',
      'metadata.taints[2].effect: Required value',
      'spec.podCIDRs[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    ]);
    assert.deepEqual(lines('', 'Node', { metadata: { name: 'n' }, spec: { podCIDR: '10.1.0.0/24' } }, { metadata: { name: 'n' }, spec: { podCIDR: '10.0.0.0/24' } }), [
      'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
    ]);
  });

  it('ResourceQuota and LimitRange: resource names and quantities', () => {
    assert.deepEqual(lines('', 'ResourceQuota', { metadata: { name: 'q' }, spec: { hard: { pods: '1500m', shoes: '1' } } }), [
      'spec.hard[pods]: Invalid value: resource.Quantity{i:resource.int64Amount{value:1500, scale:-3}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"1500m", Format:"DecimalSI"}: must be an integer',
      'spec.hard[shoes]: Invalid value: "shoes": must be a standard resource type or fully qualified',
      'spec.hard[shoes]: Invalid value: "shoes": must be a standard resource for quota',
    ]);
    const lr = { metadata: { name: 'l' }, spec: { limits: [{ type: 'Container', min: { cpu: '2' }, max: { cpu: '1' } }, { type: 'Pod', default: { cpu: '1' } }] } };
    assert.deepEqual(lines('', 'LimitRange', lr), [
      'spec.limits[0].min[cpu]: Invalid value: resource.Quantity{i:resource.int64Amount{value:2, scale:0}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"2", Format:"DecimalSI"}: min value 2 is greater than max value 1',
      "spec.limits[1].default: Forbidden: may not be specified when `type` is 'Pod'",
    ]);
  });

  it('PriorityClass: user values up to 1e9, system- names reserved', () => {
    assert.deepEqual(lines('scheduling.k8s.io', 'PriorityClass', { metadata: { name: 'high' }, value: 1000000001 }), [
      'value: Forbidden: maximum allowed value of a user defined priority is 1000000000',
    ]);
    assert.deepEqual(lines('scheduling.k8s.io', 'PriorityClass', { metadata: { name: 'system-x' }, value: 1 }), [
      "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-x is not a known system priority class",
    ]);
    assert.deepEqual(lines('scheduling.k8s.io', 'PriorityClass', { metadata: { name: 'p' }, value: 2 }, { metadata: { name: 'p' }, value: 1 }), [
      'value: Forbidden: may not be changed in an update.',
    ]);
  });

  it('RBAC: roleRef required and immutable; subjects checked', () => {
    assert.deepEqual(lines('rbac.authorization.k8s.io', 'ClusterRoleBinding', { metadata: { name: 'b' }, roleRef: { apiGroup: 'rbac' }, subjects: [{ kind: 'ServiceAccount', name: 'sa' }, { kind: 'Robot', name: 'r' }] }), [
      'roleRef.apiGroup: Unsupported value: "rbac": supported values: "rbac.authorization.k8s.io"',
      'roleRef.kind: Unsupported value: "": supported values: "ClusterRole"',
      'roleRef.name: Required value',
      'subjects[0].namespace: Required value',
      'subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
    ]);
    const rb = (name: string) => ({ metadata: { name: 'b' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name } });
    assert.deepEqual(lines('rbac.authorization.k8s.io', 'RoleBinding', rb('edit'), rb('view')), [
      'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: cannot change roleRef',
    ]);
    assert.deepEqual(lines('rbac.authorization.k8s.io', 'Role', { metadata: { name: 'r' }, rules: [{ apiGroups: [''], resources: ['pods'] }] }), [
      'rules[0].verbs: Required value: verbs must contain at least one value',
    ]);
  });
});

describe('other groups', () => {
  it('PodDisruptionBudget: minAvailable xor maxUnavailable', () => {
    const errs = lines('policy', 'PodDisruptionBudget', { metadata: { name: 'p' }, spec: { minAvailable: 1, maxUnavailable: '120%' } });
    assert.equal(errs.length, 2);
    assert.match(errs[0], /^spec: Invalid value: policy\.PodDisruptionBudgetSpec\{MinAvailable:\(\*intstr\.IntOrString\)\(0x[0-9a-f]+\), .*: minAvailable and maxUnavailable cannot be both set$/);
    assert.equal(errs[1], 'spec.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"120%"}: must not be greater than 100%');
  });

  it('Ingress: rules or a default backend; paths and backends', () => {
    assert.deepEqual(lines('networking.k8s.io', 'Ingress', { metadata: { name: 'i' }, spec: {} }), [
      'spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified',
    ]);
    const ing = { metadata: { name: 'i' }, spec: { rules: [{ host: '10.0.0.1', http: { paths: [{ path: 'api', pathType: 'Prefix', backend: { service: { name: 'api' } } }] } }] } };
    assert.deepEqual(lines('networking.k8s.io', 'Ingress', ing), [
      'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address',
      'spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path',
      'spec.rules[0].http.paths[0].backend: Required value: port name or number is required',
    ]);
  });

  it('NetworkPolicy: ports and ipBlocks', () => {
    const np = { metadata: { name: 'n' }, spec: { podSelector: {}, ingress: [{ ports: [{ port: 70000 }], from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['192.168.0.0/24'] } }, {}] }] } };
    assert.deepEqual(lines('networking.k8s.io', 'NetworkPolicy', np), [
      'spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
      'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "192.168.0.0/24": must be a strict subset of `cidr`',
      'spec.ingress[0].from[1]: Required value: must specify a peer',
    ]);
  });

  it('HorizontalPodAutoscaler: replica bounds and the scale target', () => {
    assert.deepEqual(lines('autoscaling', 'HorizontalPodAutoscaler', { metadata: { name: 'h' }, spec: { minReplicas: 5, maxReplicas: 2, scaleTargetRef: { kind: 'Deployment' } } }), [
      'spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`',
      'spec.scaleTargetRef.name: Required value',
    ]);
  });

  it('Lease, EndpointSlice, Endpoints, IngressClass', () => {
    assert.deepEqual(lines('coordination.k8s.io', 'Lease', { metadata: { name: 'l' }, spec: { leaseDurationSeconds: 0 } }), ['spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0']);
    assert.deepEqual(lines('discovery.k8s.io', 'EndpointSlice', { metadata: { name: 'e' }, addressType: 'IPv4', endpoints: [{ addresses: ['fe80::1'] }, { addresses: ['127.0.0.1'] }] }), [
      'endpoints[0].addresses[0]: Invalid value: "fe80::1": must be a valid IPv4 address',
      'endpoints[1].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
    ]);
    assert.deepEqual(lines('', 'Endpoints', { metadata: { name: 'e' }, subsets: [{ addresses: [{ ip: 'not-an-ip' }] }] }), [
      'subsets[0].addresses[0].ip: Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
      'subsets[0].addresses[0].ip: Invalid value: "not-an-ip": must be a valid IP address',
    ]);
    assert.deepEqual(lines('networking.k8s.io', 'IngressClass', { metadata: { name: 'c' }, spec: { controller: 'nginx' } }), [
      'spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")',
    ]);
  });

  it('Events: legacy rules for core/v1, strict rules for events.k8s.io', () => {
    const ev = { metadata: { name: 'e', namespace: 'default' }, involvedObject: { kind: 'Pod', namespace: 'other' }, reason: 'X' };
    assert.deepEqual(lines('', 'Event', ev), ['involvedObject.namespace: Invalid value: "other": does not match event.namespace']);
    const strict = { metadata: { name: 'e', namespace: 'default' }, regarding: { kind: 'Pod', namespace: 'default' }, type: 'Info', eventTime: '2025-01-01T00:00:00.000000Z', reason: 'R', action: 'A', reportingController: 'x.io/c', reportingInstance: 'i' };
    assert.deepEqual(lines('events.k8s.io', 'Event', strict), ['type: Invalid value: "": has invalid value: Info']);
  });

  it('kinds outside the table have no checks', () => {
    assert.deepEqual(lines('example.com', 'Widget', { spec: { anything: true } }), []);
  });
});

describe('decodeError', () => {
  it('reports malformed quantities and Secret data as the decoder does', () => {
    const gvk = { group: '', version: 'v1', kind: 'Pod' };
    assert.equal(
      decodeError(gvk, pod({ containers: [ctr({ resources: { limits: { cpu: 'two' } } })] })),
      `Pod in version "v1" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
    );
    assert.equal(decodeError(gvk, pod({ containers: [ctr({ resources: { limits: { memory: '32MMi' } } })] })), `Pod in version "v1" cannot be handled as a Pod: unable to parse quantity's suffix`);
    assert.equal(decodeError(gvk, pod()), undefined);
    assert.equal(
      decodeError({ group: 'apps', version: 'v1', kind: 'Deployment' }, { spec: { template: { spec: { containers: [ctr({ resources: { requests: { cpu: '1 core' } } })] } } } }),
      `Deployment in version "v1" cannot be handled as a Deployment: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
    );
    assert.equal(decodeError({ group: '', version: 'v1', kind: 'Secret' }, { data: { a: 'not base64!' } }), 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3');
  });
});
