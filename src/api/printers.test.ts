// Tier: unit. Each case is an object as a real cluster stores it and the cells a
// kube-apiserver 1.32 prints for it (so what `kubectl get [-o wide]` shows).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, printerFor, quantityString, rowConditionsFor, translateTimestampSince } from './printers.ts';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** An RFC3339 timestamp `ms` before NOW. */
const ago = (ms: number): string => new Date(NOW - ms).toISOString().replace('.000Z', 'Z');

const meta = (name: string, created = ago(10 * MIN), extra: Record<string, unknown> = {}) => ({
  name,
  namespace: 'default',
  uid: `uid-${name}`,
  resourceVersion: '1',
  creationTimestamp: created,
  ...extra,
});

const cells = (group: string, resource: string, obj: unknown): unknown[] => printerFor(group, resource).cells(obj, NOW);
const columnNames = (group: string, resource: string): string[] =>
  printerFor(group, resource).columns.map((c) => (c.priority ? `${c.name} p` : c.name));

// ---- durations ----

test('humanDuration follows apimachinery duration.HumanDuration', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [-1500, '0s'], // up to 2s of clock skew reads as now
    [-2 * SEC, '<invalid>'],
    [59 * SEC, '59s'],
    [119 * SEC, '119s'],
    [2 * MIN, '2m'],
    [5 * MIN + 3 * SEC, '5m3s'],
    [10 * MIN + 30 * SEC, '10m'],
    [179 * MIN, '179m'],
    [3 * HOUR, '3h'],
    [3 * HOUR + 20 * MIN, '3h20m'],
    [8 * HOUR + 59 * MIN, '8h'],
    [47 * HOUR, '47h'],
    [2 * DAY, '2d'],
    [3 * DAY + 4 * HOUR, '3d4h'],
    [8 * DAY + 5 * HOUR, '8d'],
    [729 * DAY, '729d'],
    [2 * 365 * DAY, '2y'],
    [2 * 365 * DAY + 30 * DAY, '2y30d'],
    [8 * 365 * DAY + 100 * DAY, '8y'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
});

test('translateTimestampSince: "<unknown>" for unset or zero times', () => {
  assert.equal(translateTimestampSince(undefined, NOW), '<unknown>');
  assert.equal(translateTimestampSince('', NOW), '<unknown>');
  assert.equal(translateTimestampSince('0001-01-01T00:00:00Z', NOW), '<unknown>');
  assert.equal(translateTimestampSince(ago(10 * MIN), NOW), '10m');
  assert.equal(translateTimestampSince('2024-06-01T11:59:30.123456Z', NOW), '29s'); // MicroTime
});

test('quantities print in canonical form', () => {
  const cases: [unknown, string][] = [
    ['1Gi', '1Gi'],
    ['1024Mi', '1Gi'],
    ['1536Mi', '1536Mi'],
    ['1.5Gi', '1536Mi'],
    ['8Gi', '8Gi'],
    ['2000Ki', '2000Ki'],
    ['0.1Gi', '107374182400m'],
    ['0.5', '500m'],
    ['500m', '500m'],
    ['1000m', '1'],
    ['1000', '1k'],
    ['1000M', '1G'],
    ['1.5k', '1500'],
    ['1e3', '1e3'],
    ['1.0', '1'],
    ['0.0000000001', '1n'],
    ['0', '0'],
    ['0Gi', '0'],
    [2, '2'],
    [undefined, '0'],
  ];
  for (const [q, want] of cases) assert.equal(quantityString(q), want, String(q));
});

// ---- columns kubectl shows (docs/KUBECTL-WIRE.md §3) ----

test('column names and priorities match upstream', () => {
  assert.deepEqual(columnNames('', 'pods'), [
    'Name',
    'Ready',
    'Status',
    'Restarts',
    'Age',
    'IP p',
    'Node p',
    'Nominated Node p',
    'Readiness Gates p',
  ]);
  assert.deepEqual(columnNames('apps', 'deployments'), [
    'Name',
    'Ready',
    'Up-to-date',
    'Available',
    'Age',
    'Containers p',
    'Images p',
    'Selector p',
  ]);
  assert.deepEqual(columnNames('apps', 'replicasets'), [
    'Name',
    'Desired',
    'Current',
    'Ready',
    'Age',
    'Containers p',
    'Images p',
    'Selector p',
  ]);
  assert.deepEqual(columnNames('', 'services'), ['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age', 'Selector p']);
  assert.deepEqual(columnNames('', 'nodes'), [
    'Name',
    'Status',
    'Roles',
    'Age',
    'Version',
    'Internal-IP p',
    'External-IP p',
    'OS-Image p',
    'Kernel-Version p',
    'Container-Runtime p',
  ]);
  assert.deepEqual(columnNames('', 'namespaces'), ['Name', 'Status', 'Age']);
  assert.deepEqual(columnNames('batch', 'jobs'), [
    'Name',
    'Status',
    'Completions',
    'Duration',
    'Age',
    'Containers p',
    'Images p',
    'Selector p',
  ]);
  assert.deepEqual(columnNames('', 'configmaps'), ['Name', 'Data', 'Age']);
  const events = [
    'Last Seen',
    'Type',
    'Reason',
    'Object',
    'Subobject p',
    'Source p',
    'Message',
    'First Seen p',
    'Count p',
    'Name p',
  ];
  assert.deepEqual(columnNames('', 'events'), events);
  assert.deepEqual(columnNames('events.k8s.io', 'events'), events);
});

test('column definitions carry upstream types, formats and descriptions', () => {
  const pods = printerFor('', 'pods').columns;
  assert.deepEqual(pods[0], {
    name: 'Name',
    type: 'string',
    format: 'name',
    description:
      'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
    priority: 0,
  });
  assert.equal(pods[1].description, 'The aggregate readiness state of this pod for accepting traffic.');
  assert.match(pods[4].description, /^CreationTimestamp is a timestamp representing the server time/);
  assert.equal(pods[5].description, 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.');
  assert.deepEqual(
    printerFor('apps', 'replicasets').columns.slice(1, 4).map((c) => c.type),
    ['integer', 'integer', 'integer'],
  );
  const cron = printerFor('batch', 'cronjobs').columns;
  assert.deepEqual(
    cron.map((c) => `${c.name}:${c.type}`).slice(0, 5),
    ['Name:string', 'Schedule:string', 'Timezone:string', 'Suspend:boolean', 'Active:integer'],
  );
  assert.equal(cron[1].description, 'The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.');
  const pc = printerFor('scheduling.k8s.io', 'priorityclasses').columns;
  assert.deepEqual(
    pc.map((c) => `${c.name}:${c.type}:${c.priority}`),
    ['Name:string:0', 'Value:integer:0', 'Global-Default:boolean:0', 'Age:string:0', 'PreemptionPolicy:string:0'],
  );
  // Every column of every printer has a non-empty description, and only Name is format "name".
  for (const [g, r] of [
    ['', 'pods'],
    ['', 'events'],
    ['apps', 'daemonsets'],
    ['autoscaling', 'horizontalpodautoscalers'],
    ['discovery.k8s.io', 'endpointslices'],
    ['rbac.authorization.k8s.io', 'clusterrolebindings'],
  ]) {
    for (const c of printerFor(g, r).columns) {
      assert.ok(c.description.length > 0, `${r}.${c.name}`);
      assert.equal(c.format, c.name === 'Name' ? 'name' : '', `${r}.${c.name}`);
    }
  }
});

test('resources without an upstream printer get the default Name / Created At table', () => {
  for (const [g, r] of [
    ['rbac.authorization.k8s.io', 'roles'],
    ['rbac.authorization.k8s.io', 'clusterroles'],
    ['', 'limitranges'],
    ['example.com', 'widgets'],
  ]) {
    const p = printerFor(g, r);
    assert.deepEqual(
      p.columns.map((c) => [c.name, c.type, c.format]),
      [
        ['Name', 'string', 'name'],
        ['Created At', 'date', ''],
      ],
    );
  }
  const role = { metadata: meta('pod-reader', '2024-05-30T08:15:00Z'), rules: [] };
  assert.deepEqual(cells('rbac.authorization.k8s.io', 'roles', role), ['pod-reader', '2024-05-30T08:15:00Z']);
  const lr = { metadata: meta('limits', '2024-05-30T08:15:00.000Z'), spec: { limits: [] } };
  assert.deepEqual(cells('', 'limitranges', lr), ['limits', '2024-05-30T08:15:00Z']);
});

// ---- pods ----

const running = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  ready: true,
  started: true,
  restartCount: 0,
  image: 'nginx:1.27',
  state: { running: { startedAt: ago(9 * MIN) } },
  ...extra,
});

function pod(opts: {
  name?: string;
  phase?: string;
  containers?: number;
  initContainers?: Record<string, unknown>[];
  statuses?: Record<string, unknown>[];
  initStatuses?: Record<string, unknown>[];
  conditions?: Record<string, unknown>[];
  metadata?: Record<string, unknown>;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}) {
  const n = opts.containers ?? 1;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta(opts.name ?? 'web', ago(10 * MIN), opts.metadata),
    spec: {
      containers: Array.from({ length: n }, (_, i) => ({ name: i === 0 ? 'app' : `app${i}`, image: 'nginx:1.27' })),
      initContainers: opts.initContainers,
      ...opts.spec,
    },
    status: {
      phase: opts.phase ?? 'Running',
      conditions: opts.conditions,
      initContainerStatuses: opts.initStatuses,
      containerStatuses: opts.statuses,
      ...opts.status,
    },
  };
}

const readyConditions = [
  { type: 'Initialized', status: 'True' },
  { type: 'Ready', status: 'True' },
  { type: 'ContainersReady', status: 'True' },
  { type: 'PodScheduled', status: 'True' },
];

test('pods: a running pod, wide cells included', () => {
  const p = pod({
    statuses: [running('app')],
    conditions: readyConditions,
    spec: { nodeName: 'node-1' },
    status: { podIP: '10.244.0.5', podIPs: [{ ip: '10.244.0.5' }] },
  });
  assert.deepEqual(cells('', 'pods', p), ['web', '1/1', 'Running', '0', '10m', '10.244.0.5', 'node-1', '<none>', '<none>']);
  assert.equal(rowConditionsFor('', 'pods', p), undefined);
});

test('pods: status column', () => {
  const cases: [string, ReturnType<typeof pod>, string, string][] = [
    ['unscheduled', pod({ phase: 'Pending' }), '0/1', 'Pending'],
    [
      'creating',
      pod({ phase: 'Pending', statuses: [{ name: 'app', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] }),
      '0/1',
      'ContainerCreating',
    ],
    [
      'image pull',
      pod({ phase: 'Pending', statuses: [{ name: 'app', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull', message: 'x' } } }] }),
      '0/1',
      'ErrImagePull',
    ],
    [
      'completed',
      pod({
        phase: 'Succeeded',
        statuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }],
      }),
      '0/1',
      'Completed',
    ],
    [
      'failed',
      pod({
        phase: 'Failed',
        statuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 1, reason: 'Error' } } }],
      }),
      '0/1',
      'Error',
    ],
    [
      'exit code without reason',
      pod({ statuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 137 } } }] }),
      '0/1',
      'ExitCode:137',
    ],
    [
      'signal without reason',
      pod({ statuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, signal: 9 } } }] }),
      '0/1',
      'Signal:9',
    ],
    ['evicted (pod reason wins)', pod({ phase: 'Failed', status: { reason: 'Evicted', message: 'low on memory' } }), '0/1', 'Evicted'],
    [
      'one of two ready',
      pod({
        containers: 2,
        statuses: [running('app'), { name: 'app1', ready: false, restartCount: 0, state: { running: { startedAt: ago(MIN) } } }],
        conditions: [{ type: 'Ready', status: 'False' }],
      }),
      '1/2',
      'Running',
    ],
    [
      'a completed container beside a running one, pod not ready',
      pod({
        containers: 2,
        statuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }, running('app1')],
        conditions: [{ type: 'Ready', status: 'False' }],
      }),
      '1/2',
      'NotReady',
    ],
    [
      'completed container beside a running one, pod ready',
      pod({
        containers: 2,
        statuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }, running('app1')],
        conditions: readyConditions,
      }),
      '1/2',
      'Running',
    ],
    [
      'init container running',
      pod({
        phase: 'Pending',
        initContainers: [{ name: 'init', image: 'busybox' }],
        initStatuses: [{ name: 'init', ready: false, restartCount: 0, state: { running: { startedAt: ago(MIN) } } }],
        statuses: [{ name: 'app', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } }],
      }),
      '0/1',
      'Init:0/1',
    ],
    [
      'second init container waiting for the first to finish',
      pod({
        phase: 'Pending',
        initContainers: [{ name: 'a' }, { name: 'b' }],
        initStatuses: [
          { name: 'a', ready: true, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
          { name: 'b', ready: false, restartCount: 0, state: { waiting: { reason: 'PodInitializing' } } },
        ],
      }),
      '0/1',
      'Init:1/2',
    ],
    [
      'init container crash looping',
      pod({
        phase: 'Pending',
        initContainers: [{ name: 'init' }],
        initStatuses: [{ name: 'init', ready: false, restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } } }],
      }),
      '0/1',
      'Init:CrashLoopBackOff',
    ],
    [
      'init container failed',
      pod({
        phase: 'Pending',
        initContainers: [{ name: 'init' }],
        initStatuses: [{ name: 'init', ready: false, restartCount: 0, state: { terminated: { exitCode: 1, reason: 'Error' } } }],
      }),
      '0/1',
      'Init:Error',
    ],
    [
      'init container failed without a reason',
      pod({
        phase: 'Pending',
        initContainers: [{ name: 'init' }],
        initStatuses: [{ name: 'init', ready: false, restartCount: 0, state: { terminated: { exitCode: 2 } } }],
      }),
      '0/1',
      'Init:ExitCode:2',
    ],
    [
      'running sidecar (restartable init container) counts as a container',
      pod({
        initContainers: [{ name: 'proxy', restartPolicy: 'Always' }],
        initStatuses: [running('proxy')],
        statuses: [running('app')],
        conditions: readyConditions,
      }),
      '2/2',
      'Running',
    ],
    [
      'terminating',
      pod({ statuses: [running('app')], conditions: readyConditions, metadata: { deletionTimestamp: ago(5 * SEC) } }),
      '1/1',
      'Terminating',
    ],
    [
      'deleted on an unreachable node',
      pod({ statuses: [running('app')], metadata: { deletionTimestamp: ago(5 * SEC) }, status: { reason: 'NodeLost' } }),
      '1/1',
      'Unknown',
    ],
    [
      'succeeded pods being deleted keep their status',
      pod({
        phase: 'Succeeded',
        statuses: [{ name: 'app', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }],
        metadata: { deletionTimestamp: ago(5 * SEC) },
      }),
      '0/1',
      'Completed',
    ],
    [
      'scheduling gated',
      pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }] }),
      '0/1',
      'SchedulingGated',
    ],
  ];
  for (const [what, p, ready, status] of cases) {
    const c = cells('', 'pods', p);
    assert.deepEqual([c[1], c[2]], [ready, status], what);
  }
});

test('pods: restarts show when the last one happened', () => {
  const p = pod({
    statuses: [
      {
        name: 'app',
        ready: false,
        restartCount: 3,
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } },
        lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(5 * MIN) } },
      },
    ],
  });
  assert.deepEqual(cells('', 'pods', p).slice(0, 4), ['web', '0/1', 'CrashLoopBackOff', '3 (5m ago)']);
  // A count with no recorded termination is shown bare.
  const q = pod({ statuses: [running('app', { restartCount: 2 })] });
  assert.equal(cells('', 'pods', q)[3], '2');
});

test('pods: wide columns', () => {
  const p = pod({
    phase: 'Pending',
    spec: { readinessGates: [{ conditionType: 'example.com/lb' }, { conditionType: 'example.com/dns' }] },
    conditions: [
      { type: 'example.com/lb', status: 'True' },
      { type: 'example.com/dns', status: 'False' },
    ],
    status: { nominatedNodeName: 'node-2', podIPs: [{ ip: 'fd00::5' }, { ip: '10.244.0.5' }] },
  });
  assert.deepEqual(cells('', 'pods', p).slice(5), ['fd00::5', '<none>', 'node-2', '1/2']);
});

test('pods: finished pods carry the Completed row condition', () => {
  assert.deepEqual(rowConditionsFor('', 'pods', pod({ phase: 'Succeeded' })), [
    { type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' },
  ]);
  assert.deepEqual(rowConditionsFor('', 'pods', pod({ phase: 'Failed' })), [
    { type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' },
  ]);
  assert.equal(rowConditionsFor('apps', 'deployments', { metadata: meta('d') }), undefined);
});

test('podtemplates', () => {
  const pt = {
    metadata: meta('tmpl'),
    template: {
      metadata: { labels: { app: 'web', tier: 'front' } },
      spec: { containers: [{ name: 'app', image: 'nginx:1.27' }, { name: 'log', image: 'busybox' }] },
    },
  };
  assert.deepEqual(cells('', 'podtemplates', pt), ['tmpl', 'app,log', 'nginx:1.27,busybox', 'app=web,tier=front']);
});

// ---- services, endpoints ----

test('services', () => {
  const svc = (name: string, spec: Record<string, unknown>, status: Record<string, unknown> = {}) => ({
    metadata: meta(name, ago(5 * DAY)),
    spec,
    status,
  });
  const cases: [ReturnType<typeof svc>, unknown[]][] = [
    [
      svc('kubernetes', { type: 'ClusterIP', clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'], ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }] }),
      ['kubernetes', 'ClusterIP', '10.96.0.1', '<none>', '443/TCP', '5d', '<none>'],
    ],
    [
      svc('web', { type: 'NodePort', clusterIP: '10.96.12.7', ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 53, nodePort: 30053, protocol: 'UDP' }], selector: { app: 'web' } }),
      ['web', 'NodePort', '10.96.12.7', '<none>', '80:30080/TCP,53:30053/UDP', '5d', 'app=web'],
    ],
    [
      svc('lb', { type: 'LoadBalancer', clusterIPs: ['10.96.3.3'], ports: [{ port: 80, nodePort: 31000, protocol: 'TCP' }] }),
      ['lb', 'LoadBalancer', '10.96.3.3', '<pending>', '80:31000/TCP', '5d', '<none>'],
    ],
    [
      svc('lb2', { type: 'LoadBalancer', clusterIPs: ['10.96.3.4'], ports: [{ port: 443, nodePort: 31001, protocol: 'TCP' }] }, {
        loadBalancer: { ingress: [{ ip: '203.0.113.9' }, { hostname: 'lb.example.com' }, { ip: '203.0.113.10' }] },
      }),
      ['lb2', 'LoadBalancer', '10.96.3.4', '203.0.113.10,203.0.113.9,lb.example.com', '443:31001/TCP', '5d', '<none>'],
    ],
    [
      svc('lb3', { type: 'LoadBalancer', clusterIPs: ['10.96.3.5'], externalIPs: ['198.51.100.1'], ports: [{ port: 80, nodePort: 31002, protocol: 'TCP' }] }, {
        loadBalancer: { ingress: [{ ip: '203.0.113.9' }] },
      }),
      ['lb3', 'LoadBalancer', '10.96.3.5', '203.0.113.9,198.51.100.1', '80:31002/TCP', '5d', '<none>'],
    ],
    [
      svc('ext', { type: 'ClusterIP', clusterIP: '10.96.4.4', externalIPs: ['198.51.100.1', '198.51.100.2'], ports: [{ port: 8080, protocol: 'TCP' }] }),
      ['ext', 'ClusterIP', '10.96.4.4', '198.51.100.1,198.51.100.2', '8080/TCP', '5d', '<none>'],
    ],
    [
      svc('db', { type: 'ClusterIP', clusterIP: 'None', clusterIPs: ['None'], selector: { app: 'db' } }),
      ['db', 'ClusterIP', 'None', '<none>', '<none>', '5d', 'app=db'],
    ],
    [
      svc('search', { type: 'ExternalName', externalName: 'search.example.com' }),
      ['search', 'ExternalName', '<none>', 'search.example.com', '<none>', '5d', '<none>'],
    ],
  ];
  for (const [s, want] of cases) assert.deepEqual(cells('', 'services', s), want, s.metadata.name);
});

test('endpoints', () => {
  const ep = (subsets?: unknown[]) => ({ metadata: meta('web', ago(3 * HOUR)), subsets });
  assert.deepEqual(cells('', 'endpoints', ep()), ['web', '<none>', '3h']);
  assert.deepEqual(
    cells('', 'endpoints', ep([{ addresses: [{ ip: '10.244.0.5' }, { ip: '10.244.1.7' }], ports: [{ port: 8080, protocol: 'TCP' }] }])),
    ['web', '10.244.0.5:8080,10.244.1.7:8080', '3h'],
  );
  assert.deepEqual(
    cells(
      '',
      'endpoints',
      ep([
        { addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] },
        { addresses: [{ ip: 'fd00::1' }], ports: [{ port: 80 }] },
      ]),
    ),
    ['web', '10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...', '3h'],
  );
  assert.deepEqual(cells('', 'endpoints', ep([{ addresses: [{ ip: 'fd00::1' }], ports: [{ port: 80 }] }]))[1], '[fd00::1]:80');
  assert.deepEqual(cells('', 'endpoints', ep([{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }] }]))[1], '10.0.0.1,10.0.0.2');
});

// ---- nodes, namespaces, events ----

test('nodes', () => {
  const node = (name: string, opts: { ready?: string; unschedulable?: boolean; labels?: Record<string, string> } = {}) => ({
    metadata: meta(name, ago(40 * DAY), { namespace: undefined, labels: opts.labels ?? { 'kubernetes.io/hostname': name } }),
    spec: { unschedulable: opts.unschedulable },
    status: {
      conditions: [
        { type: 'MemoryPressure', status: 'False' },
        ...(opts.ready === undefined ? [] : [{ type: 'Ready', status: opts.ready }]),
      ],
      addresses: [
        { type: 'InternalIP', address: '192.168.1.10' },
        { type: 'Hostname', address: name },
      ],
      nodeInfo: {
        kubeletVersion: 'v1.32.4',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        kernelVersion: '6.1.0-18-amd64',
        containerRuntimeVersion: 'containerd://1.7.24',
      },
    },
  });
  assert.deepEqual(
    cells('', 'nodes', node('cp', { ready: 'True', labels: { 'node-role.kubernetes.io/control-plane': '' } })),
    ['cp', 'Ready', 'control-plane', '40d', 'v1.32.4', '192.168.1.10', '<none>', 'Debian GNU/Linux 12 (bookworm)', '6.1.0-18-amd64', 'containerd://1.7.24'],
  );
  assert.deepEqual(cells('', 'nodes', node('w1', { ready: 'True', unschedulable: true })).slice(1, 3), ['Ready,SchedulingDisabled', '<none>']);
  assert.deepEqual(cells('', 'nodes', node('w2', { ready: 'False' }))[1], 'NotReady');
  assert.deepEqual(cells('', 'nodes', node('w3', { ready: 'Unknown' }))[1], 'NotReady');
  assert.deepEqual(cells('', 'nodes', node('w4'))[1], 'Unknown');
  assert.deepEqual(
    cells('', 'nodes', node('w5', { ready: 'True', labels: { 'node-role.kubernetes.io/worker': '', 'node-role.kubernetes.io/infra': 'true', 'kubernetes.io/role': 'gpu' } }))[2],
    'gpu,infra,worker',
  );
  const bare = { metadata: meta('bare', ago(MIN)), status: {} };
  assert.deepEqual(cells('', 'nodes', bare), ['bare', 'Unknown', '<none>', '60s', '', '<none>', '<none>', '<unknown>', '<unknown>', '<unknown>']);
});

test('namespaces', () => {
  assert.deepEqual(cells('', 'namespaces', { metadata: meta('default', ago(30 * DAY)), status: { phase: 'Active' } }), ['default', 'Active', '30d']);
  assert.deepEqual(
    cells('', 'namespaces', { metadata: meta('old', ago(2 * HOUR), { deletionTimestamp: ago(MIN) }), status: { phase: 'Terminating' } }),
    ['old', 'Terminating', '120m'],
  );
});

test('core/v1 events', () => {
  const ev = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: meta('web-7d9f8b6c5-abcde.17d8a1b2c3d4e5f6', ago(20 * MIN)),
    involvedObject: { kind: 'Pod', namespace: 'default', name: 'web-7d9f8b6c5-abcde', fieldPath: 'spec.containers{app}' },
    reason: 'Pulled',
    message: 'Container image "nginx:1.27" already present on machine\n',
    source: { component: 'kubelet', host: 'node-1' },
    firstTimestamp: ago(20 * MIN),
    lastTimestamp: ago(2 * MIN),
    count: 4,
    type: 'Normal',
  };
  assert.deepEqual(cells('', 'events', ev), [
    '2m',
    'Normal',
    'Pulled',
    'pod/web-7d9f8b6c5-abcde',
    'spec.containers{app}',
    'kubelet, node-1',
    'Container image "nginx:1.27" already present on machine',
    '20m',
    4,
    'web-7d9f8b6c5-abcde.17d8a1b2c3d4e5f6',
  ]);
  // A new-style event written through core/v1: no timestamps but eventTime, no count.
  const modern = {
    metadata: meta('x.1'),
    involvedObject: { kind: 'Node', name: 'node-1' },
    reason: 'RegisteredNode',
    message: 'Node node-1 event: Registered Node node-1 in Controller',
    eventTime: '2024-06-01T11:57:00.000000Z',
    reportingComponent: 'node-controller',
    source: {},
    type: 'Normal',
  };
  assert.deepEqual(cells('', 'events', modern), [
    '3m',
    'Normal',
    'RegisteredNode',
    'node/node-1',
    '',
    'node-controller',
    'Node node-1 event: Registered Node node-1 in Controller',
    '3m',
    1,
    'x.1',
  ]);
});

test('events.k8s.io/v1 events print with the core columns', () => {
  const ev = {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: meta('web.1', ago(MIN)),
    eventTime: '2024-06-01T11:30:00.000000Z',
    series: { count: 7, lastObservedTime: '2024-06-01T11:59:00.000000Z' },
    reportingController: 'default-scheduler',
    reportingInstance: 'default-scheduler-cp',
    action: 'Scheduling',
    reason: 'FailedScheduling',
    regarding: { kind: 'Pod', namespace: 'default', name: 'web' },
    note: '0/1 nodes are available: 1 Insufficient cpu.',
    type: 'Warning',
  };
  assert.deepEqual(cells('events.k8s.io', 'events', ev), [
    '60s',
    'Warning',
    'FailedScheduling',
    'pod/web',
    '',
    'default-scheduler, default-scheduler-cp',
    '0/1 nodes are available: 1 Insufficient cpu.',
    '30m',
    7,
    'web.1',
  ]);
});

// ---- config ----

test('secrets, configmaps, serviceaccounts', () => {
  assert.deepEqual(
    cells('', 'secrets', { metadata: meta('tls', ago(4 * HOUR)), type: 'kubernetes.io/tls', data: { 'tls.crt': 'Yw==', 'tls.key': 'aw==' } }),
    ['tls', 'kubernetes.io/tls', 2, '4h'],
  );
  assert.deepEqual(cells('', 'secrets', { metadata: meta('empty', ago(4 * HOUR)) }), ['empty', 'Opaque', 0, '4h']);
  assert.deepEqual(
    cells('', 'configmaps', { metadata: meta('kube-root-ca.crt', ago(9 * DAY)), data: { 'ca.crt': '-----BEGIN' }, binaryData: { blob: 'AA==' } }),
    ['kube-root-ca.crt', 2, '9d'],
  );
  assert.deepEqual(cells('', 'configmaps', { metadata: meta('none', ago(9 * DAY)) }), ['none', 0, '9d']);
  assert.deepEqual(cells('', 'serviceaccounts', { metadata: meta('default', ago(9 * DAY)) }), ['default', 0, '9d']);
  assert.deepEqual(
    cells('', 'serviceaccounts', { metadata: meta('builder', ago(9 * DAY)), secrets: [{ name: 'builder-token' }] }),
    ['builder', 1, '9d'],
  );
});

// ---- storage ----

test('persistentvolumes', () => {
  const pv = {
    metadata: meta('pv-data', ago(DAY), { namespace: undefined }),
    spec: {
      capacity: { storage: '10Gi' },
      accessModes: ['ReadWriteMany', 'ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Delete',
      storageClassName: 'standard',
      claimRef: { kind: 'PersistentVolumeClaim', namespace: 'default', name: 'data' },
      volumeMode: 'Filesystem',
      hostPath: { path: '/data' },
    },
    status: { phase: 'Bound' },
  };
  assert.deepEqual(cells('', 'persistentvolumes', pv), [
    'pv-data',
    '10Gi',
    'RWO,RWX',
    'Delete',
    'Bound',
    'default/data',
    'standard',
    '<unset>',
    '',
    '24h',
    'Filesystem',
  ]);
  const released = { ...pv, metadata: { ...pv.metadata, deletionTimestamp: ago(SEC) }, spec: { ...pv.spec, capacity: { storage: '1024Mi' }, claimRef: undefined } };
  assert.deepEqual(cells('', 'persistentvolumes', released).slice(1, 6), ['1Gi', 'RWO,RWX', 'Delete', 'Terminating', '']);
});

test('persistentvolumeclaims', () => {
  const bound = {
    metadata: meta('data', ago(DAY)),
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'standard', volumeName: 'pvc-123', volumeMode: 'Filesystem' },
    status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } },
  };
  assert.deepEqual(cells('', 'persistentvolumeclaims', bound), ['data', 'Bound', 'pvc-123', '1Gi', 'RWO', 'standard', '<unset>', '24h', 'Filesystem']);
  const pending = {
    metadata: meta('scratch', ago(MIN)),
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } }, volumeMode: 'Block' },
    status: { phase: 'Pending' },
  };
  assert.deepEqual(cells('', 'persistentvolumeclaims', pending), ['scratch', 'Pending', '', '', '', '', '<unset>', '60s', 'Block']);
});

test('storageclasses', () => {
  const sc = {
    metadata: meta('standard', ago(DAY), { namespace: undefined, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }),
    provisioner: 'rancher.io/local-path',
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
  };
  assert.deepEqual(cells('storage.k8s.io', 'storageclasses', sc), ['standard (default)', 'rancher.io/local-path', 'Delete', 'WaitForFirstConsumer', false, '24h']);
  const fast = { metadata: meta('fast', ago(DAY)), provisioner: 'ebs.csi.aws.com', allowVolumeExpansion: true };
  assert.deepEqual(cells('storage.k8s.io', 'storageclasses', fast), ['fast', 'ebs.csi.aws.com', 'Delete', 'Immediate', true, '24h']);
});

// ---- workloads ----

const template = (containers: [string, string][], labels: Record<string, string> = { app: 'web' }) => ({
  metadata: { labels },
  spec: { containers: containers.map(([name, image]) => ({ name, image })) },
});

test('deployments', () => {
  const d = {
    metadata: meta('web', ago(2 * DAY + 3 * HOUR)),
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: template([['nginx', 'nginx:1.27'], ['sidecar', 'busybox:1.36']]) },
    status: { replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2 },
  };
  assert.deepEqual(cells('apps', 'deployments', d), ['web', '2/3', 3, 2, '2d3h', 'nginx,sidecar', 'nginx:1.27,busybox:1.36', 'app=web']);
  const fresh = {
    metadata: meta('api', ago(5 * SEC)),
    spec: {
      selector: { matchLabels: { tier: 'api', app: 'shop' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'canary'] }] },
      template: template([['api', 'shop/api:2']]),
    },
    status: {},
  };
  assert.deepEqual(cells('apps', 'deployments', fresh), ['api', '0/1', 0, 0, '5s', 'api', 'shop/api:2', 'app=shop,env in (canary,prod),tier=api']);
});

test('replicasets, statefulsets, daemonsets, replicationcontrollers', () => {
  const rs = {
    metadata: meta('web-7d9f8b6c5', ago(HOUR)),
    spec: { replicas: 3, selector: { matchLabels: { app: 'web', 'pod-template-hash': '7d9f8b6c5' } }, template: template([['nginx', 'nginx:1.27']]) },
    status: { replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 3, availableReplicas: 3 },
  };
  assert.deepEqual(cells('apps', 'replicasets', rs), ['web-7d9f8b6c5', 3, 3, 3, '60m', 'nginx', 'nginx:1.27', 'app=web,pod-template-hash=7d9f8b6c5']);
  const sts = {
    metadata: meta('db', ago(7 * HOUR + 5 * MIN)),
    spec: { replicas: 3, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: template([['postgres', 'postgres:16']]) },
    status: { replicas: 2, readyReplicas: 1 },
  };
  assert.deepEqual(cells('apps', 'statefulsets', sts), ['db', '1/3', '7h5m', 'postgres', 'postgres:16']);
  const ds = {
    metadata: meta('kube-proxy', ago(40 * DAY)),
    spec: {
      selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
      template: { ...template([['kube-proxy', 'registry.k8s.io/kube-proxy:v1.32.4']]), spec: { containers: [{ name: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.32.4' }], nodeSelector: { 'kubernetes.io/os': 'linux' } } },
    },
    status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 3, numberAvailable: 2, numberMisscheduled: 0 },
  };
  assert.deepEqual(cells('apps', 'daemonsets', ds), [
    'kube-proxy',
    3,
    3,
    2,
    3,
    2,
    'kubernetes.io/os=linux',
    '40d',
    'kube-proxy',
    'registry.k8s.io/kube-proxy:v1.32.4',
    'k8s-app=kube-proxy',
  ]);
  const rc = {
    metadata: meta('legacy', ago(HOUR)),
    spec: { replicas: 2, selector: { app: 'legacy' }, template: template([['app', 'busybox']], { app: 'legacy' }) },
    status: { replicas: 2, readyReplicas: 1 },
  };
  assert.deepEqual(cells('', 'replicationcontrollers', rc), ['legacy', 2, 2, 1, '60m', 'app', 'busybox', 'app=legacy']);
});

test('controllerrevisions', () => {
  const cr = {
    metadata: meta('db-5d7c9f', ago(HOUR), {
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'u1', controller: true, blockOwnerDeletion: true }],
    }),
    revision: 2,
    data: {},
  };
  assert.deepEqual(cells('apps', 'controllerrevisions', cr), ['db-5d7c9f', 'statefulset.apps/db', 2, '60m']);
  const orphan = { metadata: meta('lonely', ago(HOUR)), revision: 1 };
  assert.deepEqual(cells('apps', 'controllerrevisions', orphan), ['lonely', '<none>', 1, '60m']);
});

test('jobs', () => {
  const job = (name: string, spec: Record<string, unknown>, status: Record<string, unknown>, metadata: Record<string, unknown> = {}) => ({
    metadata: meta(name, ago(10 * MIN), metadata),
    spec: {
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'abc' } },
      template: template([['pi', 'perl:5.34']]),
      ...spec,
    },
    status,
  });
  const done = job('pi', { completions: 1, parallelism: 1 }, {
    startTime: ago(10 * MIN),
    completionTime: ago(10 * MIN - 34 * SEC),
    succeeded: 1,
    conditions: [
      { type: 'SuccessCriteriaMet', status: 'True' },
      { type: 'Complete', status: 'True' },
    ],
  });
  assert.deepEqual(cells('batch', 'jobs', done), ['pi', 'Complete', '1/1', '34s', '10m', 'pi', 'perl:5.34', 'batch.kubernetes.io/controller-uid=abc']);
  const runningJob = job('work', { completions: 5, parallelism: 2 }, { startTime: ago(3 * MIN), active: 2, succeeded: 2 });
  assert.deepEqual(cells('batch', 'jobs', runningJob).slice(1, 5), ['Running', '2/5', '3m', '10m']);
  const failed = job('bad', { completions: 1 }, { startTime: ago(9 * MIN), failed: 7, conditions: [{ type: 'FailureTarget', status: 'True' }, { type: 'Failed', status: 'True' }] });
  assert.deepEqual(cells('batch', 'jobs', failed).slice(1, 3), ['Failed', '0/1']);
  const workQueue = job('queue', { parallelism: 4 }, { startTime: ago(MIN), active: 4 });
  assert.deepEqual(cells('batch', 'jobs', workQueue).slice(1, 4), ['Running', '0/1 of 4', '60s']);
  const suspended = job('later', { completions: 1, suspend: true }, { conditions: [{ type: 'Suspended', status: 'True' }] });
  assert.deepEqual(cells('batch', 'jobs', suspended).slice(1, 4), ['Suspended', '0/1', '']);
  const terminating = job('going', { completions: 1 }, { startTime: ago(MIN) }, { deletionTimestamp: ago(SEC) });
  assert.equal(cells('batch', 'jobs', terminating)[1], 'Terminating');
  const failing = job('failing', { completions: 1 }, { startTime: ago(MIN), conditions: [{ type: 'FailureTarget', status: 'True' }] });
  assert.equal(cells('batch', 'jobs', failing)[1], 'FailureTarget');
});

test('cronjobs', () => {
  const cj = {
    metadata: meta('backup', ago(3 * DAY)),
    spec: {
      schedule: '*/5 * * * *',
      suspend: false,
      concurrencyPolicy: 'Allow',
      jobTemplate: { spec: { template: template([['backup', 'busybox:1.36']]) } },
    },
    status: { active: [{ kind: 'Job', name: 'backup-28620000' }], lastScheduleTime: ago(4 * MIN) },
  };
  assert.deepEqual(cells('batch', 'cronjobs', cj), ['backup', '*/5 * * * *', '<none>', 'False', 1, '4m', '3d', 'backup', 'busybox:1.36', '<none>']);
  const tz = { ...cj, spec: { ...cj.spec, timeZone: 'Europe/Berlin', suspend: true }, status: {} };
  assert.deepEqual(cells('batch', 'cronjobs', tz).slice(2, 6), ['Europe/Berlin', 'True', 0, '<none>']);
});

test('horizontalpodautoscalers', () => {
  const hpa = {
    metadata: meta('web', ago(HOUR)),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      minReplicas: 2,
      maxReplicas: 10,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } },
        { type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '512Mi' } } },
      ],
    },
    status: {
      currentReplicas: 3,
      desiredReplicas: 3,
      currentMetrics: [
        { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 45, averageValue: '45m' } } },
        { type: 'Resource', resource: { name: 'memory', current: { averageValue: '300Mi' } } },
      ],
    },
  };
  assert.deepEqual(cells('autoscaling', 'horizontalpodautoscalers', hpa), ['web', 'Deployment/web', 'cpu: 45%/80%, memory: 300Mi/512Mi', '2', 10, 3, '60m']);
  const fresh = {
    metadata: meta('api', ago(MIN)),
    spec: {
      scaleTargetRef: { kind: 'Deployment', name: 'api' },
      maxReplicas: 5,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } },
        { type: 'Pods', pods: { metric: { name: 'qps' }, target: { type: 'AverageValue', averageValue: '1k' } } },
        { type: 'External', external: { metric: { name: 'queue' }, target: { type: 'Value', value: '30' } } },
      ],
    },
    status: {},
  };
  assert.deepEqual(cells('autoscaling', 'horizontalpodautoscalers', fresh), [
    'api',
    'Deployment/api',
    'cpu: <unknown>/50%, <unknown>/1k + 1 more...',
    '1',
    5,
    0,
    '60s',
  ]);
  // The apiserver defaults an HPA without metrics to 80% CPU.
  const bare = { metadata: meta('bare', ago(MIN)), spec: { scaleTargetRef: { kind: 'Deployment', name: 'bare' }, maxReplicas: 3 } };
  assert.equal(cells('autoscaling', 'horizontalpodautoscalers', bare)[2], 'cpu: <unknown>/80%');
});

test('poddisruptionbudgets', () => {
  const pdb = {
    metadata: meta('web', ago(HOUR)),
    spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } },
    status: { currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1, expectedPods: 3 },
  };
  assert.deepEqual(cells('policy', 'poddisruptionbudgets', pdb), ['web', '2', 'N/A', 1, '60m']);
  const pct = { metadata: meta('db', ago(HOUR)), spec: { maxUnavailable: '25%' }, status: {} };
  assert.deepEqual(cells('policy', 'poddisruptionbudgets', pct), ['db', 'N/A', '25%', 0, '60m']);
});

test('resourcequotas, componentstatuses', () => {
  const rq = {
    metadata: meta('compute', ago(DAY)),
    spec: { hard: { pods: '10', 'requests.cpu': '1', 'limits.memory': '2Gi', 'requests.memory': '1Gi', 'limits.cpu': '2' } },
    status: {
      hard: { pods: '10', 'requests.cpu': '1', 'limits.memory': '2Gi', 'requests.memory': '1Gi', 'limits.cpu': '2' },
      used: { pods: '3', 'requests.cpu': '500m', 'limits.memory': '1536Mi', 'requests.memory': '512Mi' },
    },
  };
  assert.deepEqual(cells('', 'resourcequotas', rq), [
    'compute',
    'pods: 3/10, requests.cpu: 500m/1, requests.memory: 512Mi/1Gi',
    'limits.cpu: 0/2, limits.memory: 1536Mi/2Gi',
    '24h',
  ]);
  const healthy = { metadata: { name: 'etcd-0' }, conditions: [{ type: 'Healthy', status: 'True', message: 'ok' }] };
  assert.deepEqual(cells('', 'componentstatuses', healthy), ['etcd-0', 'Healthy', 'ok', '']);
  const sick = {
    metadata: { name: 'scheduler' },
    conditions: [{ type: 'Healthy', status: 'False', message: '', error: 'Get "https://127.0.0.1:10259/healthz": connection refused' }],
  };
  assert.deepEqual(cells('', 'componentstatuses', sick), ['scheduler', 'Unhealthy', '', 'Get "https://127.0.0.1:10259/healthz": connection refused']);
  assert.deepEqual(cells('', 'componentstatuses', { metadata: { name: 'x' } }), ['x', 'Unknown', '', '']);
});

// ---- cluster-level kinds ----

test('leases', () => {
  const lease = {
    metadata: meta('node-1', ago(40 * DAY), { namespace: 'kube-node-lease' }),
    spec: { holderIdentity: 'node-1', leaseDurationSeconds: 40, renewTime: ago(5 * SEC) },
  };
  assert.deepEqual(cells('coordination.k8s.io', 'leases', lease), ['node-1', 'node-1', '40d']);
  assert.deepEqual(cells('coordination.k8s.io', 'leases', { metadata: meta('free', ago(MIN)), spec: {} }), ['free', '', '60s']);
});

test('endpointslices', () => {
  const slice = {
    metadata: meta('web-x7k2p', ago(HOUR)),
    addressType: 'IPv4',
    endpoints: [
      { addresses: ['10.244.0.5'], conditions: { ready: true } },
      { addresses: ['10.244.1.7'], conditions: { ready: true } },
      { addresses: ['10.244.2.9'], conditions: { ready: false } },
      { addresses: ['10.244.3.2'], conditions: { ready: true } },
    ],
    ports: [
      { name: 'http', port: 8080, protocol: 'TCP' },
      { name: 'metrics', port: 9090, protocol: 'TCP' },
    ],
  };
  assert.deepEqual(cells('discovery.k8s.io', 'endpointslices', slice), [
    'web-x7k2p',
    'IPv4',
    '8080,9090',
    '10.244.0.5,10.244.1.7,10.244.2.9 + 1 more...',
    '60m',
  ]);
  const empty = { metadata: meta('none-abcde', ago(HOUR)), addressType: 'IPv6', endpoints: [], ports: [{ name: 'x' }, {}] };
  assert.deepEqual(cells('discovery.k8s.io', 'endpointslices', empty), ['none-abcde', 'IPv6', 'x,*', '<unset>', '60m']);
});

test('ingresses and ingressclasses', () => {
  const ing = {
    metadata: meta('shop', ago(DAY)),
    spec: {
      ingressClassName: 'nginx',
      tls: [{ hosts: ['shop.example.com'], secretName: 'shop-tls' }],
      rules: [{ host: 'shop.example.com' }, { host: 'api.example.com' }],
    },
    status: { loadBalancer: { ingress: [{ ip: '203.0.113.20' }] } },
  };
  assert.deepEqual(cells('networking.k8s.io', 'ingresses', ing), ['shop', 'nginx', 'shop.example.com,api.example.com', '203.0.113.20', '80, 443', '24h']);
  const catchAll = { metadata: meta('default-backend', ago(DAY)), spec: { defaultBackend: { service: { name: 'web', port: { number: 80 } } } }, status: {} };
  assert.deepEqual(cells('networking.k8s.io', 'ingresses', catchAll), ['default-backend', '<none>', '*', '', '80', '24h']);
  const many = { metadata: meta('many', ago(DAY)), spec: { rules: [{ host: 'a' }, { host: 'b' }, { host: 'c' }, { host: 'd' }, {}] }, status: {} };
  assert.equal(cells('networking.k8s.io', 'ingresses', many)[2], 'a,b,c + 2 more...');
  const ic = {
    metadata: meta('nginx', ago(DAY)),
    spec: { controller: 'k8s.io/ingress-nginx', parameters: { apiGroup: 'k8s.example.com', kind: 'IngressParameters', name: 'external-lb' } },
  };
  assert.deepEqual(cells('networking.k8s.io', 'ingressclasses', ic), ['nginx', 'k8s.io/ingress-nginx', 'IngressParameters.k8s.example.com/external-lb', '24h']);
  assert.deepEqual(cells('networking.k8s.io', 'ingressclasses', { metadata: meta('plain', ago(DAY)), spec: { controller: 'x/y' } }), ['plain', 'x/y', '<none>', '24h']);
});

test('networkpolicies', () => {
  const np = (podSelector: unknown) => ({ metadata: meta('np', ago(HOUR)), spec: { podSelector, policyTypes: ['Ingress'] } });
  assert.deepEqual(cells('networking.k8s.io', 'networkpolicies', np({})), ['np', '<none>', '60m']);
  assert.deepEqual(cells('networking.k8s.io', 'networkpolicies', np({ matchLabels: { role: 'db' } })), ['np', 'role=db', '60m']);
  assert.deepEqual(
    cells('networking.k8s.io', 'networkpolicies', np({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }, { key: 'app', operator: 'Exists' }, { key: 'legacy', operator: 'DoesNotExist' }] }))[1],
    'app,!legacy,tier notin (web)',
  );
});

test('priorityclasses', () => {
  const pc = { metadata: meta('system-cluster-critical', ago(40 * DAY), { namespace: undefined }), value: 2000000000, globalDefault: false, description: 'x', preemptionPolicy: 'PreemptLowerPriority' };
  assert.deepEqual(cells('scheduling.k8s.io', 'priorityclasses', pc), ['system-cluster-critical', 2000000000, false, '40d', 'PreemptLowerPriority']);
  const batch = { metadata: meta('batch', ago(DAY)), value: 1000, globalDefault: true, preemptionPolicy: 'Never' };
  assert.deepEqual(cells('scheduling.k8s.io', 'priorityclasses', batch), ['batch', 1000, true, '24h', 'Never']);
});

test('rolebindings and clusterrolebindings', () => {
  const rb = {
    metadata: meta('read-pods', ago(HOUR)),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
    subjects: [
      { kind: 'User', name: 'jane', apiGroup: 'rbac.authorization.k8s.io' },
      { kind: 'Group', name: 'devs', apiGroup: 'rbac.authorization.k8s.io' },
      { kind: 'ServiceAccount', name: 'ci', namespace: 'build' },
      { kind: 'User', name: 'joe', apiGroup: 'rbac.authorization.k8s.io' },
    ],
  };
  assert.deepEqual(cells('rbac.authorization.k8s.io', 'rolebindings', rb), ['read-pods', 'Role/pod-reader', '60m', 'jane, joe', 'devs', 'build/ci']);
  const crb = {
    metadata: meta('cluster-admin', ago(40 * DAY), { namespace: undefined }),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'Group', name: 'system:masters', apiGroup: 'rbac.authorization.k8s.io' }],
  };
  assert.deepEqual(cells('rbac.authorization.k8s.io', 'clusterrolebindings', crb), ['cluster-admin', 'ClusterRole/cluster-admin', '40d', '', 'system:masters', '']);
  const cols = printerFor('rbac.authorization.k8s.io', 'clusterrolebindings').columns;
  assert.equal(cols[3].description, 'Users in the clusterRoleBinding');
  assert.equal(printerFor('rbac.authorization.k8s.io', 'rolebindings').columns[5].description, 'ServiceAccounts in the roleBinding');
});

test('every printer returns one cell per column', () => {
  const resources: [string, string][] = [
    ['', 'pods'], ['', 'podtemplates'], ['', 'services'], ['', 'endpoints'], ['', 'nodes'], ['', 'events'],
    ['', 'namespaces'], ['', 'secrets'], ['', 'configmaps'], ['', 'serviceaccounts'], ['', 'persistentvolumes'],
    ['', 'persistentvolumeclaims'], ['', 'replicationcontrollers'], ['', 'resourcequotas'], ['', 'componentstatuses'],
    ['', 'limitranges'], ['apps', 'deployments'], ['apps', 'replicasets'], ['apps', 'statefulsets'],
    ['apps', 'daemonsets'], ['apps', 'controllerrevisions'], ['batch', 'jobs'], ['batch', 'cronjobs'],
    ['coordination.k8s.io', 'leases'], ['discovery.k8s.io', 'endpointslices'], ['events.k8s.io', 'events'],
    ['policy', 'poddisruptionbudgets'], ['networking.k8s.io', 'ingresses'], ['networking.k8s.io', 'ingressclasses'],
    ['networking.k8s.io', 'networkpolicies'], ['storage.k8s.io', 'storageclasses'], ['scheduling.k8s.io', 'priorityclasses'],
    ['rbac.authorization.k8s.io', 'roles'], ['rbac.authorization.k8s.io', 'rolebindings'],
    ['rbac.authorization.k8s.io', 'clusterroles'], ['rbac.authorization.k8s.io', 'clusterrolebindings'],
    ['autoscaling', 'horizontalpodautoscalers'],
  ];
  for (const [g, r] of resources) {
    // A bare object (only a name) must not throw and must fill every column.
    const p = printerFor(g, r);
    assert.equal(p.cells({ metadata: { name: 'x' } }, NOW).length, p.columns.length, `${g}/${r}`);
  }
});
