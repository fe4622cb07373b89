// Generates src/api/generated/proto-descriptors.json: the protobuf descriptors of every
// kind Skiff can receive as `application/vnd.kubernetes.protobuf` (see
// src/api/protobuf.ts), annotated with what the wire alone does not say about the JSON
// form. Deterministic: the same reference data always gives the same bytes.
//
//   node scripts/generate-proto.ts [REFERENCE_DIR]    (default ../shared/k8s-reference)
//
// Inputs: proto/k8s-api-1.32.json (protobufjs `Root.fromJSON` layout of upstream's
// generated.proto files) and openapi-v2-1.32.json (the authoritative schema).
//
// The output is still a protobufjs Root JSON (tests encode with it); the extra keys are
// ignored by protobufjs and read by the decoder:
//   kinds       "<apiVersion>/<kind>" -> message, from x-kubernetes-group-version-kind
//   metaKinds   kind -> meta/v1 message, accepted with any apiVersion (DeleteOptions, ...)
//   format      on a message with a custom JSON form (Time, Quantity, IntOrString, ...)
//   json        on a field whose JSON name differs from its proto name (`uID` -> `uid`)
//   inline      on a field embedded with `json:",inline"`: its fields join the parent's
//   keepZero    on a scalar field whose zero value belongs in the JSON: Go pointers
//               (present on the wire only when set) and required (non-omitempty) fields.
//               Every other scalar is omitted when zero, as Go's `omitempty` does,
//               because upstream's marshaller writes non-pointer scalars even when zero.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Scalar fields declared as Go pointers (*int32, *bool, *string, *SomeStringType) in the
// Kubernetes 1.32 API types, by message (relative to `k8s.io.`). The reference data does
// not carry pointer-ness, yet it decides the JSON: `replicas: 0` or
// `automountServiceAccountToken: false` are meaningful, `hostPort: 0` is not. Read off
// the `*T` fields with a scalar protobuf tag in the v0.32 types.go files of
// kubernetes/api and kubernetes/apimachinery; the generator checks every entry exists.
const POINTER_SCALARS: Record<string, string> = {
  'api.admissionregistration.v1.MatchResources': 'matchPolicy',
  'api.admissionregistration.v1.MutatingWebhook': 'failurePolicy matchPolicy reinvocationPolicy ' +
    'sideEffects timeoutSeconds',
  'api.admissionregistration.v1.ParamRef': 'parameterNotFoundAction',
  'api.admissionregistration.v1.Rule': 'scope',
  'api.admissionregistration.v1.ServiceReference': 'path port',
  'api.admissionregistration.v1.ValidatingAdmissionPolicySpec': 'failurePolicy',
  'api.admissionregistration.v1.ValidatingWebhook': 'failurePolicy matchPolicy sideEffects ' +
    'timeoutSeconds',
  'api.admissionregistration.v1.Validation': 'reason',
  'api.admissionregistration.v1.WebhookClientConfig': 'url',
  'api.admissionregistration.v1alpha1.MatchResources': 'matchPolicy',
  'api.admissionregistration.v1alpha1.MutatingAdmissionPolicySpec': 'failurePolicy',
  'api.admissionregistration.v1alpha1.ParamRef': 'parameterNotFoundAction',
  'api.admissionregistration.v1beta1.MatchResources': 'matchPolicy',
  'api.admissionregistration.v1beta1.ParamRef': 'parameterNotFoundAction',
  'api.admissionregistration.v1beta1.ValidatingAdmissionPolicySpec': 'failurePolicy',
  'api.admissionregistration.v1beta1.Validation': 'reason',
  'api.apiserverinternal.v1alpha1.StorageVersionStatus': 'commonEncodingVersion',
  'api.apps.v1.DaemonSetSpec': 'revisionHistoryLimit',
  'api.apps.v1.DaemonSetStatus': 'collisionCount',
  'api.apps.v1.DeploymentSpec': 'progressDeadlineSeconds replicas revisionHistoryLimit',
  'api.apps.v1.DeploymentStatus': 'collisionCount',
  'api.apps.v1.ReplicaSetSpec': 'replicas',
  'api.apps.v1.RollingUpdateStatefulSetStrategy': 'partition',
  'api.apps.v1.StatefulSetSpec': 'replicas revisionHistoryLimit',
  'api.apps.v1.StatefulSetStatus': 'collisionCount',
  'api.authentication.v1.TokenRequestSpec': 'expirationSeconds',
  'api.autoscaling.v1.HorizontalPodAutoscalerSpec': 'minReplicas targetCPUUtilizationPercentage',
  'api.autoscaling.v1.HorizontalPodAutoscalerStatus': 'currentCPUUtilizationPercentage ' +
    'observedGeneration',
  'api.autoscaling.v2.HPAScalingRules': 'selectPolicy stabilizationWindowSeconds',
  'api.autoscaling.v2.HorizontalPodAutoscalerSpec': 'minReplicas',
  'api.autoscaling.v2.HorizontalPodAutoscalerStatus': 'observedGeneration',
  'api.autoscaling.v2.MetricTarget': 'averageUtilization',
  'api.autoscaling.v2.MetricValueStatus': 'averageUtilization',
  'api.batch.v1.CronJobSpec': 'failedJobsHistoryLimit startingDeadlineSeconds ' +
    'successfulJobsHistoryLimit suspend timeZone',
  'api.batch.v1.JobSpec': 'activeDeadlineSeconds backoffLimit backoffLimitPerIndex ' +
    'completionMode completions managedBy manualSelector maxFailedIndexes parallelism ' +
    'podReplacementPolicy suspend ttlSecondsAfterFinished',
  'api.batch.v1.JobStatus': 'failedIndexes ready terminating',
  'api.batch.v1.PodFailurePolicyOnExitCodesRequirement': 'containerName',
  'api.batch.v1.SuccessPolicyRule': 'succeededCount succeededIndexes',
  'api.certificates.v1.CertificateSigningRequestSpec': 'expirationSeconds',
  'api.coordination.v1.LeaseSpec': 'holderIdentity leaseDurationSeconds leaseTransitions ' +
    'preferredHolder strategy',
  'api.core.v1.AppArmorProfile': 'localhostProfile',
  'api.core.v1.AzureDiskVolumeSource': 'cachingMode fsType kind readOnly',
  'api.core.v1.AzureFilePersistentVolumeSource': 'secretNamespace',
  'api.core.v1.CSIVolumeSource': 'fsType readOnly',
  'api.core.v1.ClientIPConfig': 'timeoutSeconds',
  'api.core.v1.ClusterTrustBundleProjection': 'name optional signerName',
  'api.core.v1.ConfigMap': 'immutable',
  'api.core.v1.ConfigMapEnvSource': 'optional',
  'api.core.v1.ConfigMapKeySelector': 'optional',
  'api.core.v1.ConfigMapProjection': 'optional',
  'api.core.v1.ConfigMapVolumeSource': 'defaultMode optional',
  'api.core.v1.Container': 'restartPolicy',
  'api.core.v1.ContainerStatus': 'started',
  'api.core.v1.DownwardAPIVolumeFile': 'mode',
  'api.core.v1.DownwardAPIVolumeSource': 'defaultMode',
  'api.core.v1.EndpointAddress': 'nodeName',
  'api.core.v1.EndpointPort': 'appProtocol',
  'api.core.v1.EphemeralContainerCommon': 'restartPolicy',
  'api.core.v1.FCVolumeSource': 'lun',
  'api.core.v1.GRPCAction': 'service',
  'api.core.v1.GlusterfsPersistentVolumeSource': 'endpointsNamespace',
  'api.core.v1.HostPathVolumeSource': 'type',
  'api.core.v1.ISCSIPersistentVolumeSource': 'initiatorName',
  'api.core.v1.ISCSIVolumeSource': 'initiatorName',
  'api.core.v1.KeyToPath': 'mode',
  'api.core.v1.LoadBalancerIngress': 'ipMode',
  'api.core.v1.LocalVolumeSource': 'fsType',
  'api.core.v1.NodeFeatures': 'supplementalGroupsPolicy',
  'api.core.v1.NodeRuntimeHandlerFeatures': 'recursiveReadOnlyMounts userNamespaces',
  'api.core.v1.PersistentVolumeClaimSpec': 'storageClassName volumeAttributesClassName ' +
    'volumeMode',
  'api.core.v1.PersistentVolumeClaimStatus': 'currentVolumeAttributesClassName',
  'api.core.v1.PersistentVolumeSpec': 'volumeAttributesClassName volumeMode',
  'api.core.v1.PodDNSConfigOption': 'value',
  'api.core.v1.PodResourceClaim': 'resourceClaimName resourceClaimTemplateName',
  'api.core.v1.PodResourceClaimStatus': 'resourceClaimName',
  'api.core.v1.PodSecurityContext': 'fsGroup fsGroupChangePolicy runAsGroup runAsNonRoot ' +
    'runAsUser seLinuxChangePolicy supplementalGroupsPolicy',
  'api.core.v1.PodSpec': 'activeDeadlineSeconds automountServiceAccountToken enableServiceLinks ' +
    'hostUsers preemptionPolicy priority runtimeClassName setHostnameAsFQDN ' +
    'shareProcessNamespace terminationGracePeriodSeconds',
  'api.core.v1.PortStatus': 'error',
  'api.core.v1.Probe': 'terminationGracePeriodSeconds',
  'api.core.v1.ProjectedVolumeSource': 'defaultMode',
  'api.core.v1.ReplicationControllerSpec': 'replicas',
  'api.core.v1.SeccompProfile': 'localhostProfile',
  'api.core.v1.Secret': 'immutable',
  'api.core.v1.SecretEnvSource': 'optional',
  'api.core.v1.SecretKeySelector': 'optional',
  'api.core.v1.SecretProjection': 'optional',
  'api.core.v1.SecretVolumeSource': 'defaultMode optional',
  'api.core.v1.SecurityContext': 'allowPrivilegeEscalation privileged procMount ' +
    'readOnlyRootFilesystem runAsGroup runAsNonRoot runAsUser',
  'api.core.v1.ServiceAccount': 'automountServiceAccountToken',
  'api.core.v1.ServiceAccountTokenProjection': 'expirationSeconds',
  'api.core.v1.ServicePort': 'appProtocol',
  'api.core.v1.ServiceSpec': 'allocateLoadBalancerNodePorts internalTrafficPolicy ipFamilyPolicy ' +
    'loadBalancerClass trafficDistribution',
  'api.core.v1.Toleration': 'tolerationSeconds',
  'api.core.v1.TopologySpreadConstraint': 'minDomains nodeAffinityPolicy nodeTaintsPolicy',
  'api.core.v1.TypedLocalObjectReference': 'apiGroup',
  'api.core.v1.TypedObjectReference': 'apiGroup namespace',
  'api.core.v1.VolumeMount': 'mountPropagation recursiveReadOnly',
  'api.core.v1.VolumeMountStatus': 'recursiveReadOnly',
  'api.core.v1.WindowsSecurityContextOptions': 'gmsaCredentialSpec gmsaCredentialSpecName ' +
    'hostProcess runAsUserName',
  'api.discovery.v1.Endpoint': 'hostname nodeName zone',
  'api.discovery.v1.EndpointConditions': 'ready serving terminating',
  'api.discovery.v1.EndpointPort': 'appProtocol name port protocol',
  'api.flowcontrol.v1.ExemptPriorityLevelConfiguration': 'lendablePercent ' +
    'nominalConcurrencyShares',
  'api.flowcontrol.v1.LimitedPriorityLevelConfiguration': 'borrowingLimitPercent lendablePercent ' +
    'nominalConcurrencyShares',
  'api.networking.v1.HTTPIngressPath': 'pathType',
  'api.networking.v1.IngressClassParametersReference': 'aPIGroup namespace scope',
  'api.networking.v1.IngressPortStatus': 'error',
  'api.networking.v1.IngressSpec': 'ingressClassName',
  'api.networking.v1.NetworkPolicyPort': 'endPort protocol',
  'api.policy.v1.PodDisruptionBudgetSpec': 'unhealthyPodEvictionPolicy',
  'api.resource.v1alpha3.DeviceAttribute': 'bool int string version',
  'api.resource.v1alpha3.DeviceConstraint': 'matchAttribute',
  'api.resource.v1alpha3.DeviceRequest': 'adminAccess',
  'api.resource.v1alpha3.DeviceRequestAllocationResult': 'adminAccess',
  'api.resource.v1beta1.DeviceAttribute': 'bool int string version',
  'api.resource.v1beta1.DeviceConstraint': 'matchAttribute',
  'api.resource.v1beta1.DeviceRequest': 'adminAccess',
  'api.resource.v1beta1.DeviceRequestAllocationResult': 'adminAccess',
  'api.scheduling.v1.PriorityClass': 'preemptionPolicy',
  'api.storage.v1.CSIDriverSpec': 'attachRequired fsGroupPolicy podInfoOnMount requiresRepublish ' +
    'seLinuxMount storageCapacity',
  'api.storage.v1.StorageClass': 'allowVolumeExpansion reclaimPolicy volumeBindingMode',
  'api.storage.v1.TokenRequest': 'expirationSeconds',
  'api.storage.v1.VolumeAttachmentSource': 'persistentVolumeName',
  'api.storage.v1.VolumeNodeResources': 'count',
  'apimachinery.pkg.apis.meta.v1.DeleteOptions': 'gracePeriodSeconds ' +
    'ignoreStoreReadErrorWithClusterBreakingPotential orphanDependents propagationPolicy',
  'apimachinery.pkg.apis.meta.v1.ListMeta': 'remainingItemCount',
  'apimachinery.pkg.apis.meta.v1.ObjectMeta': 'deletionGracePeriodSeconds',
  'apimachinery.pkg.apis.meta.v1.OwnerReference': 'blockOwnerDeletion controller',
  'apimachinery.pkg.apis.meta.v1.Preconditions': 'resourceVersion uid',
};

// Where the schema's `required` list disagrees with the Go json tags (same source as
// above): scalars Go always writes though the schema calls them optional, and required
// ones that are nevertheless `omitempty`.
const ALWAYS_EMITTED: Record<string, string> = {
  'api.apps.v1.StatefulSetOrdinals': 'start',
  'api.apps.v1.StatefulSetStatus': 'availableReplicas',
  'api.core.v1.Event': 'reportingComponent reportingInstance',
  'api.core.v1.NodeRuntimeHandler': 'name',
  'api.flowcontrol.v1.FlowSchemaSpec': 'matchingPrecedence',
  'api.flowcontrol.v1.QueuingConfiguration': 'handSize queueLengthLimit queues',
};
const OMITTED_WHEN_ZERO: Record<string, string> = {
  'api.apiserverinternal.v1alpha1.StorageVersionCondition': 'message',
  'api.coordination.v1alpha2.LeaseCandidateSpec': 'strategy',
  'api.networking.v1beta1.ParentReference': 'name resource',
};

const SCALARS = new Set(['int32', 'int64', 'uint32', 'uint64', 'bool', 'string', 'bytes', 'double']);
const META = 'k8s.io.apimachinery.pkg.apis.meta.v1';
const UNKNOWN = 'k8s.io.apimachinery.pkg.runtime.Unknown';

// Messages with a custom JSON form, and the field layout the decoder relies on.
const FORMATS: Record<string, { format: string; fields: Record<string, [number, string]> }> = {
  [`${META}.Time`]: { format: 'Time', fields: { seconds: [1, 'int64'], nanos: [2, 'int32'] } },
  [`${META}.MicroTime`]: { format: 'MicroTime', fields: { seconds: [1, 'int64'], nanos: [2, 'int32'] } },
  [`${META}.Duration`]: { format: 'Duration', fields: { duration: [1, 'int64'] } },
  [`${META}.FieldsV1`]: { format: 'FieldsV1', fields: { Raw: [1, 'bytes'] } },
  'k8s.io.apimachinery.pkg.runtime.RawExtension': { format: 'RawExtension', fields: { raw: [1, 'bytes'] } },
  'k8s.io.apimachinery.pkg.api.resource.Quantity': { format: 'Quantity', fields: { string: [1, 'string'] } },
  'k8s.io.apimachinery.pkg.util.intstr.IntOrString': {
    format: 'IntOrString',
    fields: { type: [1, 'int64'], intVal: [2, 'int32'], strVal: [3, 'string'] },
  },
};

interface InField {
  type: string;
  id: number;
  rule?: string;
  keyType?: string;
}
interface InMessage {
  fields: Record<string, InField>;
}
interface OpenAPIDefinition {
  properties?: Record<string, unknown>;
  required?: string[];
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
}
interface OutField {
  type: string;
  id: number;
  rule?: string;
  keyType?: string;
  json?: string;
  inline?: true;
  keepZero?: true;
}
interface OutMessage {
  edition: 'proto2';
  format?: string;
  fields: Record<string, OutField>;
}
/** The schema view of a message: its JSON property names and the required ones. */
interface JsonScope {
  props: Set<string>;
  required: Set<string>;
}

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const referenceDir = path.resolve(process.argv[2] ?? path.join(repoRoot, '..', 'shared', 'k8s-reference'));
const outFile = path.join(repoRoot, 'src', 'api', 'generated', 'proto-descriptors.json');

function fail(message: string): never {
  throw new Error(`generate-proto: ${message}`);
}

const protoRoot = JSON.parse(readFileSync(path.join(referenceDir, 'proto', 'k8s-api-1.32.json'), 'utf8'));
const definitions: Record<string, OpenAPIDefinition> = JSON.parse(
  readFileSync(path.join(referenceDir, 'openapi-v2-1.32.json'), 'utf8'),
).definitions;

// Every message by full name (k8s.io.api.core.v1.Pod).
const messages = new Map<string, InMessage>();
(function collect(node: { nested?: Record<string, any> }, prefix: string): void {
  for (const [name, child] of Object.entries(node.nested ?? {})) {
    const full = prefix ? `${prefix}.${name}` : name;
    if (child.values) fail(`enum ${full} is not supported by the decoder`);
    if (child.fields) messages.set(full, child as InMessage);
    collect(child, full);
  }
})(protoRoot, '');

function scopeOf(fullName: string): string {
  return fullName.slice(0, fullName.lastIndexOf('.'));
}

/** Protobuf name resolution: absolute (`.a.b.C`) or relative to the enclosing scopes. */
function resolveType(type: string, from: string): string {
  if (SCALARS.has(type)) return type;
  if (type.startsWith('.')) {
    if (!messages.has(type.slice(1))) fail(`${from}: unknown type ${type}`);
    return type.slice(1);
  }
  for (let scope = scopeOf(from); scope; scope = scope.includes('.') ? scopeOf(scope) : '') {
    if (messages.has(`${scope}.${type}`)) return `${scope}.${type}`;
  }
  if (messages.has(type)) return type;
  return fail(`${from}: cannot resolve type ${type} (scalar types supported: ${[...SCALARS].join(', ')})`);
}

function definitionOf(message: string): OpenAPIDefinition | undefined {
  return definitions[message.replace(/^k8s\.io\./, 'io.k8s.')];
}

// Kinds from the schema's group-version-kind lists. meta/v1 kinds (DeleteOptions is
// registered in every group version) are accepted under any apiVersion instead.
const kinds: Record<string, string> = {};
const metaKinds: Record<string, string> = {};
for (const name of Object.keys(definitions).sort()) {
  const gvks = definitions[name]['x-kubernetes-group-version-kind'];
  const message = name.replace(/^io\.k8s\./, 'k8s.io.');
  if (!gvks || !messages.has(message)) continue;
  for (const { group, version, kind } of gvks) {
    if (message === `${META}.${kind}`) metaKinds[kind] = message;
    else kinds[`${group ? `${group}/` : ''}${version}/${kind}`] = message;
  }
}
if (!kinds['v1/Namespace'] || !kinds['apps/v1/Deployment'] || !metaKinds.DeleteOptions) {
  fail('the schema lost core kinds; is the reference directory right?');
}

// Emit what a body can reach: the kinds, their field types, and the envelope.
const reachable = new Set<string>();
const queue = [...Object.values(kinds), ...Object.values(metaKinds), UNKNOWN];
while (queue.length > 0) {
  const name = queue.pop() as string;
  if (reachable.has(name)) continue;
  reachable.add(name);
  for (const field of Object.values(messages.get(name)!.fields)) {
    const type = resolveType(field.type, name);
    if (!SCALARS.has(type)) queue.push(type);
  }
}

/** Reads one of the field tables above into message -> field names, checking each entry. */
function fieldTable(table: Record<string, string>, label: string): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const [relative, list] of Object.entries(table)) {
    const message = `k8s.io.${relative}`;
    const fields = messages.get(message)?.fields ?? fail(`${label}: no message ${message}`);
    if (!reachable.has(message)) fail(`${label}: ${message} cannot appear in a body; drop it`);
    const names = new Set(list.split(' ').filter(Boolean));
    for (const name of names) {
      const field = fields[name] ?? fail(`${label}: ${message} has no field ${name}`);
      if (!SCALARS.has(field.type) || field.rule === 'repeated' || field.keyType) {
        fail(`${label}: ${message}.${name} is not a singular scalar`);
      }
    }
    result.set(message, names);
  }
  return result;
}
const pointerScalars = fieldTable(POINTER_SCALARS, 'POINTER_SCALARS');
const alwaysEmitted = fieldTable(ALWAYS_EMITTED, 'ALWAYS_EMITTED');
const omittedWhenZero = fieldTable(OMITTED_WHEN_ZERO, 'OMITTED_WHEN_ZERO');

/** A message made only of `repeated string items = 1`: a Go named slice (ExtraValue, Verbs). */
function isStringList(name: string, message: InMessage): boolean {
  const entries = Object.entries(message.fields);
  return entries.length === 1 && entries[0][0] === 'items' && entries[0][1].rule === 'repeated' &&
    entries[0][1].type === 'string' && !definitionOf(name);
}

const out = new Map<string, OutMessage>();
const scopeUsed = new Map<string, JsonScope | undefined>();
const report = { renamed: [] as string[], inline: [] as string[], unverified: [] as string[] };

/**
 * Annotates `name` against the JSON names it must produce: its own schema definition,
 * or, for a type that has none and is embedded inline (VolumeSource, ProbeHandler), the
 * definition of the message embedding it.
 */
function annotate(name: string, inherited?: JsonScope): void {
  const message = messages.get(name)!;
  const special = FORMATS[name];
  if (special) {
    if (out.has(name)) return;
    for (const [field, [id, type]] of Object.entries(special.fields)) {
      const got = message.fields[field];
      if (!got || got.id !== id || got.type !== type) fail(`${name}.${field} is not ${type} = ${id}`);
    }
    out.set(name, { edition: 'proto2', format: special.format, fields: plainFields(name, message) });
    return;
  }
  if (isStringList(name, message)) {
    out.set(name, { edition: 'proto2', format: 'StringList', fields: plainFields(name, message) });
    return;
  }
  const definition = definitionOf(name);
  const scope: JsonScope | undefined = definition
    ? {
      props: new Set(Object.keys(definition.properties ?? {})),
      required: new Set(definition.required ?? []),
    }
    : inherited;
  // Done already, unless it was done without a schema and one is offered now.
  if (out.has(name) && (scopeUsed.get(name) !== undefined || scope === undefined)) return;
  scopeUsed.set(name, scope);

  const none = new Set<string>();
  const pointers = pointerScalars.get(name) ?? none;
  const always = alwaysEmitted.get(name) ?? none;
  const omitted = omittedWhenZero.get(name) ?? none;
  const fields: Record<string, OutField> = {};
  for (const [fieldName, field] of sortedFields(message)) {
    const type = resolveType(field.type, name);
    const o = outField(field, type);
    const singular = !field.rule && !field.keyType;
    let json = fieldName;
    if (scope && !scope.props.has(fieldName)) {
      const renamed = caseInsensitive(scope, fieldName);
      if (renamed) {
        json = renamed;
        o.json = renamed;
        report.renamed.push(`${name}.${fieldName} -> ${renamed}`);
      } else if (!SCALARS.has(type) && singular && fitsInline(type, scope)) {
        o.inline = true;
        report.inline.push(`${name}.${fieldName}`);
      } else {
        fail(`${name}.${fieldName} matches no property of its schema definition`);
      }
    } else if (!scope) {
      report.unverified.push(`${name}.${fieldName}`);
    }
    const required = (scope?.required.has(json) && !omitted.has(fieldName)) || always.has(fieldName);
    if (SCALARS.has(type) && singular && (pointers.has(fieldName) || required)) o.keepZero = true;
    fields[fieldName] = o;
  }
  out.set(name, { edition: 'proto2', fields });

  // After registering, so recursive types terminate.
  for (const [fieldName, field] of Object.entries(fields)) {
    if (SCALARS.has(field.type)) continue;
    annotate(field.type.slice(1), field.inline ? scope : undefined);
  }
  if (definition) {
    const covered = jsonNames(name);
    for (const prop of scope!.props) {
      if (prop !== 'kind' && prop !== 'apiVersion' && !covered.has(prop)) {
        fail(`${name}: schema property ${prop} has no protobuf field`);
      }
    }
  }
}

function caseInsensitive(scope: JsonScope, fieldName: string): string | undefined {
  const lower = fieldName.toLowerCase();
  return [...scope.props].find((p) => p.toLowerCase() === lower);
}

function fitsInline(type: string, scope: JsonScope): boolean {
  const names = flatNames(type, scope);
  return names.size > 0 && [...names].every((n) => scope.props.has(n));
}

/** JSON names of `type` if embedded inline into `scope`, before it is annotated. */
function flatNames(type: string, scope: JsonScope): Set<string> {
  const names = new Set<string>();
  for (const [fieldName, field] of Object.entries(messages.get(type)!.fields)) {
    const resolved = resolveType(field.type, type);
    const embeddable = !SCALARS.has(resolved) && !field.rule && !field.keyType && !definitionOf(resolved);
    if (scope.props.has(fieldName)) names.add(fieldName);
    else if (embeddable) for (const n of flatNames(resolved, scope)) names.add(n);
    else names.add(caseInsensitive(scope, fieldName) ?? fieldName);
  }
  return names;
}

/** JSON names an annotated message produces, inline fields flattened. */
function jsonNames(name: string): Set<string> {
  const names = new Set<string>();
  for (const [fieldName, field] of Object.entries(out.get(name)!.fields)) {
    if (field.inline) for (const n of jsonNames(field.type.slice(1))) names.add(n);
    else names.add(field.json ?? fieldName);
  }
  return names;
}

function sortedFields(message: InMessage): [string, InField][] {
  return Object.entries(message.fields).sort((a, b) => a[1].id - b[1].id);
}

function outField(field: InField, type: string): OutField {
  const o: OutField = { type: SCALARS.has(type) ? type : `.${type}`, id: field.id };
  if (field.rule) o.rule = field.rule;
  if (field.keyType) {
    if (field.keyType !== 'string') fail(`map key type ${field.keyType} is not supported`);
    o.keyType = field.keyType;
  }
  return o;
}

function plainFields(name: string, message: InMessage): Record<string, OutField> {
  const fields: Record<string, OutField> = {};
  for (const [fieldName, field] of sortedFields(message)) {
    fields[fieldName] = outField(field, resolveType(field.type, name));
  }
  return fields;
}

for (const name of [...reachable].sort()) annotate(name);
if (out.size !== reachable.size) fail(`annotated ${out.size} messages of ${reachable.size}`);

// The envelope, whose layout the decoder reads directly.
const envelope = out.get(UNKNOWN)!.fields;
const typeMeta = out.get('k8s.io.apimachinery.pkg.runtime.TypeMeta')?.fields;
if (envelope.typeMeta?.id !== 1 || envelope.raw?.id !== 2 || envelope.contentEncoding?.id !== 3 ||
  envelope.contentType?.id !== 4 || typeMeta?.apiVersion?.id !== 1 || typeMeta?.kind?.id !== 2) {
  fail('runtime.Unknown no longer has the layout {1: typeMeta{1: apiVersion, 2: kind}, 2: raw, 3, 4}');
}

// protobufjs layout: packages as nested namespaces, messages inside, one message a line.
interface Namespace {
  nested: Record<string, Namespace | OutMessage>;
}
const tree: Namespace = { nested: {} };
for (const name of [...out.keys()].sort()) {
  const parts = name.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) node = (node.nested[part] ??= { nested: {} }) as Namespace;
  node.nested[parts[parts.length - 1]] = out.get(name)!;
}

function serializeNested(nested: Namespace['nested'], indent: string): string {
  const inner = `${indent}  `;
  const entries = Object.entries(nested).map(([key, child]) =>
    'fields' in child
      ? `${inner}${JSON.stringify(key)}: ${JSON.stringify(child)}`
      : `${inner}${JSON.stringify(key)}: {\n${inner}  "nested": ${serializeNested(child.nested, `${inner}  `)}\n${inner}}`,
  );
  return `{\n${entries.join(',\n')}\n${indent}}`;
}

function serializeMap(map: Record<string, string>): string {
  const keys = Object.keys(map).sort();
  return `{\n${keys.map((k) => `    ${JSON.stringify(k)}: ${JSON.stringify(map[k])}`).join(',\n')}\n  }`;
}

const text = `{
  "comment": "Generated by scripts/generate-proto.ts from k8s-reference proto/k8s-api-1.32.json and openapi-v2-1.32.json. Do not edit.",
  "kinds": ${serializeMap(kinds)},
  "metaKinds": ${serializeMap(metaKinds)},
  "nested": ${serializeNested(tree.nested, '  ')}
}
`;
JSON.parse(text); // the hand-rolled layout must stay valid JSON
mkdirSync(path.dirname(outFile), { recursive: true });
writeFileSync(outFile, text);

const keepZero = [...out.values()].reduce(
  (n, m) => n + Object.values(m.fields).filter((f) => f.keepZero).length, 0);
console.log(`${path.relative(repoRoot, outFile)}: ${out.size} messages, ` +
  `${Object.keys(kinds).length} kinds, ${Object.keys(metaKinds).length} meta kinds, ` +
  `${report.renamed.length} renamed fields, ${report.inline.length} inline fields, ` +
  `${keepZero} keep-zero fields, ${text.length} bytes`);
if (process.env.GENERATE_PROTO_VERBOSE) {
  console.log(`renamed:\n  ${report.renamed.join('\n  ')}`);
  console.log(`inline:\n  ${report.inline.join('\n  ')}`);
  console.log(`not checked against the schema (no definition):\n  ${report.unverified.join('\n  ')}`);
}
