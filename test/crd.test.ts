// CustomResourceDefinitions end to end with the real kubectl: define, serve, validate,
// default, prune, print, scale, explain, and delete (which removes every object).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCluster, type TestCluster } from './harness.ts';
import { TestApiClient } from './api-client.ts';

let c: TestCluster;
let api: TestApiClient;

before(async () => {
  c = await startTestCluster();
  api = new TestApiClient(c.server.kubeconfigPath);
});
after(async () => {
  api?.close();
  await c?.close();
});

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.labelSelector
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: The desired schedule and image of a CronTab.
            required: [cronSpec]
            properties:
              cronSpec:
                type: string
                description: A cron expression.
                pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'
              image:
                type: string
              replicas:
                type: integer
                minimum: 1
                maximum: 10
                default: 1
          status:
            type: object
            properties:
              replicas:
                type: integer
              labelSelector:
                type: string
`;

function table(s: string): string[][] {
  return s.trimEnd().split('\n').map((l) => l.trim().split(/\s{2,}/));
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - start > timeoutMs) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('CustomResourceDefinitions', () => {
  it('serves a new resource seconds after the CRD is applied', async () => {
    const f = await c.file('crd.yaml', CRD);
    let r = await c.kubectl(['apply', '-f', f]);
    assert.equal(r.stdout, 'customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created\n', r.stderr);
    await until(async () => {
      const got = await api.json('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/crontabs.stable.example.com');
      const est = got.body.status?.conditions?.find((x: any) => x.type === 'Established');
      return est?.status === 'True' ? true : undefined;
    });
    r = await c.kubectl(['get', 'crd']);
    assert.deepEqual(table(r.stdout)[0], ['NAME', 'CREATED AT']);
    assert.equal(table(r.stdout)[1][0], 'crontabs.stable.example.com');
    r = await c.kubectl(['api-resources', '--api-group=stable.example.com']);
    assert.deepEqual(table(r.stdout)[1], ['crontabs', 'ct', 'stable.example.com/v1', 'true', 'CronTab']);
  });

  it('creates, defaults, prints and lists custom objects', async () => {
    const f = await c.file('ct.yaml', `apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: nightly
spec:
  cronSpec: "0 3 * * *"
  image: backup:1
`);
    let r = await c.kubectl(['apply', '-f', f]);
    assert.equal(r.stdout, 'crontab.stable.example.com/nightly created\n', r.stderr);
    r = await c.kubectl(['get', 'ct', 'nightly', '-o', 'jsonpath={.spec.replicas} {.metadata.generation}']);
    assert.equal(r.stdout, '1 1', 'the schema default is applied');
    r = await c.kubectl(['get', 'crontabs']);
    const rows = table(r.stdout);
    assert.deepEqual(rows[0], ['NAME', 'SPEC', 'REPLICAS', 'AGE']);
    assert.deepEqual(rows[1].slice(0, 3), ['nightly', '0 3 * * *', '1']);
    assert.match(rows[1][3], /^\d+s$/);
    r = await c.kubectl(['get', 'all']);
    assert.match(r.stdout, /crontab\.stable\.example\.com\/nightly/);
    r = await c.kubectl(['apply', '-f', f]);
    assert.equal(r.stdout, 'crontab.stable.example.com/nightly unchanged\n', r.stderr);
  });

  it('validates against the schema and prunes or refuses unknown fields', async () => {
    const bad = await c.file('ct-bad.yaml', `apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: broken
spec:
  cronSpec: "every day"
  replicas: 50
`);
    let r = await c.kubectl(['create', '-f', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^The CronTab "broken" is invalid: \n/);
    assert.match(r.stderr, /\* spec\.cronSpec: Invalid value: "every day": spec\.cronSpec in body should match/);
    assert.match(r.stderr, /\* spec\.replicas: Invalid value: 50: spec\.replicas in body should be less than or equal to 10/);
    const extra = await c.file('ct-extra.yaml', `apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: extra
spec:
  cronSpec: "* * * * *"
  color: blue
`);
    r = await c.kubectl(['create', '-f', extra]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /strict decoding error: unknown field "spec\.color"/);
    r = await c.kubectl(['create', '-f', extra, '--validate=false']);
    assert.equal(r.code, 0, r.stderr);
    r = await c.kubectl(['get', 'ct', 'extra', '-o', 'jsonpath={.spec}']);
    assert.equal(JSON.parse(r.stdout).color, undefined, 'unknown fields are pruned');
  });

  it('keeps status apart and scales through the scale subresource', async () => {
    const cur = await api.json('GET', '/apis/stable.example.com/v1/namespaces/default/crontabs/nightly');
    const st = await api.json('PUT', '/apis/stable.example.com/v1/namespaces/default/crontabs/nightly/status', {
      ...cur.body,
      spec: { ...cur.body.spec, replicas: 9 },
      status: { replicas: 1, labelSelector: 'app=nightly' },
    });
    assert.equal(st.status, 200, JSON.stringify(st.body));
    assert.equal(st.body.spec.replicas, 1);
    assert.equal(st.body.status.replicas, 1);
    let r = await c.kubectl(['scale', 'crontab/nightly', '--replicas=3']);
    assert.equal(r.stdout, 'crontab.stable.example.com/nightly scaled\n', r.stderr);
    const scale = await api.json('GET', '/apis/stable.example.com/v1/namespaces/default/crontabs/nightly/scale');
    assert.deepEqual(scale.body.spec, { replicas: 3 });
    assert.deepEqual(scale.body.status, { replicas: 1, selector: 'app=nightly' });
    r = await c.kubectl(['patch', 'ct', 'nightly', '--type=merge', '-p', '{"spec":{"image":"backup:2"}}']);
    assert.equal(r.stdout, 'crontab.stable.example.com/nightly patched\n', r.stderr);
    r = await c.kubectl(['get', 'ct', 'nightly', '-o', 'jsonpath={.spec.image} {.spec.replicas} {.metadata.generation}']);
    assert.equal(r.stdout, 'backup:2 3 3');
  });

  it('explains custom fields from the served OpenAPI', async () => {
    const r = await c.kubectl(['explain', 'crontab.spec.cronSpec']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /GROUP:\s+stable\.example\.com\nKIND:\s+CronTab\nVERSION:\s+v1\n\nFIELD: cronSpec <string>\n/);
    assert.match(r.stdout, /A cron expression\./);
  });

  it('deleting the CRD deletes its objects and stops serving it', async () => {
    let r = await c.kubectl(['delete', 'crd', 'crontabs.stable.example.com']);
    assert.equal(r.stdout, 'customresourcedefinition.apiextensions.k8s.io "crontabs.stable.example.com" deleted\n', r.stderr);
    const gone = await api.json('GET', '/apis/stable.example.com/v1/namespaces/default/crontabs');
    assert.equal(gone.status, 404);
    // Re-creating the definition finds no objects from before.
    const f = await c.file('crd.yaml', CRD);
    r = await c.kubectl(['apply', '-f', f]);
    assert.equal(r.code, 0, r.stderr);
    const list = await until(async () => {
      const l = await api.json('GET', '/apis/stable.example.com/v1/namespaces/default/crontabs');
      return l.status === 200 ? l : undefined;
    });
    assert.deepEqual(list.body.items, []);
  });
});
