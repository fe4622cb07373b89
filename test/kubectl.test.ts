// Integration: the real kubectl 1.32 against a Skiff apiserver, asserting what a user
// sees on the terminal, as a real cluster prints it.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCluster, type TestCluster } from './harness.ts';

let c: TestCluster;

before(async () => {
  c = await startTestCluster();
});
after(async () => {
  await c?.close();
});

function lines(s: string): string[] {
  return s.trimEnd().split('\n');
}

/** Splits a kubectl table into rows of cells (columns are separated by 2+ spaces). */
function table(s: string): string[][] {
  return lines(s).map((l) => l.trim().split(/\s{2,}/));
}

describe('kubectl basics', () => {
  it('version reports the server as Kubernetes 1.32', async () => {
    const r = await c.kubectl(['version', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const v = JSON.parse(r.stdout);
    assert.equal(v.serverVersion.major, '1');
    assert.equal(v.serverVersion.minor, '32');
    assert.match(v.clientVersion.gitVersion, /^v1\.32\./);
  });

  it('api-resources lists names, short names, versions, scope and kinds', async () => {
    const r = await c.kubectl(['api-resources']);
    assert.equal(r.code, 0, r.stderr);
    const rows = table(r.stdout);
    assert.deepEqual(rows[0], ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND']);
    const byName = new Map(rows.slice(1).map((row) => [row[0] + '/' + row.at(-3), row]));
    assert.deepEqual(byName.get('pods/v1'), ['pods', 'po', 'v1', 'true', 'Pod']);
    assert.deepEqual(byName.get('deployments/apps/v1'), ['deployments', 'deploy', 'apps/v1', 'true', 'Deployment']);
    assert.deepEqual(byName.get('namespaces/v1'), ['namespaces', 'ns', 'v1', 'false', 'Namespace']);
    assert.deepEqual(byName.get('leases/coordination.k8s.io/v1'), ['leases', 'coordination.k8s.io/v1', 'true', 'Lease']);
    assert.deepEqual(byName.get('horizontalpodautoscalers/autoscaling/v2'), ['horizontalpodautoscalers', 'hpa', 'autoscaling/v2', 'true', 'HorizontalPodAutoscaler']);
    assert.ok(byName.has('componentstatuses/v1'));
    assert.ok(byName.has('priorityclasses/scheduling.k8s.io/v1'));
  });

  it('the system namespaces exist', async () => {
    const r = await c.kubectl(['get', 'namespaces']);
    assert.equal(r.code, 0, r.stderr);
    const rows = table(r.stdout);
    assert.deepEqual(rows[0], ['NAME', 'STATUS', 'AGE']);
    const names = rows.slice(1).map((row) => row[0]);
    assert.deepEqual(names, ['default', 'kube-node-lease', 'kube-public', 'kube-system']);
    for (const row of rows.slice(1)) assert.equal(row[1], 'Active');
  });

  it('the kubernetes Service points at the apiserver', async () => {
    const r = await c.kubectl(['get', 'svc', 'kubernetes', '-o', 'wide']);
    assert.equal(r.code, 0, r.stderr);
    const rows = table(r.stdout);
    assert.deepEqual(rows[0], ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR']);
    assert.deepEqual([rows[1][0], rows[1][1], rows[1][2], rows[1][3], rows[1][4]], ['kubernetes', 'ClusterIP', '10.96.0.1', '<none>', '443/TCP']);
  });
});

describe('create and read', () => {
  it('create namespace / configmap / secret (protobuf bodies) and read them back', async () => {
    let r = await c.kubectl(['create', 'namespace', 'team-a']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'namespace/team-a created\n');
    r = await c.kubectl(['-n', 'team-a', 'create', 'configmap', 'settings', '--from-literal=color=blue', '--from-literal=size=3']);
    assert.equal(r.stdout, 'configmap/settings created\n', r.stderr);
    r = await c.kubectl(['-n', 'team-a', 'get', 'configmap', 'settings', '-o', 'jsonpath={.data.color}/{.data.size}']);
    assert.equal(r.stdout, 'blue/3');
    r = await c.kubectl(['-n', 'team-a', 'create', 'secret', 'generic', 'creds', '--from-literal=password=s3cr3t']);
    assert.equal(r.stdout, 'secret/creds created\n', r.stderr);
    r = await c.kubectl(['-n', 'team-a', 'get', 'secret', 'creds', '-o', 'jsonpath={.data.password}']);
    assert.equal(Buffer.from(r.stdout, 'base64').toString(), 's3cr3t');
    r = await c.kubectl(['-n', 'team-a', 'get', 'secret', 'creds']);
    assert.deepEqual(table(r.stdout)[0], ['NAME', 'TYPE', 'DATA', 'AGE']);
    assert.deepEqual(table(r.stdout)[1].slice(0, 3), ['creds', 'Opaque', '1']);
  });

  it('create secret tls, deployment, service and job', async () => {
    const cert = c.server.pki.adminCertPem;
    const key = c.server.pki.adminKeyPem;
    const certFile = await c.file('tls.crt', cert);
    const keyFile = await c.file('tls.key', key);
    let r = await c.kubectl(['create', 'secret', 'tls', 'web-tls', `--cert=${certFile}`, `--key=${keyFile}`]);
    assert.equal(r.stdout, 'secret/web-tls created\n', r.stderr);
    r = await c.kubectl(['get', 'secret', 'web-tls', '-o', 'jsonpath={.type}']);
    assert.equal(r.stdout, 'kubernetes.io/tls');

    r = await c.kubectl(['create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=2']);
    assert.equal(r.stdout, 'deployment.apps/web created\n', r.stderr);
    r = await c.kubectl(['get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.metadata.generation}']);
    assert.equal(r.stdout, '2 nginx:1.27 1');

    r = await c.kubectl(['create', 'service', 'clusterip', 'web', '--tcp=80:8080']);
    assert.equal(r.stdout, 'service/web created\n', r.stderr);
    r = await c.kubectl(['get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}']);
    assert.match(r.stdout, /^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$/);

    r = await c.kubectl(['create', 'service', 'nodeport', 'web-np', '--tcp=80:8080']);
    assert.equal(r.stdout, 'service/web-np created\n', r.stderr);
    r = await c.kubectl(['get', 'svc', 'web-np', '-o', 'jsonpath={.spec.ports[0].nodePort}']);
    const np = Number(r.stdout);
    assert.ok(np >= 30000 && np <= 32767, r.stdout);

    r = await c.kubectl(['create', 'job', 'once', '--image=busybox:1.36', '--', 'echo', 'hi']);
    assert.equal(r.stdout, 'job.batch/once created\n', r.stderr);
  });

  it('apply -f with multi-document YAML under strict validation, then unchanged / configured', async () => {
    const manifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  labels:
    app: demo
data:
  mode: fast
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo
spec:
  replicas: 1
  selector:
    matchLabels:
      app: demo
  template:
    metadata:
      labels:
        app: demo
    spec:
      containers:
      - name: app
        image: busybox:1.36
        command: ["sleep", "3600"]
        ports:
        - containerPort: 8080
`;
    const f = await c.file('demo.yaml', manifest);
    let r = await c.kubectl(['apply', '-f', f]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'configmap/app-config created\ndeployment.apps/demo created\n');
    r = await c.kubectl(['apply', '-f', f]);
    assert.equal(r.stdout, 'configmap/app-config unchanged\ndeployment.apps/demo unchanged\n', r.stderr);
    await c.file('demo.yaml', manifest.replace('mode: fast', 'mode: slow').replace('replicas: 1', 'replicas: 3'));
    r = await c.kubectl(['apply', '-f', f]);
    assert.equal(r.stdout, 'configmap/app-config configured\ndeployment.apps/demo configured\n', r.stderr);
    r = await c.kubectl(['get', 'deploy', 'demo', '-o', 'jsonpath={.spec.replicas} {.metadata.generation}']);
    assert.equal(r.stdout, '3 2');
  });

  it('create -f refuses unknown fields (strict validation) with upstream text', async () => {
    const f = await c.file('bad-field.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndata:\n  a: b\nbogus: 1\n');
    const r = await c.kubectl(['create', '-f', f]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      `Error from server (BadRequest): error when creating "${f}": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus"`,
    );
  });

  it('get -o wide/yaml/json/name/custom-columns', async () => {
    let r = await c.kubectl(['get', 'cm', 'app-config', '-o', 'yaml']);
    assert.match(r.stdout, /^apiVersion: v1\ndata:\n {2}mode: slow\nkind: ConfigMap\nmetadata:\n/);
    assert.match(r.stdout, /resourceVersion: "\d+"/);
    assert.match(r.stdout, /uid: [0-9a-f-]{36}/);
    r = await c.kubectl(['get', 'cm', 'app-config', '-o', 'json']);
    assert.equal(JSON.parse(r.stdout).data.mode, 'slow');
    r = await c.kubectl(['get', 'cm', '-o', 'name']);
    assert.ok(lines(r.stdout).includes('configmap/app-config'), r.stdout);
    r = await c.kubectl(['get', 'cm', '-o', 'custom-columns=NAME:.metadata.name,MODE:.data.mode', '-l', 'app=demo']);
    assert.deepEqual(table(r.stdout), [['NAME', 'MODE'], ['app-config', 'slow']]);
    r = await c.kubectl(['get', 'deploy', '-o', 'wide']);
    assert.deepEqual(table(r.stdout)[0], ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR']);
  });

  it('describe shows the object', async () => {
    const r = await c.kubectl(['describe', 'configmap', 'app-config']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Name:\s+app-config\nNamespace:\s+default\nLabels:\s+app=demo\n/);
    assert.match(r.stdout, /mode:\n----\nslow/);
  });

  it('describe svc shows the allocated HealthCheck NodePort of a LoadBalancer with externalTrafficPolicy Local', async () => {
    const f = await c.file(
      'lb-local.yaml',
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: lb-local\nspec:\n  type: LoadBalancer\n  externalTrafficPolicy: Local\n  selector:\n    app: demo\n  ports:\n  - port: 80\n',
    );
    let r = await c.kubectl(['create', '-f', f]);
    assert.equal(r.stdout, 'service/lb-local created\n', r.stderr);
    r = await c.kubectl(['get', 'svc', 'lb-local', '-o', 'jsonpath={.spec.healthCheckNodePort}']);
    const hc = Number(r.stdout);
    assert.ok(hc >= 30000 && hc <= 32767, r.stdout);
    r = await c.kubectl(['describe', 'svc', 'lb-local']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\nExternal Traffic Policy:\s+Local\n/);
    assert.match(r.stdout, new RegExp(`\\nHealthCheck NodePort:\\s+${hc}\\n`));
  });

  it('label, annotate and scale', async () => {
    let r = await c.kubectl(['label', 'cm', 'app-config', 'tier=backend']);
    assert.equal(r.stdout, 'configmap/app-config labeled\n', r.stderr);
    r = await c.kubectl(['label', 'cm', 'app-config', 'tier=frontend']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), "error: 'tier' already has a value (backend), and --overwrite is false");
    r = await c.kubectl(['label', 'cm', 'app-config', 'tier=frontend', '--overwrite']);
    assert.equal(r.stdout, 'configmap/app-config labeled\n');
    r = await c.kubectl(['annotate', 'cm', 'app-config', 'owner=team-a']);
    assert.equal(r.stdout, 'configmap/app-config annotated\n');
    r = await c.kubectl(['get', 'cm', '-l', 'tier=frontend', '-o', 'jsonpath={.items[*].metadata.annotations.owner}']);
    assert.equal(r.stdout, 'team-a');
    r = await c.kubectl(['label', 'cm', 'app-config', 'tier-']);
    assert.equal(r.stdout, 'configmap/app-config unlabeled\n');
    r = await c.kubectl(['scale', 'deployment', 'demo', '--replicas=5']);
    assert.equal(r.stdout, 'deployment.apps/demo scaled\n', r.stderr);
    r = await c.kubectl(['get', 'deploy', 'demo', '-o', 'jsonpath={.spec.replicas}']);
    assert.equal(r.stdout, '5');
  });
});

describe('pods, events and explain', () => {
  it('get pods -o wide prints upstream columns; describe pod shows its events', async () => {
    const f = await c.file('pod.yaml', `apiVersion: v1
kind: Pod
metadata:
  name: web-0
  labels: {app: web}
spec:
  containers:
  - name: nginx
    image: nginx:1.27
`);
    let r = await c.kubectl(['create', 'serviceaccount', 'default']);
    assert.equal(r.stdout, 'serviceaccount/default created\n', r.stderr);
    r = await c.kubectl(['apply', '-f', f]);
    assert.equal(r.stdout, 'pod/web-0 created\n', r.stderr);
    r = await c.kubectl(['get', 'pods', '-o', 'wide']);
    const rows = table(r.stdout);
    assert.deepEqual(rows[0], ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES']);
    assert.deepEqual([...rows[1].slice(0, 4), ...rows[1].slice(5)], ['web-0', '0/1', 'Pending', '0', '<none>', '<none>', '<none>', '<none>']);
    const uid = (await c.kubectl(['get', 'pod', 'web-0', '-o', 'jsonpath={.metadata.uid}'])).stdout;
    const ev = await c.file('event.yaml', `apiVersion: v1
kind: Event
metadata:
  name: web-0.1
involvedObject:
  kind: Pod
  name: web-0
  namespace: default
  uid: ${uid}
reason: FailedScheduling
message: '0/1 nodes are available: 1 node(s) were unschedulable.'
type: Warning
source:
  component: default-scheduler
count: 1
`);
    r = await c.kubectl(['create', '-f', ev]);
    assert.equal(r.code, 0, r.stderr);
    r = await c.kubectl(['describe', 'pod', 'web-0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Name:\s+web-0\nNamespace:\s+default\n/);
    assert.match(r.stdout, /Status:\s+Pending\n/);
    assert.match(r.stdout, /QoS Class:\s+BestEffort\n/);
    assert.match(r.stdout, /Warning\s+FailedScheduling\s+\S+\s+default-scheduler\s+0\/1 nodes are available: 1 node\(s\) were unschedulable\./);
    r = await c.kubectl(['get', 'events', '--field-selector', 'involvedObject.name=web-0']);
    assert.deepEqual(table(r.stdout)[0], ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
    assert.deepEqual(table(r.stdout)[1].slice(1), ['Warning', 'FailedScheduling', 'pod/web-0', '0/1 nodes are available: 1 node(s) were unschedulable.']);
  });

  it('explain reads the served OpenAPI', async () => {
    const r = await c.kubectl(['explain', 'deployment.spec.replicas']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^GROUP:\s+apps\nKIND:\s+Deployment\nVERSION:\s+v1\n\nFIELD: replicas <integer>\n/);
    assert.match(r.stdout, /Number of desired pods/);
  });
});

describe('errors as upstream prints them', () => {
  it('NotFound', async () => {
    let r = await c.kubectl(['get', 'pod', 'nope']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'Error from server (NotFound): pods "nope" not found');
    r = await c.kubectl(['get', 'deployment', 'nope']);
    assert.equal(r.stderr.trim(), 'Error from server (NotFound): deployments.apps "nope" not found');
    r = await c.kubectl(['-n', 'missing', 'create', 'configmap', 'x']);
    assert.equal(r.stderr.trim(), 'error: failed to create configmap: namespaces "missing" not found');
  });

  it('AlreadyExists', async () => {
    const f = await c.file('dup.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n');
    let r = await c.kubectl(['create', '-f', f]);
    assert.equal(r.code, 0, r.stderr);
    r = await c.kubectl(['create', '-f', f]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `Error from server (AlreadyExists): error when creating "${f}": configmaps "dup" already exists`);
  });

  it('Conflict on a stale resourceVersion', async () => {
    let r = await c.kubectl(['get', 'cm', 'dup', '-o', 'json']);
    const obj = JSON.parse(r.stdout);
    r = await c.kubectl(['label', 'cm', 'dup', 'touched=yes']);
    assert.equal(r.code, 0, r.stderr);
    obj.data = { changed: 'true' };
    const f = await c.file('stale.json', JSON.stringify(obj));
    r = await c.kubectl(['replace', '-f', f]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      `Error from server (Conflict): error when replacing "${f}": Operation cannot be fulfilled on configmaps "dup": the object has been modified; please apply your changes to the latest version and try again`,
    );
  });

  it('Invalid', async () => {
    const f = await c.file('invalid.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n');
    const r = await c.kubectl(['create', '-f', f]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.trim(),
      `The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    );
  });
});

describe('delete and watch', () => {
  it('get -w sees ADDED, MODIFIED and DELETED', async () => {
    await c.kubectl(['create', 'namespace', 'watched']);
    const watch = c.kubectl(['-n', 'watched', 'get', 'configmaps', '-w', '--output-watch-events', '--request-timeout=8s'], { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await c.kubectl(['-n', 'watched', 'create', 'configmap', 'w1', '--from-literal=a=1']);
    await c.kubectl(['-n', 'watched', 'label', 'configmap', 'w1', 'x=y']);
    await c.kubectl(['-n', 'watched', 'delete', 'configmap', 'w1']);
    const r = await watch;
    const events = table(r.stdout).filter((row) => row[1] === 'w1').map((row) => row[0]);
    assert.deepEqual(events, ['ADDED', 'MODIFIED', 'DELETED'], r.stdout + r.stderr);
  });

  it('delete by name, by -l and --all', async () => {
    await c.kubectl(['create', 'namespace', 'del']);
    for (const n of ['a', 'b', 'c', 'd']) {
      const r = await c.kubectl(['-n', 'del', 'create', 'configmap', n]);
      assert.equal(r.code, 0, r.stderr);
    }
    await c.kubectl(['-n', 'del', 'label', 'cm', 'b', 'c', 'group=x']);
    let r = await c.kubectl(['-n', 'del', 'delete', 'cm', 'a']);
    assert.equal(r.stdout, 'configmap "a" deleted\n', r.stderr);
    r = await c.kubectl(['-n', 'del', 'delete', 'cm', '-l', 'group=x']);
    assert.equal(r.stdout, 'configmap "b" deleted\nconfigmap "c" deleted\n', r.stderr);
    r = await c.kubectl(['-n', 'del', 'delete', 'cm', '--all']);
    assert.equal(r.stdout, 'configmap "d" deleted\n', r.stderr);
    r = await c.kubectl(['-n', 'del', 'get', 'cm']);
    assert.equal(r.stderr.trim(), 'No resources found in del namespace.');
  });

  it('componentstatuses report the store', async () => {
    const r = await c.kubectl(['get', 'componentstatuses']);
    assert.equal(r.code, 0, r.stderr);
    const rows = table(r.stdout);
    assert.deepEqual(rows[0], ['NAME', 'STATUS', 'MESSAGE', 'ERROR']);
    const etcd = rows.find((row) => row[0] === 'etcd-0');
    assert.deepEqual(etcd?.slice(0, 3), ['etcd-0', 'Healthy', 'ok']);
  });
});
