// robfig/cron v3's ParseStandard, as CronJob validation calls it: the five-field
// syntax and @-descriptors, with the library's error texts (kubectl shows them after
// `spec.schedule: Invalid value: "...": `).

interface Bounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MINUTES: Bounds = { min: 0, max: 59 };
const HOURS: Bounds = { min: 0, max: 23 };
const DOM: Bounds = { min: 1, max: 31 };
const MONTHS: Bounds = {
  min: 1,
  max: 12,
  names: { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 },
};
const DOW: Bounds = { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } };

/** Go's strconv.Atoi with its error text. */
function atoi(s: string): number | string {
  if (!/^[+-]?[0-9]+$/.test(s)) return `strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`;
  const n = BigInt(s);
  if (n > 2n ** 63n - 1n || n < -(2n ** 63n)) return `strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`;
  return Number(n);
}

function mustParseInt(expr: string): number | Error {
  const n = atoi(expr);
  if (typeof n === 'string') return new Error(`failed to parse int from ${expr}: ${n}`);
  if (n < 0) return new Error(`negative number (${n}) not allowed: ${expr}`);
  return n;
}

function parseIntOrName(expr: string, names?: Record<string, number>): number | Error {
  if (names && Object.hasOwn(names, expr.toLowerCase())) return names[expr.toLowerCase()];
  return mustParseInt(expr);
}

function getRange(expr: string, r: Bounds): Error | undefined {
  const rangeAndStep = expr.split('/');
  const lowAndHigh = rangeAndStep[0].split('-');
  const singleDigit = lowAndHigh.length === 1;
  let start: number;
  let end: number;
  if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
    start = r.min;
    end = r.max;
  } else {
    const s = parseIntOrName(lowAndHigh[0], r.names);
    if (s instanceof Error) return s;
    start = s;
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) {
      const e = parseIntOrName(lowAndHigh[1], r.names);
      if (e instanceof Error) return e;
      end = e;
    } else return new Error(`too many hyphens: ${expr}`);
  }
  let step: number;
  if (rangeAndStep.length === 1) step = 1;
  else if (rangeAndStep.length === 2) {
    const s = mustParseInt(rangeAndStep[1]);
    if (s instanceof Error) return s;
    step = s;
    if (singleDigit) end = r.max;
  } else return new Error(`too many slashes: ${expr}`);
  if (start < r.min) return new Error(`beginning of range (${start}) below minimum (${r.min}): ${expr}`);
  if (end > r.max) return new Error(`end of range (${end}) above maximum (${r.max}): ${expr}`);
  if (start > end) return new Error(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) return new Error(`step of range should be a positive number: ${expr}`);
  return undefined;
}

function getField(field: string, r: Bounds): Error | undefined {
  for (const expr of field.split(',').filter((s) => s !== '')) {
    const err = getRange(expr, r);
    if (err) return err;
  }
  return undefined;
}

/** Go's time.ParseDuration, for `@every <duration>`; returns the error text or undefined. */
function parseDurationError(s: string): string | undefined {
  const orig = s;
  const bad = `time: invalid duration ${JSON.stringify(orig)}`;
  if (s === '') return bad;
  if (s[0] === '+' || s[0] === '-') s = s.slice(1);
  if (s === '0') return undefined;
  if (s === '') return bad;
  const units = ['ns', 'us', 'µs', 'μs', 'ms', 's', 'm', 'h'];
  while (s !== '') {
    const m = /^([0-9]*)(\.[0-9]*)?/.exec(s)!;
    if (m[0] === '' || m[0] === '.') return bad;
    s = s.slice(m[0].length);
    const u = /^[^0-9.]*/.exec(s)![0];
    if (u === '') return `time: missing unit in duration ${JSON.stringify(orig)}`;
    if (!units.includes(u)) return `time: unknown unit ${JSON.stringify(u)} in duration ${JSON.stringify(orig)}`;
    s = s.slice(u.length);
  }
  return undefined;
}

const DESCRIPTORS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/** cron.ParseStandard: undefined when the spec parses, else the library's error text. */
export function parseStandardCron(spec: string, validZone: (tz: string) => string | undefined): string | undefined {
  if (spec.length === 0) return 'empty spec string';
  if (spec.startsWith('TZ=') || spec.startsWith('CRON_TZ=')) {
    const i = spec.indexOf(' ');
    const eq = spec.indexOf('=');
    const zone = i < 0 ? spec.slice(eq + 1) : spec.slice(eq + 1, i);
    const err = validZone(zone);
    if (err) return `provided bad location ${zone}: ${err}`;
    spec = i < 0 ? '' : spec.slice(i).trim();
  }
  if (spec.startsWith('@')) {
    if (DESCRIPTORS.has(spec)) return undefined;
    if (spec.startsWith('@every ')) {
      const err = parseDurationError(spec.slice('@every '.length));
      return err ? `failed to parse duration ${spec}: ${err}` : undefined;
    }
    return `unrecognized descriptor: ${spec}`;
  }
  const fields = spec.split(/\s+/).filter((f) => f !== '');
  if (fields.length !== 5) return `expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`;
  for (const [f, b] of [
    [fields[0], MINUTES],
    [fields[1], HOURS],
    [fields[2], DOM],
    [fields[3], MONTHS],
    [fields[4], DOW],
  ] as const) {
    const err = getField(f, b);
    if (err) return err.message;
  }
  return undefined;
}
