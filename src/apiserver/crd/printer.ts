// Table printing of custom resources from a CRD version's additionalPrinterColumns,
// as the apiextensions-apiserver does: a Name column, then each column's JSONPath.

import { translateTimestampSince, type TableColumnDefinition, type TablePrinter } from '../../api/printers.ts';
import { isObject } from '../../api/object.ts';

export interface PrinterColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

const NAME_COLUMN: TableColumnDefinition = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description:
    'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
  priority: 0,
};

const DEFAULT_COLUMNS: PrinterColumn[] = [
  {
    name: 'Age',
    type: 'date',
    jsonPath: '.metadata.creationTimestamp',
    description:
      'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata',
  },
];

type Step = { field: string } | { index: number } | { all: true } | { filter: { path: string[]; op: string; value: unknown } };

/** Parses the JSONPath subset CRD columns use: `.a.b`, `[0]`, `[*]`, `[?(@.type=="Ready")]`. */
export function parseJSONPath(expr: string): Step[] {
  let s = expr.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  const steps: Step[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === '.') {
      i++;
      let j = i;
      while (j < s.length && s[j] !== '.' && s[j] !== '[') j++;
      if (j > i) steps.push({ field: s.slice(i, j) });
      i = j;
    } else if (s[i] === '[') {
      const close = s.indexOf(']', i);
      if (close < 0) throw new Error(`unterminated [ in ${expr}`);
      const inner = s.slice(i + 1, close).trim();
      if (inner === '*') steps.push({ all: true });
      else if (/^-?\d+$/.test(inner)) steps.push({ index: Number(inner) });
      else {
        const m = /^\?\(@((?:\.[\w-]+)+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?)|(true|false))\)$/.exec(inner);
        if (!m) throw new Error(`unsupported JSONPath filter ${inner}`);
        const value = m[3] ?? m[4] ?? (m[5] !== undefined ? Number(m[5]) : m[6] === 'true');
        steps.push({ filter: { path: m[1].slice(1).split('.'), op: m[2], value } });
      }
      i = close + 1;
    } else {
      let j = i;
      while (j < s.length && s[j] !== '.' && s[j] !== '[') j++;
      steps.push({ field: s.slice(i, j) });
      i = j;
    }
  }
  return steps;
}

export function evalJSONPath(obj: unknown, steps: Step[]): unknown[] {
  let cur: unknown[] = [obj];
  for (const st of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if ('field' in st) {
        if (isObject(v) && v[st.field] !== undefined) next.push(v[st.field]);
      } else if ('index' in st) {
        if (Array.isArray(v)) {
          const item = v[st.index < 0 ? v.length + st.index : st.index];
          if (item !== undefined) next.push(item);
        }
      } else if ('all' in st) {
        if (Array.isArray(v)) next.push(...v);
        else if (isObject(v)) next.push(...Object.values(v));
      } else if (Array.isArray(v)) {
        for (const item of v) {
          let x: unknown = item;
          for (const p of st.filter.path) x = isObject(x) ? x[p] : undefined;
          const eq = x === st.filter.value;
          if (st.filter.op === '==' ? eq : !eq) next.push(item);
        }
      }
    }
    cur = next;
  }
  return cur;
}

function cellValue(values: unknown[], type: string, now: number): unknown {
  if (values.length === 0) return null;
  if (values.length > 1) return values.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(',');
  const v = values[0];
  switch (type) {
    case 'integer':
      return typeof v === 'number' ? Math.trunc(v) : v;
    case 'date':
      // Shown as an age, as upstream's table convertor does for date columns.
      if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) return '<invalid>';
      return translateTimestampSince(v, now);
    case 'boolean':
    case 'number':
      return v;
    default:
      return typeof v === 'object' && v !== null ? JSON.stringify(v) : v;
  }
}

export function crdPrinter(columns: PrinterColumn[] | undefined): TablePrinter {
  const cols = columns?.length ? columns : DEFAULT_COLUMNS;
  const compiled = cols.map((c) => {
    let steps: Step[] | undefined;
    try {
      steps = parseJSONPath(c.jsonPath);
    } catch {
      steps = undefined;
    }
    return { c, steps };
  });
  return {
    columns: [
      NAME_COLUMN,
      ...cols.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 })),
    ],
    cells(obj: any, now: number) {
      return [obj.metadata?.name ?? '', ...compiled.map(({ c, steps }) => (steps ? cellValue(evalJSONPath(obj, steps), c.type, now) : null))];
    },
  };
}
