// The Kubernetes DNS-based service discovery schema (kubernetes/dns docs/specification.md,
// schema 1.1.0 as CoreDNS serves it): which records a name in the cluster zone has,
// computed from what the API holds now. Pure: the cluster is read through ClusterData,
// so the rules can be tested without a server. What must hold:
//   - A name that exists with no record of the asked type is NODATA (NOERROR, no
//     answer, the zone's SOA in authority); a name that does not exist is NXDOMAIN
//     (with the SOA too). Both are authoritative.
//   - Comparisons are case-insensitive; answers carry the owner name as asked.
//   - A headless service with no ready endpoint is NXDOMAIN (the spec); a service port
//     name that does not exist is NXDOMAIN; a namespace that exists is NODATA.
//   - Reverse names with no cluster record, and names outside the zone, are not ours:
//     the caller forwards them (CoreDNS's `fallthrough in-addr.arpa ip6.arpa`).

import { isIP } from 'node:net';

export const DNS_SCHEMA_VERSION = '1.1.0';

export interface DnsServicePort {
  name?: string;
  port: number;
  protocol?: string;
}

/** The parts of a Service DNS reads. */
export interface DnsService {
  namespace: string;
  name: string;
  type?: string;
  /** spec.clusterIPs (or [clusterIP]); empty or ['None'] for a headless service. */
  clusterIPs: string[];
  externalName?: string;
  ports: DnsServicePort[];
}

/** A ready endpoint of a service (from its EndpointSlices). */
export interface DnsEndpoint {
  ip: string;
  /** The endpoint's own hostname, when set. */
  hostname?: string;
  ports: DnsServicePort[];
}

export interface ClusterData {
  service(namespace: string, name: string): DnsService | undefined;
  namespaceExists(namespace: string): boolean;
  /** Ready endpoints of the service, one per address. */
  readyEndpoints(namespace: string, name: string): DnsEndpoint[];
  /** Services whose cluster IPs include `ip`. */
  servicesByIP(ip: string): DnsService[];
  /** Ready endpoints with address `ip`, with the service they belong to. */
  endpointsByIP(ip: string): { namespace: string; service: string; endpoint: DnsEndpoint }[];
  /** Pods in `namespace` with IP `ip` exist (pods verified mode). */
  podExists(namespace: string, ip: string): boolean;
  /** Addresses of the DNS service itself (for NS and ns.dns.<zone>). */
  nameserverIPs(): string[];
  /** The SOA serial: when the cluster data last changed, in seconds since the epoch. */
  serial(): number;
}

export type PodMode = 'disabled' | 'insecure' | 'verified';

export interface ZoneOptions {
  /** The cluster domain, e.g. "cluster.local" (no trailing dot). */
  domain: string;
  /** TTL of cluster records (CoreDNS's kubernetes plugin: 5 s by default; kubeadm's Corefile sets 30). */
  ttl: number;
  podMode: PodMode;
}

export type Rec =
  | { name: string; type: 'A' | 'AAAA' | 'CNAME' | 'PTR' | 'NS'; ttl: number; data: string }
  | { name: string; type: 'SRV'; ttl: number; data: { priority: number; weight: number; port: number; target: string } }
  | { name: string; type: 'TXT'; ttl: number; data: string[] }
  | { name: string; type: 'SOA'; ttl: number; data: { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number } };

export type ZoneAnswer =
  /** Not ours (outside the zone, or a reverse name with no cluster record): forward it. */
  | { kind: 'forward' }
  | {
      kind: 'answer';
      rcode: 'NOERROR' | 'NXDOMAIN';
      answers: Rec[];
      authorities: Rec[];
      additionals: Rec[];
      /**
       * An ExternalName's CNAME to resolve further: the caller appends the target's
       * records of `type` (from the cluster or upstream) after the CNAME.
       */
      chase?: { target: string; type: string };
    };

interface Item {
  /** An IP address, or a name for ExternalName services. */
  host: string;
  /** -1: no port (an endpoint of a service without ports). */
  port: number;
  /** The owner name SRV records point at. */
  target: string;
}

type Lookup = { items: Item[]; exists: boolean };

const NOTHING: Lookup = { items: [], exists: false };
const EMPTY: Lookup = { items: [], exists: true };

export class Zone {
  readonly domain: string;
  private readonly opts: ZoneOptions;
  private readonly data: ClusterData;

  constructor(data: ClusterData, opts: ZoneOptions) {
    this.data = data;
    this.opts = opts;
    this.domain = opts.domain.toLowerCase().replace(/\.$/, '');
  }

  /** The zone a name belongs to (cluster domain or a reverse zone), or undefined when it is not ours. */
  zoneOf(qname: string): string | undefined {
    const n = qname.toLowerCase().replace(/\.$/, '');
    if (n === this.domain || n.endsWith('.' + this.domain)) return this.domain;
    if (n === 'in-addr.arpa' || n.endsWith('.in-addr.arpa')) return 'in-addr.arpa';
    if (n === 'ip6.arpa' || n.endsWith('.ip6.arpa')) return 'ip6.arpa';
    return undefined;
  }

  /** The SOA of the cluster zone (CoreDNS's values: refresh 7200, retry 1800, expire 86400, minimum = ttl). */
  soa(zone: string = this.domain): Rec {
    return {
      name: zone,
      type: 'SOA',
      ttl: Math.min(this.opts.ttl, 300),
      data: {
        mname: `ns.dns.${this.domain}`,
        rname: `hostmaster.${this.domain}`,
        serial: this.data.serial() >>> 0,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: this.opts.ttl,
      },
    };
  }

  /** Answers `qname`/`qtype` (type names as dns-packet spells them). */
  resolve(qname: string, qtype: string): ZoneAnswer {
    const name = qname.replace(/\.$/, '');
    const lower = name.toLowerCase();
    const zone = this.zoneOf(lower);
    if (zone === undefined) return { kind: 'forward' };
    if (zone !== this.domain) return this.reverse(name, lower, qtype);
    const rel = lower === this.domain ? '' : lower.slice(0, lower.length - this.domain.length - 1);
    const segs = rel === '' ? [] : rel.split('.');
    const ttl = this.opts.ttl;

    if (segs.length === 0) return this.apex(name, qtype);
    if (segs.length === 1 && segs[0] === 'dns-version') {
      if (qtype === 'TXT') return this.ok([{ name, type: 'TXT', ttl: 28800, data: [DNS_SCHEMA_VERSION] }]);
      return this.nodata();
    }
    if (segs.length === 2 && segs[0] === 'ns' && segs[1] === 'dns') {
      const recs = this.addressRecords(name, this.data.nameserverIPs(), qtype);
      return recs.length ? this.ok(recs) : this.nodata();
    }

    const kind = segs[segs.length - 1];
    if (kind !== 'svc' && kind !== 'pod') return this.nxdomain();
    if (segs.length === 1) return this.nodata();
    const namespace = segs[segs.length - 2];
    if (!this.data.namespaceExists(namespace)) return this.nxdomain();
    if (segs.length === 2) return this.nodata();

    const look = kind === 'pod' ? this.pods(segs, namespace) : this.services(segs, namespace);
    if (!look.exists) return this.nxdomain();

    const answers: Rec[] = [];
    const additionals: Rec[] = [];
    let chase: { target: string; type: string } | undefined;
    const cnames = look.items.filter((i) => isIP(i.host) === 0);
    const addrs = look.items.filter((i) => isIP(i.host) !== 0);
    switch (qtype) {
      case 'A':
      case 'AAAA':
      case 'ANY': {
        const fams = qtype === 'A' ? [4] : qtype === 'AAAA' ? [6] : [4, 6];
        const seen = new Set<string>();
        for (const i of addrs) {
          const fam = isIP(i.host);
          if (!fams.includes(fam) || seen.has(i.host)) continue;
          seen.add(i.host);
          answers.push({ name, type: fam === 4 ? 'A' : 'AAAA', ttl, data: i.host });
        }
        const c = cnames[0];
        if (c && c.host.toLowerCase() !== lower) {
          answers.push({ name, type: 'CNAME', ttl, data: c.host });
          if (qtype !== 'ANY') chase = { target: c.host, type: qtype };
        }
        break;
      }
      case 'CNAME': {
        const c = cnames[0];
        if (c) answers.push({ name, type: 'CNAME', ttl, data: c.host });
        break;
      }
      case 'SRV': {
        // One priority; weights share 100 (floor, at least 1), as CoreDNS.
        const usable = addrs.filter((i) => i.port >= 0);
        const weight = Math.max(1, Math.floor(100 / Math.max(1, usable.length)));
        const seenSrv = new Set<string>();
        const seenAddr = new Set<string>();
        for (const i of usable) {
          const k = `${i.target.toLowerCase()}|${i.port}`;
          if (!seenSrv.has(k)) {
            seenSrv.add(k);
            answers.push({ name, type: 'SRV', ttl, data: { priority: 0, weight, port: i.port, target: i.target } });
          }
          const a = `${i.target.toLowerCase()}|${i.host}`;
          if (!seenAddr.has(a)) {
            seenAddr.add(a);
            additionals.push({ name: i.target, type: isIP(i.host) === 4 ? 'A' : 'AAAA', ttl, data: i.host });
          }
        }
        break;
      }
      default:
        break;
    }
    if (answers.length === 0) return this.nodata();
    return { kind: 'answer', rcode: 'NOERROR', answers, authorities: [], additionals, chase };
  }

  private apex(name: string, qtype: string): ZoneAnswer {
    if (qtype === 'SOA') return this.ok([{ ...this.soa(), name }]);
    if (qtype === 'NS') {
      const ns = `ns.dns.${this.domain}`;
      const additionals = this.addressRecords(ns, this.data.nameserverIPs(), 'ANY');
      return { kind: 'answer', rcode: 'NOERROR', answers: [{ name, type: 'NS', ttl: this.opts.ttl, data: ns }], authorities: [], additionals };
    }
    return this.nodata();
  }

  private addressRecords(name: string, ips: string[], qtype: string): Rec[] {
    const out: Rec[] = [];
    for (const ip of ips) {
      const fam = isIP(ip);
      if (fam === 4 && (qtype === 'A' || qtype === 'ANY')) out.push({ name, type: 'A', ttl: this.opts.ttl, data: ip });
      if (fam === 6 && (qtype === 'AAAA' || qtype === 'ANY')) out.push({ name, type: 'AAAA', ttl: this.opts.ttl, data: ip });
    }
    return out;
  }

  /** `<a-b-c-d>.<ns>.pod.<zone>` (IPv6 with dashes for colons). */
  private pods(segs: string[], namespace: string): Lookup {
    if (this.opts.podMode === 'disabled' || segs.length !== 3) return NOTHING;
    const label = segs[0];
    const ip = (label.match(/-/g)?.length ?? 0) === 3 && !label.includes('--') ? label.replaceAll('-', '.') : label.replaceAll('-', ':');
    if (isIP(ip) === 0) return NOTHING;
    if (this.opts.podMode === 'verified' && !this.data.podExists(namespace, ip)) return NOTHING;
    return { exists: true, items: [{ host: ip, port: -1, target: '' }] };
  }

  /**
   * `<svc>.<ns>.svc`, `<endpoint>.<svc>.<ns>.svc` and `_<port>._<proto>.<svc>.<ns>.svc`
   * (CoreDNS's parseRequest shapes).
   */
  private services(segs: string[], namespace: string): Lookup {
    const service = segs[segs.length - 3];
    let endpoint = '';
    let port = '';
    let proto = '';
    const left = segs.length - 3;
    if (left === 1) endpoint = segs[0];
    else if (left === 2) {
      port = segs[0].replace(/^_/, '');
      proto = segs[1].replace(/^_/, '');
    } else if (left > 2) return NOTHING;

    const svc = this.data.service(namespace, service);
    if (!svc) return NOTHING;
    const base = `${svc.name}.${svc.namespace}.svc.${this.domain}`;
    const portMatches = (p: DnsServicePort) =>
      (port === '' || (p.name ?? '').toLowerCase() === port) && (proto === '' || (p.protocol ?? 'TCP').toLowerCase() === proto);

    if (svc.type === 'ExternalName') {
      if (endpoint !== '' || !svc.externalName || isIP(svc.externalName) !== 0) return NOTHING;
      return { exists: true, items: [{ host: svc.externalName.replace(/\.$/, ''), port: -1, target: base }] };
    }
    const headless = svc.clusterIPs.length === 0 || svc.clusterIPs[0] === 'None';
    if (headless || endpoint !== '') {
      const items: Item[] = [];
      for (const ep of this.data.readyEndpoints(svc.namespace, svc.name)) {
        const host = endpointHostname(ep);
        if (endpoint !== '' && host.toLowerCase() !== endpoint) continue;
        const target = `${host}.${base}`;
        if (ep.ports.length === 0) {
          if (port === '' && proto === '') items.push({ host: ep.ip, port: -1, target });
          continue;
        }
        for (const p of ep.ports) if (portMatches(p)) items.push({ host: ep.ip, port: p.port, target });
      }
      return items.length ? { exists: true, items } : NOTHING;
    }
    const items: Item[] = [];
    let matched = false;
    for (const p of svc.ports) {
      if (!portMatches(p)) continue;
      matched = true;
      for (const ip of svc.clusterIPs) items.push({ host: ip, port: p.port, target: base });
    }
    return matched ? { exists: true, items } : NOTHING;
  }

  /** PTR for service and endpoint IPs; everything else in the reverse zones is forwarded. */
  private reverse(name: string, lower: string, qtype: string): ZoneAnswer {
    if (qtype !== 'PTR') return { kind: 'forward' };
    const ip = ipFromReverse(lower);
    if (!ip) return { kind: 'forward' };
    const ttl = this.opts.ttl;
    const svcs = this.data.servicesByIP(ip);
    if (svcs.length) return this.ok([{ name, type: 'PTR', ttl, data: `${svcs[0].name}.${svcs[0].namespace}.svc.${this.domain}` }]);
    const answers: Rec[] = [];
    const seen = new Set<string>();
    for (const e of this.data.endpointsByIP(ip)) {
      const target = `${endpointHostname(e.endpoint)}.${e.service}.${e.namespace}.svc.${this.domain}`;
      if (seen.has(target)) continue;
      seen.add(target);
      answers.push({ name, type: 'PTR', ttl, data: target });
    }
    return answers.length ? this.ok(answers) : { kind: 'forward' };
  }

  private ok(answers: Rec[]): ZoneAnswer {
    return { kind: 'answer', rcode: 'NOERROR', answers, authorities: [], additionals: [] };
  }

  private nodata(): ZoneAnswer {
    return { kind: 'answer', rcode: 'NOERROR', answers: [], authorities: [this.soa()], additionals: [] };
  }

  private nxdomain(): ZoneAnswer {
    return { kind: 'answer', rcode: 'NXDOMAIN', answers: [], authorities: [this.soa()], additionals: [] };
  }
}

/** The spec's _hostname_: the endpoint's hostname, else its IP with dashes (CoreDNS's choice). */
export function endpointHostname(ep: DnsEndpoint): string {
  if (ep.hostname) return ep.hostname;
  return ep.ip.includes(':') ? ep.ip.replaceAll(':', '-') : ep.ip.replaceAll('.', '-');
}

/** The address a full reverse name stands for (`4.3.2.1.in-addr.arpa`, 32 nibbles `.ip6.arpa`), else undefined. */
export function ipFromReverse(lower: string): string | undefined {
  if (lower.endsWith('.in-addr.arpa')) {
    const parts = lower.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
    return parts.reverse().map(Number).join('.');
  }
  if (lower.endsWith('.ip6.arpa')) {
    const nibbles = lower.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
    const hex = nibbles.reverse().join('');
    const groups = hex.match(/.{4}/g)!.map((g) => g.replace(/^0+(?=.)/, ''));
    return canonicalIPv6(groups.join(':'));
  }
  return undefined;
}

/** RFC 5952 text of an IPv6 address (lower case, longest zero run compressed), or the input if it is not one. */
export function canonicalIPv6(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const full = expandIPv6(ip);
  if (!full) return ip;
  const groups = full.map((g) => g.toString(16));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (full[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && full[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

/** The eight 16-bit groups of an IPv6 address (with an embedded IPv4 tail allowed). */
export function expandIPv6(ip: string): number[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let s = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = v4[1].split('.').map(Number);
    s = s.slice(0, -v4[1].length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const fill = s.includes('::') ? 8 - h.length - t.length : 0;
  const all = [...h, ...Array(fill).fill('0'), ...t];
  if (all.length !== 8) return undefined;
  return all.map((g) => parseInt(g, 16));
}
