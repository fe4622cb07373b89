// A set of equal-sized subnets of one cluster CIDR, as upstream's
// pkg/controller/nodeipam/ipam/cidrset: the cluster range cut into /maskSize subnets,
// handed out in order (continuing after the last one given), with ranges already in
// use marked as occupied. IPv4 and IPv6 (bigint arithmetic).

export interface ParsedCidr {
  family: 4 | 6;
  /** Network address. */
  base: bigint;
  prefix: number;
}

const V4_BITS = 32;
const V6_BITS = 128;

/** The maximum difference between the cluster mask and the node mask (upstream's clusterSubnetMaxDiff). */
export const CLUSTER_SUBNET_MAX_DIFF = 16;

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = (n << 8n) | BigInt(Number(p));
  }
  return n;
}

function parseV6(s: string): bigint | undefined {
  if (!s.includes(':')) return undefined;
  let tail: bigint | undefined;
  let head = s;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail = parseV4(s.slice(lastColon + 1));
    if (tail === undefined) return undefined;
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const parse = (x: string) => (x === '' ? [] : x.split(':'));
  const left = parse(halves[0]);
  const right = halves.length === 2 ? parse(halves[1]) : [];
  if (halves.length === 2 && left.length + right.length > 7) return undefined;
  const groups = halves.length === 2 ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(parseInt(g, 16));
  if (tail !== undefined) n = (n & ~0xffffffffn) | tail;
  return n;
}

export function formatIP(n: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i >= 2 && j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parses `ip/prefix`; the address is masked to the network. Throws on anything else. */
export function parseCidr(s: string): ParsedCidr {
  const slash = s.indexOf('/');
  if (slash < 0) throw new Error(`invalid CIDR address: ${s}`);
  const ip = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  const v4 = parseV4(ip);
  const v6 = v4 === undefined ? parseV6(ip) : undefined;
  const family: 4 | 6 = v4 !== undefined ? 4 : 6;
  const addr = v4 ?? v6;
  const max = family === 4 ? V4_BITS : V6_BITS;
  if (addr === undefined || !/^\d+$/.test(bits) || Number(bits) > max) throw new Error(`invalid CIDR address: ${s}`);
  const prefix = Number(bits);
  const hostBits = BigInt(max - prefix);
  return { family, base: (addr >> hostBits) << hostBits, prefix };
}

export function formatCidr(c: ParsedCidr): string {
  return `${formatIP(c.base, c.family)}/${c.prefix}`;
}

export class CidrSet {
  readonly cluster: ParsedCidr;
  readonly maskSize: number;
  /** Number of subnets. */
  readonly max: number;
  private readonly used = new Set<number>();
  private nextCandidate = 0;

  constructor(clusterCidr: string, maskSize: number) {
    this.cluster = parseCidr(clusterCidr);
    const bits = this.cluster.family === 4 ? V4_BITS : V6_BITS;
    if (maskSize < this.cluster.prefix || maskSize > bits) {
      throw new Error(`node CIDR mask size /${maskSize} does not fit the cluster CIDR ${formatCidr(this.cluster)}`);
    }
    if (maskSize - this.cluster.prefix > CLUSTER_SUBNET_MAX_DIFF) {
      throw new Error(`CIDRSet: subnetMaskSize ${maskSize} is too big for the cluster CIDR ${formatCidr(this.cluster)} (at most /${this.cluster.prefix + CLUSTER_SUBNET_MAX_DIFF})`);
    }
    this.maskSize = maskSize;
    this.max = 2 ** (maskSize - this.cluster.prefix);
  }

  private get subnetShift(): bigint {
    return BigInt((this.cluster.family === 4 ? V4_BITS : V6_BITS) - this.maskSize);
  }

  private subnet(index: number): string {
    return formatCidr({ family: this.cluster.family, base: this.cluster.base + (BigInt(index) << this.subnetShift), prefix: this.maskSize });
  }

  /** The next free subnet, or undefined when the range is full. */
  allocateNext(): string | undefined {
    for (let i = 0; i < this.max; i++) {
      const idx = (this.nextCandidate + i) % this.max;
      if (this.used.has(idx)) continue;
      this.used.add(idx);
      this.nextCandidate = (idx + 1) % this.max;
      return this.subnet(idx);
    }
    return undefined;
  }

  /** Indices of the subnets `cidr` overlaps; throws when it lies outside the cluster CIDR or is of another family. */
  private indices(cidr: string): [number, number] {
    const c = parseCidr(cidr);
    if (c.family !== this.cluster.family) throw new Error(`CIDR ${cidr} is not in the cluster CIDR ${formatCidr(this.cluster)}`);
    const bits = BigInt(c.family === 4 ? V4_BITS : V6_BITS);
    const clusterEnd = this.cluster.base + (1n << (bits - BigInt(this.cluster.prefix))) - 1n;
    const end = c.base + (1n << (bits - BigInt(c.prefix))) - 1n;
    if (c.base < this.cluster.base || end > clusterEnd) throw new Error(`CIDR ${cidr} is not in the cluster CIDR ${formatCidr(this.cluster)}`);
    const first = Number((c.base - this.cluster.base) >> this.subnetShift);
    const last = Number((end - this.cluster.base) >> this.subnetShift);
    return [first, last];
  }

  /** Marks every subnet `cidr` overlaps as used. */
  occupy(cidr: string): void {
    const [a, b] = this.indices(cidr);
    for (let i = a; i <= b; i++) this.used.add(i);
  }

  release(cidr: string): void {
    const [a, b] = this.indices(cidr);
    for (let i = a; i <= b; i++) this.used.delete(i);
  }

  /** True when `cidr` is a subnet this set hands out (same size, inside the range). */
  contains(cidr: string): boolean {
    try {
      const c = parseCidr(cidr);
      if (c.prefix !== this.maskSize) return false;
      this.indices(cidr);
      return true;
    } catch {
      return false;
    }
  }

  /** Marks as used whatever part of `cidr` overlaps the cluster range (nothing for another family or no overlap). */
  occupyOverlap(cidr: string): void {
    const c = parseCidr(cidr);
    if (c.family !== this.cluster.family) return;
    const bits = BigInt(c.family === 4 ? V4_BITS : V6_BITS);
    const [small, large] = c.prefix >= this.cluster.prefix ? [c, this.cluster] : [this.cluster, c];
    const shift = bits - BigInt(large.prefix);
    if (small.base >> shift === large.base >> shift) this.occupy(formatCidr(small));
  }

  get free(): number {
    return this.max - this.used.size;
  }
}
