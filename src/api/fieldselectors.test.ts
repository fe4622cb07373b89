import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStatusError } from './errors.ts';
import {
  convertFieldLabel,
  escapeFieldValue,
  fieldsFor,
  parseFieldSelector,
  parseFieldSelectorFor,
  supportedFieldLabels,
} from './fieldselectors.ts';

function rejects(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isStatusError(e), `expected a StatusError, got ${String(e)}`);
    assert.equal(e.status.code, 400);
    assert.equal(e.status.reason, 'BadRequest');
    assert.equal(e.status.message, message);
    return true;
  });
}

const pod = (name: string, spec: Record<string, unknown>, status: Record<string, unknown> = {}) => ({
  metadata: { name, namespace: 'default' },
  spec,
  status,
});

test('=, == and != over a field set; missing fields read as ""', () => {
  const fields = { 'metadata.name': 'web', 'spec.nodeName': 'n1' };
  assert.ok(parseFieldSelector('metadata.name=web').matches(fields));
  assert.ok(parseFieldSelector('metadata.name==web').matches(fields));
  assert.ok(!parseFieldSelector('metadata.name!=web').matches(fields));
  assert.ok(parseFieldSelector('spec.nodeName=n1,metadata.name!=db').matches(fields));
  assert.ok(parseFieldSelector('status.phase=').matches(fields));
  assert.ok(parseFieldSelector('status.phase!=Running').matches(fields));
  assert.ok(parseFieldSelector('').empty);
});

test('escapes: \\, \\= and \\\\ are data in values', () => {
  const sel = parseFieldSelector('a=x\\,y\\=z\\\\,b=c');
  assert.deepEqual(
    sel.requirements.map((r) => [r.field, r.operator, r.value]),
    [
      ['a', '=', 'x,y=z\\'],
      ['b', '=', 'c'],
    ],
  );
  assert.equal(sel.toString(), 'a=x\\,y\\=z\\\\,b=c');
  assert.equal(escapeFieldValue('a,b=c\\'), 'a\\,b\\=c\\\\');
});

test('whitespace is significant, as upstream', () => {
  assert.deepEqual(parseFieldSelector('a = b').requirements[0], { field: 'a ', operator: '=', value: ' b' });
});

test('requiresExactMatch finds the name kubectl watches by', () => {
  const sel = parseFieldSelector('metadata.name!=a,metadata.name=b');
  assert.equal(sel.requiresExactMatch('metadata.name'), 'b');
  assert.equal(parseFieldSelector('metadata.name!=a').requiresExactMatch('metadata.name'), undefined);
});

test('syntax errors answer 400 with upstream messages', () => {
  rejects(() => parseFieldSelector('status.phase'), "invalid selector: 'status.phase'; can't understand 'status.phase'");
  rejects(() => parseFieldSelector('a=b,c'), "invalid selector: 'a=b,c'; can't understand 'c'");
  rejects(() => parseFieldSelector('a=b=c'), 'invalid field selector: unescaped character in value: 61');
  rejects(() => parseFieldSelector('a=b\\x'), 'invalid field selector: invalid escape sequence: \\x');
  rejects(() => parseFieldSelector('a=b\\'), 'invalid field selector: invalid escape sequence: \\');
});

test('unsupported labels answer with the kind’s own message', () => {
  rejects(() => parseFieldSelectorFor('', 'pods', 'spec.foo=1'), 'field label not supported: spec.foo');
  rejects(() => parseFieldSelectorFor('', 'events', 'message=x'), 'field label not supported: message');
  rejects(
    () => parseFieldSelectorFor('apps', 'deployments', 'spec.replicas=1'),
    '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"',
  );
  // apps/v1 registers no conversion for ReplicaSet (kubernetes/kubernetes#135136).
  rejects(
    () => parseFieldSelectorFor('apps', 'replicasets', 'status.replicas=0'),
    '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"',
  );
  rejects(() => parseFieldSelectorFor('batch', 'jobs', 'status.failed=1'), 'field label "status.failed" not supported for batchv1.Job');
  rejects(() => parseFieldSelectorFor('', 'nodes', 'metadata.namespace=x'), 'field label not supported: metadata.namespace');
  rejects(() => parseFieldSelectorFor('events.k8s.io', 'events', 'involvedObject.name=x'), 'field label not supported: involvedObject.name');
});

test('kubectl describe node: pods on a node that are not finished', () => {
  const sel = parseFieldSelectorFor('', 'pods', 'spec.nodeName=n1,status.phase!=Succeeded,status.phase!=Failed');
  const running = pod('a', { nodeName: 'n1' }, { phase: 'Running' });
  const done = pod('b', { nodeName: 'n1' }, { phase: 'Succeeded' });
  const elsewhere = pod('c', { nodeName: 'n2' }, { phase: 'Running' });
  const pick = (p: unknown) => sel.matches(fieldsFor('', 'pods', p));
  assert.deepEqual([running, done, elsewhere].map(pick), [true, false, false]);
});

test('pod fields: hostNetwork defaults to false, podIP comes from podIPs, spec.host means spec.nodeName', () => {
  const f = fieldsFor('', 'pods', pod('a', { nodeName: 'n1', restartPolicy: 'Always' }, { podIPs: [{ ip: '10.0.0.5' }, { ip: 'fd00::5' }] }));
  assert.equal(f['spec.hostNetwork'], 'false');
  assert.equal(f['status.podIP'], '10.0.0.5');
  assert.equal(f['spec.restartPolicy'], 'Always');
  assert.equal(fieldsFor('', 'pods', pod('b', { hostNetwork: true }, { podIP: '10.0.0.6' }))['status.podIP'], '10.0.0.6');
  const byHost = parseFieldSelectorFor('', 'pods', 'spec.host=n1');
  assert.equal(byHost.toString(), 'spec.nodeName=n1');
  assert.ok(byHost.matches(f));
  // Accepted label, but no pod field set holds it.
  assert.ok(!parseFieldSelectorFor('', 'pods', 'status.podIPs=10.0.0.5').matches(f));
});

test('kubectl describe pod: events by involvedObject, in both event APIs', () => {
  const core = {
    metadata: { name: 'web.1', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'web', namespace: 'default', uid: 'u1' },
    reason: 'Scheduled',
    type: 'Normal',
    source: { component: 'default-scheduler' },
  };
  const sel = parseFieldSelectorFor('', 'events', 'involvedObject.name=web,involvedObject.namespace=default,involvedObject.uid=u1');
  assert.ok(sel.matches(fieldsFor('', 'events', core)));
  assert.ok(parseFieldSelectorFor('', 'events', 'source=default-scheduler').matches(fieldsFor('', 'events', core)));

  const v1 = {
    metadata: { name: 'web.2', namespace: 'default' },
    regarding: { kind: 'Pod', name: 'web', namespace: 'default', uid: 'u1' },
    reportingController: 'kubelet',
    type: 'Warning',
  };
  const byRegarding = parseFieldSelectorFor('events.k8s.io', 'events', 'regarding.name=web,reportingController=kubelet');
  assert.equal(byRegarding.toString(), 'involvedObject.name=web,reportingComponent=kubelet');
  assert.ok(byRegarding.matches(fieldsFor('events.k8s.io', 'events', v1)));
  // source falls back to the reporting controller when the deprecated source is unset.
  assert.equal(fieldsFor('events.k8s.io', 'events', v1).source, 'kubelet');
  // An unconverted selector matches the same objects.
  assert.ok(parseFieldSelector('regarding.name=web').matches(fieldsFor('events.k8s.io', 'events', v1)));
});

test('other kinds with their own fields', () => {
  const cases: [string, string, unknown, string][] = [
    ['', 'secrets', { metadata: { name: 's', namespace: 'd' }, type: 'kubernetes.io/tls' }, 'type=kubernetes.io/tls'],
    ['', 'nodes', { metadata: { name: 'n1' }, spec: { unschedulable: true } }, 'spec.unschedulable=true'],
    ['', 'nodes', { metadata: { name: 'n2' }, spec: {} }, 'spec.unschedulable=false'],
    ['', 'namespaces', { metadata: { name: 'x' }, status: { phase: 'Terminating' } }, 'status.phase=Terminating'],
    ['', 'replicationcontrollers', { metadata: { name: 'r', namespace: 'd' }, status: {} }, 'status.replicas=0'],
    ['batch', 'jobs', { metadata: { name: 'j', namespace: 'd' }, status: { succeeded: 1 } }, 'status.successful=1'],
    ['', 'services', { metadata: { name: 's', namespace: 'd' }, spec: { type: 'NodePort', clusterIP: '10.96.0.5' } }, 'spec.type=NodePort,spec.clusterIP=10.96.0.5'],
    ['apps', 'deployments', { metadata: { name: 'web', namespace: 'prod' } }, 'metadata.name=web,metadata.namespace=prod'],
  ];
  for (const [group, resource, o, s] of cases) {
    assert.ok(parseFieldSelectorFor(group, resource, s).matches(fieldsFor(group, resource, o)), `${resource}: ${s}`);
  }
});

test('supportedFieldLabels lists what clients may send', () => {
  assert.deepEqual(supportedFieldLabels('apps', 'deployments'), ['metadata.name', 'metadata.namespace']);
  assert.deepEqual(supportedFieldLabels('', 'namespaces'), ['status.phase', 'metadata.name']);
  assert.ok(supportedFieldLabels('', 'pods').includes('spec.hostNetwork'));
  assert.ok(supportedFieldLabels('events.k8s.io', 'events').includes('regarding.uid'));
  assert.equal(convertFieldLabel('events.k8s.io', 'events', 'regarding.uid'), 'involvedObject.uid');
});
