// String-format checks and shared field validators (apimachinery util/validation and
// the helpers pkg/apis/core/validation shares with the other groups), 1.32 wording.

import type { FieldError } from '../errors.ts';
import { labelSelectorFromAPI, type LabelSelector } from '../selectors.ts';
import {
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  maxLenError,
  regexError,
  validateLabelName,
} from '../validation.ts';
import {
  byteLen,
  goIntOrString,
  inclusiveRangeError,
  invalid,
  invalidGo,
  IS_NEGATIVE,
  num,
  obj,
  required,
  type Obj,
} from './field.ts';
import { Quantity, quantityFromJSON } from './quantity.ts';

export { isDNS1123Label, isDNS1123Subdomain, isQualifiedName, isValidLabelValue };

export function dns1123Label(field: string, value: string): FieldError[] {
  return isDNS1123Label(value).map((m) => invalid(field, value, m));
}

export function dns1123Subdomain(field: string, value: string): FieldError[] {
  return isDNS1123Subdomain(value).map((m) => invalid(field, value, m));
}

export function qualifiedName(field: string, value: string): FieldError[] {
  return isQualifiedName(value).map((m) => invalid(field, value, m));
}

export function labelName(field: string, value: string): FieldError[] {
  return validateLabelName(value, field);
}

export function isValidPortNum(port: number): string[] {
  return port >= 1 && port <= 65535 && Number.isInteger(port) ? [] : [inclusiveRangeError(1, 65535)];
}

export function isValidPortName(port: string): string[] {
  const errs: string[] = [];
  if (byteLen(port) > 15) errs.push(maxLenError(15));
  if (!/^[-a-z0-9]+$/.test(port)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(port)) errs.push('must contain at least one letter (a-z)');
  if (port.includes('--')) errs.push('must not contain consecutive hyphens');
  if (port.length > 0 && (port.startsWith('-') || port.endsWith('-'))) errs.push('must not begin or end with a hyphen');
  return errs;
}

/** ValidatePortNumOrName for an IntOrString port (probes, targetPort). */
export function portNumOrName(field: string, port: unknown): FieldError[] {
  if (typeof port === 'string') return isValidPortName(port).map((m) => invalid(field, port, m));
  const n = num(port) ?? 0;
  return isValidPortNum(n).map((m) => invalid(field, n, m));
}

function hasChDirPrefix(value: string): string[] {
  if (value === '.') return [`must not be '.'`];
  if (value === '..') return [`must not be '..'`];
  if (value.startsWith('..')) return [`must not start with '..'`];
  return [];
}

export function isEnvVarName(value: string): string[] {
  const errs: string[] = [];
  if (!/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(value)) {
    errs.push(
      regexError(
        "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
        '[-._a-zA-Z][-._a-zA-Z0-9]*',
        'my.env-name',
        'MY_ENV.NAME',
        'MyEnvName1',
      ),
    );
  }
  return [...errs, ...hasChDirPrefix(value)];
}

/** RelaxedEnvironmentVariableValidation is beta and on by default in 1.32. */
export function isRelaxedEnvVarName(value: string): string[] {
  const errs: string[] = [];
  if (value.length === 0) errs.push('environment variable name must be non-empty');
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (c > 0x7e || c < 0x20 || ch === '=') {
      errs.push("a valid environment variable name must consist only of printable ASCII characters other than '='");
      break;
    }
  }
  return errs;
}

export function isConfigMapKey(value: string): string[] {
  const errs: string[] = [];
  if (byteLen(value) > 253) errs.push(maxLenError(253));
  if (!/^[-._a-zA-Z0-9]+$/.test(value)) {
    errs.push(regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", '[-._a-zA-Z0-9]+', 'key.name', 'KEY_NAME', 'key-name'));
  }
  return [...errs, ...hasChDirPrefix(value)];
}

export function isHTTPHeaderName(value: string): string[] {
  return /^[-A-Za-z0-9]+$/.test(value) ? [] : [regexError("a valid HTTP header must consist of alphanumeric characters or '-'", '[-A-Za-z0-9]+', 'X-Header-Name')];
}

export function isValidPercent(value: string): string[] {
  return /^[0-9]+%$/.test(value) ? [] : [regexError("a valid percent string must be a numeric string followed by an ending '%'", '[0-9]+%', '1%', '93%')];
}

const WILDCARD_FMT = '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';

export function isWildcardDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (byteLen(value) > 253) errs.push(maxLenError(253));
  if (!new RegExp(`^${WILDCARD_FMT}$`).test(value)) {
    errs.push(
      regexError(
        "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
        WILDCARD_FMT,
        '*.example.com',
      ),
    );
  }
  return errs;
}

/** validation.IsDomainPrefixedPath (IngressClass controller, Job managedBy). */
export function isDomainPrefixedPath(field: string, dpPath: string): FieldError[] {
  if (dpPath.length === 0) return [required(field, '')];
  const i = dpPath.indexOf('/');
  const host = i < 0 ? dpPath : dpPath.slice(0, i);
  const path = i < 0 ? '' : dpPath.slice(i + 1);
  if (i < 0 || host.length === 0 || path.length === 0) {
    return [invalid(field, dpPath, 'must be a domain-prefixed path (such as "acme.io/foo")')];
  }
  const errs = isDNS1123Subdomain(host).map((m) => invalid(field, host, m));
  const fmt = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+";
  if (!new RegExp(`^${fmt}$`).test(path)) errs.push(invalid(field, path, regexError('Invalid path', fmt)));
  return errs;
}

/** IsFullyQualifiedDomainName (EndpointSlice FQDN addresses). */
export function isFullyQualifiedDomainName(field: string, name: string): FieldError[] {
  if (name.length === 0) return [required(field, '')];
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  const sub = isDNS1123Subdomain(n);
  if (sub.length) return [invalid(field, n, sub.join(','))];
  const labels = n.split('.');
  if (labels.length < 2) return [invalid(field, n, 'should be a domain with at least two segments separated by dots')];
  for (const l of labels) {
    const e = isDNS1123Label(l);
    if (e.length) return [invalid(field, l, e.join(','))];
  }
  return [];
}

// --- IntOrString ---

/** ValidatePositiveIntOrPercent (apps validation, shared with PDBs). */
export function positiveIntOrPercent(field: string, v: unknown): FieldError[] {
  if (typeof v === 'string') return isValidPercent(v).map((m) => invalidGo(field, goIntOrString(v), m));
  const n = num(v) ?? 0;
  return n < 0 ? [invalid(field, n, IS_NEGATIVE)] : [];
}

export function percentValue(v: unknown): number | undefined {
  if (typeof v !== 'string' || isValidPercent(v).length) return undefined;
  return Number(v.slice(0, -1));
}

/** getIntOrPercentValue; a non-percent string reads as 0 (IntValue of a bad string). */
export function intOrPercentValue(v: unknown): number {
  const p = percentValue(v);
  if (p !== undefined) return p;
  if (typeof v === 'string') return /^-?[0-9]+$/.test(v) ? Number(v) : 0;
  return num(v) ?? 0;
}

export function notMoreThan100Percent(field: string, v: unknown): FieldError[] {
  const p = percentValue(v);
  return p !== undefined && p > 100 ? [invalidGo(field, goIntOrString(v), 'must not be greater than 100%')] : [];
}

// --- label selectors ---

/**
 * metav1.LabelSelectorAsSelector: undefined for a selector that does not convert (the
 * caller reports that as upstream does), else the selector. A nil selector matches
 * nothing; `{}` matches everything.
 */
export function asSelector(sel: unknown): LabelSelector | undefined {
  try {
    return labelSelectorFromAPI(sel === null || sel === undefined ? undefined : (obj(sel) as any));
  } catch {
    return undefined;
  }
}

export function selectorIsEmpty(sel: unknown): boolean {
  const s = obj(sel);
  return Object.keys(obj(s.matchLabels)).length + (Array.isArray(s.matchExpressions) ? s.matchExpressions.length : 0) === 0;
}

// --- resources ---

const STANDARD_CONTAINER_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage']);
const STANDARD_RESOURCES = new Set([
  'cpu',
  'memory',
  'ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'pods',
  'resourcequotas',
  'services',
  'replicationcontrollers',
  'secrets',
  'configmaps',
  'persistentvolumeclaims',
  'storage',
  'requests.storage',
  'services.nodeports',
  'services.loadbalancers',
]);
const STANDARD_QUOTA_RESOURCES = new Set([
  'cpu',
  'memory',
  'ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.storage',
  'requests.ephemeral-storage',
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'pods',
  'resourcequotas',
  'services',
  'replicationcontrollers',
  'secrets',
  'persistentvolumeclaims',
  'configmaps',
  'services.nodeports',
  'services.loadbalancers',
]);
const INTEGER_RESOURCES = new Set([
  'pods',
  'resourcequotas',
  'services',
  'replicationcontrollers',
  'secrets',
  'configmaps',
  'persistentvolumeclaims',
  'services.nodeports',
  'services.loadbalancers',
]);

export const isHugePageResourceName = (n: string) => n.startsWith('hugepages-');
const isQuotaHugePageResourceName = (n: string) => n.startsWith('hugepages-') || n.startsWith('requests.hugepages-');
export const isNativeResource = (n: string) => !n.includes('/') || n.includes('kubernetes.io/');

export function isExtendedResourceName(n: string): boolean {
  if (isNativeResource(n) || n.startsWith('requests.')) return false;
  return isQualifiedName('requests.' + n).length === 0;
}

export const isOvercommitAllowed = (n: string) => isNativeResource(n) && !isHugePageResourceName(n);
export const isIntegerResourceName = (n: string) => INTEGER_RESOURCES.has(n) || isExtendedResourceName(n);
export const isStandardQuotaResourceName = (n: string) => STANDARD_QUOTA_RESOURCES.has(n) || isQuotaHugePageResourceName(n);

/** validateResourceName. */
export function resourceName(field: string, value: string): FieldError[] {
  const errs = qualifiedName(field, value);
  if (errs.length) return errs;
  if (!value.includes('/') && !(STANDARD_RESOURCES.has(value) || isQuotaHugePageResourceName(value))) {
    return [invalid(field, value, 'must be a standard resource type or fully qualified')];
  }
  return [];
}

/** validateContainerResourceName. */
export function containerResourceName(field: string, value: string): FieldError[] {
  const errs = resourceName(field, value);
  if (!value.includes('/')) {
    if (!(STANDARD_CONTAINER_RESOURCES.has(value) || isHugePageResourceName(value))) {
      return [...errs, invalid(field, value, 'must be a standard resource for containers')];
    }
  } else if (!isNativeResource(value) && !isExtendedResourceName(value)) {
    return [...errs, invalid(field, value, "doesn't follow extended resource name standard")];
  }
  return errs;
}

/** ValidateResourceQuotaResourceName. */
export function quotaResourceName(field: string, value: string): FieldError[] {
  const errs = resourceName(field, value);
  if (!value.includes('/') && !isStandardQuotaResourceName(value)) return [...errs, invalid(field, value, 'must be a standard resource for quota')];
  return errs;
}

/**
 * A quantity field's value, or undefined when absent or unparsable (an unparsable one
 * is a 400 decode error upstream; see decodeError()). ResourceList values are rounded
 * up to milli precision first, as SetDefaults_ResourceList does.
 */
export function quantity(v: unknown, opts: { resourceList?: boolean } = {}): Quantity | undefined {
  const q = quantityFromJSON(v);
  if (!(q instanceof Quantity)) return undefined;
  return opts.resourceList ? q.roundUpMilli() : q;
}

/** ValidateResourceQuantityValue: non-negative, and whole for integer resources. */
export function resourceQuantityValue(resource: string, q: Quantity, field: string): FieldError[] {
  const errs: FieldError[] = [];
  if (q.sign() < 0) errs.push(invalid(field, q.toString(), IS_NEGATIVE));
  if (isIntegerResourceName(resource) && q.milliValue() % 1000n !== 0n) errs.push(invalidGo(field, q.goString(), 'must be an integer'));
  return errs;
}

/** The entries of a ResourceList whose values parse. */
export function resourceList(v: unknown): [string, Quantity][] {
  const out: [string, Quantity][] = [];
  for (const [k, val] of Object.entries(obj(v))) {
    const q = quantity(val, { resourceList: true });
    if (q) out.push([k, q]);
  }
  return out;
}

export type { Obj };
