// Maglev hashing (ip_vs_mh.c; Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer", NSDI 2016, section 3.4).
//
// Every real server gets a permutation of the lookup table's M slots from two
// hashes of its address and port: it prefers slot offset, then offset + skip,
// offset + 2*skip, ... (mod M). M is prime, so any skip in [1, M-1] visits
// every slot. update() fills the table round by round: each server in list
// order claims its next still-free preferred slot, `turns` times per round,
// until all M slots are taken. A connection is looked up with one hash of
// the client address (plus client port with mh-port, SVC_F_SCHED2) mod M.
// Because each server keeps mostly the same preferred slots, removing one of
// N servers moves about 1/N of the clients, the consistent-hashing property.
//
// As IPVS: weights enter through turns = (weight / gcd) >> rshift (at least 1
// for a positive weight), rshift keeping the largest at MH_TAB_BITS bits; the
// table is built from the last non-zero weight of each server (IPVS's
// last_weight), so setting a weight to 0 quiesces a server without
// reshuffling the others: its slots then give no server, or with
// mh-fallback (SVC_F_SCHED1) the lookup is retried at offsets 0, 1, ... from
// the original slot (rehashing with the offset added, ip_vs_mh_get_fallback)
// until a server with weight > 0 that is not overloaded turns up.
//
// Differences from IPVS: M = 65537 (the paper's table size; IPVS's default is
// 4093) and so MH_TAB_BITS = 8 where IPVS uses 6; the two hashes are
// murmur-style mixes instead of hsiphash with fixed keys, so the layout
// differs from a kernel's even for the same servers.

import { Scheduler, usable } from "./scheduler";
import { Service, Dest, DestState, SVC_F_SCHED1, SVC_F_SCHED2 } from "../svc/service";
import { SchedInput } from "./input";
import { foldAddr, ntohl, ntohs, mix32 } from "../util/bytes";
import { hashPort } from "./sh";

export const MH_TAB_SIZE: u32 = 65537;
const MH_TAB_BITS: i32 = 8;
const EMPTY: u16 = 0xffff;
/** Slot values are u16 dest indices; servers past this index get no slots. */
const MAX_DESTS: i32 = 0xffff;

/** First hash (offset, and the client lookup). */
@inline function hash1(v: u32): u32 { return mix32(v * 0x9E3779B1 + 0x7F4A7C15); }
/** Second, independent hash (skip). */
@inline function hash2(v: u32): u32 { return mix32((v ^ 0x85EBCA6B) * 0xC2B2AE35 + 0x165667B1); }

function gcd(a: i32, b: i32): i32 {
  while (b != 0) { const t = a % b; a = b; b = t; }
  return a;
}

export class MaglevHashing extends Scheduler {
  /** Slot → index in svc.dests, EMPTY when no server has a positive last weight. */
  tab: StaticArray<u16> = new StaticArray<u16>(<i32>MH_TAB_SIZE);
  /** last_weight per real server from the previous update, keyed by its DestState. */
  prevStates: Array<DestState> = new Array<DestState>();
  prevLw: Array<i32> = new Array<i32>();

  constructor() {
    super();
    this.tab.fill(EMPTY);
  }

  update(svc: Service): void {
    const ds = svc.dests;
    const n = min(ds.length, MAX_DESTS);
    // last_weight: the newest non-zero weight; a server added with weight 0 has 0.
    const lw = new Array<i32>();
    const states = new Array<DestState>();
    let g: i32 = 0, maxw: i32 = 0;
    for (let j = 0; j < n; j++) {
      const d = ds[j];
      let w = d.weight;
      if (w == 0) {
        const k = this.prevStates.indexOf(d.st);
        if (k >= 0) w = this.prevLw[k];
      }
      lw.push(w); states.push(d.st);
      if (w > 0) { g = g > 0 ? gcd(w, g) : w; if (w > maxw) maxw = w; }
    }
    this.prevStates = states; this.prevLw = lw;

    const tab = this.tab;
    tab.fill(EMPTY);
    if (g < 1) return; // no server with a positive last weight: empty table
    const shift = (32 - <i32>clz<u32>(<u32>(maxw / g))) - MH_TAB_BITS;
    const rshift = shift > 0 ? shift : 0;

    // Each server's permutation (offset, skip) and its turns per round.
    const perm = new StaticArray<u32>(n), skip = new StaticArray<u32>(n), turns = new StaticArray<i32>(n);
    for (let j = 0; j < n; j++) {
      const d = ds[j];
      const v = ntohs(d.port) + ntohl(foldAddr(d.addr));
      perm[j] = hash1(v) % MH_TAB_SIZE;
      skip[j] = hash2(v) % (MH_TAB_SIZE - 1) + 1;
      const t = (lw[j] / g) >> rshift;
      turns[j] = t > 0 ? t : (lw[j] > 0 ? 1 : 0);
    }
    // Populate: round after round, every server claims `turns` free slots.
    let filled: u32 = 0;
    // j < n == the arrays' length, so the accesses below need no bounds checks.
    while (true) {
      for (let j = 0; j < n; j++) {
        const sk = unchecked(skip[j]);
        let c = unchecked(perm[j]);
        for (let t = 0, tn = unchecked(turns[j]); t < tn; t++) {
          while (unchecked(tab[c]) != EMPTY) {
            c += sk;
            if (c >= MH_TAB_SIZE) c -= MH_TAB_SIZE;
          }
          unchecked(tab[c] = <u16>j);
          if (++filled == MH_TAB_SIZE) return;
        }
        unchecked(perm[j] = c);
      }
    }
  }

  schedule(svc: Service, inp: SchedInput): Dest | null {
    const ds = svc.dests;
    const port: u32 = (svc.flags & SVC_F_SCHED2) != 0 ? hashPort(inp) : 0;
    const key = port + ntohl(foldAddr(inp.saddr));
    const ihash = hash1(key) % MH_TAB_SIZE;
    const tab = this.tab;
    let j = unchecked(tab[ihash]);
    if (j == EMPTY || <i32>j >= ds.length) return null;
    let d = unchecked(ds[j]);
    if (usable(d)) return d;
    if ((svc.flags & SVC_F_SCHED1) == 0) return null;
    // Fallback walk; cut short when no server at all is usable (same answer, no 65537-step walk).
    let any = false;
    for (let i = 0, n = ds.length; i < n; i++) if (usable(unchecked(ds[i]))) { any = true; break; }
    if (!any) return null;
    for (let off: u32 = 0; off < MH_TAB_SIZE; off++) {
      let roff = off + ihash;
      if (roff >= MH_TAB_SIZE) roff -= MH_TAB_SIZE;
      j = unchecked(tab[hash1(key + roff) % MH_TAB_SIZE]);
      d = unchecked(ds[j]);
      if (usable(d)) return d;
    }
    return null;
  }
}
