// The response cache: whole encoded answers keyed by the query's bytes after its ID
// (plus transport and address family), so a hit costs one map lookup and a copy, with
// no decode. What must hold:
//   - Cluster answers are valid for one generation of the cluster data: any change the
//     informers see makes them misses (no stale service IP after an update).
//   - Forwarded answers live for their smallest TTL, capped (CoreDNS `cache 30`), and
//     are served with their TTLs lowered by the time spent in the cache.
//   - The cache holds at most `maxEntries`; the oldest entry goes first.

import { ageTtls } from './wire.ts';

export interface CacheEntry {
  response: Buffer;
  /** Offsets of TTL fields to age (forwarded answers), else undefined. */
  ttlOffsets: number[] | undefined;
  storedAt: number;
  expiresAt: number;
  /** The cluster generation the answer was computed at; -1 when it does not depend on it. */
  generation: number;
  /** Precomputed metric label keys (so a hit costs no string building). */
  requestLabels: string;
  responseLabels: string;
  /** "success" or "denial" (NXDOMAIN and NODATA), as CoreDNS's cache metrics. */
  kind: 'success' | 'denial';
}

export class ResponseCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly maxEntries: number;
  hits = 0;
  misses = 0;

  constructor(maxEntries = 10_000) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry for `key` if still valid at `now` for cluster `generation`. */
  get(key: string, now: number, generation: number): CacheEntry | undefined {
    const e = this.entries.get(key);
    if (!e) {
      this.misses++;
      return undefined;
    }
    if (now >= e.expiresAt || (e.generation >= 0 && e.generation !== generation)) {
      this.entries.delete(key);
      this.misses++;
      return undefined;
    }
    this.hits++;
    return e;
  }

  set(key: string, entry: CacheEntry): void {
    if (this.maxEntries <= 0) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, entry);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** A copy of the cached answer with the client's ID and aged TTLs. */
export function answerFromCache(e: CacheEntry, query: Buffer, now: number): Buffer {
  const out = Buffer.allocUnsafe(e.response.length);
  e.response.copy(out);
  out[0] = query[0];
  out[1] = query[1];
  if (e.ttlOffsets) ageTtls(out, e.ttlOffsets, Math.floor((now - e.storedAt) / 1000));
  return out;
}
