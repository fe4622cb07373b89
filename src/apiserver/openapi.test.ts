import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createOpenAPIService, openAPIV2Form, type ServedGroupVersion } from './openapi.ts';

const ALL = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

const served: ServedGroupVersion[] = [
  {
    group: '',
    version: 'v1',
    resources: [
      { plural: 'pods', kind: 'Pod', namespaced: true, verbs: ALL, subresources: ['status', 'log', 'exec', 'eviction', 'binding'] },
      { plural: 'configmaps', kind: 'ConfigMap', namespaced: true, verbs: ALL, subresources: [] },
      { plural: 'namespaces', kind: 'Namespace', namespaced: false, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], subresources: ['status', 'finalize'] },
      { plural: 'nodes', kind: 'Node', namespaced: false, verbs: ALL, subresources: ['status', 'proxy'] },
      { plural: 'events', kind: 'Event', namespaced: true, verbs: ['create', 'get', 'list'], subresources: [] },
    ],
  },
  {
    group: 'apps',
    version: 'v1',
    resources: [{ plural: 'deployments', kind: 'Deployment', namespaced: true, verbs: ALL, subresources: ['status', 'scale'] }],
  },
];

type Doc = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, any>; securitySchemes: object };
};

function load(gvPath: string): Doc {
  const doc = createOpenAPIService({ served }).groupVersion(gvPath);
  assert.ok(doc, gvPath);
  return JSON.parse(doc.body.toString('utf8')) as Doc;
}

const GVK = 'x-kubernetes-group-version-kind';

/** What kubectl 1.32 checks before sending fieldValidation=Strict (supportsQueryParamV3). */
function patchSupportsFieldValidation(doc: Doc, gvk: { group: string; version: string; kind: string }): boolean {
  for (const item of Object.values(doc.paths)) {
    const op = item.patch;
    const g = op?.[GVK];
    if (!g || g.group !== gvk.group || g.version !== gvk.version || g.kind !== gvk.kind) continue;
    const params = [...(item.parameters ?? []), ...(op.parameters ?? [])];
    if (params.some((p: any) => p.name === 'fieldValidation' && p.in === 'query')) return true;
  }
  return false;
}

describe('OpenAPI v3', () => {
  it('lists every served group/version in the root with a content hash', () => {
    const svc = createOpenAPIService({ served });
    const root = svc.root() as { paths: Record<string, { serverRelativeURL: string }> };
    assert.deepEqual(Object.keys(root.paths), ['api/v1', 'apis/apps/v1']);
    for (const [gvPath, { serverRelativeURL }] of Object.entries(root.paths)) {
      const m = /^\/openapi\/v3\/(.+)\?hash=([0-9A-F]{128})$/.exec(serverRelativeURL);
      assert.ok(m, serverRelativeURL);
      assert.equal(m[1], gvPath);
      const doc = svc.groupVersion(gvPath)!;
      assert.equal(m[2], createHash('sha512').update(doc.body).digest('hex').toUpperCase());
      assert.equal(doc.etag, `"${m[2]}"`);
    }
  });

  it('builds each document once and is deterministic', () => {
    const svc = createOpenAPIService({ served });
    assert.equal(svc.groupVersion('apis/apps/v1')!.body, svc.groupVersion('/apis/apps/v1')!.body);
    assert.equal(svc.groupVersion('apis/apps/v1')!.etag, createOpenAPIService({ served }).groupVersion('apis/apps/v1')!.etag);
    assert.equal(svc.groupVersion('apis/batch/v1'), undefined);
    assert.equal(svc.groupVersion('api/v2'), undefined);
  });

  it('has the OpenAPI 3.0 layout upstream serves', () => {
    const doc = load('apis/apps/v1');
    assert.equal(doc.openapi, '3.0.0');
    assert.deepEqual(doc.info, { title: 'Kubernetes', version: 'unversioned' });
    assert.ok(doc.components.securitySchemes);
    const item = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'];
    assert.deepEqual(Object.keys(item), ['delete', 'get', 'parameters', 'patch', 'put']);
    assert.deepEqual(item.parameters.map((p: any) => p.name), ['name', 'namespace', 'pretty']);
    assert.equal(item.patch.operationId, 'patchAppsV1NamespacedDeployment');
    assert.equal(item.patch['x-kubernetes-action'], 'patch');
    assert.deepEqual(item.patch[GVK], { group: 'apps', kind: 'Deployment', version: 'v1' });
    assert.deepEqual(item.patch.parameters.map((p: any) => [p.name, p.in]), [
      ['dryRun', 'query'],
      ['fieldManager', 'query'],
      ['fieldValidation', 'query'],
      ['force', 'query'],
    ]);
    assert.deepEqual(Object.keys(item.patch.requestBody.content), [
      'application/apply-patch+yaml',
      'application/json-patch+json',
      'application/merge-patch+json',
      'application/strategic-merge-patch+json',
    ]);
    assert.deepEqual(item.patch.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/io.k8s.api.apps.v1.Deployment' });
    assert.ok(item.put.parameters.some((p: any) => p.name === 'fieldValidation' && p.in === 'query'));
    assert.equal(item.get.description, 'read the specified Deployment');
    const collection = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments'];
    assert.ok(collection.post.parameters.some((p: any) => p.name === 'fieldValidation' && p.in === 'query'));
    assert.equal(collection.get.description, 'list or watch objects of kind Deployment');
    assert.equal(collection.delete.operationId, 'deleteAppsV1CollectionNamespacedDeployment');
    assert.ok(doc.paths['/apis/apps/v1/deployments'].get, 'list across namespaces');
    assert.ok(doc.paths['/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}'].get, 'deprecated watch path');
    assert.ok(doc.paths['/apis/apps/v1/'].get, 'API resources');
  });

  it('lets kubectl apply validate strictly on every served kind and subresource with patch', () => {
    const core = load('api/v1');
    for (const kind of ['Pod', 'ConfigMap', 'Namespace', 'Node']) assert.ok(patchSupportsFieldValidation(core, { group: '', version: 'v1', kind }), kind);
    assert.equal(patchSupportsFieldValidation(core, { group: '', version: 'v1', kind: 'Event' }), false, 'events are not patchable here');
    const apps = load('apis/apps/v1');
    assert.ok(patchSupportsFieldValidation(apps, { group: 'apps', version: 'v1', kind: 'Deployment' }));
    assert.ok(patchSupportsFieldValidation(apps, { group: 'autoscaling', version: 'v1', kind: 'Scale' }));
  });

  it('serves only the verbs and subresources it is told about', () => {
    const core = load('api/v1');
    const events = core.paths['/api/v1/namespaces/{namespace}/events/{name}'];
    assert.deepEqual(Object.keys(events), ['get', 'parameters']);
    assert.equal(core.paths['/api/v1/watch/namespaces/{namespace}/events'], undefined);
    assert.equal(core.paths['/api/v1/namespaces/{namespace}/pods/{name}/attach'], undefined);
    assert.ok(core.paths['/api/v1/namespaces/{namespace}/pods/{name}/exec']);
    assert.equal(core.paths['/api/v1/namespaces/{namespace}/secrets'], undefined);
    assert.equal(core.paths['/api/v1/namespaces/{name}'].delete.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status');
    assert.equal(core.paths['/api/v1/namespaces/{namespace}/pods/{name}'].delete.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/io.k8s.api.core.v1.Pod');
  });

  it('describes subresources with their own kinds', () => {
    const core = load('api/v1');
    const eviction = core.paths['/api/v1/namespaces/{namespace}/pods/{name}/eviction'];
    assert.deepEqual(eviction.post[GVK], { group: 'policy', kind: 'Eviction', version: 'v1' });
    assert.equal(eviction.post.description, 'create eviction of a Pod');
    assert.ok(core.components.schemas['io.k8s.api.policy.v1.Eviction']);
    const log = core.paths['/api/v1/namespaces/{namespace}/pods/{name}/log'];
    assert.deepEqual(log.get.responses['200'].content['text/plain'].schema, { type: 'string' });
    assert.ok(log.parameters.some((p: any) => p.name === 'follow'));
    const exec = core.paths['/api/v1/namespaces/{namespace}/pods/{name}/exec'];
    assert.deepEqual(Object.keys(exec), ['get', 'parameters', 'post']);
    assert.equal(exec.get['x-kubernetes-action'], 'connect');
    assert.equal(exec.get.operationId, 'connectCoreV1GetNamespacedPodExec');
    assert.deepEqual(exec.get[GVK], { group: '', kind: 'PodExecOptions', version: 'v1' });
    assert.ok(core.paths['/api/v1/nodes/{name}/proxy/{path}'].head);
    assert.equal(core.paths['/api/v1/namespaces/{name}/finalize'].put.operationId, 'replaceCoreV1NamespaceFinalize');
    const scale = load('apis/apps/v1').paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale'];
    assert.deepEqual(scale.patch[GVK], { group: 'autoscaling', kind: 'Scale', version: 'v1' });
    assert.deepEqual(scale.get.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/io.k8s.api.autoscaling.v1.Scale' });
  });

  it('carries every reachable definition, with kinds, descriptions and v3 refs', () => {
    for (const gvPath of ['api/v1', 'apis/apps/v1']) {
      const doc = load(gvPath);
      const text = JSON.stringify(doc);
      assert.ok(!text.includes('#/definitions/'), 'refs rewritten');
      for (const m of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) assert.ok(doc.components.schemas[m[1]], `${gvPath}: ${m[1]} resolves`);
    }
    const schemas = load('apis/apps/v1').components.schemas;
    const deployment = schemas['io.k8s.api.apps.v1.Deployment'];
    assert.deepEqual(deployment[GVK], [{ group: 'apps', kind: 'Deployment', version: 'v1' }]);
    assert.match(deployment.description, /declarative updates for Pods/);
    // A $ref with siblings moves into allOf, as upstream's v3 does.
    assert.deepEqual(deployment.properties.spec, {
      allOf: [{ $ref: '#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec' }],
      description: 'Specification of the desired behavior of the Deployment.',
    });
    assert.equal(schemas['io.k8s.api.core.v1.PodSpec'].properties.containers['x-kubernetes-patch-merge-key'], 'name');
    assert.deepEqual(schemas['io.k8s.apimachinery.pkg.util.intstr.IntOrString'].oneOf, [{ type: 'integer' }, { type: 'string' }]);
    assert.deepEqual(schemas['io.k8s.apimachinery.pkg.api.resource.Quantity'].oneOf, [{ type: 'string' }, { type: 'number' }]);
    for (const name of ['io.k8s.api.autoscaling.v1.Scale', 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions', 'io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent']) {
      assert.ok(schemas[name], name);
    }
    assert.equal(schemas['io.k8s.api.core.v1.Node'], undefined, 'only what apps/v1 reaches');
  });

  it('copes with kinds the definitions do not describe', () => {
    const svc = createOpenAPIService({
      served: [{ group: 'metrics.k8s.io', version: 'v1beta1', resources: [{ plural: 'pods', kind: 'PodMetrics', namespaced: true, verbs: ['get', 'list'], subresources: [] }] }],
    });
    const doc = JSON.parse(svc.groupVersion('apis/metrics.k8s.io/v1beta1')!.body.toString()) as Doc;
    const get = doc.paths['/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/{name}'].get;
    assert.equal(get.operationId, 'readMetricsV1beta1NamespacedPodMetrics');
    assert.deepEqual(get.responses['200'].content['application/json'].schema, { type: 'object' });
  });
});

/** A protobuf message's fields (number → raw values), read independently of the writer. */
function fields(buf: Buffer): Map<number, (Buffer | number)[]> {
  const out = new Map<number, (Buffer | number)[]>();
  let i = 0;
  const varint = () => {
    let n = 0;
    let mul = 1;
    for (;;) {
      const b = buf[i++];
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const wire = key % 8;
    let v: Buffer | number;
    if (wire === 0) v = varint();
    else if (wire === 2) {
      const len = varint();
      v = buf.subarray(i, i + len);
      i += len;
    } else if (wire === 1) {
      v = buf.readDoubleLE(i);
      i += 8;
    } else throw new Error(`wire type ${wire}`);
    const f = Math.floor(key / 8);
    if (!out.has(f)) out.set(f, []);
    out.get(f)!.push(v);
  }
  return out;
}

describe('OpenAPI v2', () => {
  const authn: ServedGroupVersion = {
    group: 'authentication.k8s.io',
    version: 'v1',
    resources: [{ plural: 'selfsubjectreviews', kind: 'SelfSubjectReview', namespaced: false, verbs: ['create'], subresources: [] }],
  };
  const service = createOpenAPIService({ served: [...served, authn] });

  it('is Swagger 2.0 JSON with v2 parameters, bodies and refs', () => {
    const doc = JSON.parse(service.v2().json.toString('utf8'));
    assert.equal(doc.swagger, '2.0');
    assert.deepEqual(doc.securityDefinitions, { BearerToken: { description: 'Bearer Token authentication', in: 'header', name: 'authorization', type: 'apiKey' } });
    const post = doc.paths['/apis/authentication.k8s.io/v1/selfsubjectreviews'].post;
    assert.deepEqual(post.consumes, ['*/*']);
    assert.deepEqual(post.parameters[0], { in: 'body', name: 'body', required: true, schema: { $ref: '#/definitions/io.k8s.api.authentication.v1.SelfSubjectReview' } });
    assert.deepEqual(post.responses['201'], { description: 'Created', schema: { $ref: '#/definitions/io.k8s.api.authentication.v1.SelfSubjectReview' } });
    assert.deepEqual(post['x-kubernetes-group-version-kind'], { group: 'authentication.k8s.io', kind: 'SelfSubjectReview', version: 'v1' });
    assert.equal(post['x-kubernetes-action'], 'post');
    const patch = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
    const fv = patch.parameters.find((p: { name: string }) => p.name === 'fieldValidation');
    assert.equal(fv.in, 'query');
    assert.equal(fv.type, 'string');
    assert.equal(fv.schema, undefined);
    assert.equal(JSON.stringify(doc).includes('#/components/schemas/'), false);
    assert.deepEqual(doc.definitions['io.k8s.api.authentication.v1.SelfSubjectReview']['x-kubernetes-group-version-kind'], [{ group: 'authentication.k8s.io', kind: 'SelfSubjectReview', version: 'v1' }]);
  });

  it('encodes the gnostic openapi.v2.Document protobuf', () => {
    const v2 = service.v2();
    assert.notEqual(v2.etag, v2.protobufEtag);
    const doc = fields(v2.protobuf);
    assert.equal((doc.get(1)![0] as Buffer).toString(), '2.0');
    // paths (8) → NamedPathItem (2) {name 1, PathItem 2 {post 4 → Operation {operation_id 5, vendor_extension 13}}}
    const paths = fields(doc.get(8)![0] as Buffer).get(2)!.map((b) => fields(b as Buffer));
    const ssr = paths.find((p) => (p.get(1)![0] as Buffer).toString() === '/apis/authentication.k8s.io/v1/selfsubjectreviews')!;
    const item = fields(ssr.get(2)![0] as Buffer);
    assert.equal(item.has(8), false, 'no PATCH operation');
    const op = fields(item.get(4)![0] as Buffer);
    assert.equal((op.get(5)![0] as Buffer).toString(), 'createAuthenticationV1SelfSubjectReview');
    const ext = op.get(13)!.map((b) => fields(b as Buffer));
    const gvk = ext.find((e) => (e.get(1)![0] as Buffer).toString() === 'x-kubernetes-group-version-kind')!;
    const yaml = (fields(gvk.get(2)![0] as Buffer).get(2)![0] as Buffer).toString();
    assert.deepEqual(JSON.parse(yaml), { group: 'authentication.k8s.io', kind: 'SelfSubjectReview', version: 'v1' });
    // definitions (9) → NamedSchema (1) {name, Schema {properties 25 → NamedSchema…, type 22}}
    const defs = fields(doc.get(9)![0] as Buffer).get(1)!.map((b) => fields(b as Buffer));
    const spec = defs.find((d) => (d.get(1)![0] as Buffer).toString() === 'io.k8s.api.authorization.v1.SelfSubjectAccessReviewSpec')!;
    const schema = fields(spec.get(2)![0] as Buffer);
    assert.equal((fields(schema.get(22)![0] as Buffer).get(1)![0] as Buffer).toString(), 'object');
    const props = fields(schema.get(25)![0] as Buffer).get(1)!.map((b) => (fields(b as Buffer).get(1)![0] as Buffer).toString());
    assert.deepEqual(props.sort(), ['nonResourceAttributes', 'resourceAttributes']);
  });

  it('negotiates JSON or protobuf as upstream, and nothing else', () => {
    assert.equal(openAPIV2Form(undefined), 'json');
    assert.equal(openAPIV2Form('application/json'), 'json');
    assert.equal(openAPIV2Form('*/*'), 'json');
    assert.equal(openAPIV2Form('application/com.github.proto-openapi.spec.v2@v1.0+protobuf'), 'protobuf');
    assert.equal(openAPIV2Form('application/com.github.proto-openapi.spec.v2.v1.0+protobuf'), 'protobuf');
    assert.equal(openAPIV2Form('application/json;q=0, application/com.github.proto-openapi.spec.v2@v1.0+protobuf'), 'protobuf');
    assert.equal(openAPIV2Form('text/html'), undefined);
  });

  it('follows the custom resources', () => {
    const s = createOpenAPIService({ served });
    const before = s.v2().etag;
    s.setCustom([
      {
        group: 'stable.example.com',
        version: 'v1',
        resources: [{ plural: 'crontabs', kind: 'CronTab', namespaced: true, verbs: ALL, subresources: [] }],
        custom: { definitions: { 'com.example.stable.v1.CronTab': { type: 'object', properties: { metadata: { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' } } } }, kinds: { CronTab: 'com.example.stable.v1.CronTab' } },
      },
    ]);
    const doc = JSON.parse(s.v2().json.toString('utf8'));
    assert.notEqual(s.v2().etag, before);
    assert.ok(doc.paths['/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}'].patch);
    assert.deepEqual(doc.definitions['com.example.stable.v1.CronTab'].properties.metadata, { $ref: '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' });
  });
});
