// Integration: server-side apply and managedFields with the real kubectl 1.32, asserting what
// a user sees: `serverside-applied`, the conflict kubectl prints after `kubectl scale`,
// `--force-conflicts`, removal of fields dropped from a manifest, `--show-managed-fields`, and
// the upgrade of a client-side-applied object.

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

/** A Deployment manifest; `extra` lines go into the container. */
function deployment(name: string, o: { replicas?: number; image?: string; labels?: Record<string, string>; container?: string[] } = {}): string {
  const labels = Object.entries(o.labels ?? {}).map(([k, v]) => `    ${k}: ${v}\n`).join('');
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    ...(labels ? ['  labels:', labels.trimEnd()] : []),
    'spec:',
    ...(o.replicas === undefined ? [] : [`  replicas: ${o.replicas}`]),
    '  selector:',
    '    matchLabels:',
    `      app: ${name}`,
    '  template:',
    '    metadata:',
    '      labels:',
    `        app: ${name}`,
    '    spec:',
    '      containers:',
    '      - name: nginx',
    `        image: ${o.image ?? 'nginx:1.25'}`,
    ...(o.container ?? []).map((l) => `        ${l}`),
    '',
  ].join('\n');
}

async function applyServerSide(name: string, manifest: string, ...flags: string[]) {
  return c.kubectl(['apply', '--server-side', ...flags, '-f', await c.file(`${name}.yaml`, manifest)]);
}

async function jsonpath(kind: string, name: string, path: string): Promise<string> {
  const r = await c.kubectl(['get', kind, name, '-o', `jsonpath=${path}`]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** The `managedFields:` block of `kubectl get -o yaml --show-managed-fields`, times masked. */
async function managedFieldsYAML(kind: string, name: string): Promise<string> {
  const r = await c.kubectl(['get', kind, name, '-o', 'yaml', '--show-managed-fields']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const start = lines.indexOf('  managedFields:');
  assert.ok(start >= 0, r.stdout);
  let end = start + 1;
  while (end < lines.length && (lines[end].startsWith('  -') || lines[end].startsWith('    '))) end++;
  return lines
    .slice(start, end)
    .map((l) => l.replace(/time: "[^"]+"/, 'time: T'))
    .join('\n');
}

const CONFLICT_ADVICE = `Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the \`--force-conflicts\` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts
`;

describe('kubectl apply --server-side', () => {
  it('creates the object (201) and records one Apply entry for kubectl', async () => {
    const r = await applyServerSide('web', deployment('web', { replicas: 2, container: ['ports:', '- containerPort: 80'] }), '-v=6');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deployment.apps/web serverside-applied\n');
    assert.match(r.stderr, /PATCH https:\/\/\S+\/apis\/apps\/v1\/namespaces\/default\/deployments\/web\?fieldManager=kubectl&fieldValidation=Strict&force=false 201 Created/);
    assert.equal(
      await managedFieldsYAML('deployment', 'web'),
      `  managedFields:
  - apiVersion: apps/v1
    fieldsType: FieldsV1
    fieldsV1:
      f:spec:
        f:replicas: {}
        f:selector: {}
        f:template:
          f:metadata:
            f:labels:
              f:app: {}
          f:spec:
            f:containers:
              k:{"name":"nginx"}:
                .: {}
                f:image: {}
                f:name: {}
                f:ports:
                  k:{"containerPort":80,"protocol":"TCP"}:
                    .: {}
                    f:containerPort: {}
    manager: kubectl
    operation: Apply
    time: T`,
    );
  });

  it('re-applying the same manifest changes nothing (same resourceVersion)', async () => {
    const rv = await jsonpath('deployment', 'web', '{.metadata.resourceVersion}');
    const r = await applyServerSide('web', deployment('web', { replicas: 2, container: ['ports:', '- containerPort: 80'] }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deployment.apps/web serverside-applied\n');
    assert.equal(await jsonpath('deployment', 'web', '{.metadata.resourceVersion}'), rv);
  });

  it('a changed manifest is merged into the object', async () => {
    const r = await applyServerSide('web', deployment('web', { replicas: 2, image: 'nginx:1.26', container: ['ports:', '- containerPort: 80'] }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await jsonpath('deployment', 'web', '{.spec.template.spec.containers[0].image}'), 'nginx:1.26');
  });

  it('after kubectl scale, a non-forced apply of other replicas is a conflict with the /scale manager', async () => {
    let r = await c.kubectl(['scale', 'deployment', 'web', '--replicas=5']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deployment.apps/web scaled\n');
    r = await applyServerSide('web', deployment('web', { replicas: 3, image: 'nginx:1.26', container: ['ports:', '- containerPort: 80'] }));
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      'error: Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas\n' + CONFLICT_ADVICE,
    );
    assert.equal(await jsonpath('deployment', 'web', '{.spec.replicas}'), '5');
  });

  it('--force-conflicts takes the field over', async () => {
    const r = await applyServerSide('web', deployment('web', { replicas: 3, image: 'nginx:1.26', container: ['ports:', '- containerPort: 80'] }), '--force-conflicts');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deployment.apps/web serverside-applied\n');
    assert.equal(await jsonpath('deployment', 'web', '{.spec.replicas}'), '3');
    assert.equal(await jsonpath('deployment', 'web', '{range .metadata.managedFields[*]}{.manager}/{.operation}{"\\n"}{end}'), 'kubectl/Apply\n');
  });

  it('a field removed from the manifest is removed from the object, unless another manager owns it', async () => {
    const full = deployment('trim', { labels: { tier: 'web', team: 'a' }, container: ['env:', '- name: MODE', '  value: fast', '- name: DEBUG', '  value: "1"'] });
    let r = await applyServerSide('trim', full);
    assert.equal(r.code, 0, r.stderr);
    r = await c.kubectl(['label', 'deployment', 'trim', 'team=b', '--overwrite']);
    assert.equal(r.code, 0, r.stderr);
    const trimmed = deployment('trim', { container: ['env:', '- name: MODE', '  value: fast'] });
    r = await applyServerSide('trim', trimmed);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await jsonpath('deployment', 'trim', '{.metadata.labels}'), '{"team":"b"}');
    assert.equal(await jsonpath('deployment', 'trim', '{.spec.template.spec.containers[0].env}'), '[{"name":"MODE","value":"fast"}]');
  });
});

describe('managedFields of other writes', () => {
  it('kubectl create records an Update entry for kubectl-create (--show-managed-fields)', async () => {
    const r = await c.kubectl(['create', 'configmap', 'settings', '--from-literal=color=blue', '--from-literal=size=3']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      await managedFieldsYAML('configmap', 'settings'),
      `  managedFields:
  - apiVersion: v1
    fieldsType: FieldsV1
    fieldsV1:
      f:data:
        .: {}
        f:color: {}
        f:size: {}
    manager: kubectl-create
    operation: Update
    time: T`,
    );
  });

  it('client-side apply, then apply --server-side: kubectl takes over the client-side fields', async () => {
    let r = await c.kubectl(['apply', '-f', await c.file('csa.yaml', deployment('csa', { replicas: 2 }))]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deployment.apps/csa created\n');
    assert.equal(await jsonpath('deployment', 'csa', '{range .metadata.managedFields[*]}{.manager}/{.operation}{"\\n"}{end}'), 'kubectl-client-side-apply/Update\n');

    r = await applyServerSide('csa', deployment('csa', { replicas: 2, image: 'nginx:1.26' }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deployment.apps/csa serverside-applied\n');
    assert.equal(await jsonpath('deployment', 'csa', '{.spec.template.spec.containers[0].image}'), 'nginx:1.26');
    assert.equal(
      await jsonpath('deployment', 'csa', '{range .metadata.managedFields[*]}{.manager}/{.operation}{"\\n"}{end}'),
      'kubectl-last-applied/Apply\nkubectl/Apply\n',
    );
    assert.equal(
      await jsonpath('deployment', 'csa', '{.metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration}'),
      '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"csa","namespace":"default"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"csa"}},"template":{"metadata":{"labels":{"app":"csa"}},"spec":{"containers":[{"image":"nginx:1.26","name":"nginx"}]}}}}\n',
    );
  });
});
