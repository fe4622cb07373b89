// Generates the CRI v1 definitions the kubelet's runtime client uses (src/kubelet/cri/):
//
//   generated/cri-v1.json   protobufjs `Root.fromJSON` descriptor of runtime.v1, field names
//                           in lowerCamelCase (proto3's JSON names; the wire only uses ids)
//   generated/types.ts      a TypeScript interface per message, a string union per enum and
//                           the method table of RuntimeService and ImageService
//
//   node scripts/generate-cri.ts [REFERENCE_DIR]    (default ../shared/k8s-reference)
//
// Input: proto/cri-v1-1.32.json (kubernetes/cri-api at kubernetes-1.32.13). Deterministic:
// the same reference data always gives the same bytes. Skiff never reads the reference at
// run time; the output is committed.
//
// Decoding conventions the types describe (src/kubelet/cri/codec.ts applies them):
// scalars, enums, repeated and map fields are always present in a decoded message (proto3
// defaults); message fields are optional; enums are their value names; 64-bit integers
// are numbers (nanosecond timestamps keep ~0.25 µs precision, far more than the seconds
// Kubernetes reports); bytes are Uint8Array.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface InField {
  type: string;
  id: number;
  rule?: 'repeated';
  keyType?: string;
  options?: Record<string, unknown>;
}
interface InNode {
  fields?: Record<string, InField>;
  values?: Record<string, number>;
  methods?: Record<string, { requestType: string; responseType: string; requestStream?: boolean; responseStream?: boolean }>;
  nested?: Record<string, InNode>;
  options?: Record<string, unknown>;
}

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const referenceDir = path.resolve(process.argv[2] ?? path.join(repoRoot, '..', 'shared', 'k8s-reference'));
const outDir = path.join(repoRoot, 'src', 'kubelet', 'cri', 'generated');
const PACKAGE = 'runtime.v1';

function fail(message: string): never {
  throw new Error(`generate-cri: ${message}`);
}

const input = JSON.parse(readFileSync(path.join(referenceDir, 'proto', 'cri-v1-1.32.json'), 'utf8')) as InNode;
const pkg = input.nested?.runtime?.nested?.v1;
if (!pkg?.nested) fail('no package runtime.v1 in cri-v1-1.32.json');
for (const key of Object.keys(input.nested ?? {})) if (key !== 'runtime') fail(`unexpected top-level package ${key}`);

/** proto3's JSON name: `pod_sandbox_id` -> `podSandboxId`. */
function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

// Every message and enum by its path inside runtime.v1 (`SecurityProfile.ProfileType`).
const messages = new Map<string, InNode>();
const enums = new Map<string, Record<string, number>>();
const services = new Map<string, NonNullable<InNode['methods']>>();
(function collect(nested: Record<string, InNode>, prefix: string): void {
  for (const name of Object.keys(nested).sort()) {
    const node = nested[name];
    const full = prefix ? `${prefix}.${name}` : name;
    if (node.fields) messages.set(full, node);
    else if (node.values) enums.set(full, node.values);
    else if (node.methods) services.set(full, node.methods);
    else if (!node.nested) fail(`${full}: neither message, enum nor service`);
    if (node.nested) collect(node.nested, full);
  }
})(pkg.nested, '');

/** Resolves a type name used inside `scope` the way protobuf does: innermost scope first. */
function resolve(type: string, scope: string): string | undefined {
  const parts = scope.split('.');
  for (let i = parts.length; i >= 0; i--) {
    const candidate = [...parts.slice(0, i), type].join('.');
    if (messages.has(candidate) || enums.has(candidate)) return candidate;
  }
  return undefined;
}

/** The TypeScript name of a message or enum: nesting joined with `_`, as Go's protoc does. */
const tsName = (full: string): string => full.replaceAll('.', '_');

const SCALARS: Record<string, string> = {
  string: 'string', bool: 'boolean', bytes: 'Uint8Array',
  int32: 'number', uint32: 'number', sint32: 'number', fixed32: 'number', sfixed32: 'number',
  int64: 'number', uint64: 'number', sint64: 'number', fixed64: 'number', sfixed64: 'number',
  double: 'number', float: 'number',
};

// ---- descriptor ----------------------------------------------------------------------

function descriptorNode(nested: Record<string, InNode>, scope: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(nested).sort()) {
    const node = nested[name];
    const full = scope ? `${scope}.${name}` : name;
    const o: Record<string, unknown> = {};
    if (node.fields) {
      const fields: Record<string, unknown> = {};
      for (const [fname, f] of Object.entries(node.fields).sort((a, b) => a[1].id - b[1].id)) {
        if (!SCALARS[f.type] && !resolve(f.type, full)) fail(`${full}.${fname}: unknown type ${f.type}`);
        if (f.keyType && f.keyType !== 'string') fail(`${full}.${fname}: map key ${f.keyType} unsupported`);
        const jsonName = camel(fname);
        if (jsonName in fields) fail(`${full}: two fields named ${jsonName}`);
        fields[jsonName] = {
          ...(f.rule ? { rule: f.rule } : {}),
          ...(f.keyType ? { keyType: f.keyType } : {}),
          type: f.type,
          id: f.id,
          ...(f.options ? { options: f.options } : {}),
        };
      }
      o.fields = fields;
    }
    if (node.values) o.values = node.values;
    if (node.methods) {
      const methods: Record<string, unknown> = {};
      for (const [m, d] of Object.entries(node.methods)) {
        if (d.requestStream) fail(`${full}.${m}: client streaming is not supported`);
        for (const t of [d.requestType, d.responseType]) if (!messages.has(t)) fail(`${full}.${m}: unknown message ${t}`);
        methods[m] = {
          requestType: d.requestType,
          responseType: d.responseType,
          ...(d.responseStream ? { responseStream: true } : {}),
        };
      }
      o.methods = methods;
    }
    if (node.nested) o.nested = descriptorNode(node.nested, full);
    out[name] = o;
  }
  return out;
}

const descriptor = {
  comment: 'Generated by scripts/generate-cri.ts from k8s-reference proto/cri-v1-1.32.json (kubernetes/cri-api 1.32). Do not edit.',
  nested: { runtime: { nested: { v1: { nested: descriptorNode(pkg.nested, '') } } } },
};

// ---- types ---------------------------------------------------------------------------

const lines: string[] = [
  '// Generated by scripts/generate-cri.ts from k8s-reference proto/cri-v1-1.32.json',
  '// (kubernetes/cri-api 1.32, package runtime.v1). Do not edit.',
  '//',
  '// Decoded messages: scalars, enums, repeated and map fields always present (proto3',
  '// defaults), message fields optional, enums as value names, 64-bit integers as numbers,',
  '// bytes as Uint8Array. Requests take `Input<T>` (src/kubelet/cri/types.ts): every field',
  '// optional, as on the wire.',
  '',
];

for (const [full, values] of [...enums].sort((a, b) => a[0].localeCompare(b[0]))) {
  const names = Object.entries(values).sort((a, b) => a[1] - b[1]).map(([n]) => `'${n}'`);
  lines.push(`export type ${tsName(full)} = ${names.join(' | ')};`);
}
lines.push('');

function fieldType(f: InField, scope: string): string {
  const base = SCALARS[f.type] ?? tsName(resolve(f.type, scope)!);
  if (f.keyType) return `Record<string, ${base}>`;
  if (f.rule === 'repeated') return `${base}[]`;
  return base;
}

for (const [full, node] of [...messages].sort((a, b) => a[0].localeCompare(b[0]))) {
  const fields = Object.entries(node.fields!).sort((a, b) => a[1].id - b[1].id);
  if (fields.length === 0) {
    lines.push(`export interface ${tsName(full)} {}`, '');
    continue;
  }
  lines.push(`export interface ${tsName(full)} {`);
  for (const [fname, f] of fields) {
    const isMessage = !SCALARS[f.type] && messages.has(resolve(f.type, full)!) && !f.rule && !f.keyType;
    if (f.options?.deprecated) lines.push('  /** @deprecated */');
    lines.push(`  ${camel(fname)}${isMessage ? '?' : ''}: ${fieldType(f, full)};`);
  }
  lines.push('}', '');
}

lines.push(
  '/** Every RPC of the package: service -> method -> request, response, server streaming. */',
  'export interface CriMethods {',
);
for (const [svc, methods] of [...services].sort((a, b) => a[0].localeCompare(b[0]))) {
  lines.push(`  ${svc}: {`);
  for (const m of Object.keys(methods).sort()) {
    const d = methods[m];
    lines.push(`    ${m}: { request: ${tsName(d.requestType)}; response: ${tsName(d.responseType)}; responseStream: ${d.responseStream ? 'true' : 'false'} };`);
  }
  lines.push('  };');
}
lines.push('}', '');
lines.push(`export const CRI_PACKAGE = '${PACKAGE}';`, '');

mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'cri-v1.json'), JSON.stringify(descriptor, null, 1) + '\n');
writeFileSync(path.join(outDir, 'types.ts'), lines.join('\n'));
const methodCount = [...services.values()].reduce((n, m) => n + Object.keys(m).length, 0);
console.log(`src/kubelet/cri/generated: ${messages.size} messages, ${enums.size} enums, ${services.size} services, ${methodCount} methods`);
