// resource.Quantity's String(): the canonical form printers show ("1Gi", "500m", "1500M").
// Upstream parses the stored string and, unless it was already canonical (then the
// original text is kept, quirks included), re-renders it: base-10 values as an integer
// mantissa with an SI suffix whose exponent is a multiple of 3, base-2 values as an
// integer with the largest binary suffix that divides them exactly.

type Format = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

const DECIMAL_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const MAX_INT64 = (1n << 63n) - 1n;

function interpretSuffix(s: string): { base: 10 | 2; exponent: number; format: Format } | undefined {
  if (s in DECIMAL_SUFFIXES) return { base: 10, exponent: DECIMAL_SUFFIXES[s], format: 'DecimalSI' };
  if (s in BINARY_SUFFIXES) return { base: 2, exponent: BINARY_SUFFIXES[s], format: 'BinarySI' };
  if (s.length > 1 && (s[0] === 'e' || s[0] === 'E') && /^[+-]?\d+$/.test(s.slice(1))) {
    const exponent = Number(s.slice(1));
    if (Number.isSafeInteger(exponent)) return { base: 10, exponent, format: 'DecimalExponent' };
  }
  return undefined;
}

interface Parsed {
  negative: boolean;
  /** |value| = mantissa * 10^exp10 exactly (after rounding up to nano). */
  mantissa: bigint;
  exp10: number;
  format: Format;
  /** The original text when upstream would keep it as the canonical string. */
  cached?: string;
}

/** resource.ParseQuantity; undefined for text it rejects. */
export function parseQuantity(str: string): Parsed | undefined {
  if (str === '') return undefined;
  if (str === '0') return { negative: false, mantissa: 0n, exp10: 0, format: 'DecimalSI', cached: str };
  const m = /^([+-]?)(\d*)(?:\.(\d*))?([eEinumkKMGTP]*[+-]?\d*)$/.exec(str);
  if (!m) return undefined;
  const [, sign, intPart, frac = '', suffix] = m;
  if (intPart === '' && m[3] === undefined) return undefined;
  const num = intPart.replace(/^0+/, '') || '0';
  const denom = frac;
  const suf = interpretSuffix(suffix);
  if (!suf) return undefined;
  const negative = sign === '-';

  // Upstream's fast path keeps the original string when it is already canonical.
  let cached: string | undefined;
  const digits = num + denom;
  if (suf.format === 'BinarySI') {
    if (denom === '' && suf.exponent >= 0) {
      const precision = 15 - num.length - Math.trunc((suf.exponent * 3) / 10) - 1;
      const value = BigInt(num);
      if (precision >= 0 && value << BigInt(suf.exponent) <= MAX_INT64 && suf.exponent % 10 === 0 && (value & 7n) !== 0n) {
        cached = str;
      }
    }
  } else if (18 - digits.length >= 0) {
    const scale = suf.exponent - denom.length;
    if (scale >= -9 && scale % 3 === 0 && !digits.endsWith('000') && digits[0] !== '0') cached = str;
  }

  let mantissa = BigInt(digits);
  let exp10 = -denom.length;
  if (suf.base === 10) exp10 += suf.exponent;
  else mantissa <<= BigInt(suf.exponent);
  // Non-zero values are rounded up (away from zero) to a whole number of nano units.
  if (exp10 < -9) {
    const div = 10n ** BigInt(-9 - exp10);
    const q = mantissa / div;
    mantissa = mantissa % div === 0n ? q : q + 1n;
    exp10 = -9;
  }
  let format = suf.format;
  if (format === 'BinarySI' && mantissa !== 0n && compare(mantissa, exp10, 1n) < 0) format = 'DecimalSI';
  return { negative, mantissa, exp10, format, cached };
}

/** Compares mantissa*10^exp10 with an integer. */
function compare(mantissa: bigint, exp10: number, n: bigint): number {
  const lhs = exp10 >= 0 ? mantissa * 10n ** BigInt(exp10) : mantissa;
  const rhs = exp10 >= 0 ? n : n * 10n ** BigInt(-exp10);
  return lhs < rhs ? -1 : lhs > rhs ? 1 : 0;
}

function canonical(q: Parsed): string {
  if (q.mantissa === 0n) return '0';
  let format = q.format;
  let integer: bigint | undefined;
  if (format === 'BinarySI') {
    if (compare(q.mantissa, q.exp10, 1024n) < 0) {
      format = 'DecimalSI';
    } else if (q.exp10 >= 0) {
      integer = q.mantissa * 10n ** BigInt(q.exp10);
    } else {
      const div = 10n ** BigInt(-q.exp10);
      if (q.mantissa % div === 0n) integer = q.mantissa / div;
      else format = 'DecimalSI'; // not a whole number of bytes: don't lose precision
    }
  }
  const sign = q.negative ? '-' : '';
  if (format === 'BinarySI' && integer !== undefined) {
    let times = 0;
    while (integer >= 1024n && integer % 1024n === 0n) {
      integer /= 1024n;
      times++;
    }
    const suffix = Object.entries(BINARY_SUFFIXES).find(([, e]) => e === times * 10)?.[0] ?? '';
    return `${sign}${integer}${suffix}`;
  }
  let mantissa = q.mantissa;
  let exponent = q.exp10;
  while (mantissa >= 10n && mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent++;
  }
  while (exponent % 3 !== 0) {
    mantissa *= 10n;
    exponent--;
  }
  let suffix: string;
  if (format === 'DecimalExponent') suffix = exponent === 0 ? '' : `e${exponent}`;
  else suffix = Object.entries(DECIMAL_SUFFIXES).find(([, e]) => e === exponent)?.[0] ?? '';
  return `${sign}${mantissa}${suffix}`;
}

/**
 * Quantity.String() of a stored quantity (a string, or a number from JSON).
 * An absent quantity is the zero Quantity, "0"; unparseable text is shown as is.
 */
export function quantityString(v: unknown): string {
  if (v === undefined || v === null) return '0';
  const text = typeof v === 'number' ? String(v) : String(v);
  const q = parseQuantity(text);
  if (!q) return text;
  return q.cached ?? canonical(q);
}
