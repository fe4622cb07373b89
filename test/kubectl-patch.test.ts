// kubectl's editing commands against Skiff, with upstream's results: edit (EDITOR as a
// script), set image, label/annotate --overwrite, patch of every type, client-side
// apply pruning removed fields and list items, and explain of nested fields.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startTestCluster, type TestCluster } from './harness.ts';

let c: TestCluster;

before(async () => {
  c = await startTestCluster();
});
after(async () => {
  await c?.close();
});

const DEPLOY = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.26
        ports:
        - containerPort: 80
        env:
        - {name: MODE, value: fast}
        - {name: LEVEL, value: "3"}
      - name: sidecar
        image: busybox:1.36
        command: [sleep, "3600"]
`;

async function json(args: string[]): Promise<any> {
  const r = await c.kubectl([...args, '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

describe('kubectl editing commands', () => {
  it('client-side apply prunes removed list items and fields (three-way merge)', async () => {
    const f = await c.file('web.yaml', DEPLOY);
    let r = await c.kubectl(['apply', '-f', f]);
    assert.equal(r.stdout, 'deployment.apps/web created\n', r.stderr);
    // Drop the sidecar container and the LEVEL env var, change the image.
    await c.file(
      'web.yaml',
      DEPLOY.replace(/      - name: sidecar\n.*\n.*\n/, '').replace('        - {name: LEVEL, value: "3"}\n', '').replace('nginx:1.26', 'nginx:1.27'),
    );
    r = await c.kubectl(['apply', '-f', f]);
    assert.equal(r.stdout, 'deployment.apps/web configured\n', r.stderr);
    const d = await json(['get', 'deploy', 'web']);
    const containers = d.spec.template.spec.containers;
    assert.deepEqual(containers.map((x: any) => x.name), ['nginx']);
    assert.equal(containers[0].image, 'nginx:1.27');
    assert.deepEqual(containers[0].env, [{ name: 'MODE', value: 'fast' }]);
    assert.equal(d.metadata.generation, 2);
  });

  it('set image patches one container by name', async () => {
    const r = await c.kubectl(['set', 'image', 'deployment/web', 'nginx=nginx:1.28']);
    assert.equal(r.stdout, 'deployment.apps/web image updated\n', r.stderr);
    const d = await json(['get', 'deploy', 'web']);
    assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.28');
    assert.equal(d.spec.template.spec.containers[0].ports[0].containerPort, 80);
    assert.equal(d.spec.template.spec.containers.length, 1);
  });

  it('edit applies what the editor saved, and reports an unchanged edit', async () => {
    const editor = path.join(c.dir, 'editor.sh');
    await writeFile(editor, '#!/bin/sh\nsed -i "s/replicas: 2/replicas: 4/" "$1"\n');
    await chmod(editor, 0o755);
    let r = await c.kubectl(['edit', 'deployment', 'web'], { env: { KUBE_EDITOR: editor } });
    assert.equal(r.stdout, 'deployment.apps/web edited\n', r.stderr);
    assert.equal((await json(['get', 'deploy', 'web'])).spec.replicas, 4);
    const noop = path.join(c.dir, 'noop.sh');
    await writeFile(noop, '#!/bin/sh\ntrue\n');
    await chmod(noop, 0o755);
    r = await c.kubectl(['edit', 'deployment', 'web'], { env: { KUBE_EDITOR: noop } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), 'Edit cancelled, no changes made.');
  });

  it('label and annotate --overwrite', async () => {
    let r = await c.kubectl(['annotate', 'deploy', 'web', 'team=a']);
    assert.equal(r.stdout, 'deployment.apps/web annotated\n');
    r = await c.kubectl(['annotate', 'deploy', 'web', 'team=b']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), "error: --overwrite is false but found the following declared annotation(s): 'team' already has a value (a)");
    r = await c.kubectl(['annotate', 'deploy', 'web', 'team=b', '--overwrite']);
    assert.equal(r.stdout, 'deployment.apps/web annotated\n');
    r = await c.kubectl(['label', 'deploy', 'web', 'app=other', '--overwrite']);
    assert.equal(r.stdout, 'deployment.apps/web labeled\n');
    const d = await json(['get', 'deploy', 'web']);
    assert.equal(d.metadata.annotations.team, 'b');
    assert.equal(d.metadata.labels.app, 'other');
  });

  it('patch --type=strategic|merge|json', async () => {
    let r = await c.kubectl(['patch', 'deploy', 'web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"EXTRA","value":"1"}]}]}}}}']);
    assert.equal(r.stdout, 'deployment.apps/web patched\n', r.stderr);
    let d = await json(['get', 'deploy', 'web']);
    assert.deepEqual(d.spec.template.spec.containers[0].env.map((e: any) => e.name), ['EXTRA', 'MODE'], 'strategic merge keeps MODE and adds EXTRA by name');
    r = await c.kubectl(['patch', 'deploy', 'web', '--type=merge', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"busybox"}]}}}}']);
    assert.equal(r.stdout, 'deployment.apps/web patched\n', r.stderr);
    d = await json(['get', 'deploy', 'web']);
    assert.deepEqual(d.spec.template.spec.containers.map((x: any) => [x.name, x.image]), [['only', 'busybox']], 'merge patch replaces the list');
    r = await c.kubectl(['patch', 'deploy', 'web', '--type=json', '-p', '[{"op":"test","path":"/spec/replicas","value":4},{"op":"replace","path":"/spec/replicas","value":1}]']);
    assert.equal(r.stdout, 'deployment.apps/web patched\n', r.stderr);
    assert.equal((await json(['get', 'deploy', 'web'])).spec.replicas, 1);
    r = await c.kubectl(['patch', 'deploy', 'web', '--type=json', '-p', '[{"op":"test","path":"/spec/replicas","value":9}]']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), 'The request is invalid: the server rejected our request due to an error in our request');
    r = await c.kubectl(['patch', 'deploy', 'web', '-p', '{"spec":{"replicas":1}}']);
    assert.equal(r.stdout, 'deployment.apps/web patched (no change)\n', r.stderr);
  });

  it('explain prints nested fields from the served OpenAPI', async () => {
    for (const [field, type] of [
      ['pod.spec.containers.resources', '<ResourceRequirements>'],
      ['deployment.spec.strategy.rollingUpdate.maxSurge', '<IntOrString>'],
      ['service.spec.ports.targetPort', '<IntOrString>'],
    ]) {
      const r = await c.kubectl(['explain', field]);
      assert.equal(r.code, 0, r.stderr);
      const leaf = field.split('.').pop();
      assert.match(r.stdout, new RegExp(`\\nFIELD: ${leaf} ${type}\\n`), r.stdout);
      assert.match(r.stdout, /DESCRIPTION:\n\s+\S/);
    }
  });
});
