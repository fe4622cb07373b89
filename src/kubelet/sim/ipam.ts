// Addresses for simulated nodes and their pods (IPv4 only).
//
// - Node InternalIPs come from 198.18.0.0/15 (RFC 2544, reserved for network benchmark
//   tests and never routed); a simulated node sends no packets anyway.
// - Each node gets the i-th /24 (configurable mask) of the cluster pod range as its
//   spec.podCIDR, as the node-ipam controller hands them out; its pods get addresses from
//   it, .1 being the bridge gateway as with the CNI bridge plugin.
// - A range too small for the nodes asked for is an error naming a range that fits:
//   nodes never silently share subnets.

export interface Cidr {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

export function parseIPv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIPv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function parseCidr4(s: string): Cidr {
  const [ip, bits] = s.split('/');
  const addr = parseIPv4(ip ?? '');
  const prefix = Number(bits);
  if (addr === undefined || bits === undefined || !/^\d+$/.test(bits) || prefix > 32) throw new Error(`invalid IPv4 CIDR "${s}"`);
  const size = 2 ** (32 - prefix);
  return { base: addr - (addr % size), prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.base)}/${c.prefix}`;
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip < c.base + cidrSize(c);
}

/** Hands out the /mask subnets of a cluster range, skipping those already in use. */
export class PodCIDRAllocator {
  readonly cluster: Cidr;
  readonly maskSize: number;
  readonly capacity: number;
  private readonly used = new Set<number>();
  private next = 0;

  constructor(clusterCidr: string, maskSize = 24) {
    this.cluster = parseCidr4(clusterCidr);
    if (maskSize < this.cluster.prefix || maskSize > 30) {
      throw new Error(`node CIDR mask /${maskSize} does not fit in the pod range ${formatCidr(this.cluster)}`);
    }
    this.maskSize = maskSize;
    this.capacity = 2 ** (maskSize - this.cluster.prefix);
  }

  /** Marks a subnet (e.g. read from an existing Node) as taken; false if outside the range. */
  occupy(cidr: string): boolean {
    let c: Cidr;
    try {
      c = parseCidr4(cidr);
    } catch {
      return false;
    }
    if (c.prefix !== this.maskSize || !cidrContains(this.cluster, c.base)) return false;
    this.used.add((c.base - this.cluster.base) / cidrSize(c));
    return true;
  }

  release(cidr: string): void {
    const c = parseCidr4(cidr);
    if (cidrContains(this.cluster, c.base)) this.used.delete((c.base - this.cluster.base) / 2 ** (32 - this.maskSize));
  }

  /** The next free subnet, or undefined when the range is full. */
  allocate(): string | undefined {
    if (this.used.size >= this.capacity) return undefined;
    for (let i = 0; i < this.capacity; i++) {
      const idx = (this.next + i) % this.capacity;
      if (!this.used.has(idx)) {
        this.used.add(idx);
        this.next = idx + 1;
        return formatCidr({ base: this.cluster.base + idx * 2 ** (32 - this.maskSize), prefix: this.maskSize });
      }
    }
    return undefined;
  }

  get free(): number {
    return this.capacity - this.used.size;
  }
}

/**
 * A range of /mask subnets holding `nodes` of them, for error messages: 10.128.0.0/9 and
 * its parts lie outside the default service range (10.96.0.0/12) and the default pod
 * range (10.244.0.0/16 sits inside it, so ask for a range that replaces it).
 */
export function suggestClusterCidr(nodes: number, maskSize = 24): string {
  const prefix = Math.max(9, maskSize - Math.ceil(Math.log2(Math.max(2, nodes))));
  return formatCidr(parseCidr4(`10.128.0.0/${prefix}`));
}

/** Pod addresses within one node's podCIDR: .1 is the gateway, the network and broadcast are never used. */
export class PodIPAllocator {
  readonly cidr: Cidr;
  private readonly used = new Set<number>();
  private next: number;

  constructor(podCIDR: string) {
    this.cidr = parseCidr4(podCIDR);
    this.next = 2;
  }

  get capacity(): number {
    return Math.max(0, cidrSize(this.cidr) - 3);
  }

  occupy(ip: string): boolean {
    const n = parseIPv4(ip);
    if (n === undefined || !cidrContains(this.cidr, n)) return false;
    this.used.add(n - this.cidr.base);
    return true;
  }

  release(ip: string): void {
    const n = parseIPv4(ip);
    if (n !== undefined) this.used.delete(n - this.cidr.base);
  }

  /** The next free address after the last one given (addresses are reused last, as host-local IPAM does). */
  allocate(): string | undefined {
    const usable = this.capacity;
    for (let i = 0; i < usable; i++) {
      const off = 2 + ((this.next - 2 + i) % usable);
      if (!this.used.has(off)) {
        this.used.add(off);
        this.next = off + 1;
        return formatIPv4(this.cidr.base + off);
      }
    }
    return undefined;
  }
}

/** The i-th node address in 198.18.0.0/15, skipping .0 and .255 of each /24 for readability. */
export function simNodeIP(index: number): string {
  const base = parseIPv4('198.18.0.0')!;
  const perBlock = 254;
  const block = Math.floor(index / perBlock);
  const off = (index % perBlock) + 1;
  if (block >= 512) throw new Error(`no simulated node address for index ${index}: 198.18.0.0/15 holds ${512 * perBlock}`);
  return formatIPv4(base + block * 256 + off);
}
