// Strategic-merge metadata per field, compiled from the OpenAPI v2 definitions: what
// apimachinery reads from Go struct tags (`patchStrategy`, `patchMergeKey`) on the server,
// published as `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`.
//
// A definition is compiled into a PatchNode the first time a patch reaches it, following
// $refs lazily (so recursive types such as JSONSchemaProps are fine); after that a lookup
// is one Map.get.

export interface PatchField {
  /** Schema of the value; for a list, of its items. */
  readonly node: PatchNode;
  readonly list: boolean;
  /** `merge`, `retainKeys`, `replace`, or a pair such as `merge,retainKeys` split at the comma. */
  readonly strategies: readonly string[];
  readonly mergeKey: string;
}

/**
 * struct: a definition with properties (unknown keys have no field);
 * map: additionalProperties, every key has the same value schema;
 * free: anything goes and merges as a plain map (RawExtension, JSON, primitives).
 */
export type NodeKind = 'struct' | 'map' | 'free';

export class PatchNode {
  readonly kind: NodeKind;
  /** The Go type's name, for upstream's error texts (`PodSpec`). */
  readonly name: string;
  #build: (() => Map<string, PatchField>) | undefined;
  #fields: Map<string, PatchField> | undefined;
  #folded: Map<string, PatchField> | undefined;
  #buildValue: (() => PatchField) | undefined;
  #value: PatchField | undefined;

  /** `build` lists a struct's fields; `value` gives a map's value schema. Both run once, on first lookup. */
  constructor(kind: NodeKind, name: string, build?: () => Map<string, PatchField>, value?: () => PatchField) {
    this.kind = kind;
    this.name = name;
    this.#build = build;
    this.#buildValue = value;
  }

  /**
   * The field `key` of a struct, matched as encoding/json matches (exact, then
   * case-insensitive); undefined when the struct has no such field. For maps, the value
   * schema; for free nodes, a free field.
   */
  field(key: string): PatchField | undefined {
    if (this.kind === 'free') return FREE_FIELD;
    if (this.kind === 'map') {
      this.#value ??= this.#buildValue!();
      return this.#value;
    }
    if (!this.#fields) {
      this.#fields = this.#build!();
      this.#build = undefined;
    }
    const f = this.#fields.get(key);
    if (f) return f;
    if (!this.#folded) {
      this.#folded = new Map();
      for (const [k, v] of this.#fields) if (!this.#folded.has(k.toLowerCase())) this.#folded.set(k.toLowerCase(), v);
    }
    return this.#folded.get(key.toLowerCase());
  }
}

export const FREE = new PatchNode('free', '');
export const FREE_FIELD: PatchField = { node: FREE, list: false, strategies: [], mergeKey: '' };
export const FREE_LIST: PatchField = { node: FREE, list: true, strategies: [], mergeKey: '' };

type Schema = Record<string, any>;

/** Compiles definitions on demand; one instance per definitions object. */
export class PatchSchema {
  readonly #definitions: Record<string, Schema>;
  readonly #nodes = new Map<string, PatchNode>();

  constructor(definitions: Record<string, Schema>) {
    this.#definitions = definitions;
  }

  /** The node of a definition (`io.k8s.api.apps.v1.Deployment`), or undefined if there is none. */
  definition(name: string): PatchNode | undefined {
    let node = this.#nodes.get(name);
    if (node) return node;
    if (!Object.hasOwn(this.#definitions, name)) return undefined;
    node = this.#fromSchema(this.#definitions[name], name.slice(name.lastIndexOf('.') + 1));
    this.#nodes.set(name, node);
    return node;
  }

  #fromSchema(s: Schema, name: string): PatchNode {
    if (typeof s.$ref === 'string') return this.#ref(s.$ref);
    if (s.properties && typeof s.properties === 'object') {
      const props = s.properties as Record<string, Schema>;
      return new PatchNode('struct', name, () => {
        const fields = new Map<string, PatchField>();
        for (const [k, p] of Object.entries(props)) fields.set(k, this.#field(p));
        return fields;
      });
    }
    if (s.additionalProperties && typeof s.additionalProperties === 'object') {
      const value = s.additionalProperties as Schema;
      return new PatchNode('map', name, undefined, () => this.#field(value));
    }
    return s.type === undefined || s.type === 'object' ? new PatchNode('free', name) : FREE;
  }

  #ref(ref: string): PatchNode {
    const name = ref.startsWith('#/definitions/') ? ref.slice('#/definitions/'.length) : ref;
    return this.definition(name) ?? FREE;
  }

  #field(p: Schema): PatchField {
    const strategy = p['x-kubernetes-patch-strategy'];
    const strategies = typeof strategy === 'string' && strategy ? strategy.split(',') : [];
    const mergeKey = typeof p['x-kubernetes-patch-merge-key'] === 'string' ? p['x-kubernetes-patch-merge-key'] : '';
    if (p.type === 'array') {
      const items = p.items && typeof p.items === 'object' ? (p.items as Schema) : {};
      return { node: this.#fromSchema(items, ''), list: true, strategies, mergeKey };
    }
    return { node: this.#fromSchema(p, ''), list: false, strategies, mergeKey };
  }
}
