// Locality-based least-connection (ip_vs_lblc.c). A cache maps each
// destination IP address (the object a cache cluster serves) to one real
// server:
//
//   if cache[daddr] is set, its server has weight > 0, and it is not
//      "overloaded" in lblc's sense (activeconns > weight while some server
//      has activeconns < weight/2)            → that server;
//   else server = weighted least-connection (wlc), cache[daddr] = server.
//
// One deviation: a cached server flagged overloaded by its upper connection
// threshold (-x) is also rescheduled; IPVS returns it from the cache anyway,
// while every other scheduler here (and lblc's own wlc fallback) skips it.
//
// The cache is IPVS's table: 1024 buckets (IP_VS_LBLC_TAB_BITS = 10), hash
// ntohl(addr) * 2654435761 & 1023, at most 16384 entries (max_size = 16 per
// bucket), each stamped with its last use. IPVS expires entries from a
// timer; schedule() may not run timers or allocate, so here entries live in
// a preallocated pool and expire lazily with IPVS's two rules:
//   - an entry idle for lblc_expiration (24 h) is dropped when next looked up
//     (IPVS's full check would have dropped it by then);
//   - when the pool is full, a rover sweeps a few buckets (as the periodic
//     check does once entries exceed max_size) freeing entries idle for
//     ENTRY_TIMEOUT (6 min); if none is free the connection is still
//     scheduled, just not cached (IPVS: "we'll just use the valid dest").
// Time comes from sched/clock.ts (schedNow).

import { Scheduler, usable, GOLDEN_PRIME } from "./scheduler";
import { Service, Dest, DestState } from "../svc/service";
import { SchedInput } from "./input";
import { foldAddr, ntohl, addrEq } from "../util/bytes";
import { schedNow, since } from "./clock";
import { wlcIndex } from "./wlc";

export const TAB_BITS: i32 = 10;
export const TAB_SIZE: i32 = 1 << TAB_BITS;
const TAB_MASK: i32 = TAB_SIZE - 1;
/** IPVS's max_size: TAB_SIZE * 16 entries. */
export const MAX_ENTRIES: i32 = TAB_SIZE * 16;
/** DEFAULT_EXPIRATION (24 h) and ENTRY_TIMEOUT (6 min), in ms. */
export const EXPIRATION: u32 = 24 * 60 * 60 * 1000;
export const ENTRY_TIMEOUT: u32 = 6 * 60 * 1000;
/** Buckets the rover visits per attempt when the pool is full (bounds per-connection work). */
const SWEEP_BUCKETS: i32 = 16;

/** IPVS's lblc_hashkey: IPv6 folded to 32 bits, Knuth's multiplicative hash, low bits. */
@inline export function lblcHash(addr: v128): i32 {
  return <i32>((ntohl(foldAddr(addr)) * GOLDEN_PRIME) & <u32>TAB_MASK);
}

/**
 * Destination address → entry index, chained buckets over a fixed pool.
 * The payload (a server or a server set) lives in the owner's arrays.
 */
export class AddrCache {
  heads: StaticArray<i32> = new StaticArray<i32>(TAB_SIZE);
  next: StaticArray<i32> = new StaticArray<i32>(MAX_ENTRIES);
  addr: StaticArray<v128> = new StaticArray<v128>(MAX_ENTRIES);
  lastuse: StaticArray<u32> = new StaticArray<u32>(MAX_ENTRIES);
  /** Bucket of each entry, -1 while free. */
  bucket: StaticArray<i32> = new StaticArray<i32>(MAX_ENTRIES);
  freeHead: i32 = 0;
  count: i32 = 0;
  rover: i32 = 0;

  constructor() {
    this.heads.fill(-1);
    this.bucket.fill(-1);
    for (let i = 0; i < MAX_ENTRIES; i++) this.next[i] = i + 1 < MAX_ENTRIES ? i + 1 : -1;
  }

  find(h: i32, a: v128): i32 {
    let e = unchecked(this.heads[h]);
    while (e >= 0) {
      if (addrEq(unchecked(this.addr[e]), a)) return e;
      e = unchecked(this.next[e]);
    }
    return -1;
  }

  remove(e: i32): void {
    const h = unchecked(this.bucket[e]);
    let p = unchecked(this.heads[h]);
    if (p == e) unchecked(this.heads[h] = this.next[e]);
    else {
      while (unchecked(this.next[p]) != e) p = unchecked(this.next[p]);
      unchecked(this.next[p] = this.next[e]);
    }
    unchecked(this.bucket[e] = -1);
    unchecked(this.next[e] = this.freeHead);
    this.freeHead = e;
    this.count--;
  }

  /** A new entry for a in bucket h stamped now, or -1 when the pool is full of live entries. */
  alloc(h: i32, a: v128): i32 {
    if (this.freeHead < 0) this.sweep();
    const e = this.freeHead;
    if (e < 0) return -1;
    this.freeHead = unchecked(this.next[e]);
    unchecked(this.addr[e] = a);
    unchecked(this.lastuse[e] = schedNow);
    unchecked(this.bucket[e] = h);
    unchecked(this.next[e] = this.heads[h]);
    unchecked(this.heads[h] = e);
    this.count++;
    return e;
  }

  /** The periodic check's partial sweep: frees entries idle for ENTRY_TIMEOUT. */
  private sweep(): void {
    let j = this.rover;
    for (let i = 0; i < SWEEP_BUCKETS; i++) {
      j = (j + 1) & TAB_MASK;
      let e = unchecked(this.heads[j]);
      let freed = false;
      while (e >= 0) {
        const nx = unchecked(this.next[e]);
        if (since(unchecked(this.lastuse[e])) >= ENTRY_TIMEOUT) { this.remove(e); freed = true; }
        e = nx;
      }
      if (freed) break;
    }
    this.rover = j;
  }
}

/** Old dest index → new index (-1 when removed), by DestState identity across generations. */
export function remapDests(prev: Array<DestState>, ds: Array<Dest>): StaticArray<i32> {
  const m = new StaticArray<i32>(prev.length);
  for (let k = 0; k < prev.length; k++) {
    m[k] = -1;
    for (let j = 0; j < ds.length; j++) if (ds[j].st === prev[k]) { m[k] = j; break; }
  }
  return m;
}

export function destStates(ds: Array<Dest>): Array<DestState> {
  const a = new Array<DestState>();
  for (let j = 0; j < ds.length; j++) a.push(ds[j].st);
  return a;
}

/**
 * lblc/lblcr's own is_overloaded(): more active connections than its weight
 * while some server in the service is below half of its weight.
 */
export function localityOverloaded(d: Dest, ds: Array<Dest>): bool {
  if (d.activeconns <= d.weight) return false;
  for (let i = 0, n = ds.length; i < n; i++) {
    const m = unchecked(ds[i]);
    if (m.activeconns * 2 < m.weight) return true;
  }
  return false;
}

export class LocalityLeastConnection extends Scheduler {
  cache: AddrCache = new AddrCache();
  /** Entry → index in svc.dests, -1 after its server was removed. */
  dest: StaticArray<i32> = new StaticArray<i32>(MAX_ENTRIES);
  prev: Array<DestState> = new Array<DestState>();

  /** Entries keep pointing at the same real servers across the new generation's indices. */
  update(svc: Service): void {
    const m = remapDests(this.prev, svc.dests);
    const c = this.cache;
    for (let e = 0; e < MAX_ENTRIES; e++) {
      if (c.bucket[e] < 0) continue;
      const k = this.dest[e];
      this.dest[e] = k >= 0 && k < m.length ? m[k] : -1;
    }
    this.prev = destStates(svc.dests);
  }

  schedule(svc: Service, inp: SchedInput): Dest | null {
    const ds = svc.dests;
    const c = this.cache;
    const h = lblcHash(inp.daddr);
    let e = c.find(h, inp.daddr);
    if (e >= 0) {
      if (since(unchecked(c.lastuse[e])) >= EXPIRATION) {
        c.remove(e);
        e = -1;
      } else {
        unchecked(c.lastuse[e] = schedNow);
        const k = unchecked(this.dest[e]);
        if (k >= 0 && k < ds.length) {
          const d = unchecked(ds[k]);
          if (usable(d) && !localityOverloaded(d, ds)) return d;
        }
      }
    }
    const i = wlcIndex(ds);
    if (i < 0) return null;
    if (e < 0) e = c.alloc(h, inp.daddr);
    if (e >= 0) { unchecked(this.dest[e] = i); unchecked(c.lastuse[e] = schedNow); }
    return unchecked(ds[i]);
  }
}
