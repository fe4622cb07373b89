// Shapes shared by every printer. Kept apart from ../printers.ts so the per-group
// printer files can import them without an import cycle.

import { doc, type DocKey } from './descriptions.ts';

/** meta.k8s.io/v1 TableColumnDefinition. */
export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

/** meta.k8s.io/v1 TableRowCondition. */
export interface TableRowCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/**
 * One resource's server-side printer. `cells` always returns the wide row (every
 * column, priority 1 included): the apiserver prints with Wide=true and kubectl hides
 * priority-1 columns itself unless `-o wide`. `now` is ms since the epoch.
 */
export interface TablePrinter {
  columns: TableColumnDefinition[];
  cells(obj: any, now: number): unknown[];
  /** Row conditions upstream attaches (pods only: Completed for Succeeded/Failed). */
  rowConditions?(obj: any): TableRowCondition[] | undefined;
}

type ColumnType = 'string' | 'integer' | 'number' | 'boolean' | 'date';

/**
 * A column definition, type "string" unless told. `description` is either literal text
 * (upstream's own wording) or a key into the SwaggerDoc table, as upstream's printers
 * mostly reference fields.
 */
export function col(
  name: string,
  description: string,
  opts: { type?: ColumnType; priority?: number; format?: string } = {},
): TableColumnDefinition {
  const text = description in doc ? doc[description as DocKey] : description;
  return { name, type: opts.type ?? 'string', format: opts.format ?? '', description: text, priority: opts.priority ?? 0 };
}

/** The Name column every printer except events starts with. */
export const nameColumn = (opts: { priority?: number } = {}): TableColumnDefinition =>
  col('Name', 'meta/v1.ObjectMeta.name', { format: 'name', ...opts });

export const ageColumn = (): TableColumnDefinition =>
  col('Age', 'meta/v1.ObjectMeta.creationTimestamp');

export const containersColumn = (opts: { priority?: number } = { priority: 1 }): TableColumnDefinition =>
  col('Containers', 'Names of each container in the template.', opts);

export const imagesColumn = (opts: { priority?: number } = { priority: 1 }): TableColumnDefinition =>
  col('Images', 'Images referenced by each container in the template.', opts);
