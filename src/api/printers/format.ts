// Cell formatting helpers with upstream's exact output: apimachinery's
// duration.HumanDuration, labels.FormatLabels, metav1.FormatLabelSelector, and the
// small helpers of pkg/printers/internalversion.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * duration.HumanDuration: ~2-3 significant figures ("45s", "5m3s", "10m", "3h20m",
 * "3d4h", "2y30d", "9y"). Up to 2s in the future still reads "0s" (clock skew).
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / SECOND);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(ms / MINUTE);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(ms / HOUR);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    const days = Math.trunc(hours / 24);
    return h === 0 ? `${days}d` : `${days}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  const years = Math.trunc(hours / 24 / 365);
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    return dy === 0 ? `${years}y` : `${years}y${dy}d`;
  }
  return `${years}y`;
}

/** Go's zero time.Time (0001-01-01T00:00:00Z), which metav1.Time.IsZero() treats as unset. */
const GO_ZERO_MS = Date.parse('0001-01-01T00:00:00Z');

/** Parses a metav1.Time / MicroTime; undefined when unset, zero or unparseable. */
export function parseTime(ts: unknown): number | undefined {
  if (typeof ts !== 'string' || ts === '') return undefined;
  const ms = Date.parse(ts);
  if (Number.isNaN(ms) || ms === GO_ZERO_MS) return undefined;
  return ms;
}

/** printers' translateTimestampSince: "<unknown>" for an unset time, else the age. */
export function translateTimestampSince(ts: string | undefined, now: number): string {
  const t = parseTime(ts);
  if (t === undefined) return '<unknown>';
  return humanDuration(now - t);
}

/** Go's byte-wise string order (sort.Strings); JS `<` is UTF-16 order, equal for ASCII. */
export function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** labels.Set(m).String(): "k=v" pairs sorted as whole strings, joined with ",". */
export function labelsString(m: Record<string, string> | undefined | null): string {
  if (!m) return '';
  return Object.entries(m)
    .map(([k, v]) => `${k}=${v}`)
    .sort(byteCompare)
    .join(',');
}

/** labels.FormatLabels: like labelsString, "<none>" when empty. */
export function formatLabels(m: Record<string, string> | undefined | null): string {
  return labelsString(m) || '<none>';
}

interface LabelSelector {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: { key: string; operator: string; values?: string[] | null }[] | null;
}

/**
 * metav1.LabelSelectorAsSelector(sel).String(). A nil selector selects nothing and an
 * empty one everything; both print as "". undefined means the selector is invalid.
 */
export function labelSelectorString(sel: LabelSelector | undefined | null): string | undefined {
  if (!sel) return '';
  const reqs: { key: string; text: string }[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) {
    reqs.push({ key, text: `${key}=${value}` });
  }
  for (const expr of sel.matchExpressions ?? []) {
    const values = [...(expr.values ?? [])];
    const sortedValues = () => (values.length === 1 ? values[0] : [...values].sort(byteCompare).join(','));
    switch (expr.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) return undefined;
        reqs.push({ key: expr.key, text: `${expr.key} ${expr.operator === 'In' ? 'in' : 'notin'} (${sortedValues()})` });
        break;
      case 'Exists':
        if (values.length > 0) return undefined;
        reqs.push({ key: expr.key, text: expr.key });
        break;
      case 'DoesNotExist':
        if (values.length > 0) return undefined;
        reqs.push({ key: expr.key, text: `!${expr.key}` });
        break;
      default:
        return undefined;
    }
  }
  // Requirements are sorted by key only (labels.ByKey).
  return reqs
    .sort((a, b) => byteCompare(a.key, b.key))
    .map((r) => r.text)
    .join(',');
}

/** metav1.FormatLabelSelector: "<none>" when it selects nothing or everything, "<error>" if invalid. */
export function formatLabelSelector(sel: LabelSelector | undefined | null): string {
  const s = labelSelectorString(sel);
  if (s === undefined) return '<error>';
  return s || '<none>';
}

interface Container {
  name?: string;
  image?: string;
}

/** layoutContainerCells: container names and images, each joined with ",". */
export function layoutContainerCells(containers: Container[] | undefined | null): [string, string] {
  const list = containers ?? [];
  return [list.map((c) => c.name ?? '').join(','), list.map((c) => c.image ?? '').join(',')];
}

/** printBoolPtr: "True"/"False", "<unset>" for nil. */
export function printBoolPtr(v: boolean | undefined | null): string {
  if (v === undefined || v === null) return '<unset>';
  return v ? 'True' : 'False';
}

/** Sorted, de-duplicated (sets.NewString(...).List()). */
export function sortedSet(values: Iterable<string>): string[] {
  return [...new Set(values)].sort(byteCompare);
}

/**
 * listWithMoreString: the first `max` items joined with ",", then " + N more...";
 * "<unset>" for an empty list.
 */
export function listWithMore(items: string[], max: number): string {
  if (items.length > max) return `${items.slice(0, max).join(',')} + ${items.length - max} more...`;
  const s = items.join(',');
  return s === '' ? '<unset>' : s;
}

/** intstr.IntOrString.String(). */
export function intOrStringString(v: number | string): string {
  return typeof v === 'number' ? String(Math.trunc(v)) : v;
}

/** net.JoinHostPort: IPv6 hosts get brackets. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A count field as the int64 cell upstream emits (absent = 0). */
export function int(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : 0;
}

/** Length of a map or list field (absent = 0). */
export function size(v: unknown): number {
  if (Array.isArray(v)) return v.length;
  if (v && typeof v === 'object') return Object.keys(v).length;
  return 0;
}
