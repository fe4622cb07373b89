import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { base64ErrorOffset, checkFields, definitions, hasSchema, quantityError, timeError, typeErrors, unknownFields } from './schema.ts';
import { definitionNameFor } from './generated/kinds.ts';
import { generatedResources } from './generated/resources.ts';

const POD = { group: '', version: 'v1', kind: 'Pod' };
const DEPLOYMENT = { group: 'apps', version: 'v1', kind: 'Deployment' };

function deployment(spec: Record<string, unknown> = {}, container: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', labels: { app: 'web', 'example.com/any-key': 'x' }, annotations: { a: 'b' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'c', image: 'nginx', ports: [{ containerPort: 80 }], ...container }] },
      },
      ...spec,
    },
  };
}

describe('generated tables', () => {
  it('maps kinds to their definitions', () => {
    assert.equal(definitionNameFor(DEPLOYMENT), 'io.k8s.api.apps.v1.Deployment');
    assert.equal(definitionNameFor(POD), 'io.k8s.api.core.v1.Pod');
    assert.equal(definitionNameFor({ group: 'autoscaling', version: 'v1', kind: 'Scale' }), 'io.k8s.api.autoscaling.v1.Scale');
    assert.equal(definitionNameFor({ group: 'apps', version: 'v1', kind: 'DeleteOptions' }), 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions');
    assert.equal(definitionNameFor({ group: 'apps', version: 'v1', kind: 'Nope' }), undefined);
    assert.equal(definitionNameFor({ group: '', version: 'v1', kind: 'toString' }), undefined);
  });

  it('lists resources with discovery verbs and subresource kinds', () => {
    const pods = generatedResources.find((r) => r.group === '' && r.plural === 'pods')!;
    assert.equal(pods.kind, 'Pod');
    assert.equal(pods.listKind, 'PodList');
    assert.equal(pods.namespaced, true);
    assert.deepEqual(pods.verbs, ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']);
    const sub = (name: string) => pods.subresources.find((s) => s.name === name);
    assert.deepEqual(sub('eviction'), { name: 'eviction', group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] });
    assert.deepEqual(sub('log'), { name: 'log', group: '', version: 'v1', kind: 'Pod', verbs: ['get'] });
    assert.deepEqual(sub('exec')?.verbs, ['create', 'get']);
    assert.deepEqual(sub('status')?.verbs, ['get', 'patch', 'update']);
    const deploy = generatedResources.find((r) => r.group === 'apps' && r.plural === 'deployments')!;
    assert.deepEqual(deploy.subresources.find((s) => s.name === 'scale'), { name: 'scale', group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
    const namespaces = generatedResources.find((r) => r.group === '' && r.plural === 'namespaces')!;
    assert.equal(namespaces.namespaced, false);
    const cs = generatedResources.find((r) => r.plural === 'componentstatuses')!;
    assert.deepEqual(cs.verbs, ['get', 'list']); // no watch
    const tr = generatedResources.find((r) => r.plural === 'tokenreviews')!;
    assert.deepEqual(tr.verbs, ['create']);
    assert.equal(tr.listKind, '');
  });

  it('keeps descriptions and extensions in the definitions', () => {
    const spec = definitions()['io.k8s.api.core.v1.PodSpec'];
    assert.match(spec.description, /PodSpec is a description of a pod/);
    assert.equal(spec.properties.containers['x-kubernetes-patch-merge-key'], 'name');
  });
});

describe('unknownFields', () => {
  it('accepts a well-formed object', () => {
    assert.deepEqual(checkFields(DEPLOYMENT, deployment()), { unknown: [], typeErrors: [] });
  });

  it('reports unknown fields with upstream paths, in document order', () => {
    const obj = deployment({ foo: 1 }, { bogus: true });
    (obj.metadata as Record<string, unknown>).extra = 'x';
    (obj as Record<string, unknown>).top = 1;
    assert.deepEqual(unknownFields(DEPLOYMENT, obj), ['metadata.extra', 'spec.template.spec.containers[0].bogus', 'spec.foo', 'top']);
  });

  it('matches names case-sensitively, as the strict decoder does', () => {
    assert.deepEqual(unknownFields(DEPLOYMENT, deployment({ Replicas: 3 })), ['spec.Replicas']);
  });

  it('indexes arrays and names map keys in nested paths', () => {
    const obj = deployment({}, { ports: [{ containerPort: 80 }, { containerPort: 81, hostPort: 8081, what: 1 }] });
    assert.deepEqual(unknownFields(DEPLOYMENT, obj), ['spec.template.spec.containers[0].ports[1].what']);
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'foos.example.com' },
      spec: {
        group: 'example.com',
        names: { plural: 'foos', kind: 'Foo' },
        scope: 'Namespaced',
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: { spec: { type: 'object', descripton: 'typo', 'x-kubernetes-preserve-unknown-fields': true, default: { any: ['thing'] } } },
              },
            },
          },
        ],
      },
    };
    assert.deepEqual(unknownFields({ group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition' }, crd), [
      'spec.versions[0].schema.openAPIV3Schema.properties.spec.descripton',
    ]);
  });

  it('lets any key through maps, RawExtension, FieldsV1 and free-form JSON', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { anything: 'x', 'a.b': 'y' } };
    assert.deepEqual(unknownFields({ group: '', version: 'v1', kind: 'ConfigMap' }, cm), []);
    const rev = { apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: 'r' }, revision: 1, data: { spec: { whatever: [1, { x: 2 }] } } };
    assert.deepEqual(checkFields({ group: 'apps', version: 'v1', kind: 'ControllerRevision' }, rev), { unknown: [], typeErrors: [] });
    const managed = deployment();
    (managed.metadata as Record<string, unknown>).managedFields = [
      { manager: 'kubectl', operation: 'Apply', apiVersion: 'apps/v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
    ];
    assert.deepEqual(unknownFields(DEPLOYMENT, managed), []);
  });

  it('reports keys of structs without fields', () => {
    const crd = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'x' }, spec: { versions: [{ name: 'v1', subresources: { status: { x: 1 } } }] } };
    assert.deepEqual(unknownFields({ group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition' }, crd), ['spec.versions[0].subresources.status.x']);
  });

  it('checks subresource kinds and says nothing about kinds it does not know', () => {
    assert.deepEqual(unknownFields({ group: 'autoscaling', version: 'v1', kind: 'Scale' }, { apiVersion: 'autoscaling/v1', kind: 'Scale', spec: { replicas: 3, x: 1 } }), ['spec.x']);
    assert.equal(hasSchema({ group: 'metrics.k8s.io', version: 'v1beta1', kind: 'PodMetrics' }), false);
    assert.deepEqual(checkFields({ group: 'example.com', version: 'v1', kind: 'Foo' }, { spec: { anything: 1 } }), { unknown: [], typeErrors: [] });
  });

  it('stops at 100, as upstream does', () => {
    const spec: Record<string, number> = {};
    for (let i = 0; i < 150; i++) spec[`f${i}`] = i;
    assert.equal(unknownFields(DEPLOYMENT, deployment(spec)).length, 100);
  });
});

describe('typeErrors', () => {
  const errors = (spec: Record<string, unknown>, container: Record<string, unknown> = {}) => typeErrors(DEPLOYMENT, deployment(spec, container));

  it('words scalar mismatches as the Go decoder does', () => {
    assert.deepEqual(errors({ replicas: '3' }), ['json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32']);
    assert.deepEqual(errors({}, { image: 5 }), ['json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.image of type string']);
    assert.deepEqual(errors({ paused: 'yes' }), ['json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool']);
    assert.deepEqual(errors({ replicas: 1.5 }), ['json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32']);
    assert.deepEqual(errors({ replicas: 2 ** 31 }), ['json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas of type int32']);
    assert.deepEqual(typeErrors(POD, { spec: { activeDeadlineSeconds: 2 ** 40 } }), [], 'int64');
  });

  it('names structs, slices and maps by their Go types', () => {
    assert.deepEqual(errors({ template: 'x' }), ['json: cannot unmarshal string into Go struct field DeploymentSpec.spec.template of type v1.PodTemplateSpec']);
    assert.deepEqual(typeErrors(POD, { metadata: { name: 'p' }, spec: { containers: {} } }), [
      'json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container',
    ]);
    assert.deepEqual(typeErrors(POD, { metadata: { labels: { a: 5 } } }), ['json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string']);
    assert.deepEqual(typeErrors(POD, { metadata: { labels: ['a'] } }), ['json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string']);
  });

  it('accepts null anywhere', () => {
    assert.deepEqual(checkFields(DEPLOYMENT, deployment({ replicas: null, strategy: null }, { ports: null })), { unknown: [], typeErrors: [] });
  });

  it('checks int-or-string, quantities, times and bytes', () => {
    assert.deepEqual(errors({ strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: 1 } } }), []);
    assert.deepEqual(errors({ strategy: { rollingUpdate: { maxSurge: { a: 1 } } } }), [
      'json: cannot unmarshal object into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge of type int32',
    ]);
    assert.deepEqual(errors({}, { resources: { limits: { cpu: '100m', memory: '1Gi' }, requests: { cpu: 0.5 } } }), []);
    assert.deepEqual(errors({}, { resources: { limits: { cpu: 'lots' } } }), [
      "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
    ]);
    assert.deepEqual(typeErrors(POD, { metadata: { creationTimestamp: '2024-02-30T00:00:00Z' } }), ['parsing time "2024-02-30T00:00:00Z": day out of range']);
    assert.deepEqual(typeErrors(POD, { metadata: { creationTimestamp: 5 } }), [
      'json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string',
    ]);
    const secret = (data: unknown) => typeErrors({ group: '', version: 'v1', kind: 'Secret' }, { metadata: { name: 's' }, data });
    assert.deepEqual(secret({ a: 'aGVsbG8=' }), []);
    assert.deepEqual(secret({ a: 'hello!' }), ['illegal base64 data at input byte 5']);
    assert.deepEqual(secret({ a: 1 }), ['json: cannot unmarshal number into Go struct field Secret.data of type []uint8']);
  });

  it('parses quantities like resource.ParseQuantity', () => {
    for (const ok of ['1', '100m', '1.5Gi', '0.5', '1e3', '2E-2', '+3k', '.5']) assert.equal(quantityError(ok), undefined, ok);
    assert.equal(quantityError('1Xi'), quantityError('lots'));
    assert.equal(quantityError('1Qi'), quantityError('lots'));
    assert.equal(quantityError('1mm'), "unable to parse quantity's suffix");
    assert.equal(quantityError('.'), 'unable to parse numeric part of quantity');
  });

  it('parses times like time.Parse(RFC3339)', () => {
    for (const ok of ['2024-01-31T23:59:59Z', '2024-02-29T00:00:00+05:30', '2024-01-01T00:00:00.123456789Z']) assert.equal(timeError(ok), undefined, ok);
    assert.equal(timeError('yesterday'), 'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"');
    assert.equal(timeError('2024-01-01 00:00:00Z'), 'parsing time "2024-01-01 00:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse " 00:00:00Z" as "T"');
    assert.equal(timeError('2024-13-01T00:00:00Z'), 'parsing time "2024-13-01T00:00:00Z": month out of range');
    assert.equal(timeError('2024-01-01T00:00:00Zjunk'), 'parsing time "2024-01-01T00:00:00Zjunk": extra text: "junk"');
    assert.equal(timeError('2024-01-01T00:00:00.000001Z', true), undefined);
    assert.equal(
      timeError('2024-01-01T00:00:00Z', true),
      'parsing time "2024-01-01T00:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"',
    );
  });

  it('finds the byte Go base64 reports', () => {
    assert.equal(base64ErrorOffset(''), undefined);
    assert.equal(base64ErrorOffset('YWJj'), undefined);
    assert.equal(base64ErrorOffset('YQ=='), undefined);
    assert.equal(base64ErrorOffset('YWI=\n'), undefined);
    assert.equal(base64ErrorOffset('YW\nJj'), undefined);
    assert.equal(base64ErrorOffset('abc'), 0);
    assert.equal(base64ErrorOffset('YQ='), 3);
    assert.equal(base64ErrorOffset('Y==='), 1);
    assert.equal(base64ErrorOffset('YWI=YWJj'), 4);
    assert.equal(base64ErrorOffset('YW*j'), 2);
  });
});
