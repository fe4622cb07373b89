// Cron schedules as the CronJob controller reads them (robfig/cron v3's ParseStandard):
// five fields (minute hour day-of-month month day-of-week) of lists, ranges, steps and
// names (JAN-DEC, SUN-SAT), or a descriptor (@yearly, @monthly, @weekly, @daily,
// @midnight, @hourly, @every <duration>). Times are computed on the wall clock of an IANA
// time zone through Intl, so "0 9 * * *" in Europe/Paris means 09:00 Paris time on
// every day, across DST changes (a wall time skipped by DST does not run that day).
//
// Day matching follows cron: when both day fields are restricted, a day matching either
// runs; when either is `*` (or `?`), both must match.

export interface Schedule {
  /** The first activation strictly after `t` (ms), or undefined when there is none within five years. */
  next(t: number): number | undefined;
}

export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

interface Bounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MONTH_NAMES: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };
const DOW_NAMES: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

const MINUTES: Bounds = { min: 0, max: 59 };
const HOURS: Bounds = { min: 0, max: 23 };
const DOM: Bounds = { min: 1, max: 31 };
const MONTHS: Bounds = { min: 1, max: 12, names: MONTH_NAMES };
const DOW: Bounds = { min: 0, max: 6, names: DOW_NAMES };

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

interface Field {
  values: Set<number>;
  /** The field was `*` or `?` (matters for the day fields). */
  star: boolean;
}

function parseValue(s: string, b: Bounds, expr: string): number {
  const named = b.names?.[s.toLowerCase()];
  if (named !== undefined) return named;
  if (!/^\d+$/.test(s)) throw new ScheduleError(`failed to parse int from ${s}: strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  void expr;
  return Number(s);
}

/** getRange: `*`, `N`, `N-M`, each with an optional `/step` ("N/step" runs from N to the maximum). */
function parseRange(expr: string, b: Bounds, f: Field): void {
  const rangeAndStep = expr.split('/');
  const lowAndHigh = rangeAndStep[0].split('-');
  const single = lowAndHigh.length === 1;
  let start: number;
  let end: number;
  let star = false;
  if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
    start = b.min;
    end = b.max;
    star = true;
  } else {
    start = parseValue(lowAndHigh[0], b, expr);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = parseValue(lowAndHigh[1], b, expr);
    else throw new ScheduleError(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    if (!/^\d+$/.test(rangeAndStep[1])) throw new ScheduleError(`failed to parse int from ${rangeAndStep[1]}: strconv.Atoi: parsing ${JSON.stringify(rangeAndStep[1])}: invalid syntax`);
    step = Number(rangeAndStep[1]);
    if (single && !star) end = b.max;
    if (step > 1) star = false;
  } else if (rangeAndStep.length > 2) {
    throw new ScheduleError(`too many slashes: ${expr}`);
  }
  if (start < b.min) throw new ScheduleError(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new ScheduleError(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end) throw new ScheduleError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new ScheduleError(`step of range should be a positive number: ${expr}`);
  for (let v = start; v <= end; v += step) f.values.add(v);
  if (star) f.star = true;
}

function parseField(field: string, b: Bounds): Field {
  const f: Field = { values: new Set(), star: false };
  for (const expr of field.split(',')) parseRange(expr, b, f);
  return f;
}

/** A Go duration ("1h30m", "90s", "1.5h"). */
export function parseGoDuration(s: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) throw new ScheduleError(`failed to parse duration ${s}: time: invalid duration ${JSON.stringify(s)}`);
    total += Number(m[1]) * units[m[2]];
    pos = re.lastIndex;
  }
  if (pos === 0) throw new ScheduleError(`failed to parse duration ${s}: time: invalid duration ${JSON.stringify(s)}`);
  return total;
}

// ---- time zones through Intl ----

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** True for a zone Intl knows (an IANA name, or UTC). */
export function isValidTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

/** The zone this process runs in (a CronJob without timeZone uses it, as upstream uses the controller manager's). */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

export function wallTime(t: number, tz: string): WallTime {
  const w: Partial<WallTime> = {};
  for (const p of formatter(tz).formatToParts(new Date(t))) {
    switch (p.type) {
      case 'year':
        w.year = Number(p.value);
        break;
      case 'month':
        w.month = Number(p.value);
        break;
      case 'day':
        w.day = Number(p.value);
        break;
      case 'hour':
        w.hour = Number(p.value);
        break;
      case 'minute':
        w.minute = Number(p.value);
        break;
      case 'second':
        w.second = Number(p.value);
        break;
      case 'weekday':
        w.weekday = WEEKDAYS[p.value];
        break;
    }
  }
  return w as WallTime;
}

/** The zone's offset from UTC at `t` (ms; east positive). */
export function zoneOffset(t: number, tz: string): number {
  const w = wallTime(t, tz);
  const asUTC = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUTC - Math.floor(t / 1000) * 1000;
}

/** The instant a wall time names in `tz` (for a time skipped by DST, one near it). Fields may overflow (day 32 is next month). */
export function zonedTime(year: number, month: number, day: number, hour: number, minute: number, tz: string): number {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  let t = guess - zoneOffset(guess, tz);
  const o2 = zoneOffset(t, tz);
  if (guess - o2 !== t) t = guess - o2;
  return t;
}

/** RFC 3339 with the zone's offset ("2026-01-01T09:00:00+01:00", "...Z" for UTC), as Go's time.RFC3339 in a location. */
export function formatRFC3339In(t: number, tz: string): string {
  const off = zoneOffset(t, tz);
  const w = wallTime(t, tz);
  const p = (n: number, l = 2) => String(n).padStart(l, '0');
  const base = `${p(w.year, 4)}-${p(w.month)}-${p(w.day)}T${p(w.hour)}:${p(w.minute)}:${p(w.second)}`;
  if (off === 0) return `${base}Z`;
  const sign = off > 0 ? '+' : '-';
  const a = Math.abs(off) / 60_000;
  return `${base}${sign}${p(Math.floor(a / 60))}:${p(a % 60)}`;
}

/** Go's time.RFC1123Z of a UTC time: "Mon, 02 Jan 2006 15:04:05 +0000". */
export function formatRFC1123Z(t: number): string {
  const d = new Date(t);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

class SpecSchedule implements Schedule {
  private readonly minute: Field;
  private readonly hour: Field;
  private readonly dom: Field;
  private readonly month: Field;
  private readonly dow: Field;
  private readonly tz: string;

  constructor(fields: Field[], tz: string) {
    [this.minute, this.hour, this.dom, this.month, this.dow] = fields;
    this.tz = tz;
  }

  private dayMatches(w: WallTime): boolean {
    const domMatch = this.dom.values.has(w.day);
    const dowMatch = this.dow.values.has(w.weekday);
    if (this.dom.star || this.dow.star) return domMatch && dowMatch;
    return domMatch || dowMatch;
  }

  next(after: number): number | undefined {
    let t = Math.floor(after / 60_000) * 60_000 + 60_000;
    const limit = t + 5 * 366 * 24 * 3_600_000;
    const advance = (candidate: number) => {
      t = candidate > t ? candidate : t + 60_000;
    };
    while (t < limit) {
      const w = wallTime(t, this.tz);
      if (!this.month.values.has(w.month)) {
        advance(zonedTime(w.year, w.month + 1, 1, 0, 0, this.tz));
        continue;
      }
      if (!this.dayMatches(w)) {
        advance(zonedTime(w.year, w.month, w.day + 1, 0, 0, this.tz));
        continue;
      }
      if (!this.hour.values.has(w.hour)) {
        advance(t + (60 - w.minute) * 60_000);
        continue;
      }
      if (!this.minute.values.has(w.minute)) {
        advance(t + 60_000);
        continue;
      }
      return t;
    }
    return undefined;
  }
}

/** @every: a fixed delay (whole seconds, at least one) from the given time. */
class ConstantDelaySchedule implements Schedule {
  private readonly delay: number;
  constructor(delayMs: number) {
    this.delay = Math.max(1000, Math.round(delayMs / 1000) * 1000);
  }
  next(t: number): number {
    return t - (t % 1000) + this.delay;
  }
}

/** cron.ParseStandard with the schedule's times on `tz`'s wall clock. Throws ScheduleError with robfig's messages. */
export function parseSchedule(spec: string, tz: string = localTimeZone()): Schedule {
  let s = spec.trim();
  if (s === '') throw new ScheduleError('empty spec string');
  // robfig's zone prefix: "TZ=Europe/Paris 0 9 * * *" (CronJobs warn that it is unsupported).
  const zone = /^(?:CRON_TZ|TZ)=(\S+)\s+/.exec(s);
  if (zone) {
    if (!isValidTimeZone(zone[1])) throw new ScheduleError(`provided bad location ${zone[1]}: unknown time zone ${zone[1]}`);
    tz = zone[1];
    s = s.slice(zone[0].length);
  }
  if (s.startsWith('@')) {
    if (s.startsWith('@every ')) return new ConstantDelaySchedule(parseGoDuration(s.slice('@every '.length).trim()));
    const expanded = DESCRIPTORS[s.toLowerCase()];
    if (!expanded) throw new ScheduleError(`unrecognized descriptor: ${s}`);
    return parseSchedule(expanded, tz);
  }
  const fields = s.split(/\s+/);
  if (fields.length !== 5) throw new ScheduleError(`expected exactly 5 fields, found ${fields.length}: ${s}`);
  const bounds = [MINUTES, HOURS, DOM, MONTHS, DOW];
  return new SpecSchedule(fields.map((f, i) => parseField(f, bounds[i])), tz);
}
