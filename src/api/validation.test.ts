import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldErrorString, invalid } from './errors.ts';
import type { FieldError } from './errors.ts';
import type { ObjectMeta } from './object.ts';
import {
  isQualifiedName,
  nameValidationFor,
  validateLabelSelector,
  validateObjectMeta,
  validateObjectMetaFor,
  validateUpdateObjectMeta,
} from './validation.ts';

/** The lines kubectl prints after `The Pod "x" is invalid:`. */
const lines = (errs: FieldError[]) => errs.map(fieldErrorString);

const forResource = (group: string, resource: string, meta: ObjectMeta) =>
  lines(validateObjectMetaFor({ group, resource }, meta));

const SUBDOMAIN_RULE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_RULE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_RULE =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const QNAME_RULE =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_RULE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

test('a name or generateName is required', () => {
  assert.deepEqual(forResource('', 'configmaps', { namespace: 'default' }), [
    'metadata.name: Required value: name or generateName is required',
  ]);
  assert.deepEqual(forResource('', 'configmaps', { generateName: 'cm-', namespace: 'default' }), []);
});

test('name formats per resource', () => {
  assert.deepEqual(forResource('', 'pods', { name: 'Web_1', namespace: 'default' }), [
    `metadata.name: Invalid value: "Web_1": ${SUBDOMAIN_RULE}`,
  ]);
  assert.deepEqual(forResource('', 'pods', { name: 'web.v1', namespace: 'default' }), []);
  assert.deepEqual(forResource('', 'services', { name: '1web', namespace: 'default' }), [
    `metadata.name: Invalid value: "1web": ${DNS1035_RULE}`,
  ]);
  assert.deepEqual(forResource('', 'namespaces', { name: 'team.a' }), ['metadata.name: Invalid value: "team.a": must not contain dots']);
  assert.deepEqual(forResource('apps', 'statefulsets', { name: 'db.v1', namespace: 'default' }), [
    'metadata.name: Invalid value: "db.v1": must not contain dots',
  ]);
  assert.deepEqual(forResource('', 'namespaces', { name: 'Team' }), [`metadata.name: Invalid value: "Team": ${LABEL_RULE}`]);
  assert.deepEqual(forResource('', 'configmaps', { name: 'a'.repeat(254), namespace: 'd' }), [
    `metadata.name: Invalid value: "${'a'.repeat(254)}": must be no more than 253 characters`,
  ]);
  // RBAC names only have to be a path segment.
  assert.deepEqual(forResource('rbac.authorization.k8s.io', 'clusterroles', { name: 'system:Admin' }), []);
  assert.deepEqual(forResource('rbac.authorization.k8s.io', 'roles', { name: 'a/b', namespace: 'd' }), [
    `metadata.name: Invalid value: "a/b": may not contain '/'`,
  ]);
  assert.deepEqual(forResource('policy', 'poddisruptionbudgets', { name: '..', namespace: 'd' }), [
    `metadata.name: Invalid value: "..": may not be '..'`,
  ]);
});

test('cronjob names leave room for the job suffix', () => {
  const name = 'a'.repeat(53);
  assert.deepEqual(forResource('batch', 'cronjobs', { name, namespace: 'd' }), [
    `metadata.name: Invalid value: "${name}": must be no more than 52 characters`,
  ]);
  assert.deepEqual(forResource('batch', 'cronjobs', { name: 'a'.repeat(52), namespace: 'd' }), []);
});

test('generateName is checked as a prefix: a trailing dash is allowed', () => {
  assert.deepEqual(forResource('', 'services', { generateName: 'web-', namespace: 'd' }), []);
  assert.deepEqual(forResource('', 'services', { generateName: '9web-', namespace: 'd' }), [
    `metadata.generateName: Invalid value: "9web-": ${DNS1035_RULE}`,
  ]);
});

test('namespace is required for namespaced kinds and forbidden otherwise', () => {
  assert.deepEqual(forResource('', 'secrets', { name: 's' }), ['metadata.namespace: Required value']);
  assert.deepEqual(forResource('', 'secrets', { name: 's', namespace: 'Prod' }), [`metadata.namespace: Invalid value: "Prod": ${LABEL_RULE}`]);
  assert.deepEqual(forResource('', 'nodes', { name: 'n1', namespace: 'default' }), ['metadata.namespace: Forbidden: not allowed on this type']);
});

test('labels: qualified keys and values of at most 63 characters', () => {
  const long = 'v'.repeat(64);
  assert.deepEqual(forResource('', 'pods', { name: 'p', namespace: 'd', labels: { 'example.com/app': 'web', 'bad key': 'x', app: long, tier: '-x' } }), [
    `metadata.labels: Invalid value: "bad key": name part ${QNAME_RULE}`,
    `metadata.labels: Invalid value: "${long}": must be no more than 63 characters`,
    `metadata.labels: Invalid value: "-x": ${LABEL_VALUE_RULE}`,
  ]);
  assert.deepEqual(isQualifiedName('/app'), ['prefix part must be non-empty']);
  assert.deepEqual(isQualifiedName('Example.com/app'), [`prefix part ${SUBDOMAIN_RULE}`]);
});

test('annotations: keys case-insensitively qualified, total size at most 256 KiB', () => {
  assert.deepEqual(forResource('', 'pods', { name: 'p', namespace: 'd', annotations: { 'Example.COM/Note': 'ok' } }), []);
  assert.deepEqual(forResource('', 'pods', { name: 'p', namespace: 'd', annotations: { 'a/b/c': '' } }), [
    `metadata.annotations: Invalid value: "a/b/c": a qualified name ${QNAME_RULE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
  ]);
  const big = { a: 'x'.repeat(262144) };
  assert.deepEqual(forResource('', 'pods', { name: 'p', namespace: 'd', annotations: big }), [
    'metadata.annotations: Too long: may not be more than 262144 bytes',
  ]);
  assert.deepEqual(forResource('', 'pods', { name: 'p', namespace: 'd', annotations: { a: 'x'.repeat(262143) } }), []);
});

test('ownerReferences: required parts, no Event owners, one controller', () => {
  const refs = [
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u1', controller: true },
    { apiVersion: 'apps/', kind: '', name: '', uid: '' },
  ];
  assert.deepEqual(forResource('', 'pods', { name: 'p', namespace: 'd', ownerReferences: refs as never }), [
    'metadata.ownerReferences.apiVersion: Invalid value: "apps/": version must not be empty',
    'metadata.ownerReferences.kind: Invalid value: "": kind must not be empty',
    'metadata.ownerReferences.name: Invalid value: "": name must not be empty',
    'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty',
  ]);
  const two = [
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'a', uid: 'u1', controller: true },
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'b', uid: 'u2', controller: true },
  ];
  const [only] = forResource('', 'pods', { name: 'p', namespace: 'd', ownerReferences: two });
  assert.match(only, /^metadata\.ownerReferences: Invalid value: \[\]v1\.OwnerReference\{.*\}: Only one reference can have Controller set to true\. Found "true" in references for ReplicaSet\/a and ReplicaSet\/b$/);
  const [event] = forResource('', 'pods', { name: 'p', namespace: 'd', ownerReferences: [{ apiVersion: 'v1', kind: 'Event', name: 'e', uid: 'u' }] });
  assert.match(event, /: \/v1, Kind=Event is disallowed from being an owner$/);
});

test('finalizers: qualified names; unqualified ones must be standard on built-in kinds', () => {
  assert.deepEqual(forResource('', 'pods', { name: 'p', namespace: 'd', finalizers: ['example.com/cleanup', 'kubernetes', 'orphan'] }), []);
  assert.deepEqual(forResource('', 'pods', { name: 'p', namespace: 'd', finalizers: ['cleanup'] }), [
    'metadata.finalizers[0]: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified',
  ]);
  // Leases and custom resources skip core's check.
  assert.deepEqual(forResource('coordination.k8s.io', 'leases', { name: 'l', namespace: 'd', finalizers: ['cleanup'] }), []);
  assert.deepEqual(forResource('example.com', 'widgets', { name: 'w', namespace: 'd', finalizers: ['cleanup'] }), []);
  assert.deepEqual(forResource('', 'pods', { name: 'p', namespace: 'd', finalizers: ['orphan', 'foregroundDeletion', 'a_'] }), [
    `metadata.finalizers: Invalid value: "a_": name part ${QNAME_RULE}`,
    'metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion", "a_"}: finalizer orphan and foregroundDeletion cannot be both set',
    'metadata.finalizers[2]: Invalid value: "a_": name is neither a standard finalizer name nor is it fully qualified',
  ]);
});

test('errors become the 422 kubectl prints', () => {
  const errs = validateObjectMeta({ name: 'Web' }, { namespaced: true, nameValidation: nameValidationFor('', 'services') });
  const status = invalid({ group: '', kind: 'Service' }, 'Web', errs).status;
  assert.equal(status.code, 422);
  assert.equal(status.message, `Service "Web" is invalid: [metadata.name: Invalid value: "Web": ${DNS1035_RULE}, metadata.namespace: Required value]`);
});

test('the resource table covers the built-in kinds', () => {
  const expected: [string, string, boolean][] = [
    ['', 'namespaces', false], ['', 'pods', true], ['', 'services', true], ['', 'endpoints', true],
    ['', 'configmaps', true], ['', 'secrets', true], ['', 'serviceaccounts', true], ['', 'nodes', false],
    ['', 'events', true], ['', 'persistentvolumes', false], ['', 'persistentvolumeclaims', true],
    ['', 'replicationcontrollers', true], ['', 'resourcequotas', true], ['', 'limitranges', true], ['', 'podtemplates', true],
    ['apps', 'deployments', true], ['apps', 'replicasets', true], ['apps', 'statefulsets', true], ['apps', 'daemonsets', true],
    ['apps', 'controllerrevisions', true], ['batch', 'jobs', true], ['batch', 'cronjobs', true],
    ['coordination.k8s.io', 'leases', true], ['discovery.k8s.io', 'endpointslices', true], ['events.k8s.io', 'events', true],
    ['policy', 'poddisruptionbudgets', true], ['networking.k8s.io', 'ingresses', true], ['networking.k8s.io', 'ingressclasses', false],
    ['networking.k8s.io', 'networkpolicies', true], ['storage.k8s.io', 'storageclasses', false],
    ['scheduling.k8s.io', 'priorityclasses', false], ['rbac.authorization.k8s.io', 'roles', true],
    ['rbac.authorization.k8s.io', 'clusterrolebindings', false], ['autoscaling', 'horizontalpodautoscalers', true],
  ];
  for (const [g, r, namespaced] of expected) assert.equal(nameValidationFor(g, r)?.namespaced, namespaced, `${g}/${r}`);
  assert.equal(nameValidationFor('example.com', 'widgets'), undefined);
});

test('update: identity fields are immutable and a resourceVersion is required', () => {
  const old: ObjectMeta = { name: 'web', namespace: 'd', uid: 'u1', resourceVersion: '5', generation: 3, creationTimestamp: '2024-01-02T03:04:05Z' };
  assert.deepEqual(lines(validateUpdateObjectMeta({ ...old }, old)), []);
  assert.deepEqual(
    lines(validateUpdateObjectMeta({ ...old, name: 'web2', namespace: 'e', uid: 'u2', resourceVersion: '', generation: 2, creationTimestamp: '2025-01-01T00:00:00Z' }, old)),
    [
      'metadata.resourceVersion: Invalid value: "": must be specified for an update',
      'metadata.generation: Invalid value: 2: must not be decremented',
      'metadata.name: Invalid value: "web2": field is immutable',
      'metadata.namespace: Invalid value: "e": field is immutable',
      'metadata.uid: Invalid value: "u2": field is immutable',
      'metadata.creationTimestamp: Invalid value: 2025-01-01 00:00:00 +0000 UTC: field is immutable',
    ],
  );
});

test('update: no new finalizers once deletion started', () => {
  const old: ObjectMeta = { name: 'web', resourceVersion: '5', deletionTimestamp: '2024-01-02T03:04:05Z', finalizers: ['a.io/x'] };
  assert.deepEqual(lines(validateUpdateObjectMeta({ ...old, finalizers: ['a.io/x', 'b.io/y'] }, old)), [
    'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"b.io/y"}',
  ]);
  assert.deepEqual(lines(validateUpdateObjectMeta({ ...old, finalizers: [] }, old)), []);
});

test('label selectors inside objects (spec.selector)', () => {
  assert.deepEqual(
    lines(
      validateLabelSelector(
        {
          matchLabels: { app: '-web' },
          matchExpressions: [
            { key: 'tier', operator: 'In', values: [] },
            { key: 'x', operator: 'Exists', values: ['a'] },
            { key: 'y', operator: 'Equals' },
          ],
        },
        'spec.selector',
      ),
    ),
    [
      `spec.selector.matchLabels: Invalid value: "-web": ${LABEL_VALUE_RULE}`,
      "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
      "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
      'spec.selector.matchExpressions[2].operator: Invalid value: "Equals": not a valid selector operator',
    ],
  );
});
