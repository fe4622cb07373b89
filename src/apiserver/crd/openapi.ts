// OpenAPI v3 for custom resources: each served version's openAPIV3Schema as a
// component named like upstream's (reversed group, version, kind), with the
// apiVersion/kind/metadata properties and the x-kubernetes-group-version-kind that
// kubectl explain and strict apply look for.

import type { ResourceInfo } from '../../api/resources.ts';
import type { ServedGroupVersion } from '../openapi.ts';
import type { Schema } from './structural.ts';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';

const API_VERSION_DOC =
  'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources';
const KIND_DOC =
  'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds';

/** com.example.stable for stable.example.com, as upstream names CRD schemas. */
export function schemaName(info: { group: string; version: string; kind: string }): string {
  return `${info.group.split('.').reverse().join('.')}.${info.version}.${info.kind}`;
}

export function customOpenAPI(served: { info: ResourceInfo; schema: Schema | undefined }[]): ServedGroupVersion[] {
  const byGV = new Map<string, ServedGroupVersion & { custom: NonNullable<ServedGroupVersion['custom']> }>();
  for (const { info, schema } of served) {
    const key = `${info.group}/${info.version}`;
    let gv = byGV.get(key);
    if (!gv) byGV.set(key, (gv = { group: info.group, version: info.version, resources: [], custom: { definitions: {}, kinds: {} } }));
    gv.resources.push({ plural: info.plural, kind: info.kind, namespaced: info.namespaced, verbs: info.verbs, subresources: info.subresources });
    const name = schemaName(info);
    const base: Schema = structuredClone(schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
    base.properties = {
      ...(base.properties ?? {}),
      apiVersion: { description: API_VERSION_DOC, type: 'string' },
      kind: { description: KIND_DOC, type: 'string' },
      metadata: { allOf: [{ $ref: `#/components/schemas/${META}ObjectMeta` }], description: "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata" },
    };
    base.type ??= 'object';
    base['x-kubernetes-group-version-kind'] = [{ group: info.group, kind: info.kind, version: info.version }];
    gv.custom.definitions[name] = base;
    gv.custom.kinds[info.kind] = name;
    gv.custom.definitions[`${name}List`] = {
      description: `${info.kind}List is a list of ${info.kind}`,
      properties: {
        apiVersion: { description: API_VERSION_DOC, type: 'string' },
        items: { description: `List of ${info.plural}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md`, items: { $ref: `#/components/schemas/${name}` }, type: 'array' },
        kind: { description: KIND_DOC, type: 'string' },
        metadata: { allOf: [{ $ref: `#/components/schemas/${META}ListMeta` }], description: 'Standard list metadata.' },
      },
      required: ['items'],
      type: 'object',
      'x-kubernetes-group-version-kind': [{ group: info.group, kind: `${info.kind}List`, version: info.version }],
    };
    gv.custom.kinds[`${info.kind}List`] = `${name}List`;
  }
  return [...byGV.values()];
}
