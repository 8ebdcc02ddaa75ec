// Locality-based least-connection with replication (ip_vs_lblcr.c). Like
// lblc, but each destination IP address maps to a *set* of real servers:
//
//   if set[daddr] exists:
//      n = weighted least-connection member of the set (skipping overloaded
//          and weight-0 members);
//      if the set has more than one member and was last changed longer than
//          lblcr_expiration (24 h) ago, drop its most-loaded member;
//      if n is missing or "overloaded" in lblc's sense (activeconns > weight
//          while some server has activeconns < weight/2):
//             n = wlc over all servers, added to the set;
//   else n = wlc over all servers, set[daddr] = {n}.
//
// Loads compare overhead/weight as h1*w2 > h2*w1, overhead =
// (activeconns << 8) + inactconns. IPVS adds members at the head of the set
// list, so "first wins" ties in the set favour the newest member; the set
// is walked newest-first here to match.
//
// The cache table and its expiry follow lblc.ts (1024 buckets hashed with
// hash_32 as ip_vs_lblcr_hashkey, 16384 pooled entries, idle entries dropped
// after 24 h on lookup or after 6 min when the pool is full). Deviations
// forced by the no-allocation rule: a set holds at most SET_MAX servers (when
// full, the most-loaded member is dropped to make room), and a removed real
// server leaves every set at the commit that removes it (IPVS keeps it as an
// unavailable member until it is dropped).

import { Scheduler, usable, connOverhead } from "./scheduler";
import { Service, Dest, DestState } from "../svc/service";
import { SchedInput } from "./input";
import { foldAddr, ntohl, hash32 } from "../util/bytes";
import { schedNow, since } from "./clock";
import { wlcIndex } from "./wlc";
import { AddrCache, MAX_ENTRIES, EXPIRATION, TAB_BITS, remapDests, destStates, localityOverloaded } from "./lblc";

/** Servers per set. */
export const SET_MAX: i32 = 8;

export class LocalityLeastConnectionRepl extends Scheduler {
  cache: AddrCache = new AddrCache();
  /** Set members (indices in svc.dests), SET_MAX slots per entry, oldest first. */
  members: StaticArray<u16> = new StaticArray<u16>(MAX_ENTRIES * SET_MAX);
  size: StaticArray<u8> = new StaticArray<u8>(MAX_ENTRIES);
  lastmod: StaticArray<u32> = new StaticArray<u32>(MAX_ENTRIES);
  prev: Array<DestState> = new Array<DestState>();

  update(svc: Service): void {
    const m = remapDests(this.prev, svc.dests);
    const c = this.cache;
    for (let e = 0; e < MAX_ENTRIES; e++) {
      if (c.bucket[e] < 0) continue;
      const base = e * SET_MAX;
      let k = 0;
      for (let i = 0, n = <i32>this.size[e]; i < n; i++) {
        const old = <i32>this.members[base + i];
        const nw = old < m.length ? m[old] : -1;
        if (nw >= 0) this.members[base + k++] = <u16>nw;
      }
      this.size[e] = <u8>k;
    }
    this.prev = destStates(svc.dests);
  }

  /** ip_vs_dest_set_min: weighted least-connection member, newest first; -1 if none usable. */
  private setMin(e: i32, ds: Array<Dest>): i32 {
    const base = e * SET_MAX;
    let i = <i32>unchecked(this.size[e]) - 1;
    let least = -1;
    let loh: i64 = 0, lw: i64 = 0;
    for (; i >= 0; i--) {
      const k = <i32>unchecked(this.members[base + i]);
      const d = unchecked(ds[k]);
      if (least < 0) {
        if (usable(d)) { least = k; loh = connOverhead(d); lw = d.weight; }
        continue;
      }
      if (d.overloaded) continue;
      const doh = <i64>connOverhead(d);
      if (loh * <i64>d.weight > doh * lw) { least = k; loh = doh; lw = d.weight; }
    }
    return least;
  }

  /** ip_vs_dest_set_max: the most loaded member with weight > 0 (slot position), -1 if none. */
  private setMax(e: i32, ds: Array<Dest>): i32 {
    const base = e * SET_MAX;
    let most = -1;
    let moh: i64 = 0, mw: i64 = 0;
    for (let i = <i32>this.size[e] - 1; i >= 0; i--) {
      const d = ds[<i32>this.members[base + i]];
      if (d.weight <= 0) continue;
      const doh = <i64>connOverhead(d);
      if (most < 0 || moh * <i64>d.weight < doh * mw) { most = i; moh = doh; mw = d.weight; }
    }
    return most;
  }

  private erase(e: i32, slot: i32): void {
    const base = e * SET_MAX;
    const n = <i32>this.size[e];
    for (let i = slot; i + 1 < n; i++) this.members[base + i] = this.members[base + i + 1];
    this.size[e] = <u8>(n - 1);
    this.lastmod[e] = schedNow;
  }

  /** ip_vs_dest_set_insert with check: add k unless already a member. */
  private insert(e: i32, k: i32, ds: Array<Dest>): void {
    const base = e * SET_MAX;
    const n = <i32>this.size[e];
    for (let i = 0; i < n; i++) if (<i32>this.members[base + i] == k) return;
    if (n == SET_MAX) {
      const s = this.setMax(e, ds);
      this.erase(e, s >= 0 ? s : 0);
    }
    const m = <i32>this.size[e];
    this.members[base + m] = <u16>k;
    this.size[e] = <u8>(m + 1);
    this.lastmod[e] = schedNow;
  }

  schedule(svc: Service, inp: SchedInput): Dest | null {
    const ds = svc.dests;
    const c = this.cache;
    const h = <i32>hash32(ntohl(foldAddr(inp.daddr)), TAB_BITS);
    let e = c.find(h, inp.daddr);
    if (e >= 0 && since(unchecked(c.lastuse[e])) >= EXPIRATION) { c.remove(e); e = -1; }
    if (e >= 0) {
      unchecked(c.lastuse[e] = schedNow);
      const k = this.setMin(e, ds);
      // More than one member and unchanged for a whole expiration period: shrink.
      if (<i32>this.size[e] > 1 && <i32>(schedNow - (this.lastmod[e] + EXPIRATION)) > 0) {
        const s = this.setMax(e, ds);
        if (s >= 0) this.erase(e, s);
      }
      if (k >= 0 && !localityOverloaded(unchecked(ds[k]), ds)) return unchecked(ds[k]);
      const i = wlcIndex(ds);
      if (i < 0) return null;
      this.insert(e, i, ds);
      return unchecked(ds[i]);
    }
    const i = wlcIndex(ds);
    if (i < 0) return null;
    e = c.alloc(h, inp.daddr);
    if (e >= 0) {
      this.size[e] = 0;
      this.insert(e, i, ds);
    }
    return unchecked(ds[i]);
  }
}
