// Service clusterIP and nodePort allocation, done in the apiserver as upstream does.
// The allocated set is derived from the Services in the watch cache (the source of
// truth is the stored Services themselves), plus addresses reserved by in-flight
// creates, so a restart needs no separate allocation bitmap.

export interface Cidr {
  base: number; // IPv4 as uint32
  bits: number;
  size: number;
}

export function parseCidr(s: string): Cidr {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`invalid CIDR ${JSON.stringify(s)} (IPv4 a.b.c.d/n expected)`);
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits < 8 || bits > 30) throw new Error(`invalid CIDR ${JSON.stringify(s)}`);
  const ip = ((octets[0] << 24) >>> 0) + (octets[1] << 16) + (octets[2] << 8) + octets[3];
  const size = 2 ** (32 - bits);
  const base = ip - (ip % size);
  return { base, bits, size };
}

export function ipToString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function ipToNumber(s: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3];
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip < c.base + c.size;
}

/** The first usable address: what the `kubernetes` Service gets (10.96.0.1). */
export function firstServiceIP(c: Cidr): string {
  return ipToString(c.base + 1);
}

export class ServiceIPAllocator {
  readonly cidr: Cidr;
  private readonly inUse: () => Iterable<string>;
  private readonly reserved = new Set<number>();

  constructor(cidr: string, inUse: () => Iterable<string>) {
    this.cidr = parseCidr(cidr);
    this.inUse = inUse;
  }

  private used(): Set<number> {
    const s = new Set(this.reserved);
    for (const ip of this.inUse()) {
      const n = ipToNumber(ip);
      if (n !== undefined) s.add(n);
    }
    return s;
  }

  /** Reserve a specific address; returns an error text when it cannot be had. */
  allocateSpecific(ip: string): string | undefined {
    const n = ipToNumber(ip);
    if (n === undefined) return `failed to allocate IP ${ip}: not a valid IP address`;
    if (!cidrContains(this.cidr, n) || n === this.cidr.base || n === this.cidr.base + this.cidr.size - 1) {
      return `failed to allocate IP ${ip}: the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${ipToString(this.cidr.base)}/${this.cidr.bits}`;
    }
    if (this.used().has(n)) return `failed to allocate IP ${ip}: provided IP is already allocated`;
    this.reserved.add(n);
    return undefined;
  }

  /** A random free address, as upstream picks them (the low range is kept for static IPs). */
  allocateNext(): string | undefined {
    const used = this.used();
    const first = this.cidr.base + 1;
    const count = this.cidr.size - 2;
    // Upstream prefers the upper part of the range for dynamic allocation so that
    // statically chosen low addresses rarely clash.
    const staticBand = Math.min(256, Math.max(16, Math.floor(count / 16)));
    const dynStart = first + (count > staticBand ? staticBand : 0);
    const dynCount = count > staticBand ? count - staticBand : count;
    const start = Math.floor(Math.random() * dynCount);
    for (let i = 0; i < count; i++) {
      const n = i < dynCount ? dynStart + ((start + i) % dynCount) : first + (i - dynCount);
      if (!used.has(n)) {
        this.reserved.add(n);
        return ipToString(n);
      }
    }
    return undefined;
  }

  /** Called once a create finished (stored or failed): the cache now holds the truth. */
  release(ip: string): void {
    const n = ipToNumber(ip);
    if (n !== undefined) this.reserved.delete(n);
  }
}

export class NodePortAllocator {
  readonly min: number;
  readonly max: number;
  private readonly inUse: () => Iterable<number>;
  private readonly reserved = new Set<number>();

  constructor(range: string, inUse: () => Iterable<number>) {
    const m = /^(\d+)-(\d+)$/.exec(range.trim());
    if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) > 65535) {
      throw new Error(`invalid port range ${JSON.stringify(range)} (e.g. 30000-32767)`);
    }
    this.min = Number(m[1]);
    this.max = Number(m[2]);
    this.inUse = inUse;
  }

  get rangeText(): string {
    return `${this.min}-${this.max}`;
  }

  private used(): Set<number> {
    const s = new Set(this.reserved);
    for (const p of this.inUse()) s.add(p);
    return s;
  }

  allocateSpecific(port: number): string | undefined {
    if (port < this.min || port > this.max) {
      return `provided port is not in the valid range. The range of valid ports is ${this.rangeText}`;
    }
    if (this.used().has(port)) return 'provided port is already allocated';
    this.reserved.add(port);
    return undefined;
  }

  allocateNext(): number | undefined {
    const used = this.used();
    const count = this.max - this.min + 1;
    const start = Math.floor(Math.random() * count);
    for (let i = 0; i < count; i++) {
      const p = this.min + ((start + i) % count);
      if (!used.has(p)) {
        this.reserved.add(p);
        return p;
      }
    }
    return undefined;
  }

  release(port: number): void {
    this.reserved.delete(port);
  }
}
