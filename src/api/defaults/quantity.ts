// Quantities as a decode/encode round trip leaves them. Every resource.Quantity is written
// back in its canonical form (printers/quantity.ts has the rules: "1.5Gi" → "1536Mi",
// 0.5 → "500m", numbers become strings), and SetDefaults_ResourceList first rounds each
// value of a ResourceList up to a whole number of milli-units ("100u" → "1m").

import { parseQuantity, quantityString } from '../printers/quantity.ts';
import { isObj, type Obj } from './util.ts';

/** Quantity.MarshalJSON of a decoded value; text that does not parse is left alone (validation reports it). */
export function canonicalQuantity(v: unknown): unknown {
  if (typeof v !== 'string' && typeof v !== 'number') return v;
  if (!parseQuantity(String(v))) return v;
  return quantityString(v);
}

/** A quantity rounded up to milli scale (Quantity.RoundUp(-3)), then canonical. */
export function roundedQuantity(v: unknown): unknown {
  if (typeof v !== 'string' && typeof v !== 'number') return v;
  const q = parseQuantity(String(v));
  if (!q) return v;
  // Finer than milli only when the literal had more than three decimal places of its unit.
  if (q.exp10 >= -3 || q.mantissa === 0n) return quantityString(v);
  const div = 10n ** BigInt(-3 - q.exp10);
  const milli = q.mantissa / div + (q.mantissa % div === 0n ? 0n : 1n);
  const sign = q.negative ? '-' : '';
  if (q.format === 'DecimalExponent') return quantityString(`${sign}${milli}e-3`);
  if (q.format === 'BinarySI' && milli % 1000n === 0n && milli / 1000n >= 1024n) {
    // A whole number of bytes keeps its binary form: 1024·k → "kKi"-style, otherwise plain.
    const bytes = milli / 1000n;
    return bytes % 1024n === 0n ? quantityString(`${sign}${bytes / 1024n}Ki`) : `${sign}${bytes}`;
  }
  return quantityString(`${sign}${milli}m`);
}

/** SetDefaults_ResourceList on `o[key]`; an empty list is dropped, as `omitempty` writes it. */
export function defaultResourceList(o: Obj | undefined, key: string): void {
  if (!o) return;
  const list = o[key];
  if (list === null || (isObj(list) && Object.keys(list).length === 0)) {
    delete o[key];
    return;
  }
  if (!isObj(list)) return;
  for (const name of Object.keys(list)) list[name] = roundedQuantity(list[name]);
}

/** A single Quantity field (not a ResourceList), canonical on the way out. */
export function canonicalQuantityField(o: Obj | undefined, key: string): void {
  if (o && o[key] !== undefined && o[key] !== null) o[key] = canonicalQuantity(o[key]);
}
