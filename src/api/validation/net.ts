// IP and CIDR parsing as k8s.io/utils/net's ParseIPSloppy / ParseCIDRSloppy accept them:
// Go's net.ParseIP rules, except that IPv4 octets may carry leading zeros (read as
// decimal, as Go did before 1.17).

import type { FieldError } from '../errors.ts';
import { invalid } from './field.ts';

export interface IP {
  /** 4 bytes for IPv4 (including IPv4-mapped IPv6), 16 for IPv6. */
  bytes: number[];
  v4: boolean;
}

function parseIPv4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function parseIPv6(s: string): number[] | undefined {
  let tail: number[] = [];
  let str = s;
  // An embedded IPv4 tail.
  const lastColon = str.lastIndexOf(':');
  if (lastColon >= 0 && str.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4(str.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = v4;
    str = str.slice(0, lastColon + 1) + '0:0';
  }
  const halves = str.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  for (const g of [...head, ...rest]) if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
  const total = head.length + rest.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const words = [...head, ...Array(8 - total).fill('0'), ...rest].map((g) => parseInt(g, 16));
  const bytes: number[] = [];
  for (const w of words) bytes.push(w >> 8, w & 0xff);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

export function parseIPSloppy(s: string): IP | undefined {
  if (s.includes(':')) {
    const b = parseIPv6(s);
    if (!b) return undefined;
    const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
    return mapped ? { bytes: b.slice(12), v4: true } : { bytes: b, v4: false };
  }
  const b = parseIPv4(s);
  return b ? { bytes: b, v4: true } : undefined;
}

export interface CIDR {
  ip: IP;
  prefix: number;
}

export function parseCIDRSloppy(s: string): CIDR | undefined {
  const i = s.indexOf('/');
  if (i < 0) return undefined;
  const ipPart = s.slice(0, i);
  const bits = s.slice(i + 1);
  if (!/^[0-9]{1,3}$/.test(bits)) return undefined;
  const ip = parseIPSloppy(ipPart);
  if (!ip) return undefined;
  // Go sizes the mask by the textual family: an IPv4-mapped address takes an IPv6 mask.
  const max = ipPart.includes(':') ? 128 : 32;
  let prefix = Number(bits);
  if (prefix > max) return undefined;
  if (ipPart.includes(':') && ip.v4) {
    if (prefix < 96) return undefined;
    prefix -= 96;
  }
  return { ip, prefix };
}

/** The network address of a CIDR (host bits cleared). */
export function networkOf(c: CIDR): number[] {
  return c.ip.bytes.map((b, idx) => {
    const bitsBefore = idx * 8;
    const keep = Math.max(0, Math.min(8, c.prefix - bitsBefore));
    return keep === 0 ? 0 : b & ((0xff << (8 - keep)) & 0xff);
  });
}

export function cidrContains(c: CIDR, ip: IP): boolean {
  if (c.ip.v4 !== ip.v4) return false;
  const net = networkOf(c);
  const other = networkOf({ ip, prefix: c.prefix });
  return net.every((b, i) => b === other[i]);
}

export const IP_INVALID = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';
export const CIDR_INVALID = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

/** validation.IsValidIP. */
export function isValidIP(field: string, value: string): FieldError[] {
  return parseIPSloppy(value) ? [] : [invalid(field, value, IP_INVALID)];
}

/** validation.IsValidCIDR. */
export function isValidCIDR(field: string, value: string): FieldError[] {
  return parseCIDRSloppy(value) ? [] : [invalid(field, value, CIDR_INVALID)];
}

/** ValidateNonSpecialIP (Endpoints, EndpointSlices, external IPs). */
export function validateNonSpecialIP(field: string, value: string): FieldError[] {
  const ip = parseIPSloppy(value);
  if (!ip) return [invalid(field, value, 'must be a valid IP address')];
  const errs: FieldError[] = [];
  const b = ip.bytes;
  const unspecified = b.every((x) => x === 0);
  const loopback = ip.v4 ? b[0] === 127 : b.slice(0, 15).every((x) => x === 0) && b[15] === 1;
  const linkLocalUnicast = ip.v4 ? b[0] === 169 && b[1] === 254 : b[0] === 0xfe && (b[1] & 0xc0) === 0x80;
  const linkLocalMulticast = ip.v4 ? b[0] === 224 && b[1] === 0 && b[2] === 0 : b[0] === 0xff && (b[1] & 0x0f) === 0x02;
  if (unspecified) errs.push(invalid(field, value, `may not be unspecified (${value})`));
  if (loopback) errs.push(invalid(field, value, 'may not be in the loopback range (127.0.0.0/8, ::1/128)'));
  if (linkLocalUnicast) errs.push(invalid(field, value, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)'));
  if (linkLocalMulticast) errs.push(invalid(field, value, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'));
  return errs;
}
