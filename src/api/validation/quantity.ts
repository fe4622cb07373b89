// resource.Quantity as apimachinery parses, compares and prints it (1.32).
//
// Parsing follows ParseQuantity step by step, including its two representations: the
// "fast path" int64Amount (value × 10^scale, with the original string cached when it is
// already canonical) and the inf.Dec "slow path" (rounded up to nano precision). The
// representation matters because upstream prints some quantities with %#v, which shows
// those internals. Arithmetic here is exact (BigInt), so comparisons match upstream.

export type QuantityFormat = 'DecimalExponent' | 'BinarySI' | 'DecimalSI';

/** The three errors ParseQuantity returns; they reach users inside a 400 decode error. */
export const ERR_FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
export const ERR_NUMERIC = 'unable to parse numeric part of quantity';
export const ERR_SUFFIX = "unable to parse quantity's suffix";

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const NANO = -9;

export class Quantity {
  /** The exact value is mantissa × 10^exponent. */
  readonly mantissa: bigint;
  readonly exponent: number;
  readonly format: QuantityFormat;
  /** The cached string (upstream's `s`), "" when none. */
  readonly cached: string;
  /** The int64Amount when parsed on the fast path; undefined for an inf.Dec amount. */
  readonly int64?: { value: bigint; scale: number };

  constructor(init: { mantissa: bigint; exponent: number; format: QuantityFormat; cached?: string; int64?: { value: bigint; scale: number } }) {
    this.mantissa = init.mantissa;
    this.exponent = init.exponent;
    this.format = init.format;
    this.cached = init.cached ?? '';
    this.int64 = init.int64;
  }

  sign(): number {
    return this.mantissa > 0n ? 1 : this.mantissa < 0n ? -1 : 0;
  }

  isZero(): boolean {
    return this.mantissa === 0n;
  }

  cmp(o: Quantity): number {
    const e = Math.min(this.exponent, o.exponent);
    const a = this.mantissa * 10n ** BigInt(this.exponent - e);
    const b = o.mantissa * 10n ** BigInt(o.exponent - e);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  /** q.Value(): rounded up (away from zero) to an integer. */
  value(): bigint {
    return roundAway(this.mantissa, this.exponent, 0);
  }

  /** q.MilliValue(). */
  milliValue(): bigint {
    return roundAway(this.mantissa, this.exponent, -3);
  }

  /** q.String(): the cached string or the canonical form. */
  toString(): string {
    if (this.cached) return this.cached;
    return canonical(this);
  }

  /**
   * SetDefaults_ResourceList: RoundUp(milli scale). Values already at milli scale or
   * coarser keep their cached string; finer ones are rounded away from zero and lose it.
   */
  roundUpMilli(): Quantity {
    if (this.int64) {
      if (this.int64.scale >= -3) return this;
      const v = roundAway(this.int64.value, this.int64.scale, -3);
      return new Quantity({ mantissa: v, exponent: -3, format: this.format, int64: { value: v, scale: -3 } });
    }
    if (this.exponent >= -3) return new Quantity({ mantissa: this.mantissa, exponent: this.exponent, format: this.format });
    const v = roundAway(this.mantissa, this.exponent, -3);
    return new Quantity({ mantissa: v, exponent: -3, format: this.format });
  }

  /** Go's %#v of a resource.Quantity value (its String() has a pointer receiver). */
  goString(): string {
    const i = this.int64 ?? { value: 0n, scale: 0 };
    const d = this.int64 ? '(*inf.Dec)(nil)' : '(*inf.Dec)(0xc000a1c0a0)';
    return (
      `resource.Quantity{i:resource.int64Amount{value:${i.value}, scale:${i.scale}}, ` +
      `d:resource.infDecAmount{Dec:${d}}, s:${JSON.stringify(this.cached)}, Format:${JSON.stringify(this.format)}}`
    );
  }
}

/** mantissa × 10^exponent at `scale`, rounded away from zero. */
function roundAway(mantissa: bigint, exponent: number, scale: number): bigint {
  if (exponent >= scale) return mantissa * 10n ** BigInt(exponent - scale);
  const div = 10n ** BigInt(scale - exponent);
  const q = mantissa / div;
  if (q * div === mantissa) return q;
  return mantissa > 0n ? q + 1n : q - 1n;
}

interface Parts {
  positive: boolean;
  value: string;
  num: string;
  denom: string;
  suffix: string;
}

/** parseQuantityString: splits sign, numerator, denominator and suffix. */
function parseQuantityString(str: string): Parts | string {
  let positive = true;
  let pos = 0;
  const end = str.length;
  let num = '';
  let denom = '';
  if (pos < end) {
    if (str[0] === '-') {
      positive = false;
      pos++;
    } else if (str[0] === '+') pos++;
  }
  // Leading zeros.
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value: '0', num: '0', denom: '', suffix: '' };
    if (str[i] === '0') pos++;
    else break;
  }
  const isDigit = (c: string) => c >= '0' && c <= '9';
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value: str.slice(0, end), num: str.slice(pos, end), denom: '', suffix: '' };
    if (!isDigit(str[i])) {
      num = str.slice(pos, i);
      pos = i;
      break;
    }
  }
  if (num.length === 0) num = '0';
  if (pos < end && str[pos] === '.') {
    pos++;
    let done = false;
    for (let i = pos; ; i++) {
      if (i >= end) return { positive, value: str.slice(0, end), num, denom: str.slice(pos, end), suffix: '' };
      if (!isDigit(str[i])) {
        denom = str.slice(pos, i);
        pos = i;
        done = true;
        break;
      }
    }
    if (!done) return { positive, value: str, num, denom, suffix: '' };
  }
  const value = str.slice(0, pos);
  const suffixStart = pos;
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart, end) };
    if (!'eEinumkKMGTP'.includes(str[i])) {
      pos = i;
      break;
    }
  }
  if (pos < end && (str[pos] === '-' || str[pos] === '+')) pos++;
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart, end) };
    if (!isDigit(str[i])) break;
  }
  return ERR_FORMAT_WRONG;
}

const DEC_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BIN_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

function interpretSuffix(s: string): { base: 2 | 10; exponent: number; format: QuantityFormat } | undefined {
  if (Object.hasOwn(DEC_SUFFIXES, s)) return { base: 10, exponent: DEC_SUFFIXES[s], format: 'DecimalSI' };
  if (Object.hasOwn(BIN_SUFFIXES, s)) return { base: 2, exponent: BIN_SUFFIXES[s], format: 'BinarySI' };
  if (s.length > 1 && (s[0] === 'e' || s[0] === 'E')) {
    const rest = s.slice(1);
    if (!/^[+-]?[0-9]+$/.test(rest)) return undefined;
    const e = BigInt(rest);
    if (e > INT64_MAX || e < INT64_MIN) return undefined;
    // Go keeps the exponent as int32 after parsing an int64.
    const e32 = Number(BigInt.asIntN(32, e));
    return { base: 10, exponent: e32, format: 'DecimalExponent' };
  }
  return undefined;
}

/** ParseQuantity: a Quantity, or one of the three error strings. */
export function parseQuantity(input: string): Quantity | string {
  const s = input;
  if (s.length === 0) return ERR_FORMAT_WRONG;
  if (s === '0') return new Quantity({ mantissa: 0n, exponent: 0, format: 'DecimalSI', cached: '0', int64: { value: 0n, scale: 0 } });
  const parts = parseQuantityString(s);
  if (typeof parts === 'string') return parts;
  const sfx = interpretSuffix(parts.suffix);
  if (!sfx) return ERR_SUFFIX;
  const { base, exponent } = sfx;
  let format = sfx.format;

  let precision = 0;
  let scale = 0;
  let mantissa = 1n;
  if (format === 'BinarySI') {
    if (exponent >= 0 && parts.denom.length === 0) {
      mantissa = 1n << BigInt(exponent);
      precision = 15 - parts.num.length - Math.trunc(Math.fround((exponent * 3) / 10)) - 1;
    } else precision = -1;
  } else {
    scale = exponent;
    precision = 18 - (parts.num.length + parts.denom.length);
  }

  if (precision >= 0) {
    scale -= parts.denom.length;
    if (scale >= NANO) {
      const shifted = parts.num + parts.denom;
      if (/^[0-9]+$/.test(shifted)) {
        const v = BigInt(shifted);
        if (v <= INT64_MAX) {
          let result = v * mantissa;
          if (result <= INT64_MAX) {
            if (!parts.positive) result = -result;
            let cached = '';
            if (format === 'BinarySI') {
              if (exponent % 10 === 0 && (v & 7n) !== 0n) cached = s;
            } else if (scale % 3 === 0 && !shifted.endsWith('000') && shifted[0] !== '0') cached = s;
            return new Quantity({ mantissa: result, exponent: scale, format, cached, int64: { value: result, scale } });
          }
        } else return ERR_NUMERIC;
      }
    }
  }

  // Slow path (inf.Dec).
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?$/.exec(parts.value);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return ERR_NUMERIC;
  const neg = m[1] === '-';
  const digits = (m[2] || '') + (m[3] ?? '');
  let amount = BigInt(digits || '0');
  let exp = -(m[3] ?? '').length;
  if (base === 10) exp += exponent;
  else amount *= 1n << BigInt(exponent);
  if (amount !== 0n && exp < NANO) {
    amount = roundAway(amount, exp, NANO);
    exp = NANO;
  }
  if (format === 'BinarySI') {
    const asInt = roundAway(amount, exp, 0);
    if (asInt > INT64_MAX || (exp >= 0 && amount * 10n ** BigInt(exp) > INT64_MAX)) {
      amount = INT64_MAX;
      exp = 0;
    }
    // 0 < amount < 1 reads as DecimalSI.
    const one = exp >= 0 ? amount * 10n ** BigInt(exp) : amount;
    const unit = exp >= 0 ? 1n : 10n ** BigInt(-exp);
    if (one > 0n && one < unit) format = 'DecimalSI';
  }
  if (neg) amount = -amount;
  return new Quantity({ mantissa: amount, exponent: exp, format });
}

/** The JSON value of a quantity field: a string, or a number written without quotes. */
export function quantityFromJSON(v: unknown): Quantity | string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return parseQuantity(String(v));
  if (typeof v === 'string') return parseQuantity(v.trim());
  return ERR_FORMAT_WRONG;
}

/** Removes factors of `base` from a non-zero n. */
function removeFactors(n: bigint, base: bigint): { n: bigint; times: number } {
  let times = 0;
  if (n === 0n) return { n, times };
  while (n % base === 0n) {
    n /= base;
    times++;
  }
  return { n, times };
}

const DEC_BY_EXP: Record<number, string> = { [-9]: 'n', [-6]: 'u', [-3]: 'm', 0: '', 3: 'k', 6: 'M', 9: 'G', 12: 'T', 15: 'P', 18: 'E' };
const BIN_BY_EXP: Record<number, string> = { 0: '', 10: 'Ki', 20: 'Mi', 30: 'Gi', 40: 'Ti', 50: 'Pi', 60: 'Ei' };

/** CanonicalizeBytes. */
function canonical(q: Quantity): string {
  if (q.isZero()) return '0';
  let format = q.format;
  if (format === 'BinarySI') {
    const v = q.cmp(new Quantity({ mantissa: -1024n, exponent: 0, format })) > 0 && q.cmp(new Quantity({ mantissa: 1024n, exponent: 0, format })) < 0;
    if (v) format = 'DecimalSI';
    else if (q.exponent < 0 && q.mantissa % 10n ** BigInt(-q.exponent) !== 0n) format = 'DecimalSI';
  }
  if (format === 'BinarySI') {
    const whole = q.exponent >= 0 ? q.mantissa * 10n ** BigInt(q.exponent) : q.mantissa / 10n ** BigInt(-q.exponent);
    const r = removeFactors(whole, 1024n);
    return `${r.n}${BIN_BY_EXP[r.times * 10] ?? ''}`;
  }
  let { n, times } = removeFactors(q.mantissa, 10n);
  let exponent = q.exponent + times;
  while (exponent % 3 !== 0) {
    n *= 10n;
    exponent--;
  }
  if (format === 'DecimalExponent') return exponent === 0 ? `${n}` : `${n}e${exponent}`;
  return `${n}${DEC_BY_EXP[exponent] ?? ''}`;
}
